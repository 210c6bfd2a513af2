"""a^n b^n, the counting language of E4 (finite-precision SSMs recognise only regular languages),
as a deterministic completion task: the prompt ``<bos> a^n b`` forces the continuation and the
answer closes it, ``b^(n-1) <eos>``. Getting it right for all n needs an unbounded counter.

Strings use the characters ``a b``; the vocabulary has tokens of the same names.

>>> V = VOCAB
>>> ex = encode_completion("aab", "anbn")
>>> V.render(ex.tokens), check(ex)
('<bos> a a b b <eos>', True)
"""
from __future__ import annotations

import random
from typing import Literal, get_args

from common.tasks import Example
from replications.limits_dl.vocab import VOCAB, Vocab, make_example

Language = Literal["anbn"]
LANGUAGES = get_args(Language)
ALPHABET = {"anbn": ("a", "b")}


def is_anbn(s: str) -> bool:
    """s = a^n b^n (n >= 0), by peeling one ``a`` from the front and one ``b`` from the back."""
    while s:
        if s[0] != "a" or s[-1] != "b":
            return False
        s = s[1:-1]
    return True


def encode_completion(prefix: str, lang: str, vocab: Vocab = VOCAB) -> Example:
    """``prefix`` must have a forced continuation (see module docstring)."""
    if lang not in ALPHABET:
        raise ValueError(f"unknown language {lang!r}: use one of {LANGUAGES}")
    op, cl = ALPHABET[lang]
    depth = prefix.count(op) - prefix.count(cl)
    if not (prefix.endswith("b") and is_anbn(prefix + cl * depth)):
        raise ValueError("a^n b^n completion prefix must be a^n b^m with 1 <= m <= n")
    prompt = [vocab.bos_id] + [vocab.id(c) for c in prefix]
    return make_example(prompt, [vocab.id(cl)] * depth + [vocab.eos_id])


def completion_example(rng: random.Random, lang: str, n_min: int, n_max: int, vocab: Vocab = VOCAB) -> Example:
    """Prompt a^n b with n uniform in [max(1, n_min), n_max]."""
    n = rng.randint(max(1, n_min), n_max)
    return encode_completion("a" * n + "b", lang, vocab)


def check(example: Example, vocab: Vocab = VOCAB) -> bool:
    """Completion: prompt + answer is a member and the answer uses only the closing symbol (hence it
    is the forced continuation)."""
    toks = vocab.decode(example.tokens)
    if toks[0] != "<bos>" or toks[-1] != "<eos>":
        return False
    prompt = "".join(vocab.decode(example.prompt[1:]))
    answer = vocab.decode(example.answer[:-1])
    return set(answer) <= {"b"} and is_anbn(prompt + "".join(answer))
