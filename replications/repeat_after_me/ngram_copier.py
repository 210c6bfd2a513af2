"""The idealised n-gram copier of Theorem 2.3 / Fig. 3: what a copier with a key of n tokens can score.

To emit the next token it looks up every input position whose preceding n tokens equal the last n
tokens it has emitted, picks one of them uniformly, and emits the token found there. A string is
copied exactly when every pick is right, so its probability of success is the product, over output
positions, of (right candidates / candidates). This is the ceiling of a model whose key has n tokens
(e.g. a 2-layer Hard-ALiBi stack with windows 1..w has keys of at most w - 1 tokens), used to size
the CPU-scale models, not a claim about them.
"""
from __future__ import annotations

import itertools
import random
from fractions import Fraction

BOS, SEP = "$", "|"


def success_probability(string: list, n: int) -> Fraction:
    """Probability that the n-gram copier copies ``string`` exactly (then emits the end marker)."""
    if n < 1:
        raise ValueError(f"the key needs n >= 1 tokens; got {n}")
    source = [BOS, *string, SEP]  # the copy starts aligned with BOS and ends aligned with the separator
    p = Fraction(1)
    for t in range(1, len(source)):
        key = source[max(0, t - n):t]
        found = [source[j] for j in range(1, len(source)) if source[max(0, j - n):j] == key]
        p *= Fraction(sum(tok == source[t] for tok in found), len(found))
        if p == 0:
            break
    return p


def exact_accuracy(length: int, n: int, alphabet: int) -> Fraction:
    """Mean success over every string of ``length`` letters (small alphabets and lengths only)."""
    strings = list(itertools.product(range(alphabet), repeat=length))
    return sum((success_probability(list(s), n) for s in strings), Fraction(0)) / len(strings)


def accuracy(length: int, n: int, alphabet: int = 26, samples: int = 2000, seed: int = 0) -> float:
    """Expected string accuracy on uniform random strings, averaged over ``samples`` strings."""
    rng = random.Random(seed)
    total = sum(success_probability([rng.randrange(alphabet) for _ in range(length)], n) for _ in range(samples))
    return float(total / samples)
