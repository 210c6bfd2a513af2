"""Prompts of the pretrained-model experiments (Jelassi et al. 2024, Sec. 4), as pure functions.

Formats follow the official code (``pretrained_exps/``):

- phone book: ``L`` lines ``First Last: NNN-NNN-NNNN`` (the format the paper prints, e.g.
  "John Powell: 609-323-7777"; ``phone_format="plain"`` writes the official code's ten digits without
  dashes), a blank line, two entries of the book restated as examples, a blank line, then
  ``First Last:`` of a third entry; the answer is its number in the same format;
- copying text: ``text \\n\\n text \\n\\n w`` where ``w`` is the first word of the text (one
  demonstration of copying, then the start of a second copy); the answer is the text after ``w``;
- SQuAD: ``paragraph \\n\\nQuestion: q1\\nAnswer: a1\\n\\nQuestion: q2\\nAnswer: `` (one worked
  question about the same paragraph); the answers are q2's gold answers.

Names are drawn from the short lists below, distinct within a book (the official code uses the
``names`` package, whose lists are much longer, and does not enforce distinct names).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William",
    "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Lisa",
    "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Donald", "Margaret", "Steven", "Ashley", "Paul",
    "Kimberly", "Andrew", "Emily", "Joshua", "Donna", "Kenneth", "Michelle", "Kevin", "Carol", "Brian", "Amanda",
    "George", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie", "Edward", "Rebecca", "Jason", "Sharon",
    "Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Dorothy", "Gary", "Amy", "Nicholas", "Kathleen", "Eric",
    "Angela", "Jonathan", "Shirley", "Stephen", "Emma", "Larry", "Brenda", "Justin", "Pamela", "Scott", "Nicole",
    "Brandon", "Anna", "Benjamin", "Samantha",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
    "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
    "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard",
    "Ramos", "Kim", "Cox", "Ward", "Richardson",
)


@dataclass
class Prompt:
    """One query: the text fed to the model and the accepted answer(s)."""

    text: str
    answers: list[str]
    meta: dict = field(default_factory=dict)


def phone_number(rng: random.Random) -> str:
    """Ten digits, the first in 6..9 (as the official code)."""
    return str(rng.randint(6, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))


def phone_book(rng: random.Random, entries: int) -> list[tuple[str, str]]:
    """``entries`` (name, number) pairs with distinct names."""
    capacity = len(FIRST_NAMES) * len(LAST_NAMES)
    if not 3 <= entries <= capacity:
        raise ValueError(f"a phone book needs 3..{capacity} entries; got {entries}")
    picks = rng.sample(range(capacity), entries)
    names = [f"{FIRST_NAMES[i // len(LAST_NAMES)]} {LAST_NAMES[i % len(LAST_NAMES)]}" for i in picks]
    return [(name, phone_number(rng)) for name in names]


PHONE_FORMATS = ("dashed", "plain")


def format_number(number: str, style: str = "dashed") -> str:
    """Ten digits as the paper prints them ("dashed": 609-323-7777) or as the official code writes them ("plain")."""
    if style not in PHONE_FORMATS:
        raise ValueError(f"phone_format={style!r}: choose one of {PHONE_FORMATS}")
    if len(number) != 10 or not number.isdigit():
        raise ValueError(f"a phone number has 10 digits; got {number!r}")
    return f"{number[:3]}-{number[3:6]}-{number[6:]}" if style == "dashed" else number


def phonebook_prompt_of(book: list[tuple[str, str]], shots: list[int], query: int, phone_format: str = "dashed") -> Prompt:
    """The prompt for ``book`` with the entries at ``shots`` restated as examples and ``query`` asked."""
    line = lambda i: f"{book[i][0]}: {format_number(book[i][1], phone_format)}"  # noqa: E731
    lines = "\n".join(line(i) for i in range(len(book)))
    examples = "\n".join(line(i) for i in shots)
    name, number = book[query]
    return Prompt(f"{lines}\n\n{examples}\n\n{name}:", [format_number(number, phone_format)], {"entries": len(book)})


def phonebook_prompt(rng: random.Random, entries: int, shots: int = 2, phone_format: str = "dashed") -> Prompt:
    """A random book of ``entries`` lines; ``shots`` examples and the query are distinct entries of it."""
    book = phone_book(rng, entries)
    if shots + 1 > entries:
        raise ValueError(f"{shots} examples and a query need more than {entries} entries")
    *examples, query = rng.sample(range(entries), shots + 1)
    return phonebook_prompt_of(book, examples, query, phone_format)


def copy_prompt(text: str) -> Prompt:
    """Copy ``text`` once as a demonstration, then again from its first word."""
    words = text.split(" ")
    return Prompt(f"{text}\n\n{text}\n\n{words[0]}", [" ".join(words[1:])], {"chars": len(text)})


def text_window(rng: random.Random, token_ids: list[int], length: int, shuffle: bool) -> list[int]:
    """A random window of ``length`` tokens; with ``shuffle`` its tokens in a random order."""
    if len(token_ids) <= length:
        raise ValueError(f"need more than {length} tokens of text; got {len(token_ids)}")
    start = rng.randrange(len(token_ids) - length)
    window = token_ids[start: start + length]
    if shuffle:
        window = rng.sample(window, len(window))
    return window


def copy_text(rng: random.Random, documents: list[str], tokenize, detokenize, length: int, shuffle: bool,
              concat: int = 10) -> str:
    """Text of ``length`` tokens for the copy task: ``concat`` random documents joined, a random window,
    decoded, newlines turned into spaces (so that a blank line can only be the copy separator)."""
    docs = rng.sample(documents, min(concat, len(documents)))
    text = detokenize(text_window(rng, tokenize("".join(docs)), length, shuffle))
    return text.replace("\n", " ").strip()


def squad_prompt(context: str, demo_question: str, demo_answer: str, question: str, answers: list[str]) -> Prompt:
    """A paragraph, one answered question about it, then the question to answer."""
    text = f"{context}\n\nQuestion: {demo_question}\nAnswer: {demo_answer}\n\nQuestion: {question}\nAnswer: "
    return Prompt(text, list(answers))
