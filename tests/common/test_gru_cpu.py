"""The GRU's CPU training path (fused forward + hand-written backward) against nn.GRU's own autograd."""
import pytest
import torch
from torch import nn

from common.models import GRU, Hybrid, ckernels
from common.models.gru_cpu import run_rnn, uses_fast_backward


def _outputs_and_grads(gru, x, h0, fn, go, gh):
    out, hn = fn(gru, x, h0)
    inputs = [x] + ([h0] if h0 is not None else []) + list(gru.parameters())
    grads = torch.autograd.grad((out * go).sum() + (hn * gh).sum(), inputs)
    return [out, hn, *grads]


@pytest.fixture(params=["C", "ops"])
def loops(request, monkeypatch):
    """Both implementations of the time loops: the C kernel (where it builds) and PyTorch ops."""
    if request.param == "ops":
        monkeypatch.setenv("LIMITS_CPU_KERNELS", "0")
    elif ckernels._compiler() is None:
        pytest.skip("no C compiler")
    return request.param


@pytest.mark.parametrize("num_layers,batch_first,with_h0", [(1, True, False), (2, True, True), (3, False, True)])
def test_fast_gru_matches_autograd_through_nn_gru(num_layers, batch_first, with_h0, loops):
    torch.manual_seed(num_layers)
    gru = nn.GRU(5, 7, num_layers=num_layers, batch_first=batch_first).double()
    shape = (3, 11, 5) if batch_first else (11, 3, 5)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(num_layers, 3, 7, dtype=torch.float64, requires_grad=True) if with_h0 else None
    go = torch.randn(*shape[:2], 7, dtype=torch.float64)
    gh = torch.randn(num_layers, 3, 7, dtype=torch.float64)
    assert uses_fast_backward(gru, x)
    ref = _outputs_and_grads(gru, x, h0, lambda m, a, h: m(a, h), go, gh)
    got = _outputs_and_grads(gru, x, h0, run_rnn, go, gh)
    for r, g in zip(ref, got):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)


def test_fast_gru_passes_gradcheck(loops):
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, h: run_rnn(gru, a, h)[0], (x, h0))


def test_fast_path_is_skipped_where_it_does_not_apply():
    x = torch.randn(2, 4, 3)
    assert not uses_fast_backward(nn.LSTM(3, 4), x)
    assert not uses_fast_backward(nn.GRU(3, 4, bidirectional=True), x)
    assert not uses_fast_backward(nn.GRU(3, 4, bias=False), x)
    with torch.no_grad():
        assert not uses_fast_backward(nn.GRU(3, 4), x)


@pytest.mark.parametrize("build", [lambda: GRU(13, d_model=8, n_layer=2),
                                   lambda: Hybrid(13, d_model=8, n_layer=2, n_head=2, mixer="gru")])
def test_models_train_the_same_with_either_path(build, monkeypatch):
    """A GRU language model's loss gradients are those of plain nn.GRU autograd."""
    torch.manual_seed(1)
    model = build().double()
    idx = torch.randint(0, 13, (3, 9))
    import common.models.gru_cpu as gru_cpu

    calls = []
    apply = gru_cpu._GRULayer.apply
    monkeypatch.setattr(gru_cpu._GRULayer, "apply", lambda *a: calls.append(1) or apply(*a))
    grads = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr("common.models.gru_cpu.uses_fast_backward", lambda *a: False)
        model.zero_grad()
        model(idx).logsumexp(-1).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        assert len(calls) == 2  # two GRU layers in either model, counted on the fast pass only
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_c_loops_run_and_match_nn_gru_in_float32(monkeypatch):
    """float32 (vectorised exp in the gates) against nn.GRU, and proof that the C loops ran."""
    if ckernels._compiler() is None:
        pytest.skip("no C compiler")
    import common.models.gru_cpu as gru_cpu

    calls = []
    forward = gru_cpu._c_forward
    monkeypatch.setattr(gru_cpu, "_c_forward", lambda *a: calls.append(1) or forward(*a))
    torch.manual_seed(5)
    gru = nn.GRU(6, 37, num_layers=2, batch_first=True)  # 37: the vector loops' remainder runs too
    x = torch.randn(4, 30, 6, requires_grad=True)
    go, gh = torch.randn(4, 30, 37), torch.randn(2, 4, 37)
    ref = _outputs_and_grads(gru, x, None, lambda m, a, h: m(a, h), go, gh)
    got = _outputs_and_grads(gru, x, None, run_rnn, go, gh)
    assert len(calls) == 2
    for r, g in zip(ref, got):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)


def test_c_loops_split_over_threads_give_the_same_numbers():
    if ckernels._compiler() is None:
        pytest.skip("no C compiler")
    torch.manual_seed(6)
    gru = nn.GRU(3, 9, num_layers=2).double()
    x = torch.randn(7, 5, 3, dtype=torch.float64, requires_grad=True)
    go, gh = torch.randn(7, 5, 9, dtype=torch.float64), torch.randn(2, 5, 9, dtype=torch.float64)
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _outputs_and_grads(gru, x, None, run_rnn, go, gh)
        torch.set_num_threads(2)
        two = _outputs_and_grads(gru, x, None, run_rnn, go, gh)
    finally:
        torch.set_num_threads(n)
    for a, b in zip(one, two):  # equal to rounding (PyTorch's own matmuls may block differently on 2 threads)
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-14)
