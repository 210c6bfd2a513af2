"""Shared token vocabulary of the trained-from-scratch tasks (composition, a^n b^n) and of the
multiplication answer layout, so that one model can be trained on any of them. Symbols that no
task here writes (``,`` ``-`` ``(`` ``)`` ``yes`` ``no``) keep their places, so that token ids and
vocabulary sizes, and with them measured runs, do not depend on which tasks exist.

Ids are fixed by construction order, in five blocks:

1. specials ``<pad>`` (0), ``<bos>`` (1), ``<eos>`` (2);
2. symbols: ``|`` re-read separator, ``?`` query, ``=`` answer / equals, ``,`` list separator,
   ``+`` ``-`` ``*`` arithmetic, ``(`` ``)`` brackets, ``a`` ``b``
   (a^n b^n), ``yes`` ``no``;
3. digits ``0``..``9``;
4. function-table markers ``f1``..``f{max_levels-1}`` (``f1`` is the function applied first);
5. value tokens of the in-context function tasks: ``max_levels`` disjoint ranges of ``max_n`` ids,
   named ``A0..``, ``B0..``, ...; level 0 holds the arguments of ``f1``, level i the outputs of ``fi``.
   Disjoint ranges make the level of every value visible, as in the note's design (§9 Tier A);
6. only with ``pairs=True``: one token per table entry, ``A0B1`` = "f1 maps 0 to 1" (``max_n^2`` per
   table), so a table of n entries is n tokens and a model reading one token at a time holds no
   half-read entry between steps (its state is then exactly what the bounds count).

>>> V = Vocab(max_n=4, max_levels=3)
>>> V.size, V.id("<pad>"), V.id("="), V.value(1, 2), V.name(V.value(1, 2))
(40, 0, 5, 34, 'B2')
>>> V.render(V.encode_number(-407))
'- 4 0 7'
"""
from __future__ import annotations

from dataclasses import dataclass, field

from common.tasks import Example

SPECIALS = ("<pad>", "<bos>", "<eos>")
SYMBOLS = ("|", "?", "=", ",", "+", "-", "*", "(", ")", "a", "b", "yes", "no")
DIGITS = tuple("0123456789")


@dataclass(frozen=True)
class Vocab:
    """Token table; ``max_n`` bounds the function-domain size, ``max_levels - 1`` the number of
    composed functions."""

    max_n: int = 64
    max_levels: int = 5
    pairs: bool = False
    tokens: tuple[str, ...] = field(init=False, repr=False)
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_n < 1 or not 2 <= self.max_levels <= 26:
            raise ValueError("need max_n >= 1 and 2 <= max_levels <= 26")
        markers = tuple(f"f{i}" for i in range(1, self.max_levels))
        values = tuple(f"{chr(ord('A') + lv)}{v}" for lv in range(self.max_levels) for v in range(self.max_n))
        pairs = tuple(f"{chr(ord('A') + i - 1)}{a}{chr(ord('A') + i)}{b}" for i in range(1, self.max_levels)
                      for a in range(self.max_n) for b in range(self.max_n)) if self.pairs else ()
        toks = SPECIALS + SYMBOLS + DIGITS + markers + values + pairs
        object.__setattr__(self, "tokens", toks)
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(toks)})
        object.__setattr__(self, "_value_base", len(toks) - len(values) - len(pairs))
        object.__setattr__(self, "_pair_base", len(toks) - len(pairs))

    @property
    def size(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def bos_id(self) -> int:
        return 1

    @property
    def eos_id(self) -> int:
        return 2

    def id(self, name: str) -> int:
        return self._index[name]

    def name(self, token_id: int) -> str:
        return self.tokens[token_id]

    def marker(self, i: int) -> int:
        """Table marker of the i-th applied function (1-based)."""
        if not 1 <= i < self.max_levels:
            raise ValueError(f"function index {i} outside 1..{self.max_levels - 1}")
        return self._index[f"f{i}"]

    def marker_index(self, token_id: int) -> int | None:
        """Inverse of ``marker``; None for other tokens."""
        name = self.tokens[token_id]
        if name[0] == "f" and name[1:].isdigit():
            return int(name[1:])
        return None

    def value(self, level: int, v: int) -> int:
        if not (0 <= level < self.max_levels and 0 <= v < self.max_n):
            raise ValueError(f"value ({level}, {v}) outside {self.max_levels} levels x {self.max_n}")
        return self._value_base + level * self.max_n + v

    def value_of(self, token_id: int) -> tuple[int, int] | None:
        """(level, v) of a value token, None for other tokens."""
        off = token_id - self._value_base
        if 0 <= off < self.max_levels * self.max_n:
            return divmod(off, self.max_n)
        return None

    def pair(self, i: int, a: int, b: int) -> int:
        """One-token table entry "f_i(a) = b" (needs ``pairs=True``).

        >>> W = Vocab(max_n=3, max_levels=3, pairs=True)
        >>> W.name(W.pair(2, 0, 2)), W.pair_of(W.pair(2, 0, 2)), W.pair_of(W.value(1, 0))
        ('B0C2', (2, 0, 2), None)
        """
        if not self.pairs:
            raise ValueError("this vocabulary has no pair tokens (Vocab(pairs=True))")
        if not (1 <= i < self.max_levels and 0 <= a < self.max_n and 0 <= b < self.max_n):
            raise ValueError(f"pair (f{i}, {a}, {b}) outside {self.max_levels - 1} tables x {self.max_n}")
        return self._pair_base + ((i - 1) * self.max_n + a) * self.max_n + b

    def pair_of(self, token_id: int) -> tuple[int, int, int] | None:
        """(i, a, b) of a pair token, None for other tokens."""
        off = token_id - self._pair_base
        if not self.pairs or not 0 <= off < (self.max_levels - 1) * self.max_n ** 2:
            return None
        i, rest = divmod(off, self.max_n ** 2)
        return (i + 1, *divmod(rest, self.max_n))

    def digit(self, d: int) -> int:
        return self._index[DIGITS[d]]

    def encode_number(self, x: int) -> list[int]:
        """Signed decimal, most significant digit first (``-`` prefix for negatives)."""
        sign = [self._index["-"]] if x < 0 else []
        return sign + [self._index[c] for c in str(abs(x))]

    def decode_number(self, ids: list[int]) -> int:
        """Inverse of ``encode_number``; raises ValueError on anything else, leading zeros included."""
        text = "".join(self.tokens[i] for i in ids)
        if not text or not (text.lstrip("-").isdigit() and text.count("-") <= 1):
            raise ValueError(f"not a number: {text!r}")
        if str(int(text)) != text:
            raise ValueError(f"not in canonical form (leading zero or -0): {text!r}")
        return int(text)

    def encode(self, names: list[str] | str) -> list[int]:
        """Token names to ids; a plain string is split on whitespace."""
        if isinstance(names, str):
            names = names.split()
        return [self._index[t] for t in names]

    def decode(self, ids: list[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def render(self, ids: list[int]) -> str:
        return " ".join(self.decode(ids))


VOCAB = Vocab()
"""The default vocabulary (max_n=64, up to 4 composed functions)."""


def make_example(prompt: list[int], answer: list[int]) -> Example:
    """Prompt (not scored, given at evaluation) followed by an answer scored token by token."""
    return Example(tokens=list(prompt) + list(answer), target_mask=[False] * len(prompt) + [True] * len(answer),
                   prompt_len=len(prompt))
