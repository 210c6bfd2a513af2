"""The four text settings: the answer is recomputed from the prompt text alone (independent of
the generator's fields), and the checker accepts it and rejects near misses."""
import random
import re

import pytest

from replications.limits_dl import composition_text as T


def solve_function(prompt: str) -> int:
    defs = dict(re.findall(r"^(\w)\(x\) = (.+)$", prompt, flags=re.M))
    expr = re.search(r"What is (.+)\?", prompt).group(1)
    names = re.findall(r"(\w)\(", expr)[::-1]  # innermost first
    v = int(re.search(r"\((-?\d+)\)+$", expr).group(1))
    for n in names:
        a, sign, b = re.fullmatch(r"(-?\d*)x(?: ([+-]) (\d+))?", defs[n]).groups()
        a = {"": 1, "-": -1}.get(a, None) or int(a)
        v = a * v + (int(b) if sign == "+" else -int(b) if sign else 0)
    return v


def solve_spatial(prompt: str) -> tuple[int, int]:
    rel = {}
    for a, s, d, b in re.findall(r"The (\w+) is (\d+) blocks? (\w+) of the (\w+)\.", prompt):
        dx, dy = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}[d]
        rel[a] = (b, dx * int(s), dy * int(s))
    src, dst = re.search(r"Where is the (\w+) relative to the (\w+)\?", prompt).groups()
    e = n = 0
    while src != dst:
        src, de, dn = rel[src]
        e, n = e + de, n + dn
    return e, n


def solve_temporal(prompt: str) -> str:
    rel = {a: (b, int(m) * (1 if w == "after" else -1))
           for a, m, w, b in re.findall(r"The ([\w ]+?) starts (\d+) minutes (after|before) the ([\w ]+?)\.", prompt)}
    anchor, hh, mm = re.search(r"The ([\w ]+?) starts at (\d\d):(\d\d)\.", prompt).groups()
    target = re.search(r"At what time does the ([\w ]+?) start\?", prompt).group(1)
    total = 0
    while target != anchor:
        target, off = rel[target]
        total += off
    t = (int(hh) * 60 + int(mm) + total) % 1440
    return f"{t // 60:02d}:{t % 60:02d}"


def solve_relational(prompt: str) -> str:
    boss = {b: a for a, b in re.findall(r"^(\w+) is the manager of (\w+)\.$", prompt, flags=re.M)}
    q = re.search(r"Who is ((?:the manager of )+)(\w+)\?", prompt)
    p = q.group(2)
    for _ in range(q.group(1).count("manager")):
        p = boss[p]
    return p


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_reference_answers_recomputed_from_prompt_text(k):
    rng = random.Random(k)
    for _ in range(40):
        p = T.sample(rng, "function", k)
        assert int(p.reference_answer()) == solve_function(p.prompt_text())
        p = T.sample(rng, "spatial", k)
        assert p.reference_answer() == "({}, {})".format(*solve_spatial(p.prompt_text()))
        p = T.sample(rng, "temporal", k)
        assert p.reference_answer() == solve_temporal(p.prompt_text())
        p = T.sample(rng, "relational", k)
        assert p.reference_answer() == solve_relational(p.prompt_text())


@pytest.mark.parametrize("setting", T.SETTINGS)
def test_checker_accepts_reference_in_prose_and_rejects_others(setting):
    rng = random.Random(11)
    for _ in range(30):
        p = T.sample(rng, setting, 3)
        ref = p.reference_answer()
        assert p.check(ref) and p.check(f"Let me work step by step.\nSo the answer is:\n{ref}")
        assert not p.check("I cannot tell.")
        if setting == "function":
            assert not p.check(str(int(ref) + 1))
        elif setting == "spatial":
            e, n = (int(v) for v in re.findall(r"-?\d+", ref))
            assert not p.check(f"({e}, {n + 1})")
            assert e == n or not p.check(f"({n}, {e})")
        elif setting == "temporal":
            hh, mm = ref.split(":")
            assert not p.check(f"{hh}:{(int(mm) + 5) % 60:02d}")
        else:
            other = next(a for a, _ in p.manager if a != ref)
            assert not p.check(f"Maybe {ref}? No: {other}")


def test_relational_has_distractors_and_one_director():
    p = T.sample(random.Random(0), "relational", 3)
    children = [a for a, _ in p.manager]
    people = {x for pair in p.manager for x in pair}
    assert len(children) == len(set(children))  # a function: one manager each
    assert len(people - set(children)) == 1  # exactly one employee without a manager
    assert len(p.manager) > 3  # distractor facts beyond the 3-step chain
