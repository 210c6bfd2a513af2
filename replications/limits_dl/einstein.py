"""Einstein's (zebra) puzzle for the LLM harness (note §5/§7, Tier B): K houses in a row, M
attributes (the first is the name), each value in exactly one house. Puzzles are generated
from a random solution by adding random true clues until exactly one solution remains, then
dropping clues that are not needed (in random order), so the clue set is minimal.

Solutions are counted by exhaustive backtracking with forward checking (exact; milliseconds at
K = M = 5, so no SAT solver is needed). Sizes follow Dziri et al. (K, M in 2..4 for
training-sized puzzles, up to 5 for test) [assumed; the paper's sizes are NR].

Clue kinds (p1, p2 = houses of the two described people, houses 0-based in code, 1-based in text):
``found_at`` p1 = h; ``not_at`` p1 != h; ``same_house`` p1 = p2; ``beside`` |p1 - p2| = 1;
``directly_left`` p1 = p2 - 1; ``left_of`` p1 < p2; ``one_between`` |p1 - p2| = 2;
``two_between`` |p1 - p2| = 3.

>>> pz = generate(random.Random(0), houses=3, attributes=2)
>>> print(pz.prompt_text())
There are 3 houses in a row, numbered 1 to 3 from left to right. One person lives in each house.
Each attribute below takes each of its values in exactly one house.
Names: Dalia, Freya, Aino
Drinks: milk, juice, water
Clues:
1. The person who drinks juice and Freya live in the same house.
2. The person who drinks juice lives next to the person who drinks milk.
3. There is exactly one house between Dalia and Freya.
4. The person who drinks water does not live in house 1.
Give the full solution: one line per house, in the form "House 1: name, drink".
>>> print(pz.reference_answer())
House 1: Freya, juice
House 2: Aino, milk
House 3: Dalia, water
>>> pz.check(pz.reference_answer()), pz.check("House 1: Freya, juice\\nHouse 2: Dalia, milk\\nHouse 3: Aino, water")
(True, False)
>>> q = pz.with_query(1, 0)
>>> q.reference_answer(), q.check("... so house 2 holds Aino.\\nAino")
('Aino', True)
>>> count_solutions(pz.clues, 3, 2), count_solutions(pz.clues[1:], 3, 2, limit=10)
(1, 4)
"""
from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, replace

from replications.limits_dl.text_problem import TextProblem

# attribute -> (plural heading, description template, values); templates fill in the value
ATTRIBUTES = (
    ("name", "Names", "{v}", ("Aino", "Bela", "Cyrus", "Dalia", "Emil", "Freya")),
    ("drink", "Drinks", "the person who drinks {v}", ("tea", "coffee", "milk", "water", "juice", "cocoa")),
    ("colour", "Colours", "the person in the {v} house", ("red", "green", "blue", "yellow", "white", "black")),
    ("pet", "Pets", "the person who keeps a {v}", ("cat", "dog", "parrot", "tortoise", "horse", "rabbit")),
    ("hobby", "Hobbies", "the person who enjoys {v}", ("painting", "chess", "running", "gardening", "cooking",
                                                      "singing")),
    ("food", "Foods", "the person who likes {v}", ("pasta", "curry", "soup", "salad", "sushi", "pizza")),
)
MAX_SIZE = 6
KINDS = ("found_at", "not_at", "same_house", "beside", "directly_left", "left_of", "one_between", "two_between")
KIND_WEIGHTS = (1, 1, 3, 2, 2, 2, 1, 1)
UNARY = ("found_at", "not_at")


@dataclass(frozen=True)
class Clue:
    """Statement about the house of value ``v1`` of attribute ``a1`` (and ``v2`` of ``a2``, or
    house ``house`` for unary kinds)."""

    kind: str
    a1: int
    v1: int
    a2: int = -1
    v2: int = -1
    house: int = -1

    @property
    def attrs(self) -> tuple[int, ...]:
        return (self.a1,) if self.kind in UNARY else (self.a1, self.a2)

    def holds(self, pos) -> bool:
        """``pos[a][v]`` = house of value v of attribute a."""
        if self.kind in UNARY:
            return _unary_ok(self.kind, pos[self.a1][self.v1], self.house)
        return RELATIONS[self.kind](pos[self.a1][self.v1] - pos[self.a2][self.v2])


def _unary_ok(kind: str, p: int, house: int) -> bool:
    return p == house if kind == "found_at" else p != house


# binary kinds as a test of d = p1 - p2
RELATIONS = {"same_house": lambda d: d == 0, "beside": lambda d: abs(d) == 1, "directly_left": lambda d: d == -1,
             "left_of": lambda d: d < 0, "one_between": lambda d: abs(d) == 2, "two_between": lambda d: abs(d) == 3}


def _describe(a: int, v: int, values) -> str:
    return ATTRIBUTES[a][2].format(v=values[a][v])


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def clue_text(c: Clue, values) -> str:
    d1 = _describe(c.a1, c.v1, values)
    if c.kind in UNARY:
        return f"{_cap(d1)} {'lives' if c.kind == 'found_at' else 'does not live'} in house {c.house + 1}."
    d2 = _describe(c.a2, c.v2, values)
    return {
        "same_house": f"{_cap(d1)} and {d2} live in the same house.",
        "beside": f"{_cap(d1)} lives next to {d2}.",
        "directly_left": f"{_cap(d1)} lives directly to the left of {d2}.",
        "left_of": f"{_cap(d1)} lives somewhere to the left of {d2}.",
        "one_between": f"There is exactly one house between {d1} and {d2}.",
        "two_between": f"There are exactly two houses between {d1} and {d2}.",
    }[c.kind]


def count_solutions(clues, houses: int, attributes: int, limit: int = 2) -> int:
    """Number of assignments satisfying every clue, counted up to ``limit``.

    Exhaustive backtracking over the variables "house of value v of attribute a" (values of one
    attribute in distinct houses), always branching on the variable with the fewest houses left and
    striking out the houses of its neighbours that no longer fit (forward checking). Nothing is
    pruned that could be a solution, so the count is exact.
    """
    k, m = houses, attributes
    dom = {(a, v): frozenset(range(k)) for a in range(m) for v in range(k)}
    cons: dict = {var: [] for var in dom}  # var -> [(other, ok(h_var, h_other))]
    for c in clues:
        x = (c.a1, c.v1)
        if c.kind in UNARY:
            dom[x] = frozenset(h for h in dom[x] if _unary_ok(c.kind, h, c.house))
            continue
        y, rel = (c.a2, c.v2), RELATIONS[c.kind]
        cons[x].append((y, lambda hx, hy, rel=rel: rel(hx - hy)))
        cons[y].append((x, lambda hy, hx, rel=rel: rel(hx - hy)))
    for a in range(m):
        for v1, v2 in itertools.permutations(range(k), 2):
            cons[(a, v1)].append(((a, v2), lambda h1, h2: h1 != h2))
    found = 0

    def search(dom: dict, todo: frozenset) -> None:
        nonlocal found
        if not todo:
            found += 1
            return
        var = min(todo, key=lambda v: (len(dom[v]), v))
        for h in sorted(dom[var]):
            new = dict(dom)
            new[var] = frozenset((h,))
            for other, ok in cons[var]:
                new[other] = frozenset(ho for ho in new[other] if ok(h, ho))
                if not new[other]:
                    break
            else:
                search(new, todo - {var})
                if found >= limit:
                    return

    if all(dom.values()):
        search(dom, frozenset(dom))
    return found


@dataclass(frozen=True)
class Puzzle(TextProblem):
    """``solution[a][h]`` = value index of attribute a in house h; ``values[a]`` the value names in
    play; ``query`` = (house, attribute) turns the full-grid question into a single one."""

    solution: tuple[tuple[int, ...], ...]
    values: tuple[tuple[str, ...], ...]
    clues: tuple[Clue, ...]
    query: tuple[int, int] | None = None

    @property
    def houses(self) -> int:
        return len(self.solution[0])

    @property
    def attributes(self) -> int:
        return len(self.solution)

    def with_query(self, house: int, attribute: int) -> "Puzzle":
        return replace(self, query=(house, attribute))

    def prompt_text(self) -> str:
        k = self.houses
        lines = [f"There are {k} houses in a row, numbered 1 to {k} from left to right. One person lives in each "
                 "house.", "Each attribute below takes each of its values in exactly one house."]
        lines += [f"{ATTRIBUTES[a][1]}: {', '.join(self.values[a])}" for a in range(self.attributes)]
        lines.append("Clues:")
        lines += [f"{i + 1}. {clue_text(c, self.values)}" for i, c in enumerate(self.clues)]
        if self.query is None:
            form = ", ".join(ATTRIBUTES[a][0] for a in range(self.attributes))
            lines.append(f'Give the full solution: one line per house, in the form "House 1: {form}".')
        else:
            h, a = self.query
            lines.append(f"What is the {ATTRIBUTES[a][0]} of the person who lives in house {h + 1}? "
                         "Write only that value on the last line.")
        return "\n".join(lines)

    def reference_answer(self) -> str:
        if self.query is not None:
            h, a = self.query
            return self.values[a][self.solution[a][h]]
        return "\n".join(f"House {h + 1}: " + ", ".join(self.values[a][self.solution[a][h]]
                                                         for a in range(self.attributes)) for h in range(self.houses))

    def _mentions(self, text: str, a: int) -> list[str]:
        """Values of attribute a named in ``text``, in order of appearance (whole words, any case)."""
        pat = r"\b(" + "|".join(re.escape(v) for v in self.values[a]) + r")\b"
        by_lower = {v.lower(): v for v in self.values[a]}
        return [by_lower[m.lower()] for m in re.findall(pat, text, flags=re.IGNORECASE)]

    def cell_accuracy(self, answer_text: str) -> float:
        """Fraction of the K x M cells right, reading the last "House h:" line of each house; a line
        naming zero or several values of one attribute gets that cell wrong."""
        rows = {}
        for m in re.finditer(r"house\s*(\d+)\s*[:\-]([^\n]*)", answer_text, flags=re.IGNORECASE):
            rows[int(m.group(1)) - 1] = m.group(2)
        right = 0
        for h in range(self.houses):
            for a in range(self.attributes):
                said = self._mentions(rows.get(h, ""), a)
                right += said == [self.values[a][self.solution[a][h]]]
        return right / (self.houses * self.attributes)

    def check(self, answer_text: str) -> bool:
        if self.query is None:
            return self.cell_accuracy(answer_text) == 1.0
        said = self._mentions(answer_text, self.query[1])
        return bool(said) and said[-1] == self.reference_answer()


def _random_clue(rng: random.Random, sol, k: int, m: int) -> Clue | None:
    """A random clue true of ``sol`` (None if the drawn kind cannot be placed at this size)."""
    kind = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
    if kind in UNARY:
        a, h = rng.randrange(m), rng.randrange(k)
        if kind == "found_at":
            return Clue(kind, a, sol[a][h], house=h)
        other = [x for x in range(k) if x != h]
        return Clue(kind, a, sol[a][h], house=rng.choice(other)) if other else None
    gap = {"same_house": [0], "beside": [-1, 1], "directly_left": [1], "one_between": [-2, 2],
           "two_between": [-3, 3], "left_of": list(range(1, k))}[kind]
    pairs = [(h1, h1 + g) for h1 in range(k) for g in gap if 0 <= h1 + g < k]
    if not pairs:
        return None
    h1, h2 = rng.choice(pairs)
    a1, a2 = rng.randrange(m), rng.randrange(m)
    if kind == "same_house":
        if m < 2:
            return None
        a2 = rng.choice([a for a in range(m) if a != a1])
    return Clue(kind, a1, sol[a1][h1], a2, sol[a2][h2])


def generate(rng: random.Random, houses: int, attributes: int, minimise: bool = True,
             max_clues: int = 500) -> Puzzle:
    """A random puzzle with exactly one solution (see module docstring)."""
    k, m = houses, attributes
    if not (1 <= k <= MAX_SIZE and 1 <= m <= len(ATTRIBUTES)):
        raise ValueError(f"need 1 <= houses <= {MAX_SIZE} and 1 <= attributes <= {len(ATTRIBUTES)}")
    values = tuple(tuple(rng.sample(ATTRIBUTES[a][3], k)) for a in range(m))
    sol = tuple(tuple(rng.sample(range(k), k)) for _ in range(m))  # sol[a][h] = value
    clues: list[Clue] = []
    while count_solutions(clues, k, m) > 1:
        if len(clues) >= max_clues:
            raise RuntimeError("clue budget exhausted before uniqueness")
        c = _random_clue(rng, sol, k, m)
        if c is not None and c not in clues:
            clues.append(c)
    if minimise:
        for c in rng.sample(clues, len(clues)):
            rest = [x for x in clues if x != c]
            if count_solutions(rest, k, m) == 1:
                clues = rest
    return Puzzle(solution=sol, values=values, clues=tuple(clues))
