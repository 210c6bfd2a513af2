"""n-gram lookup of Jelassi et al. 2024 (Sec. 3.5): find a key n-gram in a string, output what follows it.

Same alphabet and specials as the copy task. With ``s`` a uniform random string, ``k`` an n-gram
of ``s`` and ``a`` the ``answer_len`` tokens that follow ``k`` in ``s``:

- prefix key ``$ k | s | a .``: the key comes first, so a fixed-size state can watch for it while
  reading ``s`` (prompt ``$ k | s |``);
- suffix key ``$ s | k a .``: the key comes after the string (no separator before the answer), so
  the model must have kept all of ``s`` (prompt ``$ s | k``).

Only ``a .`` is scored. With ``unique_key`` (default) the key is drawn among the n-grams that occur
exactly once in ``s``, so the answer is unambiguous; without it, as in the official code
(``synthetic_exps/data_utils.py``), the key is any n-gram of ``s`` and the answer follows its first
occurrence.

>>> import random
>>> e = lookup_example(random.Random(1), length=8, alphabet=4, n_gram=2, answer_len=2, key="suffix")
>>> render(e.tokens, alphabet=4), render(e.answer, alphabet=4)
('$bacadddd|acad.', 'ad.')
>>> render(lookup_example(random.Random(1), 8, 4, 2, 2, key="prefix").tokens, alphabet=4)
'$ac|bacadddd|ad.'
"""
from __future__ import annotations

import random
from typing import Literal, get_args

from common.tasks import Example
from replications.repeat_after_me.copy_task import random_string, render, special_ids

__all__ = ["KEYS", "lookup_example", "lookup_example_of", "key_positions", "render"]

Key = Literal["prefix", "suffix"]
KEYS = get_args(Key)


def key_positions(string: list[int], n_gram: int, answer_len: int, unique_key: bool) -> list[int]:
    """Start positions p whose n-gram can be a key: a full answer follows it (p + n + a <= len).

    With ``answer_len <= 0`` the answer is the whole rest of the string, which must not be empty.
    With ``unique_key`` only n-grams occurring exactly once in the string qualify.
    """
    L = len(string)
    last = L - n_gram - max(answer_len, 1)
    grams = [tuple(string[i: i + n_gram]) for i in range(L - n_gram + 1)]
    counts: dict[tuple, int] = {}
    for g in grams:
        counts[g] = counts.get(g, 0) + 1
    return [p for p in range(last + 1) if not unique_key or counts[grams[p]] == 1]


def lookup_example_of(string: list[int], position: int, alphabet: int, n_gram: int, answer_len: int,
                      key: str) -> Example:
    """The lookup example whose key is the n-gram of ``string`` at ``position``.

    The answer follows the key's first occurrence (the same place when the key is unique).
    """
    if key not in KEYS:
        raise ValueError(f"unknown key={key!r}; choose one of {KEYS}")
    k = string[position: position + n_gram]
    first = next(i for i in range(len(string)) if string[i: i + n_gram] == k)
    rest = string[first + n_gram:]
    answer = rest[:answer_len] if answer_len > 0 else rest
    s = special_ids(alphabet)
    if key == "prefix":
        prompt = [s["bos"], *k, s["sep"], *string, s["sep"]]
    else:
        prompt = [s["bos"], *string, s["sep"], *k]
    target = [*answer, s["eos"]]
    return Example(prompt + target, [False] * len(prompt) + [True] * len(target), len(prompt))


def lookup_example(rng: random.Random, length: int, alphabet: int, n_gram: int, answer_len: int,
                   key: str = "suffix", unique_key: bool = True, max_tries: int = 100) -> Example:
    """Sample a string of ``length`` letters and a key in it; resample the string if it has no key."""
    if n_gram < 1:
        raise ValueError(f"n_gram={n_gram} must be >= 1")
    if length < n_gram + max(answer_len, 1):
        raise ValueError(f"a string of length {length} cannot hold a {n_gram}-gram key and an answer of "
                         f"{max(answer_len, 1)} tokens")
    for _ in range(max_tries):
        string = random_string(rng, length, alphabet)
        positions = key_positions(string, n_gram, answer_len, unique_key)
        if positions:
            return lookup_example_of(string, rng.choice(positions), alphabet, n_gram, answer_len, key)
    raise ValueError(f"no string of length {length} over {alphabet} letters with a unique {n_gram}-gram key "
                     f"in {max_tries} tries; lower the length or raise n_gram/alphabet")


def example_length(length: int, n_gram: int, answer_len: int) -> int:
    """Tokens of one example with a string of ``length`` (the longest, when the answer is the rest)."""
    answer = answer_len if answer_len > 0 else length - n_gram
    return length + n_gram + answer + 4
