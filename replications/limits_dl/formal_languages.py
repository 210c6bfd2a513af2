"""a^n b^n and Dyck-1, the counting languages of E4 (finite-precision SSMs recognise only regular
languages), as deterministic completion tasks (E4a and E4b use a^n b^n):

- completion: the prompt is a prefix whose continuation is forced and the answer closes it:
  a^n b^n gives ``<bos> a^n b`` and wants ``b^(n-1) <eos>``; Dyck-1 gives a prefix of depth D > 0
  and wants ``)^D <eos>``. Getting it right for all n needs an unbounded counter.

Strings use the characters ``a b`` / ``( )``; the vocabulary has tokens of the same names.
Dyck-1 positives are uniform over Dyck words with n pairs (cycle lemma).

>>> V = VOCAB
>>> V.render(encode_completion("aab", "anbn").tokens)
'<bos> a a b b <eos>'
>>> ex = encode_completion("(()(", "dyck1")
>>> V.render(ex.answer), check(ex)
(') ) <eos>', True)
"""
from __future__ import annotations

import random

from common.tasks import Example
from replications.limits_dl.vocab import VOCAB, Vocab, make_example

LANGUAGES = ("anbn", "dyck1")
ALPHABET = {"anbn": ("a", "b"), "dyck1": ("(", ")")}


def is_anbn(s: str) -> bool:
    """s = a^n b^n (n >= 0), by peeling one ``a`` from the front and one ``b`` from the back."""
    while s:
        if s[0] != "a" or s[-1] != "b":
            return False
        s = s[1:-1]
    return True


def is_dyck1(s: str) -> bool:
    """Balanced brackets: depth never negative and zero at the end."""
    depth = 0
    for c in s:
        if c not in "()":
            return False
        depth += 1 if c == "(" else -1
        if depth < 0:
            return False
    return depth == 0


def is_member(s: str, lang: str) -> bool:
    return {"anbn": is_anbn, "dyck1": is_dyck1}[lang](s)


def _dyck_word(rng: random.Random, n: int) -> str:
    """Uniform Dyck word with n pairs: shuffle n opens and n+1 closes, rotate to start just after
    the first minimum of the prefix sums, drop the final close (cycle lemma)."""
    seq = ["("] * n + [")"] * (n + 1)
    rng.shuffle(seq)
    best, j, run = 1, 0, 0
    for t, c in enumerate(seq, start=1):
        run += 1 if c == "(" else -1
        if run < best:
            best, j = run, t
    rot = seq[j:] + seq[:j]
    return "".join(rot[:-1])


def sample_positive(rng: random.Random, lang: str, n: int) -> str:
    """A member with n opening symbols."""
    return "a" * n + "b" * n if lang == "anbn" else _dyck_word(rng, n)


def encode_completion(prefix: str, lang: str, vocab: Vocab = VOCAB) -> Example:
    """``prefix`` must have a forced continuation (see module docstring)."""
    op, cl = ALPHABET[lang]
    depth = prefix.count(op) - prefix.count(cl)
    if lang == "anbn" and not (prefix.endswith("b") and is_anbn(prefix + cl * depth)):
        raise ValueError("a^n b^n completion prefix must be a^n b^m with 1 <= m <= n")
    if lang == "dyck1" and not (depth > 0 and is_dyck1(prefix + cl * depth)):
        raise ValueError("Dyck-1 completion prefix must be an open prefix of a Dyck word")
    prompt = [vocab.bos_id] + [vocab.id(c) for c in prefix]
    return make_example(prompt, [vocab.id(cl)] * depth + [vocab.eos_id])


def completion_example(rng: random.Random, lang: str, n_min: int, n_max: int, vocab: Vocab = VOCAB) -> Example:
    """a^n b^n: prompt a^n b; Dyck-1: a uniform Dyck word with n pairs cut where its depth is > 0."""
    n = rng.randint(max(1, n_min), n_max)
    if lang == "anbn":
        return encode_completion("a" * n + "b", lang, vocab)
    w, depth, cuts = _dyck_word(rng, n), 0, []
    for t, c in enumerate(w, start=1):
        depth += 1 if c == "(" else -1
        if depth > 0:
            cuts.append(t)
    return encode_completion(w[: rng.choice(cuts)], lang, vocab)


def check(example: Example, vocab: Vocab = VOCAB) -> bool:
    """Completion: prompt + answer is a member and the answer uses only the closing symbol (hence it
    is the forced continuation)."""
    toks = vocab.decode(example.tokens)
    if toks[0] != "<bos>" or toks[-1] != "<eos>":
        return False
    lang = "anbn" if set(toks[1:-1]) & {"a", "b"} else "dyck1"
    prompt = "".join(vocab.decode(example.prompt[1:]))
    answer = vocab.decode(example.answer[:-1])
    return set(answer) <= {ALPHABET[lang][1]} and is_member(prompt + "".join(answer), lang)
