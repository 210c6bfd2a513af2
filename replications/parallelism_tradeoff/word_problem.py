"""The word problem of a finite group as token tagging (Merrill, Petty & Sabharwal 2024, Sec. 6).

Input: BOS g1 g2 ... gn, one token per group element (ids 0..|G|-1; BOS = |G|, PAD = |G|+1).
Label at position i: the running product y_i = g1 * ... * gi (``groups.running_products``);
the BOS position is not scored. A sequence counts as right only when every label is.

Train/test split by content: a length-n word belongs to the held-out set when the CRC-32 of
its digits is 0 mod 5 (20%, as the official code's 80/20 split), so no test word is ever
trained on, also at n = 3 where there are only 60^3 words. Length-2 words are training
data only (the paper adds all 3600 of them to every training set, footnote 9).

>>> import random
>>> from replications.parallelism_tradeoff.groups import group
>>> inputs, labels = tagged(group("Z60"), [10, 20, 40])
>>> inputs, labels
([60, 10, 20, 40], [0, 10, 30, 10])
>>> w = random_word(random.Random(0), group("A5"), 6, held_out=True)
>>> len(w), is_held_out(w)
(6, True)
"""
from __future__ import annotations

import random
import zlib

from common.tasks import Example
from replications.parallelism_tradeoff.groups import Group, running_products

HELD_OUT_MOD = 5  # one word in 5 is held out


def special_ids(g: Group) -> dict[str, int]:
    return {"bos": g.order, "pad": g.order + 1}


def is_held_out(word: list[int]) -> bool:
    return zlib.crc32(",".join(map(str, word)).encode()) % HELD_OUT_MOD == 0


def random_word(rng: random.Random, g: Group, length: int, held_out: bool) -> list[int]:
    """A uniform word of ``length`` elements from the held-out part (``held_out``) or the training part."""
    while True:
        word = [rng.randrange(g.order) for _ in range(length)]
        if is_held_out(word) == held_out:
            return word


def tagged(g: Group, word: list[int]) -> tuple[list[int], list[int]]:
    """Model inputs (BOS, then the word) and the label at each input position (identity at BOS)."""
    return [special_ids(g)["bos"], *word], [0, *running_products(g, word)]


def eval_example(g: Group, word: list[int]) -> Example:
    """An evaluation example: the prompt is the input, the "answer" its labels, one per input position.

    Scored by ``TaggingLM`` (one forward pass over the prompt); the BOS label is masked out.
    """
    inputs, labels = tagged(g, word)
    return Example(inputs + labels, [False] * len(inputs) + [False] + [True] * len(word), len(inputs))

