"""Einstein puzzles: exactly one solution by plain enumeration of all (K!)^M assignments with
clue semantics re-implemented here, minimal clue sets, and the text checker."""
import itertools
import random

import pytest

from replications.limits_dl import einstein as E


def holds(clue, house_of) -> bool:
    """house_of[(a, v)] -> house (0-based); semantics written from the module docstring's table."""
    p1 = house_of[(clue.a1, clue.v1)]
    if clue.kind == "found_at":
        return p1 == clue.house
    if clue.kind == "not_at":
        return p1 != clue.house
    p2 = house_of[(clue.a2, clue.v2)]
    return {
        "same_house": p1 == p2,
        "beside": p1 in (p2 - 1, p2 + 1),
        "directly_left": p1 + 1 == p2,
        "left_of": p1 < p2,
        "one_between": max(p1, p2) - min(p1, p2) == 2,
        "two_between": max(p1, p2) - min(p1, p2) == 3,
    }[clue.kind]


def all_solutions(clues, k, m):
    """Every grid grid[a][h] = value satisfying all clues, by full enumeration."""
    out = []
    for grid in itertools.product(itertools.permutations(range(k)), repeat=m):
        house_of = {(a, v): h for a in range(m) for h, v in enumerate(grid[a])}
        if all(holds(c, house_of) for c in clues):
            out.append(grid)
    return out


SIZES = [(2, 2), (3, 2), (3, 3), (4, 2), (4, 3)]


@pytest.mark.parametrize("k,m", SIZES)
def test_generated_puzzles_have_exactly_one_solution(k, m):
    rng = random.Random(100 * k + m)
    for _ in range(3 if k * m >= 12 else 6):
        pz = E.generate(rng, houses=k, attributes=m)
        sols = all_solutions(pz.clues, k, m)
        assert sols == [pz.solution]


@pytest.mark.parametrize("k,m", [(3, 2), (3, 3), (4, 2)])
def test_clue_sets_are_minimal(k, m):
    rng = random.Random(k + 7 * m)
    for _ in range(3):
        pz = E.generate(rng, houses=k, attributes=m)
        for i in range(len(pz.clues)):
            assert len(all_solutions(pz.clues[:i] + pz.clues[i + 1:], k, m)) > 1


def test_solution_counter_agrees_with_enumeration_on_random_clue_sets():
    rng = random.Random(42)
    for trial in range(40):
        k, m = rng.choice([(3, 2), (3, 3), (4, 2)])
        truth = tuple(tuple(rng.sample(range(k), k)) for _ in range(m))
        clues = []
        for _ in range(rng.randint(0, 6)):
            c = E._random_clue(rng, truth, k, m)
            if c is not None:
                clues.append(c)
        if trial % 3 == 0:  # also clue sets with no solution: flip one unary clue
            clues.append(E.Clue("found_at", 0, truth[0][0], house=1))
            clues.append(E.Clue("not_at", 0, truth[0][0], house=1))
        n = len(all_solutions(clues, k, m))
        assert E.count_solutions(clues, k, m, limit=10 ** 6) == n


def test_text_checker_full_grid_and_single_question():
    pz = E.generate(random.Random(5), houses=4, attributes=3)
    ref = pz.reference_answer()
    assert pz.check(ref) and pz.cell_accuracy(ref) == 1.0
    assert pz.check("Reasoning... house 1 might be X.\n" + ref.upper())
    lines = ref.splitlines()
    swapped = "\n".join([lines[1].replace("House 2", "House 1"), lines[0].replace("House 1", "House 2")] + lines[2:])
    assert not pz.check(swapped) and pz.cell_accuracy(swapped) == 0.5
    assert pz.cell_accuracy("") == 0.0
    for h in range(4):
        for a in range(3):
            q = pz.with_query(h, a)
            assert q.check(f"The answer is {q.reference_answer()}.")
            wrong = next(v for v in pz.values[a] if v != q.reference_answer())
            assert not q.check(wrong)
            assert f"house {h + 1}?" in q.prompt_text()


def test_every_clue_is_rendered_and_true():
    pz = E.generate(random.Random(9), houses=5, attributes=4)
    text = pz.prompt_text()
    house_of = {(a, v): h for a in range(4) for h, v in enumerate(pz.solution[a])}
    for i, c in enumerate(pz.clues):
        assert f"\n{i + 1}. " in text
        assert holds(c, house_of)
    assert E.count_solutions(pz.clues, 5, 4) == 1


def test_one_four_by_four_puzzle_by_full_enumeration():
    """331 776 assignments: the note's largest brute-force size."""
    pz = E.generate(random.Random(44), houses=4, attributes=4)
    assert all_solutions(pz.clues, 4, 4) == [pz.solution]
