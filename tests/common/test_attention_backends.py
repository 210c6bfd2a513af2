"""Every attention backend present here agrees with the naive reference, per position scheme, with a KV cache."""
import pytest
import torch

from common.models import Transformer
from common.models import attention as att
from common.models.attention import Pattern, attention, available, resolve

# (position, num_masked_heads) for 4 heads; hard_alibi with 0 masked heads is plain causal.
SCHEMES = [("nope", 0), ("rope", 0), ("alibi", 0), ("hard_alibi", 3), ("hard_alibi", 0)]
CPU_BACKENDS = [b for b in ("sdpa", "flex") if available(b)[0]]
no_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def qkv(Tq, Tk, dtype=torch.float64, device="cpu", H=4, D=16):
    q = torch.randn(2, H, Tq, D, dtype=dtype, device=device)
    return q, torch.randn(2, H, Tk, D, dtype=dtype, device=device), torch.randn(2, H, Tk, D, dtype=dtype, device=device)


def model(position, masked, backend, d_model=32, **kw):
    torch.manual_seed(0)
    return Transformer(13, d_model=d_model, n_layer=2, n_head=4, position=position, num_masked_heads=masked,
                       attention_backend=backend, **kw)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("position,masked", SCHEMES)
@pytest.mark.parametrize("Tq,Tk", [(9, 9), (1, 9), (3, 9)])
def test_kernel_matches_naive(backend, position, masked, Tq, Tk):
    p = Pattern(position, 4, masked)
    q, k, v = qkv(Tq, Tk)
    want = attention(q, k, v, p, "naive")
    assert torch.allclose(attention(q, k, v, p, backend), want, atol=1e-12)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("position,masked", SCHEMES)
def test_transformer_forward_and_kv_cache_decoding_match_naive(backend, position, masked):
    ref = model(position, masked, "naive").double().eval()
    m = model(position, masked, backend).double().eval()
    m.load_state_dict(ref.state_dict())
    x = torch.randint(0, 13, (3, 12))
    with torch.no_grad():  # flex has no CPU backward
        want = ref(x)
        assert torch.allclose(m(x), want, atol=1e-10)
        state, parts = m.init_state(3), []
        for a, b in [(0, 5), (5, 6), (6, 9), (9, 12)]:  # prefill, one token, a chunk (Tq < Tk, Tq > 1), a chunk
            logits, state = m.step(x[:, a:b], state)
            parts.append(logits)
    assert torch.allclose(torch.cat(parts, 1), want, atol=1e-10)
    assert m.backend == backend


def test_sdpa_without_bias_takes_the_causal_fast_paths(monkeypatch):
    """No dense mask for NoPE/RoPE: is_causal for a full pass, a lower-right CausalBias for a cached chunk."""
    from torch.nn.attention.bias import CausalBias

    calls = []
    real = att.sdpa

    def spy(q, k, v, attn_mask=None, **kw):
        calls.append((q.shape[2], k.shape[2], attn_mask, kw.get("is_causal", False)))
        return real(q, k, v, attn_mask=attn_mask, **kw)

    monkeypatch.setattr(att, "sdpa", spy)
    p = Pattern("rope", 4)
    attention(*qkv(6, 6), p, "sdpa")
    attention(*qkv(1, 6), p, "sdpa")
    attention(*qkv(3, 6), p, "sdpa")
    (_, _, m0, c0), (_, _, m1, c1), (_, _, m2, c2) = calls
    assert m0 is None and c0
    assert m1 is None and not c1
    assert isinstance(m2, CausalBias) and not c2


def test_masks_are_built_once_per_forward_and_shared_by_layers():
    memo = {}
    p = Pattern("alibi", 4)
    q, k, v = qkv(5, 5)
    attention(q, k, v, p, "sdpa", memo)
    bias = next(iter(memo.values()))
    attention(q, k, v, p, "sdpa", memo)
    assert len(memo) == 1 and next(iter(memo.values())) is bias


def test_auto_is_sdpa_on_cpu_and_reports_it():
    m = model("alibi", 0, "auto")
    assert m.backend == "sdpa"
    m(torch.randint(0, 13, (1, 4)))
    assert m.backend == "sdpa"
    assert model("rope", 0, "naive").backend == "naive"


@pytest.mark.skipif(available("flash_attn")[0], reason="flash-attn is usable here")
def test_forcing_flash_attn_without_it_fails_at_construction_in_one_line():
    with pytest.raises(RuntimeError, match="attention_backend=flash_attn is unavailable") as e:
        model("alibi", 0, "flash_attn")
    assert "\n" not in str(e.value) and "attention_backend=auto or sdpa" in str(e.value)


def test_flash_attn_refuses_per_head_windows():
    with pytest.raises(ValueError, match="per-head windows; use attention_backend=flex or sdpa"):
        model("hard_alibi", 2, "flash_attn")


def test_unknown_backend_is_one_line():
    with pytest.raises(ValueError, match="unknown attention_backend='xla'"):
        model("rope", 0, "xla")


@pytest.mark.skipif(not available("flex")[0], reason="no FlexAttention in this torch")
def test_flex_training_on_cpu_fails_clearly():
    m = model("hard_alibi", 3, "flex")
    with pytest.raises(RuntimeError, match="no backward on CPU.*attention_backend=sdpa"):
        m(torch.randint(0, 13, (1, 6))).sum().backward()


@pytest.mark.skipif(not available("flex")[0], reason="no FlexAttention in this torch")
def test_flex_hard_alibi_heads_only_see_their_window():
    """A one-layer model with every head windowed to <= 2 keys: logits at t depend on tokens t-1, t only."""
    torch.manual_seed(0)
    m = Transformer(12, d_model=32, n_layer=1, n_head=2, position="hard_alibi", num_masked_heads=2,
                    attention_backend="flex").double().eval()
    x = torch.randint(0, 12, (1, 8))
    y = x.clone()
    y[0, 2] = (y[0, 2] + 1) % 12
    with torch.no_grad():
        diff = (m(x) - m(y)).abs().amax(-1)[0]
    assert torch.all(diff[:2] == 0) and torch.all(diff[4:] == 0) and diff[2] > 0 and diff[3] > 0


# ----- GPU parity (skipped without CUDA) -------------------------------------------------------------

def _gpu_parity(backend, position, masked, dtype, atol):
    ref = model(position, masked, "naive", d_model=64).cuda().float().eval()  # head_dim 16: flex's CUDA minimum
    m = model(position, masked, backend, d_model=64).cuda().eval()
    m.load_state_dict(ref.state_dict())
    x = torch.randint(0, 13, (2, 64), device="cuda")
    with torch.no_grad(), torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
        want = ref(x).float()
        got = m(x).float()
        state, parts = m.init_state(2, "cuda"), []
        for a, b in [(0, 40), (40, 41), (41, 50), (50, 64)]:
            logits, state = m.step(x[:, a:b], state)
            parts.append(logits.float())
    assert (got - want).abs().max() < atol
    assert (torch.cat(parts, 1) - want).abs().max() < atol
    return m


@pytest.mark.gpu
@no_cuda
@pytest.mark.parametrize("position,masked", SCHEMES)
@pytest.mark.parametrize("backend", ["sdpa", "flex", "flash_attn"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_gpu_backend_matches_naive(backend, position, masked, dtype):
    ok, why = available(backend)
    if not ok:
        pytest.skip(f"{backend}: {why}")
    if backend == "flash_attn" and (dtype == torch.float32 or not Pattern(position, 4, masked).uniform_window):
        pytest.skip("flash-attn runs fp16/bf16 and one window for all heads")
    m = _gpu_parity(backend, position, masked, dtype, atol=2e-2 if dtype == torch.bfloat16 else 1e-4)
    assert m.backend == backend


@pytest.mark.gpu
@no_cuda
@pytest.mark.parametrize("position,masked", SCHEMES)
def test_gpu_auto_picks_the_fastest_kernel_that_can_run(position, masked):
    p = Pattern(position, 4, masked)
    q = torch.zeros(1, 4, 1, 16, device="cuda", dtype=torch.bfloat16)
    got = resolve("auto", p, q)
    if available("flash_attn")[0] and p.uniform_window:
        assert got == "flash_attn"
    elif p.windows is not None and available("flex")[0]:
        assert got == "flex"
    else:
        assert got == "sdpa"



@pytest.mark.gpu
@no_cuda
@pytest.mark.parametrize("position,masked", SCHEMES)
@pytest.mark.parametrize("backend", ["sdpa", "flex", "flash_attn"])
def test_gpu_backward_matches_naive(backend, position, masked):
    ok, why = available(backend)
    if not ok:
        pytest.skip(f"{backend}: {why}")
    if backend == "flash_attn" and not Pattern(position, 4, masked).uniform_window:
        pytest.skip("flash-attn has one window for all heads")
    dtype = torch.bfloat16 if backend == "flash_attn" else torch.float32
    x = torch.randint(0, 13, (2, 64), device="cuda")
    grads = []
    for b in ("naive", backend):
        m = model(position, masked, b, d_model=64).cuda()
        with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
            m(x).float().square().mean().backward()
        grads.append(m.blocks[0].attn.qkv.weight.grad.float())
    rel = (grads[1] - grads[0]).norm() / grads[0].norm()
    assert rel < (3e-2 if dtype == torch.bfloat16 else 1e-4)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("position,masked", SCHEMES)
def test_cpu_autocast_attends_in_fp32(backend, position, masked):
    """Under bf16 autocast on the CPU, attention of bf16 inputs is computed in fp32, not rounded to bf16."""
    p = Pattern(position, 4, masked)
    q, k, v = (t.bfloat16() for t in qkv(9, 9, dtype=torch.float32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = attention(q, k, v, p, backend)
    want = attention(q.double(), k.double(), v.double(), p, "naive")
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), want, atol=1e-5)


def test_transformer_trains_under_cpu_bf16_autocast():
    """A bf16-mixed training step on the CPU gives the fp32 loss to bf16 precision and finite gradients."""
    m = model("hard_alibi", 3, "sdpa")
    idx = torch.randint(0, 13, (2, 17))
    with torch.no_grad():
        want = torch.nn.functional.cross_entropy(m(idx).flatten(0, 1), idx.flatten())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = m(idx)
    loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), idx.flatten())
    loss.backward()
    assert abs(loss.item() - want.item()) < 0.05
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
