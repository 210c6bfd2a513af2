"""The theorems' predictions for each figure's runs, written into the figure configs as claims
(``at('series', x) <= bound``), and re-derived by the tests from ``bounds.py`` so a config cannot
drift from the bound it cites. These are predictions, not published values: the paper trains no
model (note §6).

Series names follow the figures' ``series`` axes joined by "/" (``common.report.series_name``):
E1 "n/k/p" at x = d; E2 and E3 name an architecture or CoT mode; E4b "p" at x = N.
"""
from __future__ import annotations

import math
import re

from replications.limits_dl import bounds as B

MARGIN = 0.06
"""Sampling allowance added to every upper bound: two standard errors of an accuracy measured on
256 examples (at most 0.031 each)."""

TERM = re.compile(r"at\('([^']+)', ([0-9.]+)\) <= ([0-9.]+)")


def streaming_state_bits(layers: int, d: int, p: int, context: int, n: int) -> float:
    """Bits a QuantSSM carries past the tables: layers d p for the quantised states plus log2 n for
    each of the ``context - 1`` buffered tokens (the last table tokens, each one value of [n])."""
    return layers * d * p + (context - 1) * math.log2(n)


def e1_fano(n: int, d: int, p: int, context: int, layers: int = 1) -> float:
    return B.fano_accuracy_bound(n, streaming_state_bits(layers, d, p, context, n))


def e1_terms(ns, ks, ps, ds, context: int) -> tuple[str, str, str]:
    """Claims of E1: (Fano bound, Theorem 1 as stated, 'cannot solve below the boundary')."""
    fano, thm, below = [], [], []
    for n in ns:
        for k in ks:
            for p in ps:
                for d in ds:
                    s = f"{n}/{k}/{p}"
                    b = e1_fano(n, d, p, context)
                    if b + MARGIN < 1:
                        fano.append(f"at('{s}', {d}) <= {b + MARGIN:.4g}")
                    t = B.theorem1_accuracy_upper_bound(n, d, p)
                    if t + MARGIN < 1:
                        thm.append(f"at('{s}', {d}) <= {t + MARGIN:.4g}")
                    if streaming_state_bits(1, d, p, context, n) < B.composition_entropy_bits(n):
                        below.append(f"at('{s}', {d}) < 0.9")
    return " and ".join(fano), " and ".join(thm), " and ".join(below)


def e4b_terms(d: int, ps, lengths) -> str:
    terms = []
    for p in ps:
        for N in lengths:
            b = B.counting_accuracy_bound(d * p, N)
            if b + MARGIN < 1:
                terms.append(f"at('{p}', {N}) <= {b + MARGIN:.4g}")
    return " and ".join(terms)


def parse_terms(expr: str) -> list[tuple[str, float, float]]:
    """(series, x, bound) of every ``at('s', x) <= c`` in a claim."""
    return [(s, float(x), float(c)) for s, x, c in TERM.findall(expr)]
