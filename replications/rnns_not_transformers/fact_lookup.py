"""Fact lookup: the CPU proxy for the paper's HotpotQA experiment (note §7.3).

The context holds k facts ``key = value`` (distinct keys, values drawn with replacement),
optionally with filler tokens scattered between facts; the question names one key and the
answer is its value. The k-1 other facts are the distractors: answering needs in-context
retrieval, which a constant-size RNN state cannot do for large k.

Its own vocabulary (``FactVocab``), ids in this order:
``[PAD] [BOS] [EOS] = [QUERY] [STARTSEARCH] [ENDSEARCH] [FAILED]`` (0..7), then
``n_fillers`` filler words ``f0..``, then ``n_keys`` keys ``k0..``, then ``n_values`` values
``v0..``. The defaults (8 fillers, 64 keys, 64 values) give 144 tokens.

Formats (the prompt always ends at its only ``[EOS]``; prompt tokens are never targets):

- ``direct``: ``[BOS] facts [QUERY] key [EOS] value``.
- ``retrieval``: ``[BOS] facts [QUERY] key [EOS] [STARTSEARCH] key [ENDSEARCH] value value``:
  the model asks, ``FactRetriever`` splices the value (not a target), the model copies it.

The answer is always the last token.

>>> import random
>>> voc = FactVocab(n_fillers=2, n_keys=4, n_values=4)
>>> ex = fact_example(random.Random(2), 3, 'retrieval', voc, fillers=2)
>>> print(voc.decode(ex.tokens))  # doctest: +NORMALIZE_WHITESPACE
[BOS] f0 k0 = v2 k3 = v1 f0 k2 = v2 [QUERY] k3 [EOS]
      [STARTSEARCH] k3 [ENDSEARCH] v1 v1
>>> ex.target_mask[ex.prompt_len:]
[True, True, True, False, True]
>>> voc.decode(FactRetriever(voc)(ex.tokens[:ex.prompt_len + 3]))
'v1'
>>> fact_answer(ex, voc), answer_from_generation(ex.tokens, ex.prompt_len, voc)
(1, 1)
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable, Literal, get_args

from common.tasks import Example
from replications.rnns_not_transformers.retriever import facts, pending_query

SPECIALS: tuple[str, ...] = ("[PAD]", "[BOS]", "[EOS]", "=", "[QUERY]", "[STARTSEARCH]", "[ENDSEARCH]", "[FAILED]")
PAD, BOS, EOS, EQUALS, QUERY, STARTSEARCH, ENDSEARCH, FAILED = range(len(SPECIALS))
Format = Literal["direct", "retrieval"]
FORMATS = get_args(Format)


@dataclass(frozen=True)
class FactVocab:
    """Token ids of the fact-lookup task: specials, fillers, keys, values (in that order)."""

    n_fillers: int = 8
    n_keys: int = 64
    n_values: int = 64

    @property
    def size(self) -> int:
        return len(SPECIALS) + self.n_fillers + self.n_keys + self.n_values

    def filler(self, i: int) -> int:
        return self._id(i, self.n_fillers, len(SPECIALS))

    def key(self, i: int) -> int:
        return self._id(i, self.n_keys, len(SPECIALS) + self.n_fillers)

    def value(self, i: int) -> int:
        return self._id(i, self.n_values, len(SPECIALS) + self.n_fillers + self.n_keys)

    @staticmethod
    def _id(i: int, count: int, offset: int) -> int:
        if not 0 <= i < count:
            raise ValueError(f"index {i} out of range [0, {count})")
        return offset + i

    def is_key(self, t: int) -> bool:
        return 0 <= t - len(SPECIALS) - self.n_fillers < self.n_keys

    def is_value(self, t: int) -> bool:
        return 0 <= t - len(SPECIALS) - self.n_fillers - self.n_keys < self.n_values

    def value_index(self, t: int) -> int:
        if not self.is_value(t):
            raise ValueError(f"token {t} is not a value")
        return t - len(SPECIALS) - self.n_fillers - self.n_keys

    def decode(self, tokens: Iterable[int]) -> str:
        """Readable form: specials by name, fillers ``f#``, keys ``k#``, values ``v#``."""
        out = []
        for t in tokens:
            t = int(t)
            for prefix, start, count in (("", 0, len(SPECIALS)), ("f", len(SPECIALS), self.n_fillers),
                                         ("k", len(SPECIALS) + self.n_fillers, self.n_keys),
                                         ("v", len(SPECIALS) + self.n_fillers + self.n_keys, self.n_values)):
                if start <= t < start + count:
                    out.append(SPECIALS[t] if not prefix else f"{prefix}{t - start}")
                    break
            else:
                out.append(f"<{t}?>")
        return " ".join(out)


def fact_example(rng: random.Random, k: int, fmt: str = "direct", vocab: FactVocab = FactVocab(),
                 fillers: int = 0) -> Example:
    """One lookup: ``k`` facts, ``fillers`` filler tokens in random gaps, a uniformly chosen query."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if not 1 <= k <= vocab.n_keys:
        raise ValueError(f"need 1 <= k <= n_keys={vocab.n_keys}, got k={k}")
    if fillers and not vocab.n_fillers:
        raise ValueError("fillers requested but the vocabulary has none")
    keys = rng.sample(range(vocab.n_keys), k)
    values = [rng.randrange(vocab.n_values) for _ in keys]
    gaps = [[] for _ in range(k + 1)]  # gap i comes before fact i; gap k after the last fact
    for _ in range(fillers):
        gaps[rng.randrange(k + 1)].append(vocab.filler(rng.randrange(vocab.n_fillers)))
    q = rng.randrange(k)
    prompt = [BOS]
    for i in range(k):
        prompt += gaps[i] + [vocab.key(keys[i]), EQUALS, vocab.value(values[i])]
    prompt += gaps[k] + [QUERY, vocab.key(keys[q]), EOS]
    answer = vocab.value(values[q])
    if fmt == "direct":
        body, mask = [answer], [True]
    else:
        body = [STARTSEARCH, vocab.key(keys[q]), ENDSEARCH, answer, answer]
        mask = [True, True, True, False, True]
    return Example(prompt + body, [False] * len(prompt) + mask, len(prompt))


class FactRetriever:
    """Answers ``[STARTSEARCH] key [ENDSEARCH]`` with the value of the first ``key = value`` fact
    outside search spans (``[FAILED]`` if none or the query is not one key)."""

    def __init__(self, vocab: FactVocab = FactVocab()):
        self.vocab = vocab

    def __call__(self, tokens: list[int]) -> list[int] | None:
        query = pending_query(tokens, STARTSEARCH, ENDSEARCH)
        if query is None:
            return None
        if len(query) == 1 and self.vocab.is_key(query[0]):
            is_item = lambda t: self.vocab.is_key(t) or self.vocab.is_value(t)  # noqa: E731
            for key, value in facts(tokens, EQUALS, STARTSEARCH, ENDSEARCH, is_item):
                if key == query[0] and self.vocab.is_value(value):
                    return [value]
        return [FAILED]


def fact_answer(example: Example, vocab: FactVocab = FactVocab()) -> int:
    """Gold value index of a fact-lookup example (its last token)."""
    return vocab.value_index(example.tokens[-1])


def answer_from_generation(tokens: list[int], prompt_len: int, vocab: FactVocab = FactVocab()) -> int | None:
    """Value index of the first value the model generated after the prompt, skipping the
    retrieved token after ``[ENDSEARCH]``; None if there is none."""
    for i in range(prompt_len, len(tokens)):
        if vocab.is_value(tokens[i]) and tokens[i - 1] != ENDSEARCH:
            return vocab.value_index(tokens[i])
    return None
