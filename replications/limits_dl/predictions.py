"""The theorems' predictions for each figure's runs, written into the figure configs as claims
(``at('series', x) <= bound``), and re-derived by the tests from ``bounds.py`` so a config cannot
drift from the bound it cites. These are predictions, not published values: the paper trains no
model (note §6).

Series names follow the figures' ``series`` axes joined by "/" (``common.report.series_name``):
E1 "n/k/p" at x = d; E2 and E3 name an architecture or CoT mode; E4b "p" at x = N.
"""
from __future__ import annotations

from replications.limits_dl import bounds as B

MARGIN = 0.06
"""Sampling allowance added to every upper bound: two standard errors of an accuracy measured on
256 examples (at most 0.031 each)."""



def e1_claims(ns, ks, ps, ds, layers: int = 1) -> dict[str, str]:
    """E1's claims over series "n/k/p" at x = d, with S = layers d p state bits (pair tokens, no
    token buffer) and boundary S* = n log2 n:

    - check: every point with Fano(S) + margin < 1 is at most that;
    - control: at the smallest S >= 4 S* of each series, accuracy >= 0.9;
    - drop: from that S to the largest S <= S* / 2, accuracy falls by >= 0.4;
    - equal S: series that differ only in p agree within 0.15 wherever their S coincide.
    """
    check, control, drop, equal = [], [], [], []
    for n in ns:
        star = B.composition_entropy_bits(n)
        for k in ks:
            for p in ps:
                s = f"{n}/{k}/{p}"
                for d in ds:
                    b = B.fano_accuracy_bound(n, layers * d * p)
                    if b + MARGIN < 1:
                        check.append(f"at('{s}', {d}) <= {b + MARGIN:.4g}")
                hi = [d for d in ds if layers * d * p >= 4 * star]
                lo = [d for d in ds if layers * d * p <= star / 2]
                if hi:
                    control.append(f"at('{s}', {min(hi)}) >= 0.9")
                    if lo:
                        drop.append(f"at('{s}', {min(hi)}) - at('{s}', {max(lo)}) >= 0.4")
            for i, p1 in enumerate(ps):
                for p2 in ps[i + 1:]:
                    for d1 in ds:
                        d2 = d1 * p1 / p2
                        if d2 == int(d2) and int(d2) in ds:
                            a1, a2 = f"at('{n}/{k}/{p1}', {d1})", f"at('{n}/{k}/{p2}', {int(d2)})"
                            equal.append(f"{a1} - {a2} <= 0.15 and {a2} - {a1} <= 0.15")
    return {k: " and ".join(v) for k, v in
            {"check": check, "control": control, "drop": drop, "equal": equal}.items()}


def solved_count(series: str, lengths) -> str:
    """Claim term: how many of the exact-n evaluation sets a series gets right (each set holds copies
    of one prompt, so its accuracy is 0 or 1 per run; averaged over seeds, a mean count)."""
    return " + ".join(f"at('{series}', {N})" for N in lengths)


def e4b_claims(ps, ds, lengths, train_max: int) -> dict[str, str]:
    """E4b(b): the check (count <= 2^p per quantised series), flatness in d, growth with p, and the
    float control (every n of the training range). Series "p/d"; float state p = None."""
    lo, hi = min(ds), max(ds)
    check = " and ".join(f"{solved_count(f'{p}/{d}', lengths)} <= {2 ** p}" for p in ps for d in ds)
    flat = " and ".join(f"{solved_count(f'{p}/{hi}', lengths)} <= {solved_count(f'{p}/{lo}', lengths)}" for p in ps)
    grow = f"{solved_count(f'{max(ps)}/{hi}', lengths)} > {solved_count(f'{min(ps)}/{hi}', lengths)}"
    control = f"{solved_count(f'None/{hi}', [N for N in lengths if N <= train_max])} >= " \
              f"{len([N for N in lengths if N <= train_max])}"
    return {"check": check, "flat": flat, "grow": grow, "control": control}
