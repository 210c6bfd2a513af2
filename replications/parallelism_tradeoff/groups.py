"""Finite groups as Cayley tables, and the running products of their word problem.

A group is named as in Merrill, Petty & Sabharwal (2024, Sec. 6): ``Z60`` (integers mod 60),
``A5`` (even permutations of 5 points), ``A4xZ5`` (direct product), also ``S5``, ``Z2``
(parity) and any ``Z<k>``, ``A<k>``, ``S<k>`` or ``x``-product of them up to 1000 elements.
Elements are indexed 0..|G|-1 with the identity at 0.

Product convention: permutations are tuples ``p`` with ``p[i]`` the image of ``i``, and
``a * b`` applies ``a`` first, then ``b``: ``(a * b)[i] = b[a[i]]``. The running product of a
word g1 g2 ... gn is y_i = g1 * g2 * ... * gi (the label at position i).

>>> g = group("Z60")
>>> g.order, g.mul(59, 2), running_products(g, [10, 20, 40])
(60, 1, [10, 30, 10])
>>> s = group("S3")
>>> s.elements[s.mul(s.index[(1, 0, 2)], s.index[(0, 2, 1)])]  # swap 0,1 then swap 1,2
(2, 0, 1)
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

MAX_ORDER = 1000


@dataclass(frozen=True)
class Group:
    """A finite group given by its multiplication table; ``elements`` name the indices."""

    name: str
    table: tuple[tuple[int, ...], ...]
    elements: tuple = field(repr=False)

    @property
    def order(self) -> int:
        return len(self.table)

    @property
    def index(self) -> dict:
        return {e: i for i, e in enumerate(self.elements)}

    def mul(self, a: int, b: int) -> int:
        return self.table[a][b]


def _from_elements(name: str, elements: list, op, identity) -> Group:
    """Cayley table of ``elements`` under ``op``, reindexed so that ``identity`` is 0 (the rest in sorted order)."""
    ordered = [identity] + sorted(e for e in elements if e != identity)
    index = {e: i for i, e in enumerate(ordered)}
    table = tuple(tuple(index[op(a, b)] for b in ordered) for a in ordered)
    return Group(name, table, tuple(ordered))


def compose(a: tuple, b: tuple) -> tuple:
    """Apply permutation ``a``, then ``b``."""
    return tuple(b[i] for i in a)


def parity(p: tuple) -> int:
    """0 for an even permutation, 1 for an odd one (by counting inversions)."""
    return sum(1 for i, j in itertools.combinations(range(len(p)), 2) if p[i] > p[j]) % 2


def cyclic(k: int) -> Group:
    return _from_elements(f"Z{k}", list(range(k)), lambda a, b: (a + b) % k, 0)


def symmetric(k: int, even_only: bool = False) -> Group:
    perms = [p for p in itertools.permutations(range(k)) if not even_only or parity(p) == 0]
    return _from_elements(f"{'A' if even_only else 'S'}{k}", perms, compose, tuple(range(k)))


def direct_product(g: Group, h: Group) -> Group:
    """Pairs (a, b) multiplied componentwise."""
    pairs = [(a, b) for a in range(g.order) for b in range(h.order)]
    return _from_elements(f"{g.name}x{h.name}", pairs, lambda p, q: (g.mul(p[0], q[0]), h.mul(p[1], q[1])), (0, 0))


_FACTOR = re.compile(r"^([ZAS])(\d+)$")


def _factor_order(kind: str, k: int) -> int:
    return k if kind == "Z" else math.factorial(k) // (2 if kind == "A" and k > 1 else 1)


@lru_cache(maxsize=None)
def group(name: str) -> Group:
    """The group called ``name`` ("Z60", "A5", "A4xZ5", "S5", "Z2", ...)."""
    factors = []
    for part in str(name).split("x"):
        m = _FACTOR.match(part)
        if not m or int(m.group(2)) < 1:
            raise ValueError(f"unknown group {name!r}: write factors Z<k>, A<k> or S<k> joined by 'x' (e.g. A4xZ5)")
        factors.append((m.group(1), int(m.group(2))))
    total = 1
    for kind, k in factors:
        total *= _factor_order(kind, k)
    if total > MAX_ORDER:
        raise ValueError(f"group {name!r} has {total} elements; at most {MAX_ORDER} are supported")
    built = [cyclic(k) if kind == "Z" else symmetric(k, even_only=kind == "A") for kind, k in factors]
    out = built[0]
    for g in built[1:]:
        out = direct_product(out, g)
    return out


def running_products(g: Group, word: list[int]) -> list[int]:
    """Labels of the word problem: y_i = g1 * ... * gi for i = 1..n."""
    out, acc = [], 0
    for x in word:
        acc = g.table[acc][x]
        out.append(acc)
    return out
