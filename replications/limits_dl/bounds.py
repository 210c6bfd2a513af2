"""The theorems' predicted boundaries as plain functions, so that sweeps (E1-E4) can plot the
prediction next to measured accuracy. Logs are base 2 (the note's assumption, [NR] in the paper).

>>> round(composition_entropy_bits(16), 6)
64.0
>>> theorem1_state_bits(d=4, p=2), theorem1_error_lower_bound(n=16, d=4, p=2)
(40, 0.125)
>>> theorem1_error_lower_bound(n=16, d=8, p=8)
0.0
"""
from __future__ import annotations

import math


def composition_entropy_bits(n: int) -> float:
    """Bits needed to describe a uniform random function [n] -> [n]: n log2 n."""
    return n * math.log2(n) if n > 1 else 0.0


def theorem1_state_bits(d: int, p: int) -> int:
    """(d^2 + d) p: what one contiguous block of a one-layer SSM prompt can pass on (a d x d
    transition product plus a d-vector, p bits per number)."""
    return (d * d + d) * p


def theorem1_error_lower_bound(n: int, d: int, p: int) -> float:
    """Theorem 1 [R]: with R = n log2 n - (d^2+d) p > 0, P(error) >= R / (3 n log2 n); else 0."""
    h = composition_entropy_bits(n)
    r = h - theorem1_state_bits(d, p)
    return r / (3 * h) if r > 0 else 0.0


def theorem2_cot_steps_lower_bound(n: int, d: int, p: int, constant: float = 3 / 100) -> float:
    """Theorem 2 [R]: CoT steps >= c sqrt(n log2 n) / (d p), c = 3/100 as reported (one review says
    3/200). Below 1 at every trainable size (note §3): only qualitative CoT experiments make sense."""
    return constant * math.sqrt(composition_entropy_bits(n)) / (d * p)


def binary_entropy(e: float) -> float:
    return 0.0 if e <= 0 or e >= 1 else -e * math.log2(e) - (1 - e) * math.log2(1 - e)


def fano_accuracy_bound(n: int, state_bits: float) -> float:
    """Best possible accuracy on a query read after the whole table(s) when the model carries at most
    ``state_bits`` bits past the tables [OURS, the streaming form of Theorem 1's argument]: the composed
    map F is uniform over [n]^[n], so its n values are independent, and together they share at most
    ``state_bits`` bits with the state; Fano's inequality per query, averaged (h is concave), gives
    h(e) + e log2(n-1) >= log2 n - state_bits / n for the mean error e. Holds for any readout, any
    depth of recurrent stack, and k = 1 (look-up) as well as k = 2 (composition).

    >>> round(fano_accuracy_bound(8, 0), 3), fano_accuracy_bound(8, 24)
    (0.125, 1.0)
    """
    if n < 2:
        return 1.0
    target = math.log2(n) - state_bits / n
    if target <= 0:
        return 1.0

    def phi(e):
        return binary_entropy(e) + e * math.log2(n - 1)

    lo, hi = 0.0, 1 - 1 / n  # phi increases from 0 to log2 n on this interval
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if phi(mid) < target else (lo, mid)
    return 1 - hi


def theorem1_accuracy_upper_bound(n: int, d: int, p: int) -> float:
    """1 - Theorem 1's error lower bound: the paper's own prediction for a one-layer SSM."""
    return 1 - theorem1_error_lower_bound(n, d, p)
