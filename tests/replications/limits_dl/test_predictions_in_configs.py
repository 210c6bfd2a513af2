"""Every bound written into a figure config's claims equals the one re-derived here from
``bounds.py`` and the run's own settings, so configs cannot drift from the theorems they cite."""
import re
from pathlib import Path

import pytest
import yaml

from replications.limits_dl import bounds as B
from replications.limits_dl import predictions as P

CONFIGS = Path(__file__).parents[3] / "replications" / "limits_dl" / "configs"
FANO_TERM = re.compile(r"at\('([^']+)', ([0-9.]+)\) <= ([0-9.]+)")


def load(name):
    return yaml.safe_load((CONFIGS / name).read_text())


def axis(cfg, name):
    return next(a for a in cfg["sweep"]["grid"] if a["name"] == name)


def values(cfg, name):
    """An axis's values: the list of a keyed axis, or the labels (as ints) of a labelled one."""
    v = axis(cfg, name)["values"]
    return v if isinstance(v, list) else [int(label) for label in v]


def claims(cfg):
    return {c["kind"] + ":" + c["text"].split(":")[0]: c for c in cfg["figure"]["claims"]}


@pytest.mark.parametrize("name", ["e1_cpu.yaml", "e1.yaml"])
def test_e1_claims_follow_the_grid(name):
    cfg = load(name)
    m = cfg["model"]["init_args"]["model"]["init_args"]
    assert m["context"] == 1 and cfg["data"]["init_args"]["pairs"], "S = L d p needs pair tokens and no buffer"
    grid = {a: values(cfg, a) for a in ("n", "k", "p", "d")}
    want = P.e1_claims(grid["n"], grid["k"], grid["p"], grid["d"], m["n_layer"])
    got = [c["holds_if"] for c in cfg["figure"]["claims"]]
    assert got == [want["check"], want["control"], want["drop"], want["equal"]]
    kinds = [c["kind"] for c in cfg["figure"]["claims"]]
    assert kinds == ["check", "control", "prediction", "prediction"]
    terms = FANO_TERM.findall(want["check"])
    assert terms, "no Fano term: the grid never goes below the boundary"
    for s, d, c in terms:  # independent of e1_claims: the bound straight from bounds.py
        n, _, p = (int(v) for v in s.split("/"))
        assert float(c) == pytest.approx(B.fano_accuracy_bound(n, m["n_layer"] * int(d) * p) + P.MARGIN, abs=1e-3)


def test_e1_cpu_claims_straddle_the_boundary():
    """The control sits at 4 n log2 n, the drop goes down to n log2 n / 2, equal-S pairs exist."""
    want = P.e1_claims([4], [1], [1, 2], [1, 2, 4, 8, 16, 32])
    assert want["control"] == "at('4/1/1', 32) >= 0.9 and at('4/1/2', 16) >= 0.9"
    assert want["drop"] == "at('4/1/1', 32) - at('4/1/1', 4) >= 0.4 and at('4/1/2', 16) - at('4/1/2', 2) >= 0.4"
    assert want["equal"].count("<= 0.15") == 10


@pytest.mark.parametrize("name", ["e2_cpu.yaml", "e2.yaml"])
def test_e2_ssms_share_a_state_below_the_boundary(name):
    cfg = load(name)
    archs = axis(cfg, "arch")["values"]
    check = cfg["figure"]["claims"][0]
    assert check["kind"] == "check"
    n = axis(cfg, "n")["values"][0]
    states = set()
    for label, (s, x, c) in zip(("ssm_L1", "ssm_L2", "ssm_L4"), FANO_TERM.findall(check["holds_if"])):
        m = archs[s]["model.init_args.model"]["init_args"]
        assert s == label and m["context"] == 1
        S = m["n_layer"] * m["d_state"] * m["bits"]
        states.add(S)
        assert float(c) == pytest.approx(B.fano_accuracy_bound(n, S) + P.MARGIN, abs=1e-3)
    assert len(states) == 1 and states.pop() <= B.composition_entropy_bits(n) / 2


@pytest.mark.parametrize("name", ["e4b_cpu.yaml", "e4b.yaml"])
def test_e4b_claims_follow_the_grid(name):
    cfg = load(name)
    data = cfg["data"]["init_args"]
    assert data["eval_range"] == "exact"
    ps = [p for p in axis(cfg, "p")["values"] if p is not None]
    want = P.e4b_claims(ps, axis(cfg, "d")["values"], data["test_lengths"], data["max_train_len"])
    got = [c["holds_if"] for c in cfg["figure"]["claims"]]
    assert got == [want["check"], want["flat"], want["grow"], want["control"]]
    assert f"<= {2 ** max(ps)}" in want["check"] and f"<= {2 ** min(ps)}" in want["check"]


def test_e4a_claims_name_the_closed_form_failure_points():
    from replications.limits_dl.counter import predicted_failure
    import torch

    claims = " ".join(c["holds_if"] for c in load("e4a_cpu.yaml")["figure"]["claims"])
    for dtype in ("bfloat16", "float16"):
        N = predicted_failure(getattr(torch, dtype))
        assert f"at('{dtype}', {N}) == 1" in claims and f"at('{dtype}', {N + 1}) == 0" in claims
