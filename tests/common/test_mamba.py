"""Mamba block and MambaLM: decoding equals the full pass, causality, init, naming, backends, training."""
import math

import pytest
import torch
import torch.nn.functional as F

from common import backends
from common.models import scan_kernel
from common.models.mamba import Mamba, MambaLM

F64 = dict(rtol=1e-9, atol=1e-10)
VOCAB = 11


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_lm(**kw):
    cfg = dict(vocab_size=VOCAB, d_model=16, n_layer=2, d_state=8, backend="torch", chunk_size=4)
    cfg.update(kw)
    return MambaLM(**cfg).double().eval()


def tokens(b=2, t=21, seed=0):
    return torch.randint(0, VOCAB, (b, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("norm,tie", [("rms", True), ("layer", False)])
def test_token_by_token_decoding_equals_forward(norm, tie):
    model, idx = tiny_lm(norm=norm, tie_embeddings=tie), tokens()
    full = model(idx)
    state, outs = model.init_state(idx.shape[0]), []
    for t in range(idx.shape[1]):
        logits, state = model.step(idx[:, t:t + 1], state)
        outs.append(logits)
    torch.testing.assert_close(torch.cat(outs, 1), full, **F64)


def test_prefill_then_uneven_chunks_equals_forward():
    """Prefill 6 tokens, then chunks of 1, 3, 5, 1, rest; the scan's chunk_size (4) cuts across them."""
    model, idx = tiny_lm(), tokens(t=23)
    full = model(idx)
    state, outs, t = model.init_state(idx.shape[0]), [], 0
    for size in (6, 1, 3, 5, 1, 100):
        logits, state = model.step(idx[:, t:t + size], state)
        outs.append(logits)
        t += size
    torch.testing.assert_close(torch.cat(outs, 1), full, **F64)


def test_block_step_state_matches_buffered_inputs():
    """After a prefill the conv buffer holds the last d_conv pre-conv inputs, as in mamba_ssm."""
    block = Mamba(8, d_state=4, d_conv=3, backend="torch").double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    _, (conv, ssm) = block.step(x, block.init_state(2))
    pre_conv = block.in_proj(x).transpose(1, 2)[:, :block.d_inner]
    torch.testing.assert_close(conv, pre_conv[..., -3:], **F64)
    assert ssm.shape == (2, block.d_inner, 4)


def test_changing_a_future_token_never_changes_earlier_logits():
    model, idx = tiny_lm(), tokens(t=30)
    base = model(idx)
    for t in (0, 7, 29):
        other = idx.clone()
        other[:, t] = (other[:, t] + 1) % VOCAB
        out = model(other)
        torch.testing.assert_close(out[:, :t], base[:, :t], rtol=0, atol=1e-12)
        assert not torch.allclose(out[:, t], base[:, t])  # the change is visible from t on


def test_ssm_init_survives_model_init():
    dt_min, dt_max = 0.001, 0.1
    model = MambaLM(VOCAB, d_model=32, n_layer=3, d_state=16, backend="torch")
    for layer in model.backbone.layers:
        m = layer.mixer
        dt = F.softplus(m.dt_proj.bias.detach())
        assert dt.min() >= dt_min * (1 - 1e-5) and dt.max() <= dt_max * (1 + 1e-5)
        assert dt.std() > 0  # sampled, not constant
        want_A_log = torch.log(torch.arange(1, 17, dtype=torch.float32)).repeat(m.d_inner, 1)
        torch.testing.assert_close(m.A_log.detach(), want_A_log)
        assert torch.equal(m.D.detach(), torch.ones(m.d_inner))
        bound = m.dt_rank ** -0.5
        assert m.dt_proj.weight.abs().max() <= bound
        assert m.dt_proj.bias._no_reinit and m.A_log._no_weight_decay and m.D._no_weight_decay
        # out_proj: Kaiming-uniform bound 1/sqrt(fan_in), shrunk by sqrt(n_layer)
        w_bound = 1 / math.sqrt(m.d_inner) / math.sqrt(3)
        assert 0.8 * w_bound < m.out_proj.weight.abs().max() <= w_bound
    emb = model.backbone.embedding.weight
    assert 0.015 < emb.std().item() < 0.025
    assert model.lm_head.weight is emb


def test_state_dict_round_trip():
    torch.manual_seed(1)
    a = tiny_lm()
    torch.manual_seed(2)
    b = tiny_lm()
    idx = tokens()
    assert not torch.allclose(a(idx), b(idx))
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b(idx), a(idx), rtol=0, atol=0)


def test_parameter_names_and_shapes_match_mamba_ssm():
    d_model, d_inner, d_state, d_conv, dt_rank = 16, 32, 16, 4, 1  # dt_rank = ceil(16 / 16)
    want = {
        "A_log": (d_inner, d_state),
        "D": (d_inner,),
        "in_proj.weight": (2 * d_inner, d_model),
        "conv1d.weight": (d_inner, 1, d_conv),
        "conv1d.bias": (d_inner,),
        "x_proj.weight": (dt_rank + 2 * d_state, d_inner),
        "dt_proj.weight": (d_inner, dt_rank),
        "dt_proj.bias": (d_inner,),
        "out_proj.weight": (d_model, d_inner),
    }
    block = Mamba(d_model)
    assert {k: tuple(v.shape) for k, v in block.state_dict().items()} == want
    lm = MambaLM(VOCAB, d_model=d_model, n_layer=2, backend="torch")
    keys = set(lm.state_dict())
    assert {f"backbone.layers.1.mixer.{k}" for k in want} <= keys
    assert {"backbone.embedding.weight", "backbone.layers.0.norm.weight", "backbone.norm_f.weight",
            "lm_head.weight"} <= keys


def test_forcing_mamba_ssm_without_it_says_how_to_fix(monkeypatch):
    monkeypatch.setattr(backends, "importable", lambda name: (False, "ImportError: simulated"))
    with pytest.raises(RuntimeError) as err:
        MambaLM(VOCAB, backend="mamba_ssm")
    msg = str(err.value)
    assert "backend=torch" in msg and "mamba-ssm is not installed" in msg and "ImportError" in msg
    assert "\n" not in msg
    assert MambaLM(VOCAB, backend="auto").backend in ("c_scan", "torch_scan")


@pytest.mark.skipif(backends.importable("mamba_ssm")[0], reason="mamba_ssm is installed")
def test_forcing_mamba_ssm_here_raises():
    with pytest.raises(RuntimeError, match="backend=torch"):
        MambaLM(VOCAB, backend="mamba_ssm")


def test_kernel_probes_are_lazy_and_explain_themselves():
    for name in ("mamba_ssm", "causal_conv1d", "flash_attn"):
        ok, reason = backends.probe(name)
        assert isinstance(ok, bool) and reason
        if not ok:
            assert "Error" in reason or reason == "no CUDA device"
    with pytest.raises(ValueError, match="unknown kernel package"):
        backends.probe("triton_magic")


def test_forced_kernels_on_cpu_tensors_fail_clearly(monkeypatch):
    monkeypatch.setattr(backends, "importable", lambda name: (True, "ok"))  # pretend it is installed
    block = Mamba(8, backend="mamba_ssm")
    assert block.backend_for(torch.zeros(1)) == "mamba_ssm"  # reporting never raises
    with pytest.raises(RuntimeError, match="needs CUDA tensors"):
        block(torch.randn(1, 3, 8))


def test_bad_arguments():
    with pytest.raises(ValueError, match="backend"):
        MambaLM(VOCAB, backend="cuda")
    with pytest.raises(ValueError, match="norm"):
        MambaLM(VOCAB, norm="batch")


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA 'auto' may pick the kernels")
def test_backend_property_on_cpu():
    want = "c_scan" if scan_kernel.load() is not None else "torch_scan"
    assert MambaLM(VOCAB, backend="auto").backend == want
    assert MambaLM(VOCAB, backend="torch").backend == want
    assert MambaLM(VOCAB, backend="torch", chunk_size=8).backend == "chunked_scan"


def test_state_size_is_constant_and_counts_the_conv_buffer():
    model = MambaLM(VOCAB, d_model=16, n_layer=3, d_state=8, d_conv=4, expand=2, backend="torch")
    sizes = {model.state_size(n) for n in (1, 100, 10_000)}
    assert sizes == {3 * 32 * (8 + 4)}
    per_seq = sum(t.numel() for layer in model.init_state(1) for t in layer)
    assert per_seq == model.state_size(1)


def test_tiny_model_overfits_a_batch():
    torch.manual_seed(0)
    model = MambaLM(VOCAB, d_model=32, n_layer=2, d_state=8, backend="torch", chunk_size=16)
    idx = tokens(b=4, t=24, seed=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss_fn():
        logits = model(idx[:, :-1])
        return F.cross_entropy(logits.reshape(-1, VOCAB), idx[:, 1:].reshape(-1))

    first = loss_fn()
    first.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    opt.step()
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first.item(), (first.item(), loss.item())


# --- against mamba_ssm itself (CUDA only) ------------------------------------------------------

needs_kernels = pytest.mark.skipif(not backends.probe("mamba_ssm")[0],
                                   reason=f"mamba_ssm kernels: {backends.probe('mamba_ssm')[1]}")


@pytest.mark.gpu
@needs_kernels
@pytest.mark.parametrize("fast_path", [False, True])
def test_block_matches_mamba_ssm_on_cuda(fast_path):
    from mamba_ssm.modules.mamba_simple import Mamba as RefMamba

    torch.manual_seed(0)
    ref = RefMamba(d_model=32, d_state=16, d_conv=4, expand=2, use_fast_path=fast_path).cuda()
    x = torch.randn(2, 77, 32, device="cuda")
    want = ref(x)
    for backend in ("torch", "mamba_ssm"):
        ours = Mamba(32, d_state=16, d_conv=4, expand=2, backend=backend).cuda()
        ours.load_state_dict(ref.state_dict())
        assert ours.backend_for(x) == backend
        torch.testing.assert_close(ours(x), want, rtol=2e-3, atol=2e-3)
    ref.load_state_dict(ours.state_dict())  # and back


@pytest.mark.gpu
@needs_kernels
def test_lm_on_cuda_uses_kernels_and_decodes_consistently():
    torch.manual_seed(0)
    model = MambaLM(VOCAB, d_model=32, n_layer=2, backend="auto").cuda().eval()
    assert model.backend == "mamba_ssm"
    idx = tokens(t=40).cuda()
    full = model(idx)
    logits, state = model.step(idx[:, :25], model.init_state(2))
    rest, _ = model.step(idx[:, 25:], state)
    torch.testing.assert_close(torch.cat([logits, rest], 1), full, rtol=2e-3, atol=2e-3)
    torch_model = MambaLM(VOCAB, d_model=32, n_layer=2, backend="torch").cuda().eval()
    torch_model.load_state_dict(model.state_dict())
    torch.testing.assert_close(torch_model(idx), full, rtol=2e-3, atol=2e-3)
