"""a^n b^n and Dyck-1, the counting languages of E4 (finite-precision SSMs recognise only regular
languages): membership with balanced positives/negatives, and deterministic completion.

- membership: ``<bos> s ? yes|no <eos>``; negatives are near misses of the same length scale
  (wrong counts, right counts in the wrong order, random strings), so that a recogniser must
  count, not just check the alphabet;
- completion: the prompt is a prefix whose continuation is forced and the answer closes it:
  a^n b^n gives ``<bos> a^n b`` and wants ``b^(n-1) <eos>``; Dyck-1 gives a prefix of depth D > 0
  and wants ``)^D <eos>``. Getting it right for all n needs an unbounded counter.

Strings use the characters ``a b`` / ``( )``; the vocabulary has tokens of the same names.
Dyck-1 positives are uniform over Dyck words with n pairs (cycle lemma).

>>> V = VOCAB
>>> V.render(encode_membership("aabb", "anbn").tokens), V.render(encode_membership("())(", "dyck1").tokens)
('<bos> a a b b ? yes <eos>', '<bos> ( ) ) ( ? no <eos>')
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


def sample_negative(rng: random.Random, lang: str, n: int) -> str:
    """A non-member of length about 2n: one of three near-miss kinds, equally likely."""
    if n < 1:
        raise ValueError("negatives need n >= 1")
    op, cl = ALPHABET[lang]
    kind = rng.randrange(3)
    while True:
        if kind == 0:  # counts off by a little
            delta = rng.choice([d for d in (-2, -1, 1, 2) if n + d >= 0])
            if lang == "anbn":
                i, j = (n + delta, n) if rng.random() < 0.5 else (n, n + delta)
                s = op * i + cl * j
            else:  # flip one symbol of a member: counts differ by 2
                w = list(_dyck_word(rng, n))
                t = rng.randrange(len(w))
                w[t] = cl if w[t] == op else op
                s = "".join(w)
        elif kind == 1:  # equal counts, wrong arrangement
            w = [op] * n + [cl] * n
            rng.shuffle(w)
            s = "".join(w)
        else:  # any string of length 2n
            s = "".join(rng.choice((op, cl)) for _ in range(2 * n))
        if not is_member(s, lang):
            return s


def encode_membership(s: str, lang: str, vocab: Vocab = VOCAB) -> Example:
    prompt = [vocab.bos_id] + [vocab.id(c) for c in s] + [vocab.id("?")]
    return make_example(prompt, [vocab.id("yes" if is_member(s, lang) else "no"), vocab.eos_id])


def membership_example(rng: random.Random, lang: str, n_min: int, n_max: int, positive: bool | None = None,
                       vocab: Vocab = VOCAB) -> Example:
    """One labelled string with n in [n_min, n_max]; ``positive=None`` flips a fair coin."""
    n = rng.randint(max(1, n_min), n_max)
    if positive is None:
        positive = rng.random() < 0.5
    s = sample_positive(rng, lang, n) if positive else sample_negative(rng, lang, n)
    return encode_membership(s, lang, vocab)


def membership_examples(rng: random.Random, lang: str, count: int, n_min: int, n_max: int,
                        vocab: Vocab = VOCAB) -> list[Example]:
    """``count`` examples, exactly ``count // 2`` positive, in random order.

    >>> exs = membership_examples(random.Random(0), "dyck1", 10, 2, 6)
    >>> sum(VOCAB.name(e.answer[0]) == "yes" for e in exs), all(check(e) for e in exs)
    (5, True)
    """
    labels = [True] * (count // 2) + [False] * (count - count // 2)
    rng.shuffle(labels)
    return [membership_example(rng, lang, n_min, n_max, positive=p, vocab=vocab) for p in labels]


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
    """Membership: the label equals membership of the string. Completion: prompt + answer is a
    member and the answer uses only the closing symbol (hence it is the forced continuation)."""
    toks = vocab.decode(example.tokens)
    if toks[0] != "<bos>" or toks[-1] != "<eos>":
        return False
    body = toks[1:-1]
    lang = "anbn" if set(body) & {"a", "b"} else "dyck1"
    if "?" in body:
        q = body.index("?")
        s, rest = "".join(body[:q]), body[q + 1:]
        if not set(s) <= set(ALPHABET[lang]) or rest not in (["yes"], ["no"]):
            return False
        return (rest == ["yes"]) == is_member(s, lang) and example.prompt_len == q + 2
    prompt = "".join(vocab.decode(example.prompt[1:]))
    answer = vocab.decode(example.answer[:-1])
    return set(answer) <= {ALPHABET[lang][1]} and is_member(prompt + "".join(answer), lang)
