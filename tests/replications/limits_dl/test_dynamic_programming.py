"""Maximum-sum non-adjacent subsequence: greedy reconstruction vs exhaustive search, and the
text form checked."""
import random

import pytest

from replications.limits_dl import dynamic_programming as D


def exhaustive(xs):
    """Bitmask enumeration (independent of the module's label-vector enumeration): the optimum
    sum, then the lexicographically smallest 1/2 vector reaching it."""
    m, best = len(xs), []
    for mask in range(1 << m):
        if mask & (mask >> 1):
            continue
        labels = [1 if mask >> i & 1 else 2 for i in range(m)]
        best.append((-sum(x for i, x in enumerate(xs) if mask >> i & 1), labels))
    return min(best)[1]


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8, 12])
def test_solve_matches_exhaustive_search(m):
    rng = random.Random(m)
    for _ in range(150):
        xs = D.sample_list(rng, m)
        assert all(-5 <= x <= 5 for x in xs)
        assert D.solve(xs) == exhaustive(xs) == D.brute_force(xs)


def test_ties_prefer_choosing_early_zero():
    assert D.solve([0, 0, 0]) == [1, 2, 1]
    assert D.solve([-1, -2]) == [2, 2]
    assert D.solve([2, 5, 2, 0]) == [2, 1, 2, 1]


def test_text_problem():
    p = D.DPProblem([1, 5, -2, 3, 4])
    ref = p.reference_answer()
    assert ref == str(exhaustive([1, 5, -2, 3, 4]))
    assert p.check(ref) and p.check(f"Working: dp = [9, 9, 4, 4, 4]\nAnswer: {ref}")
    assert not p.check("[1, 2, 1, 2, 1]") and not p.check("1 2 1")
    assert "[1, 5, -2, 3, 4]" in p.prompt_text()
