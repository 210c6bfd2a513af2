"""The chunked selective scan must equal the step-by-step recurrence, values and gradients."""
import pytest
import torch

from common import backends
from common.models.scan import selective_scan, selective_scan_chunked, selective_scan_ref, selective_scan_sequential

F64 = dict(rtol=1e-9, atol=1e-10)


pytestmark = pytest.mark.usefixtures("one_thread")


def make_inputs(b=2, d=3, n=4, L=7, dtype=torch.float64, softplus=True, seed=0):
    """Random scan inputs; delta is positive when no softplus follows, as in Mamba."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    delta = r(b, d, L) if softplus else torch.rand(b, d, L, generator=g, dtype=dtype)
    return dict(u=r(b, d, L), delta=delta, A=-torch.exp(r(d, n)), B=r(b, n, L), C=r(b, n, L), D=r(d),
                z=r(b, d, L), delta_bias=0.5 * r(d), initial_state=r(b, d, n))


def run(fn, inp, use, softplus, **kw):
    """Call ``fn`` with the optional inputs in ``use``; return output, last state and all gradients."""
    leaves = {k: v.clone().requires_grad_() for k, v in inp.items() if k in ("u", "delta", "A", "B", "C") or k in use}
    out, last = fn(**leaves, delta_softplus=softplus, return_last_state=True, **kw)
    g = torch.Generator().manual_seed(1)
    loss = (out * torch.randn(out.shape, generator=g, dtype=out.dtype)).sum() \
        + (last * torch.randn(last.shape, generator=g, dtype=last.dtype)).sum()
    grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
    return out, last, grads


OPTIONS = [(), ("D", "z", "delta_bias", "initial_state"), ("D",), ("z", "delta_bias"), ("initial_state",)]


@pytest.mark.parametrize("L,chunk", [(1, 64), (7, 3), (63, 16), (130, 64), (130, 7)])
@pytest.mark.parametrize("use", OPTIONS, ids=lambda u: "+".join(u) or "bare")
@pytest.mark.parametrize("softplus", [False, True])
def test_chunked_matches_ref(L, chunk, use, softplus):
    inp = make_inputs(L=L, softplus=softplus)
    out_r, last_r, g_r = run(selective_scan_ref, inp, use, softplus)
    out_c, last_c, g_c = run(selective_scan_chunked, inp, use, softplus, chunk_size=chunk)
    torch.testing.assert_close(out_c, out_r, **F64)
    torch.testing.assert_close(last_c, last_r, **F64)
    assert g_c.keys() == g_r.keys()
    for k in g_r:
        torch.testing.assert_close(g_c[k], g_r[k], **F64, msg=lambda m: f"grad of {k}: {m}")


@pytest.mark.parametrize("L", [1, 2, 40])
@pytest.mark.parametrize("use", OPTIONS, ids=lambda u: "+".join(u) or "bare")
@pytest.mark.parametrize("softplus", [False, True])
def test_sequential_matches_ref(L, use, softplus):
    inp = make_inputs(L=L, softplus=softplus)
    out_r, last_r, g_r = run(selective_scan_ref, inp, use, softplus)
    out_s, last_s, g_s = run(selective_scan_sequential, inp, use, softplus)
    torch.testing.assert_close(out_s, out_r, **F64)
    torch.testing.assert_close(last_s, last_r, **F64)
    assert g_s.keys() == g_r.keys()
    for k in g_r:
        torch.testing.assert_close(g_s[k], g_r[k], **F64, msg=lambda m: f"grad of {k}: {m}")


def test_gradcheck_sequential():
    inp = make_inputs(b=1, d=2, n=3, L=6, softplus=True, seed=4)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"]
    args = tuple(inp[k].clone().requires_grad_() for k in names)

    def f(*a):
        return selective_scan_sequential(*a[:8], delta_softplus=True, return_last_state=True, initial_state=a[8])

    assert torch.autograd.gradcheck(f, args)


def test_ref_recurrence_by_hand():
    """The yardstick itself: two steps of h = exp(dt A) h + dt u B, y = C.h + D u, gated."""
    inp = make_inputs(b=1, d=1, n=2, L=2, softplus=False)
    u, dt, A, B, C, D, z = (inp[k] for k in ("u", "delta", "A", "B", "C", "D", "z"))
    h = torch.zeros(2, dtype=torch.float64)
    ys = []
    for t in range(2):
        h = torch.exp(dt[0, 0, t] * A[0]) * h + dt[0, 0, t] * u[0, 0, t] * B[0, :, t]
        ys.append((C[0, :, t] * h).sum() + D[0] * u[0, 0, t])
    want = torch.stack(ys) * torch.nn.functional.silu(z[0, 0])
    got, last = selective_scan_ref(u, dt, A, B, C, D, z, return_last_state=True)
    torch.testing.assert_close(got[0, 0], want, **F64)
    torch.testing.assert_close(last[0, 0], h, **F64)


@pytest.mark.parametrize("fn", [selective_scan_ref, selective_scan_chunked], ids=["ref", "chunked"])
def test_initial_state_continues_a_scan(fn):
    """Scanning [x1, x2] equals scanning x1, then x2 from x1's last state (values and gradients)."""
    inp = make_inputs(L=45, softplus=True)
    del inp["initial_state"]
    cut = 19
    whole = {k: v.clone().requires_grad_() for k, v in inp.items()}
    out, last = fn(**whole, delta_softplus=True, return_last_state=True)
    (out.sum() + last.pow(2).sum()).backward()

    parts = {k: v.clone().requires_grad_() for k, v in inp.items()}
    first = {k: (v[..., :cut] if v.dim() == 3 else v) for k, v in parts.items()}
    second = {k: (v[..., cut:] if v.dim() == 3 else v) for k, v in parts.items()}
    out1, h1 = fn(**first, delta_softplus=True, return_last_state=True)
    out2, h2 = fn(**second, initial_state=h1, delta_softplus=True, return_last_state=True)
    (torch.cat([out1, out2], -1).sum() + h2.pow(2).sum()).backward()

    torch.testing.assert_close(torch.cat([out1, out2], -1), out, **F64)
    torch.testing.assert_close(h2, last, **F64)
    for k in inp:
        torch.testing.assert_close(parts[k].grad, whole[k].grad, **F64, msg=lambda m: f"grad of {k}: {m}")


def test_gradcheck_chunked():
    """The hand-written backward against finite differences, independent of the reference."""
    inp = make_inputs(b=1, d=2, n=3, L=9, softplus=True, seed=3)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"]
    args = tuple(inp[k].clone().requires_grad_() for k in names)

    def f(*a):
        return selective_scan_chunked(*a[:8], delta_softplus=True, return_last_state=True,
                                      initial_state=a[8], chunk_size=4)

    assert torch.autograd.gradcheck(f, args)


@pytest.mark.parametrize("scan", [lambda **k: selective_scan_chunked(**k, chunk_size=64), selective_scan_sequential],
                         ids=["chunked", "sequential"])
def test_strong_decay_is_stable_and_accurate_in_fp32(scan):
    """Huge and tiny decays side by side: no inf/nan, and fp32 stays close to the fp64 recurrence."""
    inp = make_inputs(b=2, d=3, n=16, L=200, softplus=False, seed=5)
    inp["A"] = -torch.arange(1, 17, dtype=torch.float64).repeat(3, 1)
    delta = torch.full((2, 3, 200), 1e-3, dtype=torch.float64)
    delta[..., ::37] = 50.0  # decay exp(-50 * 16): the state is wiped, then barely decays
    inp["delta"], inp["delta_bias"] = delta, None
    want, want_last = selective_scan_ref(**inp, return_last_state=True)
    f32 = {k: None if v is None else v.float() for k, v in inp.items()}
    got, last = scan(**f32, return_last_state=True)
    assert torch.isfinite(got).all() and torch.isfinite(last).all()
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(last.double(), want_last, rtol=1e-4, atol=1e-4)


def test_low_precision_inputs_are_computed_in_fp32():
    inp = make_inputs(L=33, dtype=torch.float64)
    want, _ = selective_scan_ref(**inp, delta_softplus=True, return_last_state=True)
    half = {k: v.to(torch.bfloat16) for k, v in inp.items()}
    got, last = selective_scan_chunked(**half, delta_softplus=True, return_last_state=True, chunk_size=8)
    assert got.dtype == torch.bfloat16 and last.dtype == torch.float32
    # inputs were rounded to bf16, so compare against the fp64 recurrence on those rounded inputs
    want = selective_scan_ref(**{k: v.double() for k, v in half.items()}, delta_softplus=True)
    torch.testing.assert_close(got.double(), want, rtol=2e-2, atol=2e-2)


def test_empty_sequence():
    inp = make_inputs(L=0)
    for fn in (selective_scan_ref, selective_scan_chunked):
        out, last = fn(**inp, return_last_state=True)
        assert out.shape == (2, 3, 0)
        torch.testing.assert_close(last, inp["initial_state"])


def test_dispatcher_and_errors():
    inp = make_inputs(L=20)
    torch.testing.assert_close(selective_scan(**inp, backend="torch", chunk_size=6), selective_scan_ref(**inp), **F64)
    torch.testing.assert_close(selective_scan(**inp, backend="torch", chunk_size=1), selective_scan_ref(**inp), **F64)
    torch.testing.assert_close(selective_scan(**inp, backend="ref"), selective_scan_ref(**inp), **F64)
    with pytest.raises(ValueError, match="unknown scan backend"):
        selective_scan(**inp, backend="cuda")
    with pytest.raises(ValueError, match="initial state"):
        selective_scan(**inp, backend="mamba_ssm")
    bad = dict(inp, B=inp["B"][:, :2])
    with pytest.raises(ValueError, match="B must be"):
        selective_scan_chunked(**bad)
    with pytest.raises(ValueError, match="chunk_size"):
        selective_scan_chunked(**inp, chunk_size=0)


@pytest.mark.skipif(backends.importable("mamba_ssm")[0], reason="mamba_ssm is installed")
def test_mamba_ssm_backend_without_package_says_how_to_fix():
    inp = make_inputs(L=5)
    del inp["initial_state"]
    with pytest.raises(RuntimeError, match="backend=torch"):
        selective_scan(**inp, backend="mamba_ssm")


@pytest.mark.gpu
@pytest.mark.skipif(not backends.probe("mamba_ssm")[0], reason=f"mamba_ssm kernels: {backends.probe('mamba_ssm')[1]}")
def test_matches_mamba_ssm_kernel_on_cuda():
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

    inp = {k: v.float().cuda() for k, v in make_inputs(b=2, d=64, n=16, L=300).items()}
    del inp["initial_state"]
    a = {k: v.clone().requires_grad_() for k, v in inp.items()}
    b = {k: v.clone().requires_grad_() for k, v in inp.items()}
    out_k, last_k = selective_scan_fn(**a, delta_softplus=True, return_last_state=True)
    out_t, last_t = selective_scan_chunked(**b, delta_softplus=True, return_last_state=True)
    torch.testing.assert_close(out_t, out_k, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(last_t, last_k, rtol=1e-3, atol=1e-3)
    gy = torch.randn_like(out_k)
    (out_k * gy).sum().backward()
    (out_t * gy).sum().backward()
    for k in inp:
        torch.testing.assert_close(b[k].grad, a[k].grad, rtol=2e-3, atol=2e-3, msg=lambda m: f"grad of {k}: {m}")
    via_dispatch = selective_scan(**inp, delta_softplus=True, backend="mamba_ssm")
    torch.testing.assert_close(via_dispatch, out_k.detach())


@pytest.mark.parametrize("scan", [lambda **k: selective_scan_chunked(**k, chunk_size=4), selective_scan_sequential],
                         ids=["chunked", "sequential"])
def test_gradients_through_the_last_state_alone(scan):
    """A loss on the last state only (no gradient reaches the outputs) still matches the recurrence."""
    inp = make_inputs(L=9, seed=7)

    def grads(fn):
        leaves = {k: v.clone().requires_grad_() for k, v in inp.items()}
        _, last = fn(**leaves, delta_softplus=True, return_last_state=True)
        return dict(zip(leaves, torch.autograd.grad(last.sum(), list(leaves.values()), allow_unused=True)))

    want, got = grads(selective_scan_ref), grads(scan)
    for k in want:
        w = torch.zeros_like(inp[k]) if want[k] is None else want[k]
        g = torch.zeros_like(inp[k]) if got[k] is None else got[k]
        torch.testing.assert_close(g, w, **F64, msg=lambda m: f"grad of {k}: {m}")
