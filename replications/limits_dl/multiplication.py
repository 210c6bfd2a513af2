"""Multi-digit multiplication (the paper's motivating failure, GPT-4 27 % / Jamba 17 % on 4 x 3
digits): the text problem of the LLM harness, and the answer layout, with an optional
long-multiplication scratchpad, that the toy multiplier (``llm/toy_multiplier.py``) is trained to
write. Every answer is checked with Python integers.

Operands have exactly ``a_digits`` / ``b_digits`` digits (leading digit non-zero; a 1-digit
operand may be 0). Layout, digits most significant first:

- plain: ``<bos> A * B = C <eos>``;
- scratchpad: ``<bos> A * B = P0 + P1 + ... = C <eos>`` where P_i = A x (i-th digit of B from the
  right) x 10^i, the shifted partial products of long multiplication, then their sum C.

>>> V = VOCAB
>>> V.render(encode(123, 45).tokens)
'<bos> 1 2 3 * 4 5 = 5 5 3 5 <eos>'
>>> V.render(encode(123, 45, scratchpad=True).answer)
'6 1 5 + 4 9 2 0 = 5 5 3 5 <eos>'
"""
from __future__ import annotations

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
