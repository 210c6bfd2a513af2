"""How the C kernels spread a batch over threads: on PyTorch's OpenMP team where they can bind to it,
else on Python threads; either way the numbers are the same."""
import ctypes

import pytest
import torch

from common.models import GRU, ckernels
from common.models.mamba import MambaLM

pytestmark = pytest.mark.skipif(ckernels._compiler() is None, reason="no C compiler: no C kernels to thread")

KERNELS = {"gru_cpu": lambda: GRU(11, d_model=12, n_layer=2), "scan_cpu": lambda: MambaLM(11, d_model=8, n_layer=2, d_state=4)}


@pytest.fixture
def two_threads():
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(n)


def _output_and_grads(make):
    torch.manual_seed(0)
    model = make()
    x = torch.randint(0, 11, (5, 19))
    y = model(x)
    y.square().mean().backward()
    return [y.detach()] + [p.grad for p in model.parameters() if p.grad is not None]


def test_kernels_run_on_pytorchs_openmp_team_where_it_is_in_the_global_scope():
    try:
        ctypes.CDLL(None).GOMP_parallel  # noqa: B018 (PyTorch's libgomp, loaded RTLD_GLOBAL with torch)
    except AttributeError:
        pytest.skip("this PyTorch has no libgomp in the global scope")
    for name, make in KERNELS.items():
        _output_and_grads(make)  # loads the kernel
        assert ckernels.uses_openmp(name), name


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("name", list(KERNELS))
def test_python_thread_slices_give_the_numbers_of_the_openmp_team(name, monkeypatch):
    make = KERNELS[name]
    team = _output_and_grads(make)
    monkeypatch.setitem(ckernels._openmp, name, False)  # the same library's _slice functions, on Python threads
    pool = _output_and_grads(make)
    for a, b in zip(team, pool):
        assert torch.equal(a, b)


@pytest.mark.usefixtures("two_threads")
def test_a_kernel_that_cannot_bind_openmp_is_rebuilt_without_it(monkeypatch, tmp_path):
    reference = _output_and_grads(KERNELS["gru_cpu"])
    monkeypatch.setenv("LIMITS_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setattr(ckernels, "_libs", {})
    monkeypatch.setattr(ckernels, "_openmp", {})
    build = ckernels._build

    def no_openmp(source, openmp):
        if openmp:
            raise RuntimeError("cc: error: unrecognized command-line option '-fopenmp'")
        return build(source, openmp)

    monkeypatch.setattr(ckernels, "_build", no_openmp)
    again = _output_and_grads(KERNELS["gru_cpu"])
    assert ckernels._libs["gru_cpu"] is not None and not ckernels.uses_openmp("gru_cpu")
    assert "Python threads" in ckernels.status()[1]
    for a, b in zip(reference, again):
        assert torch.equal(a, b)
