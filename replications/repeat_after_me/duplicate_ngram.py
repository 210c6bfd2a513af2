"""Copying strings with a duplicated n-gram (Jelassi et al. 2024, Sec. 3: transformers copy by n-gram lookup).

A model that copies by looking up the last k generated tokens in the input and emitting the token
after them fails when some k-gram occurs twice with different continuations. Planting a repeated
n-gram in an otherwise uniform string therefore probes k: copy accuracy should stay high for
n < k and drop once n >= k.

Our generator: draw a uniform string, pick two non-overlapping windows of n letters and overwrite the
second with the first, so the n-gram occurs (at least) twice. The official code
(``synthetic_exps/data_utils.py``, task ``duplicate_ngram``) instead replaces every occurrence of one
n-gram of the string by another with ``str.replace``; both plant a repeated n-gram at a uniform place.
The example itself is the plain copy example of the new string. ``n = 0`` plants nothing (plain copy).

>>> import random
>>> s, (p, q) = duplicated_string(random.Random(0), length=10, alphabet=4, n=3)
>>> render(s, 4), s[p: p + 3] == s[q: q + 3], abs(p - q) >= 3
('dddcddcdcb', True, True)
"""
from __future__ import annotations

import random

from common.tasks import Example
from replications.repeat_after_me.copy_task import copy_example_of, random_string, render

__all__ = ["duplicated_string", "duplicate_ngram_example", "render"]


def duplicated_string(rng: random.Random, length: int, alphabet: int, n: int) -> tuple[list[int], tuple[int, int]]:
    """A uniform string in which the n-gram at ``p`` has been copied over the window at ``q``.

    Returns the string and (p, q); the windows [p, p+n) and [q, q+n) do not overlap. ``n = 0``
    returns an untouched uniform string and (0, 0).
    """
    if n < 0 or (n > 0 and length < 2 * n):
        raise ValueError(f"need 0 <= n and 2n <= length to plant two {n}-grams in {length} letters")
    s = random_string(rng, length, alphabet)
    if n == 0:
        return s, (0, 0)
    while True:
        p, q = rng.randrange(length - n + 1), rng.randrange(length - n + 1)
        if abs(p - q) >= n:
            break
    s[q: q + n] = s[p: p + n]
    return s, (p, q)


def duplicate_ngram_example(rng: random.Random, length: int, alphabet: int, n: int) -> Example:
    """Copy example ``$ s | s .`` of a string with a duplicated n-gram."""
    return copy_example_of(duplicated_string(rng, length, alphabet, n)[0], alphabet)
