"""The paper's four natural-language composition settings for the LLM harness (note §5, Tier B):
function, spatial, temporal and relational composition, each with k chained steps.

The paper's prompts and sizes are [NR]; these are our designs [OURS], chosen so that each answer
is unique and checkable: ``function`` composes affine integer maps, ``spatial`` composes grid
displacements, ``temporal`` composes clock offsets (mod 24 h), ``relational`` composes an
in-context "manager of" function with distractor employees (the text analogue of
``composition.py``).

>>> p = FunctionProblem(coeffs=((2, 3), (-1, 1)), x=4)
>>> print(p.prompt_text())
Consider these functions on the integers:
f(x) = 2x + 3
g(x) = -x + 1
What is g(f(4))? Give the final answer as a single integer on the last line.
>>> p.reference_answer(), p.check("f(4) = 11, so g(11) = -10.\\n-10"), p.check("11")
('-10', True, False)
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from replications.limits_dl.text_problem import TextProblem, integers, last_integer

SETTINGS = ("function", "spatial", "temporal", "relational")
FUNCTION_NAMES = "fghpqr"
LANDMARKS = ("bakery", "library", "school", "fountain", "museum", "station", "bank", "park",
             "theatre", "market", "clinic", "harbour")
EVENTS = ("breakfast", "team meeting", "lecture", "concert", "lunch", "yoga class", "interview",
          "film", "dinner", "seminar", "workshop", "rehearsal")
PEOPLE = ("Amara", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiroshi", "Ines", "Jonas",
          "Kavya", "Lars", "Maren", "Nikhil", "Oona", "Pavel", "Quentin", "Rosa", "Soren", "Tamsin",
          "Ugo", "Vera", "Wendell", "Ximena", "Yusuf", "Zofia")
DIRECTIONS = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}


def _affine_text(a: int, b: int) -> str:
    lead = {1: "x", -1: "-x"}.get(a, f"{a}x")
    return lead if b == 0 else f"{lead} {'+' if b > 0 else '-'} {abs(b)}"


@dataclass(frozen=True)
class FunctionProblem(TextProblem):
    """f_i(x) = a_i x + b_i applied in order to x; named f, g, h, ... (k <= 6)."""

    coeffs: tuple[tuple[int, int], ...]
    x: int

    def value(self) -> int:
        v = self.x
        for a, b in self.coeffs:
            v = a * v + b
        return v

    def prompt_text(self) -> str:
        names = FUNCTION_NAMES[: len(self.coeffs)]
        defs = "\n".join(f"{n}(x) = {_affine_text(a, b)}" for n, (a, b) in zip(names, self.coeffs))
        expr = str(self.x)
        for n in names:
            expr = f"{n}({expr})"
        return (f"Consider these functions on the integers:\n{defs}\n"
                f"What is {expr}? Give the final answer as a single integer on the last line.")

    def reference_answer(self) -> str:
        return str(self.value())

    def check(self, answer_text: str) -> bool:
        return last_integer(answer_text) == self.value()


@dataclass(frozen=True)
class SpatialProblem(TextProblem):
    """Landmarks L0..Lk; fact i: L_i is ``steps[i]`` blocks in ``dirs[i]`` of L_{i+1}; asks where
    L0 is relative to Lk as (east, north) block offsets."""

    places: tuple[str, ...]
    dirs: tuple[str, ...]
    steps: tuple[int, ...]
    fact_order: tuple[int, ...]

    def value(self) -> tuple[int, int]:
        e = sum(DIRECTIONS[d][0] * s for d, s in zip(self.dirs, self.steps))
        n = sum(DIRECTIONS[d][1] * s for d, s in zip(self.dirs, self.steps))
        return e, n

    def prompt_text(self) -> str:
        facts = [f"The {self.places[i]} is {self.steps[i]} block{'s' * (self.steps[i] > 1)} {self.dirs[i]} "
                 f"of the {self.places[i + 1]}." for i in self.fact_order]
        return ("The streets of a town form a square grid.\n" + "\n".join(facts) +
                f"\nWhere is the {self.places[0]} relative to the {self.places[-1]}? On the last line write "
                "(E, N): E blocks east and N blocks north, negative numbers meaning west or south.")

    def reference_answer(self) -> str:
        return "({}, {})".format(*self.value())

    def check(self, answer_text: str) -> bool:
        pairs = re.findall(r"\(\s*([-−]?\d+)\s*,\s*([-−]?\d+)\s*\)", answer_text)
        if not pairs:
            return False
        return tuple(integers(" ".join(pairs[-1]))) == self.value()


def _clock(minutes: int) -> str:
    return f"{(minutes // 60) % 24:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class TemporalProblem(TextProblem):
    """Events E0..Ek; E_i starts ``offsets[i]`` minutes after E_{i+1} (negative: before); Ek starts
    at ``anchor`` minutes after midnight; asks the clock time of E0."""

    events: tuple[str, ...]
    offsets: tuple[int, ...]
    anchor: int
    fact_order: tuple[int, ...]

    def value(self) -> str:
        return _clock((self.anchor + sum(self.offsets)) % (24 * 60))

    def prompt_text(self) -> str:
        facts = []
        for i in self.fact_order:
            o = self.offsets[i]
            facts.append(f"The {self.events[i]} starts {abs(o)} minutes {'after' if o > 0 else 'before'} "
                         f"the {self.events[i + 1]}.")
        facts.append(f"The {self.events[-1]} starts at {_clock(self.anchor)}.")
        return ("All events below happen on the same day or around midnight.\n" + "\n".join(facts) +
                f"\nAt what time does the {self.events[0]} start? Write the time as HH:MM (24-hour clock) "
                "on the last line.")

    def reference_answer(self) -> str:
        return self.value()

    def check(self, answer_text: str) -> bool:
        times = re.findall(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)", answer_text)
        return bool(times) and f"{int(times[-1][0]):02d}:{times[-1][1]}" == self.value()


@dataclass(frozen=True)
class RelationalProblem(TextProblem):
    """``manager[p]`` is p's manager (a function given as shuffled facts, distractors included);
    asks the manager of the manager ... (k times) of ``start``."""

    manager: tuple[tuple[str, str], ...]
    start: str
    k: int

    def value(self) -> str:
        m, p = dict(self.manager), self.start
        for _ in range(self.k):
            p = m[p]
        return p

    def prompt_text(self) -> str:
        facts = "\n".join(f"{b} is the manager of {a}." for a, b in self.manager)
        q = "the manager of " * self.k
        return (f"In a company every employee except the director has exactly one manager.\n{facts}\n"
                f"Who is {q}{self.start}? Write only the name on the last line.")

    def reference_answer(self) -> str:
        return self.value()

    def check(self, answer_text: str) -> bool:
        names = {n for pair in self.manager for n in pair}
        found = [w for w in re.findall(r"[A-Za-z]+", answer_text) if w in names]
        return bool(found) and found[-1] == self.value()


def sample(rng: random.Random, setting: str, k: int = 2) -> TextProblem:
    """A random problem of one setting with k composed steps (1 <= k <= 6).

    >>> p = sample(random.Random(1), "relational", k=2)
    >>> p.check(p.reference_answer()), p.check("I do not know")
    (True, False)
    """
    if not 1 <= k <= 6:
        raise ValueError("k must lie in 1..6")
    if setting == "function":
        coeffs = tuple((rng.choice((-3, -2, -1, 2, 3)), rng.randint(-9, 9)) for _ in range(k))
        return FunctionProblem(coeffs=coeffs, x=rng.randint(-9, 9))
    order = tuple(rng.sample(range(k), k))
    if setting == "spatial":
        return SpatialProblem(places=tuple(rng.sample(LANDMARKS, k + 1)),
                              dirs=tuple(rng.choice(tuple(DIRECTIONS)) for _ in range(k)),
                              steps=tuple(rng.randint(1, 5) for _ in range(k)), fact_order=order)
    if setting == "temporal":
        offsets = tuple(rng.choice((-1, 1)) * 5 * rng.randint(1, 36) for _ in range(k))
        return TemporalProblem(events=tuple(rng.sample(EVENTS, k + 1)), offsets=offsets,
                               anchor=rng.randrange(24 * 12) * 5, fact_order=order)
    if setting == "relational":
        people = rng.sample(PEOPLE, min(len(PEOPLE), 2 * k + 4))
        chain, rest = people[: k + 1], people[k + 1:]
        pairs = [(chain[i], chain[i + 1]) for i in range(k)]
        placed = list(chain)
        for p in rest:  # distractors hang below any already placed employee
            pairs.append((p, rng.choice(placed)))
            placed.append(p)
        rng.shuffle(pairs)
        return RelationalProblem(manager=tuple(pairs), start=chain[0], k=k)
    raise ValueError(f"setting must be one of {SETTINGS}")
