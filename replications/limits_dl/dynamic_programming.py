"""The dynamic-programming task (note §5/§7, assumed to be Dziri et al.'s): given integers in
[-5, 5], pick a subsequence with no two adjacent elements and the largest sum; the answer is the
label vector (1 = chosen, 2 = not chosen), ties broken by the lexicographically smallest vector.
Text problem for the LLM harness.

The recurrence, from the end: dp[i] = max(dp[i+1], x[i] + dp[i+2], 0), dp[m] = dp[m+1] = 0;
dp[0] is the best sum. Reading from the front, taking x[i] whenever x[i] + dp[i+2] = dp[i] (and
skipping its neighbour) yields the lexicographically smallest optimal labels, since 1 < 2.

>>> xs = [3, -1, 4, 0, -5, 2]
>>> dp_table(xs)[:6], solve(xs), brute_force(xs) == solve(xs)
([9, 6, 6, 2, 2, 2], [1, 2, 1, 2, 2, 1], True)
"""
from __future__ import annotations

import itertools
import random
import re

from replications.limits_dl.text_problem import TextProblem, integers

LOW, HIGH = -5, 5


def dp_table(xs: list[int]) -> list[int]:
    """dp[i] = best sum of a non-adjacent selection from xs[i:], length len(xs) + 2."""
    dp = [0] * (len(xs) + 2)
    for i in range(len(xs) - 1, -1, -1):
        dp[i] = max(dp[i + 1], xs[i] + dp[i + 2], 0)
    return dp


def solve(xs: list[int]) -> list[int]:
    """Lexicographically smallest optimal label vector by greedy reconstruction from the front."""
    dp, labels, i = dp_table(xs), [], 0
    while i < len(xs):
        if xs[i] + dp[i + 2] == dp[i]:
            labels.append(1)
            if i + 1 < len(xs):
                labels.append(2)
            i += 2
        else:
            labels.append(2)
            i += 1
    return labels


def brute_force(xs: list[int]) -> list[int]:
    """Exhaustive reference: every label vector in lexicographic order, keep the first of maximal
    sum among those without two adjacent 1s (2^m candidates; use for m <= ~16)."""
    best, best_sum = None, None
    for labels in itertools.product((1, 2), repeat=len(xs)):
        if any(a == b == 1 for a, b in zip(labels, labels[1:])):
            continue
        s = sum(x for x, lab in zip(xs, labels) if lab == 1)
        if best_sum is None or s > best_sum:
            best, best_sum = list(labels), s
    return best if best is not None else []


def sample_list(rng: random.Random, m: int) -> list[int]:
    return [rng.randint(LOW, HIGH) for _ in range(m)]


_EXAMPLE = [2, -3, 4, 1, -1]


class DPProblem(TextProblem):
    """Text form for the LLM harness, with one worked input/output pair in the prompt.

    >>> p = DPProblem([1, 5, -2, 3])
    >>> p.reference_answer(), p.check("Choose 5 and 3.\\n[2, 1, 2, 1]"), p.check("[1, 2, 2, 1]")
    ('[2, 1, 2, 1]', True, False)
    """

    def __init__(self, xs: list[int]):
        self.xs = list(xs)

    def prompt_text(self) -> str:
        return (
            "Given a list of integers, choose some of its elements so that no two chosen elements are next "
            "to each other in the list and the sum of the chosen elements is as large as possible. Mark each "
            "element with 1 if it is chosen and 2 if it is not. If several choices reach the largest sum, "
            "give the one whose list of marks comes first in dictionary order.\n"
            f"Example: for {_EXAMPLE} the answer is {solve(_EXAMPLE)}.\n"
            f"Input: {self.xs}\n"
            "Write the list of marks in square brackets on the last line."
        )

    def reference_answer(self) -> str:
        return str(solve(self.xs))

    def check(self, answer_text: str) -> bool:
        lists = re.findall(r"\[([^\[\]]*)\]", answer_text)
        return bool(lists) and integers(lists[-1]) == solve(self.xs)
