"""Every family of the zoo behind one interface: causal, step == forward, state dicts, state size, init, sizing."""
import doctest
import io
import math

import pytest
import torch
import torch.nn.functional as F
from jsonargparse import ArgumentParser

import common.models as models
from common.lit import SequenceLM
from common.models import FAMILIES, GRU, LSTM, Hybrid, MambaLM, SequenceModel, Transformer
from common.models import sizing

V = 13
ZOO = {
    "transformer": lambda: Transformer(V, d_model=16, n_layer=2, n_head=2, position="alibi"),
    "lstm": lambda: LSTM(V, d_model=16, n_layer=2),
    "gru": lambda: GRU(V, d_model=16, n_layer=2),
    "mamba": lambda: MambaLM(V, d_model=16, n_layer=2, d_state=4),
    "hybrid": lambda: Hybrid(V, d_model=16, n_layer=2, n_head=2, d_state=4),
    "hybrid-lstm": lambda: Hybrid(V, d_model=16, n_layer=2, n_head=2, mixer="lstm", attn_layer=1),
}
GROWS = {"transformer", "hybrid", "hybrid-lstm"}  # KV cache: state grows with the sequence


def test_every_family_is_exported_and_covered_here():
    assert set(FAMILIES) <= {name.split("-")[0] for name in ZOO}
    for cls in FAMILIES.values():
        assert issubclass(cls, SequenceModel) and cls.__name__ in models.__all__


@pytest.mark.parametrize("name", ZOO)
def test_causal(name):
    m = ZOO[name]().double().eval()
    x = torch.randint(0, V, (2, 9))
    y = x.clone()
    y[:, 5] = (y[:, 5] + 1) % V
    lx, ly = m(x), m(y)
    assert torch.allclose(lx[:, :5], ly[:, :5], atol=1e-12)
    assert not torch.allclose(lx[:, 5:], ly[:, 5:])


def floats_per_sequence(state, batch: int) -> int:
    """Numbers a decoding state holds per sequence, whatever its nesting."""
    if state is None or isinstance(state, int):
        return 0
    if isinstance(state, torch.Tensor):
        assert batch in state.shape
        return state.numel() // batch
    if isinstance(state, dict):
        return sum(floats_per_sequence(s, batch) for s in state.values())
    if isinstance(state, (list, tuple)):
        return sum(floats_per_sequence(s, batch) for s in state)
    return floats_per_sequence(vars(state), batch)  # dataclasses


@pytest.mark.parametrize("name", ZOO)
def test_step_equals_forward_and_state_size_counts_the_state(name):
    m = ZOO[name]().double().eval()
    x = torch.randint(0, V, (3, 10))
    full = m(x)
    state, parts = m.init_state(3), []
    for a, b in [(0, 4), (4, 5), (5, 10)]:
        logits, state = m.step(x[:, a:b], state)
        parts.append(logits)
        assert floats_per_sequence(state, 3) == m.state_size(b)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-10)


@pytest.mark.parametrize("name", ZOO)
def test_state_size_constant_for_recurrent_linear_for_attention(name):
    m = ZOO[name]()
    s = [m.state_size(n) for n in (0, 10, 20, 40)]
    if name in GROWS:
        slope = s[1] - s[0]
        assert slope > 0 and s == [s[0] + slope * n // 10 for n in (0, 10, 20, 40)]
    else:
        assert len(set(s)) == 1 and s[0] > 0


@pytest.mark.parametrize("name", ZOO)
def test_state_dict_round_trip(name):
    a = ZOO[name]().double().eval()
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    torch.manual_seed(1)
    b = ZOO[name]().double().eval()
    x = torch.randint(0, V, (2, 7))
    assert not torch.allclose(a(x), b(x))
    b.load_state_dict(torch.load(io.BytesIO(buf.getvalue())))
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("name", ZOO)
def test_num_params_counts_each_tensor_once(name):
    m = ZOO[name]()
    unique = {id(p): p.numel() for p in m.parameters()}
    assert m.num_params() == sum(unique.values()) > 0


# ----- each block owns its init --------------------------------------------------------------------

def mamba_mixers(m):
    return [mod for mod in m.modules() if isinstance(mod, models.Mamba)]


@pytest.mark.parametrize("name", ["mamba", "hybrid"])
def test_building_the_model_keeps_mambas_own_ssm_init(name):
    m = ZOO[name]()
    mixers = mamba_mixers(m)
    assert mixers
    for mx in mixers:
        dt = F.softplus(mx.dt_proj.bias.detach().double())
        assert dt.min() >= 1e-4 - 1e-12 and dt.max() <= 0.1 + 1e-9  # log-uniform in [dt_min, dt_max], floored
        assert torch.allclose(mx.A_log, torch.log(torch.arange(1, mx.d_state + 1.0)).repeat(mx.d_inner, 1))
        assert torch.all(mx.D == 1)


def test_hybrid_keeps_the_recurrent_and_attention_blocks_default_init():
    """LSTM weights stay uniform(+-1/sqrt(d)) and the attention layer keeps nn.Linear's init:
    a model-wide N(0, 0.02) re-init would shrink their spread about fivefold."""
    m = ZOO["hybrid-lstm"]()
    d = m.d_model
    for layer in m.layers:
        w = layer.mixer.weight_hh_l0
        bound = 1 / math.sqrt(d)
        assert w.abs().max() <= bound and w.std() > 0.8 * bound / math.sqrt(3)
    q = m.attention.attn.qkv.weight
    assert q.std() > 0.8 * (1 / math.sqrt(d)) / math.sqrt(3)


# ----- configs and sizing ----------------------------------------------------------------------------

@pytest.mark.parametrize("class_path", [f"common.models.{c.__name__}" for c in FAMILIES.values()])
def test_every_family_builds_from_a_class_path_config(class_path):
    p = ArgumentParser()
    p.add_class_arguments(SequenceLM, "lm")
    cfg = p.parse_object({"lm": {"vocab_size": V, "model": {"class_path": class_path, "init_args": {"d_model": 16}}}})
    lm = p.instantiate(cfg).lm
    assert type(lm.model).__name__ == class_path.rsplit(".", 1)[1] and lm.model.vocab_size == V


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("target", [60_000, 400_000])
def test_fit_size_picks_the_closest_width(family, target):
    kw = sizing.fit_size(family, target, V, n_layer=3)
    step = 4 if family in ("transformer", "hybrid") else 1  # widths move in steps of n_head (default 4)
    got = FAMILIES[family](V, **kw).num_params()
    for d in (kw["d_model"] - step, kw["d_model"] + step):
        assert abs(got - target) <= abs(FAMILIES[family](V, **{**kw, "d_model": d}).num_params() - target)
    assert kw["n_layer"] == 3 and abs(got - target) / target < (0.03 if family in ("lstm", "gru", "mamba") else 0.1)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("target", [60_000, 400_000])
def test_fit_size_with_refinement_is_within_one_percent(family, target):
    refine = "d_ff" if family in ("transformer", "hybrid") else None  # the others step d_model by 1 already
    kw = sizing.fit_size(family, target, V, n_layer=3, refine=refine)
    assert abs(FAMILIES[family](V, **kw).num_params() - target) / target < (0.01 if refine else 0.03)


def test_fit_size_solves_for_depth_and_rejects_unknown_arguments():
    kw = sizing.fit_size("transformer", 300_000, V, solve_for="n_layer", d_model=64)
    assert kw["d_model"] == 64 and abs(Transformer(V, **kw).num_params() - 300_000) / 300_000 < 0.1
    with pytest.raises(ValueError, match="has no argument 'width'"):
        sizing.fit_size("lstm", 1000, V, solve_for="width")
    with pytest.raises(ValueError, match="unknown family='rwkv'"):
        sizing.fit_size("rwkv", 1000, V)


def test_sizing_doctest():
    assert doctest.testmod(sizing).failed == 0


def test_doctor_names_the_device_torch_and_each_kernel_with_a_reason():
    from common import doctor

    out = doctor.report()
    assert out.startswith("device: ") and torch.__version__ in out
    for name in doctor.ROLES:
        line = next(ln for ln in out.splitlines() if f" {name} " in ln)
        assert line.strip().startswith(("yes", "no")) and (line.strip().startswith("yes") or " -- " in line)
