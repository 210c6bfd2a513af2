"""The copy task of Jelassi et al. 2024 (Sec. 3): ``$ s | s .`` over a character alphabet.

Tokens (official code, ``synthetic_exps/data_utils.py``): letters 0..V-1, then BOS ``$`` = V,
separator ``|`` = V+1, EOS ``.`` = V+2, pad ``*`` = V+3. Strings are i.i.d. uniform letters.
The prompt is ``$ s |``; the model must produce ``s .``.

>>> import random
>>> e = copy_example(random.Random(0), length=3, alphabet=4)
>>> render(e.tokens, alphabet=4)
'$dda|dda.'
>>> e.prompt_len, e.target_mask
(5, [False, False, False, False, False, True, True, True, True])
"""
from __future__ import annotations

import random

from common.tasks import Example

SPECIALS = "$|.*"


def special_ids(alphabet: int) -> dict[str, int]:
    return {"bos": alphabet, "sep": alphabet + 1, "eos": alphabet + 2, "pad": alphabet + 3}


def render(tokens: list[int], alphabet: int) -> str:
    """Human-readable string: letters a.., then the specials ``$|.*``."""
    return "".join(chr(ord("a") + t) if t < alphabet else SPECIALS[t - alphabet] for t in tokens)


def random_string(rng: random.Random, length: int, alphabet: int) -> list[int]:
    return [rng.randrange(alphabet) for _ in range(length)]


def copy_example_of(string: list[int], alphabet: int) -> Example:
    s = special_ids(alphabet)
    prompt = [s["bos"], *string, s["sep"]]
    answer = [*string, s["eos"]]
    return Example(prompt + answer, [False] * len(prompt) + [True] * len(answer), len(prompt))


def copy_example(rng: random.Random, length: int, alphabet: int) -> Example:
    return copy_example_of(random_string(rng, length, alphabet), alphabet)


def pack(examples_iter, context_len: int, pad_id: int) -> tuple[list[int], list[bool]]:
    """Concatenate examples into one row of ``context_len + 1`` tokens (inputs and shifted targets).

    As in the official code, the example cut by the window's end is kept as context but
    masked out of the loss.
    """
    tokens: list[int] = []
    mask: list[bool] = []
    width = context_len + 1
    while len(tokens) < width:
        e = next(examples_iter)
        room = width - len(tokens)
        fits = len(e.tokens) <= room
        tokens.extend(e.tokens[:room])
        mask.extend(e.target_mask[:room] if fits else [False] * min(room, len(e.tokens)))
    return tokens, mask
