"""The theorems' predicted boundaries as plain functions, so that sweeps (E1-E4) can plot the
prediction next to measured accuracy. Logs are base 2 (the note's assumption, [NR] in the paper).

>>> round(composition_entropy_bits(16), 6)
64.0
>>> theorem1_state_bits(d=4, p=2), theorem1_error_lower_bound(n=16, d=4, p=2)
(40, 0.125)
>>> theorem1_error_lower_bound(n=16, d=8, p=8)
0.0
>>> max_countable(d=2, p=4)
256
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


def max_countable(d: int, p: int, layers: int = 1) -> int:
    """Distinct states of a recurrent model keeping L*d numbers of p bits: 2^(L d p). A counter
    (a^n b^n, Dyck-1 depth) with more values than this must confuse two counts (E4b, [OURS])."""
    return 2 ** (layers * d * p)
