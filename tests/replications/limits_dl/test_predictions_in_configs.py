"""Every bound written into a figure config's claims equals the one re-derived here from
``bounds.py`` and the run's own settings, so configs cannot drift from the theorems they cite."""
import math
import re
from pathlib import Path

import pytest
import yaml

from replications.limits_dl import bounds as B
from replications.limits_dl import predictions as P

CONFIGS = Path(__file__).parents[3] / "replications" / "limits_dl" / "configs"
LAST = re.compile(r"last\('([^']+)'\) (<=|>=) ([0-9.]+)")


def load(name):
    return yaml.safe_load((CONFIGS / name).read_text())


def axis(cfg, name):
    return next(a for a in cfg["sweep"]["grid"] if a["name"] == name)


@pytest.mark.parametrize("name", ["e1_cpu.yaml", "e1.yaml"])
def test_e1_bounds(name):
    cfg = load(name)
    ctx = cfg["model"]["init_args"]["model"]["init_args"]["context"]
    fano, thm, below = (c["holds_if"] for c in cfg["figure"]["claims"][:3])
    terms = P.parse_terms(fano)
    assert terms, "no Fano term: the grid never goes below the boundary"
    for s, d, c in terms:
        n, k, p = (int(v) for v in s.split("/"))
        assert c == pytest.approx(B.fano_accuracy_bound(n, p * d + (ctx - 1) * math.log2(n)) + P.MARGIN,
                                  abs=1e-3)
    for s, d, c in P.parse_terms(thm):
        n, k, p = (int(v) for v in s.split("/"))
        assert c == pytest.approx(B.theorem1_accuracy_upper_bound(n, int(d), p) + P.MARGIN, abs=1e-3)
    grid = {a: axis(cfg, a)["values"] for a in ("n", "k", "p", "d")}
    expected_below = sum(1 for n in grid["n"] for _ in grid["k"] for p in grid["p"] for d in grid["d"]
                         if p * d + (ctx - 1) * math.log2(n) < B.composition_entropy_bits(n))
    assert below.count("< 0.9") == expected_below


@pytest.mark.parametrize("name", ["e2_cpu.yaml", "e2.yaml"])
def test_e2_bounds(name):
    cfg = load(name)
    archs = axis(cfg, "arch")["values"]
    checked = 0
    for s, op, c in LAST.findall(cfg["figure"]["claims"][0]["holds_if"]):
        n, _, arch = s.split("/")
        m = archs[arch]["model.init_args.model"]["init_args"]
        bits = m["n_layer"] * m["d_state"] * m["bits"]
        assert bits == archs["ssm_L1"]["model.init_args.model"]["init_args"]["d_state"] * 2  # equal total state
        assert float(c) == pytest.approx(P.e1_fano(int(n), m["d_state"], m["bits"], m["context"], m["n_layer"])
                                         + P.MARGIN, abs=1e-3)
        checked += 1
    assert checked == 3 * len(axis(cfg, "n")["values"]) * len(axis(cfg, "k")["values"])


@pytest.mark.parametrize("name", ["e4b_cpu.yaml", "e4b.yaml"])
def test_e4b_bounds(name):
    cfg = load(name)
    d = cfg["model"]["init_args"]["model"]["init_args"]["d_state"]
    terms = P.parse_terms(cfg["figure"]["claims"][0]["holds_if"])
    assert terms
    for p, N, c in terms:
        assert c == pytest.approx(B.counting_accuracy_bound(d * int(p), int(N)) + P.MARGIN, abs=1e-3)
    assert P.e4b_terms(d, [1, 2, 3], cfg["data"]["init_args"]["test_lengths"]) == cfg["figure"]["claims"][0]["holds_if"]


def test_e4a_claims_name_the_closed_form_failure_points():
    from replications.limits_dl.counter import predicted_failure
    import torch

    claims = " ".join(c["holds_if"] for c in load("e4a_cpu.yaml")["figure"]["claims"])
    for dtype in ("bfloat16", "float16"):
        N = predicted_failure(getattr(torch, dtype))
        assert f"at('{dtype}', {N}) == 1" in claims and f"at('{dtype}', {N + 1}) == 0" in claims
