"""The shape of a problem handed to the LLM harness (note §9 Tier B): a prompt string, a
reference answer string, and a checker of free-form model output. Also the answer parsers
shared by the text tasks.

>>> last_integer("So 12 x 3 = 36, i.e. 1,234 apples... final: −7")
-7
>>> last_integer("no number here") is None
True
"""
from __future__ import annotations

import re

_INT = re.compile(r"[-−]?\d{1,3}(?:,\d{3})+(?!\d)|[-−]?\d+")


class TextProblem:
    """Subclasses implement the three methods; ``check`` must accept ``reference_answer()``."""

    def prompt_text(self) -> str:
        raise NotImplementedError

    def reference_answer(self) -> str:
        raise NotImplementedError

    def check(self, answer_text: str) -> bool:
        raise NotImplementedError


def integers(text: str) -> list[int]:
    """All integers in ``text`` in order; thousands separators and the unicode minus accepted."""
    return [int(m.replace(",", "").replace("−", "-")) for m in _INT.findall(text)]


def last_integer(text: str) -> int | None:
    found = integers(text)
    return found[-1] if found else None
