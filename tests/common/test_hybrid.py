"""Hybrid: recurrent blocks plus one attention layer; decoding, causality, depth, state dicts."""
import io

import pytest
import torch

from common.models import Hybrid, scan_kernel
from common.models.hybrid import HybridState
from common.models.mamba import RMSNorm

V = 11


def hybrid(mixer="mamba", n_layer=3, attn_layer=None, **kw):
    return Hybrid(V, d_model=16, n_layer=n_layer, mixer=mixer, attn_layer=attn_layer, n_head=2, d_state=4, **kw)


# Every depth with a cheap mixer; Mamba (slow on CPU in fp64) mid-stack and on top.
CASES = [("lstm", 0), ("lstm", 1), ("lstm", 3), ("gru", 0), ("gru", 3), ("mamba", 1), ("mamba", 3)]


@pytest.mark.parametrize("mixer,depth", CASES)
def test_stepwise_equals_full_forward_fp64(mixer, depth):
    m = hybrid(mixer, attn_layer=depth).double().eval()
    x = torch.randint(0, V, (2, 11))
    full = m(x)
    state, parts = m.init_state(2), []
    for a, b in [(0, 4), (4, 5), (5, 6), (6, 9), (9, 11)]:
        logits, state = m.step(x[:, a:b], state)
        parts.append(logits)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-10)
    assert state.length == 11 and state.kv["k"].shape == (2, 2, 11, 8)


@pytest.mark.parametrize("mixer,depth", CASES)
def test_changing_a_future_token_never_changes_earlier_logits(mixer, depth):
    m = hybrid(mixer, attn_layer=depth).double().eval()
    x = torch.randint(0, V, (2, 10))
    y = x.clone()
    y[:, 6] = (y[:, 6] + 1) % V
    lx, ly = m(x), m(y)
    assert torch.equal(lx[:, :6], ly[:, :6])
    assert not torch.allclose(lx[:, 6:], ly[:, 6:])


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_attention_layer_sits_at_its_depth(depth):
    """The attention layer reads block ``depth - 1``'s output (the final norm's when on top)."""
    m = hybrid("gru", attn_layer=depth).double().eval()
    seen = {}
    m.attention.register_forward_hook(lambda mod, args, out: seen.setdefault("in", args[0]))
    x = torch.randint(0, V, (1, 7))
    logits = m(x)
    h = m.embedding(x)
    for layer in m.layers[:depth]:
        h = layer(h)
    if depth == m.n_layer:
        h = m.norm_f(h)
    assert torch.allclose(seen["in"], h)
    if depth == m.n_layer:  # official layout: no norm between the attention layer and the head
        assert torch.allclose(logits, m.lm_head(m.attention(h, torch.arange(7))))


def test_default_is_attention_on_top_with_llama_layer():
    m = hybrid()
    assert m.attn_layer == m.n_layer
    a = m.attention
    assert isinstance(a.norm1, RMSNorm) and a.norm1.eps == 1e-6 and a.mlp.kind == "swiglu" and a.attn.rot_dim == a.attn.head_dim
    assert a.attn.qkv.bias is None and a.mlp.up.bias is None
    assert m.lm_head.weight is m.embedding.weight


def test_attention_mask_is_minus_infinity_not_minus_100():
    """With scores in the thousands, an additive -100 mask (the official code) would let future keys
    in; -inf keeps every earlier logit exactly unchanged."""
    m = hybrid("gru", n_layer=1).double().eval()
    with torch.no_grad():
        m.attention.attn.qkv.weight[: 2 * m.d_model] *= 300.0  # q and k rows
    x = torch.randint(0, V, (2, 9))
    y = x.clone()
    y[:, 5] = (y[:, 5] + 1) % V
    lx, ly = m(x), m(y)
    assert torch.equal(lx[:, :5], ly[:, :5]) and not torch.allclose(lx[:, 5:], ly[:, 5:])


@pytest.mark.parametrize("mixer", ["mamba", "lstm"])
def test_state_dict_round_trip(mixer):
    a = hybrid(mixer).double().eval()
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    torch.manual_seed(123)
    b = hybrid(mixer).double().eval()
    x = torch.randint(0, V, (2, 8))
    assert not torch.allclose(a(x), b(x))
    b.load_state_dict(torch.load(io.BytesIO(buf.getvalue())))
    assert torch.equal(a(x), b(x))


def test_state_size_is_recurrent_state_plus_kv_cache():
    m = hybrid("mamba", n_layer=3)  # d_inner 32, d_state 4, d_conv 4
    assert m.state_size(0) == 3 * 32 * (4 + 4)
    assert m.state_size(10) - m.state_size(0) == 2 * 16 * 10
    assert hybrid("lstm").state_size(5) == 3 * 2 * 16 + 2 * 16 * 5
    assert isinstance(m.init_state(1), HybridState)


def test_backend_names_both_parts():
    scan = "c_scan" if scan_kernel.load() is not None else "torch_scan"
    assert hybrid("mamba").backend == f"mamba:{scan}+attn:sdpa"
    assert hybrid("lstm", attention_backend="naive").backend == "lstm:torch+attn:naive"


def test_bad_settings_fail_in_one_line():
    with pytest.raises(ValueError, match=r"attn_layer=5 must lie in \[0, n_layer=3\]"):
        hybrid(attn_layer=5)
    with pytest.raises(ValueError, match="unknown mixer='rwkv'"):
        hybrid("rwkv")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_bf16_decoding_matches_forward():
    m = Hybrid(V, d_model=64, n_layer=2, n_head=4).cuda().eval()
    x = torch.randint(0, V, (2, 48), device="cuda")
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        full = m(x).float()
        state = m.init_state(2, "cuda")
        a, state = m.step(x[:, :40], state)
        b, state = m.step(x[:, 40:], state)
    assert (torch.cat([a, b], 1).float() - full).abs().max() < 5e-2
    assert m.backend.startswith("mamba:") and "+attn:" in m.backend
