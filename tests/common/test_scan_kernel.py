"""The fused C scan (common/models/scan_cpu.c) against the step-by-step reference and the PyTorch-ops scan."""
import pytest
import torch

from common.models import ckernels, scan_kernel
from common.models.scan import selective_scan_ref, selective_scan_sequential

F64 = dict(rtol=1e-9, atol=1e-10)
needs_kernel = pytest.mark.skipif(ckernels._compiler() is None, reason="no C compiler: the fused scan cannot be built")


pytestmark = pytest.mark.usefixtures("one_thread")


def make_inputs(b=3, d=5, n=4, L=23, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    return dict(u=r(b, d, L), delta=r(b, d, L), A=-torch.exp(r(d, n)), B=r(b, n, L), C=r(b, n, L), D=r(d),
                z=r(b, d, L), delta_bias=0.5 * r(d), initial_state=r(b, d, n))


def run(fn, inp):
    """Output, last state, the autograd node that made the last state, and every input's gradient."""
    leaves = {k: v.clone().requires_grad_() for k, v in inp.items()}
    out, last = fn(**leaves, delta_softplus=True, return_last_state=True)
    g = torch.Generator().manual_seed(1)
    w = lambda t: torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype)  # noqa: E731 (same draw in any dtype)
    loss = (out * w(out)).sum() + (last * w(last)).sum()
    grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
    return out.detach(), last.detach(), type(last.grad_fn).__name__, grads


@needs_kernel
def test_kernel_builds_where_a_compiler_exists():
    """A silent fall-back to the slow path would pass every other test; this one would not."""
    assert scan_kernel.load() is not None


@needs_kernel
@pytest.mark.parametrize("L", [1, 2, 17, 40])
def test_fused_matches_ref_in_float64(L):
    """Values and gradients of every input against autograd through the reference recurrence."""
    inp = make_inputs(L=L)
    out_r, last_r, _, g_r = run(selective_scan_ref, inp)
    out_f, last_f, node, g_f = run(selective_scan_sequential, inp)
    assert node == "_FusedScanBackward"  # the C kernel ran, not the PyTorch ops
    torch.testing.assert_close(out_f, out_r, **F64)
    torch.testing.assert_close(last_f, last_r, **F64)
    for k in g_r:
        torch.testing.assert_close(g_f[k], g_r[k], **F64, msg=lambda m: f"grad of {k}: {m}")


def test_ops_path_matches_ref_in_float64(monkeypatch):
    """LIMITS_CPU_KERNELS=0 (or no compiler) runs the PyTorch-ops scan: the same numbers."""
    monkeypatch.setenv("LIMITS_CPU_KERNELS", "0")
    inp = make_inputs(L=17)
    out_r, last_r, _, g_r = run(selective_scan_ref, inp)
    out_o, last_o, node, g_o = run(selective_scan_sequential, inp)
    assert node == "_SequentialScanBackward"
    torch.testing.assert_close(out_o, out_r, **F64)
    torch.testing.assert_close(last_o, last_r, **F64)
    for k in g_r:
        torch.testing.assert_close(g_o[k], g_r[k], **F64, msg=lambda m: f"grad of {k}: {m}")


@needs_kernel
@pytest.mark.parametrize("d", [16, 37])  # a multiple of the vector width, and one with a remainder
def test_fused_float32_at_a_mamba_shape(monkeypatch, d):
    """float32 (the vectorised exp) against the float64 reference, at Mamba's d_state 16."""
    inp = make_inputs(b=2, d=d, n=16, L=50, seed=2)
    inp["A"] = -torch.arange(1, 17, dtype=torch.float64).repeat(d, 1)
    out_r, last_r, _, g_r = run(selective_scan_ref, inp)
    out_f, last_f, node, g_f = run(selective_scan_sequential, {k: v.float() for k, v in inp.items()})
    assert node == "_FusedScanBackward"
    tol = dict(rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out_f.double(), out_r, **tol)
    torch.testing.assert_close(last_f.double(), last_r, **tol)
    for k in g_r:
        scale = g_r[k].abs().max().item()
        torch.testing.assert_close(g_f[k].double(), g_r[k], rtol=1e-4, atol=1e-4 * scale,
                                   msg=lambda m: f"grad of {k}: {m}")


@needs_kernel
def test_batch_split_over_threads_changes_nothing_but_rounding():
    inp = make_inputs(b=5, L=30, seed=3)
    out1, last1, _, g1 = run(selective_scan_sequential, inp)
    torch.set_num_threads(2)
    out2, last2, _, g2 = run(selective_scan_sequential, inp)
    assert torch.equal(out1, out2) and torch.equal(last1, last2)  # batch rows are independent
    for k in g1:  # A's gradient sums the threads' parts: equal to rounding
        torch.testing.assert_close(g2[k], g1[k], **F64)


def test_without_a_compiler_it_warns_once_and_uses_the_ops(monkeypatch):
    monkeypatch.setattr(ckernels, "_libs", {})
    monkeypatch.setattr(ckernels, "_compiler", lambda: None)
    with pytest.warns(UserWarning, match="C kernel scan_cpu unavailable"):
        assert scan_kernel.load() is None
    inp = make_inputs(L=9)
    out_r, _, _, _ = run(selective_scan_ref, inp)
    out_o, _, node, _ = run(selective_scan_sequential, inp)
    assert node == "_SequentialScanBackward"
    torch.testing.assert_close(out_o, out_r, **F64)
