"""Multiplication: products and the long-multiplication scratchpad re-parsed from the rendered
text by an independent parser and recomputed with Python integers."""
import random
import re

import pytest

from replications.limits_dl import multiplication as M
from replications.limits_dl.vocab import VOCAB


def parse_scratchpad(text: str) -> tuple[int, int, list[int], int]:
    """'<bos> 1 2 * 3 4 = P0 + P1 = C <eos>' -> (a, b, partials, c), from the characters alone."""
    flat = text.replace("<bos>", "").replace("<eos>", "").replace(" ", "")
    m = re.fullmatch(r"(\d+)\*(\d+)=(?:([\d+]+)=)?(\d+)", flat)
    assert m, flat
    a, b, pad, c = m.groups()
    return int(a), int(b), [int(p) for p in pad.split("+")] if pad else [], int(c)


def long_multiplication(a: int, b: int) -> list[int]:
    """Schoolbook rows, by repeated division of b (not string reversal as in the module)."""
    rows, shift = [], 1
    while True:
        rows.append(a * (b % 10) * shift)
        b //= 10
        shift *= 10
        if b == 0:
            return rows


@pytest.mark.parametrize("da,db", [(1, 1), (2, 1), (3, 3), (4, 3), (5, 5), (7, 2)])
@pytest.mark.parametrize("scratchpad", [False, True])
def test_layout_against_integers(da, db, scratchpad):
    rng = random.Random(10 * da + db)
    for _ in range(60):
        a0, b0 = M.sample_operands(rng, da, db)
        ex = M.encode(a0, b0, scratchpad=scratchpad)
        a, b, pads, c = parse_scratchpad(VOCAB.render(ex.tokens))
        assert (a, b) == (a0, b0) and len(str(a)) == da and len(str(b)) == db
        assert c == a * b
        if scratchpad:
            assert pads == long_multiplication(a, b) and sum(pads) == c
            assert len(pads) == db
        else:
            assert pads == []
        assert ex.prompt_len == len(VOCAB.encode_number(a)) + len(VOCAB.encode_number(b)) + 3
        assert not any(ex.target_mask[: ex.prompt_len]) and all(ex.target_mask[ex.prompt_len:])


def test_hand_checked_scratchpad():
    ex = M.encode(4821, 307, scratchpad=True)
    assert VOCAB.render(ex.answer) == "3 3 7 4 7 + 0 + 1 4 4 6 3 0 0 = 1 4 8 0 0 4 7 <eos>"
    assert VOCAB.render(M.encode(307, 4821, scratchpad=True).answer) != VOCAB.render(ex.answer)


def test_text_problem():
    p = M.MultiplicationProblem(4821, 307)
    assert p.check("4821 x 307 = 1480047") and p.check("The product is 1,480,047.")
    assert not p.check("1480407") and not p.check("no idea")
    assert "4821" in p.prompt_text() and "307" in p.prompt_text()
