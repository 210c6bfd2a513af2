"""Turning a generation into a prediction and scoring it, as the paper's evaluation does.

Copying and the phone book are scored by exact string match; SQuAD by exact match and token F1,
each the best over the gold answers, after the official code's normalisation
(``pretrained_exps/qa_evaluation_utils.py``), which differs from the SQuAD script's: underscores and
punctuation (with the quote marks ‘ ’ ´ `) become spaces instead of being deleted, so "U.S." is two
tokens "u s" and "state-of-the-art" four.
"""
from __future__ import annotations

import re
import string
from collections import Counter


def phonebook_prediction(generated: str) -> str:
    """The first generated line, stripped."""
    return generated.split("\n")[0].strip()


def copy_prediction(generated: str) -> str:
    """Everything before the first blank line, newlines as spaces, stripped."""
    return generated.split("\n\n")[0].replace("\n", " ").strip()


def squad_prediction(generated: str, eos: str | None = None) -> str:
    """Everything before the first blank line (and before the end-of-text marker), stripped."""
    text = generated.split("\n\n")[0].strip()
    return text.split(eos)[0] if eos else text


PUNCTUATION = frozenset(string.punctuation + "\u2018\u2019\u00b4`")


def normalize_answer(text: str) -> str:
    """Lower case; underscores and punctuation to spaces; articles a/an/the dropped; single spaces."""
    text = "".join(" " if ch in PUNCTUATION else ch for ch in text.replace("_", " ").lower())
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall after normalisation (0 without common tokens)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_over(metric, prediction: str, golds: list[str]) -> float:
    return max(metric(prediction, g) for g in golds)


PREDICT = {"phonebook": phonebook_prediction, "copy": copy_prediction, "squad": squad_prediction}


def score(task: str, generated: str, answers: list[str], eos: str | None = None) -> dict[str, float]:
    """Metrics of one generation: ``acc`` (exact string match) or, for SQuAD, ``em`` and ``f1``."""
    if task == "squad":
        pred = squad_prediction(generated, eos)
        return {"em": best_over(exact_match, pred, answers), "f1": best_over(f1, pred, answers)}
    pred = PREDICT[task](generated)
    return {"acc": float(any(pred == a for a in answers))}
