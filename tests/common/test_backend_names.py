"""``backend`` names the code that ran: the C loops, their PyTorch-ops fallback, or the module's own path.

Each case spies on the implementations themselves (the C scan / C GRU loop and the PyTorch-ops
paths), trains one step, and requires the reported name to match the path that was taken, with
the C kernels allowed (where a compiler builds them) and disabled by ``LIMITS_CPU_KERNELS=0``.
"""
import pytest
import torch

from common.models import GRU, LSTM, Hybrid, ckernels, gru_cpu, scan, scan_kernel
from common.models.mamba import MambaLM

V = 7


@pytest.fixture(params=["kernels allowed", "LIMITS_CPU_KERNELS=0"])
def kernels(request, monkeypatch):
    """True where the C kernels may run; the environment variable set as the case says."""
    if request.param == "LIMITS_CPU_KERNELS=0":
        monkeypatch.setenv("LIMITS_CPU_KERNELS", "0")
        return False
    monkeypatch.delenv("LIMITS_CPU_KERNELS", raising=False)
    return ckernels._compiler() is not None


def _spy(monkeypatch, owner, name, calls, label):
    """Replace ``owner.name`` by a wrapper that appends ``label`` to ``calls`` and then calls it."""
    fn = getattr(owner, name)

    def wrapper(*args, **kwargs):
        calls.append(label)
        return fn(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


def _train_step(model):
    x = torch.randint(0, V, (2, 9))
    model(x).sum().backward()


def _scan_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    _spy(monkeypatch, scan_kernel, "fused_scan", calls, "c_scan")
    _spy(monkeypatch, scan._SequentialScan, "apply", calls, "torch_scan")
    _spy(monkeypatch, scan, "selective_scan_chunked", calls, "chunked_scan")
    return calls


@pytest.mark.parametrize("chunk_size", [None, 4])
def test_mamba_backend_is_the_scan_that_ran(kernels, chunk_size, monkeypatch):
    calls = _scan_calls(monkeypatch)
    model = MambaLM(V, d_model=8, n_layer=2, d_state=2, backend="auto", chunk_size=chunk_size)
    predicted = model.backend
    _train_step(model)
    assert set(calls) == {predicted} and len(calls) == 2  # one scan per layer, the one announced
    assert model.backend == predicted
    if chunk_size:
        assert predicted == "chunked_scan"
    else:
        assert predicted == ("c_scan" if kernels else "torch_scan")


def test_mamba_backend_records_every_path_that_ran(monkeypatch):
    model = MambaLM(V, d_model=8, n_layer=1, d_state=2)
    monkeypatch.setenv("LIMITS_CPU_KERNELS", "0")
    _train_step(model)
    assert model.backend == "torch_scan"
    monkeypatch.delenv("LIMITS_CPU_KERNELS")
    _train_step(model)
    want = {"torch_scan"} | ({"c_scan"} if scan_kernel.load() is not None else set())
    assert model.backend == ",".join(sorted(want))
    with torch.no_grad():  # evaluation passes are not training provenance
        model(torch.zeros(1, 3, dtype=torch.long))
    assert model.backend == ",".join(sorted(want))


def _gru_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    _spy(monkeypatch, gru_cpu, "_c_forward", calls, "c_gru")
    _spy(monkeypatch, torch, "gru", calls, "torch_gru")
    return calls


def test_gru_backend_is_the_loop_that_ran(kernels, monkeypatch):
    calls = _gru_calls(monkeypatch)
    model = GRU(V, d_model=6, n_layer=2)
    predicted = model.backend
    _train_step(model)
    assert set(calls) == {predicted} and len(calls) == 2  # one per layer
    assert model.backend == predicted == ("c_gru" if kernels else "torch_gru")


def test_lstm_and_hybrid_name_their_paths(kernels, monkeypatch):
    calls = _gru_calls(monkeypatch)
    lstm = LSTM(V, d_model=6)
    _train_step(lstm)
    assert lstm.backend == "torch" and calls == []
    hyb = Hybrid(V, d_model=8, n_layer=2, mixer="gru", n_head=2)
    predicted = hyb.backend
    _train_step(hyb)
    gru = "c_gru" if kernels else "torch_gru"
    assert set(calls) == {gru} and predicted == hyb.backend == f"gru:{gru}+attn:sdpa"
    calls = _scan_calls(monkeypatch)
    hyb = Hybrid(V, d_model=8, n_layer=2, mixer="mamba", n_head=2, d_state=2)
    predicted = hyb.backend
    _train_step(hyb)
    assert predicted == hyb.backend == f"mamba:{calls[0]}+attn:sdpa" and set(calls) == {calls[0]}
