"""Multiplication: products and the long-multiplication scratchpad re-parsed from the rendered
text by an independent parser and recomputed with Python integers."""
import dataclasses
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
def test_generator_against_checker_and_integers(da, db, scratchpad):
    rng = random.Random(10 * da + db)
    for _ in range(60):
        ex = M.sample(rng, da, db, scratchpad=scratchpad)
        assert M.check(ex)
        a, b, pads, c = parse_scratchpad(VOCAB.render(ex.tokens))
        assert len(str(a)) == da and len(str(b)) == db
        assert c == a * b
        assert M.final_answer(ex.answer) == a * b
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


def test_checker_rejects_corrupted_scratchpad_and_product():
    ex = M.encode(4821, 307, scratchpad=True)
    plus = ex.tokens.index(VOCAB.id("+"))
    bad_row = list(ex.tokens)
    bad_row[plus - 1] = VOCAB.digit(8)  # 33747 -> 33748, product untouched
    assert not M.check(dataclasses.replace(ex, tokens=bad_row))
    bad_prod = list(ex.tokens)
    bad_prod[-2] = VOCAB.digit(8)
    assert not M.check(dataclasses.replace(ex, tokens=bad_prod))
    swapped = M.encode(307, 4821, scratchpad=True)  # rows of the other operand order differ
    assert M.check(swapped) and swapped.answer != ex.answer


def test_operand_grid_enumerates_small_cells_and_samples_large_ones():
    rng = random.Random(0)
    small = M.operand_grid(rng, 1, 2)
    assert len(small) == 10 * 90 and len(set(small)) == 900
    big = M.operand_grid(rng, 4, 3, cap=500)
    assert len(big) == 500 == len(set(big))
    assert all(1000 <= a <= 9999 and 100 <= b <= 999 for a, b in big)


def test_text_problem():
    p = M.MultiplicationProblem(4821, 307)
    assert p.check("4821 x 307 = 1480047") and p.check("The product is 1,480,047.")
    assert not p.check("1480407") and not p.check("no idea")
    assert "4821" in p.prompt_text() and "307" in p.prompt_text()
