"""Multi-digit multiplication (the paper's motivating failure, GPT-4 27 % / Jamba 17 % on 4 x 3
digits; E6 and Tier B), as token sequences with an optional long-multiplication scratchpad, and
as a text problem. Every answer is checked with Python integers.

Operands have exactly ``a_digits`` / ``b_digits`` digits (leading digit non-zero; a 1-digit
operand may be 0). Layout, digits most significant first:

- plain: ``<bos> A * B = C <eos>``;
- scratchpad: ``<bos> A * B = P0 + P1 + ... = C <eos>`` where P_i = A x (i-th digit of B from the
  right) x 10^i, the shifted partial products of long multiplication, then their sum C.

>>> V = VOCAB
>>> V.render(encode(123, 45).tokens)
'<bos> 1 2 3 * 4 5 = 5 5 3 5 <eos>'
>>> ex = encode(123, 45, scratchpad=True)
>>> V.render(ex.answer), check(ex)
('6 1 5 + 4 9 2 0 = 5 5 3 5 <eos>', True)
"""
from __future__ import annotations

import itertools
import random

from common.tasks import Example
from replications.limits_dl.text_problem import TextProblem, last_integer
from replications.limits_dl.vocab import VOCAB, Vocab, make_example


def digit_range(digits: int) -> range:
    """Integers with exactly ``digits`` digits (0..9 for one digit)."""
    if digits < 1:
        raise ValueError("digits must be >= 1")
    return range(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits)


def sample_operands(rng: random.Random, a_digits: int, b_digits: int) -> tuple[int, int]:
    ra, rb = digit_range(a_digits), digit_range(b_digits)
    return rng.choice(ra), rng.choice(rb)


def operand_grid(rng: random.Random, a_digits: int, b_digits: int, cap: int = 3000) -> list[tuple[int, int]]:
    """Evaluation cell (a_digits x b_digits): every pair when there are at most ``cap``, otherwise
    ``cap`` distinct pairs drawn uniformly (the grid protocol of Dziri et al., note §7)."""
    ra, rb = digit_range(a_digits), digit_range(b_digits)
    total = len(ra) * len(rb)
    if total <= cap:
        return list(itertools.product(ra, rb))
    return [(ra[i // len(rb)], rb[i % len(rb)]) for i in rng.sample(range(total), cap)]


def partial_products(a: int, b: int) -> list[int]:
    """a x d_i x 10^i for the digits d_i of b, least significant first."""
    return [a * int(d) * 10 ** i for i, d in enumerate(reversed(str(b)))]


def encode(a: int, b: int, scratchpad: bool = False, vocab: Vocab = VOCAB) -> Example:
    if a < 0 or b < 0:
        raise ValueError("operands must be non-negative")
    prompt = [vocab.bos_id] + vocab.encode_number(a) + [vocab.id("*")] + vocab.encode_number(b) + [vocab.id("=")]
    answer: list[int] = []
    if scratchpad:
        for i, p in enumerate(partial_products(a, b)):
            answer += ([vocab.id("+")] if i else []) + vocab.encode_number(p)
        answer.append(vocab.id("="))
    answer += vocab.encode_number(a * b) + [vocab.eos_id]
    return make_example(prompt, answer)


def sample(rng: random.Random, a_digits: int, b_digits: int, scratchpad: bool = False,
           vocab: Vocab = VOCAB) -> Example:
    """Random a_digits x b_digits product.

    >>> ex = sample(random.Random(0), 4, 3, scratchpad=True)
    >>> check(ex), VOCAB.render(ex.prompt)
    (True, '<bos> 7 3 1 1 * 8 7 6 =')
    """
    a, b = sample_operands(rng, a_digits, b_digits)
    return encode(a, b, scratchpad, vocab)


def _split(ids: list[int], sep: int) -> list[list[int]]:
    parts: list[list[int]] = [[]]
    for t in ids:
        if t == sep:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def final_answer(answer: list[int], vocab: Vocab = VOCAB) -> int | None:
    """The integer after the last ``=`` (or the whole answer) up to ``<eos>``; None if unreadable.
    Use on generated tokens to score a model."""
    if vocab.eos_id in answer:
        answer = answer[: answer.index(vocab.eos_id)]
    tail = _split(answer, vocab.id("="))[-1]
    try:
        return vocab.decode_number(tail)
    except ValueError:
        return None


def check(example: Example, vocab: Vocab = VOCAB) -> bool:
    """Recompute the product (and, if present, every partial product and their sum) from the
    prompt with Python integers."""
    prompt, answer = example.prompt, example.answer
    if prompt[0] != vocab.bos_id or prompt[-1] != vocab.id("=") or not answer or answer[-1] != vocab.eos_id:
        return False
    try:
        ops = _split(prompt[1:-1], vocab.id("*"))
        if len(ops) != 2:
            return False
        a, b = (vocab.decode_number(o) for o in ops)
        sections = _split(answer[:-1], vocab.id("="))
        if vocab.decode_number(sections[-1]) != a * b or len(sections) > 2:
            return False
        if len(sections) == 2:
            parts = [vocab.decode_number(p) for p in _split(sections[0], vocab.id("+"))]
            return parts == partial_products(a, b) and sum(parts) == a * b
        return True
    except ValueError:
        return False


class MultiplicationProblem(TextProblem):
    """Text form for the LLM harness.

    >>> p = MultiplicationProblem(4821, 307)
    >>> p.reference_answer(), p.check("... so the product is 1,480,047."), p.check("1480046")
    ('1480047', True, False)
    """

    def __init__(self, a: int, b: int):
        self.a, self.b = a, b

    def prompt_text(self) -> str:
        return (f"Multiply {self.a} by {self.b}. Write the exact product as an integer on the last line.")

    def reference_answer(self) -> str:
        return str(self.a * self.b)

    def check(self, answer_text: str) -> bool:
        return last_integer(answer_text) == self.a * self.b
