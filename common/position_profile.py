"""Where a trained run's answers go wrong: accuracy by answer position, on the run's own evaluation sets.

A string accuracy of 0 past the training lengths can mean a model that copies nothing or one that
copies every position it was trained on and stops there; these profiles tell them apart:

- teacher-forced: the next answer token from the true prefix (what the model knows at each position);
- greedy: the token greedy decoding emits there (errors compound after the first one);
- first error: the share of answers whose first greedy error falls at each position.

    python -m common.position_profile runs/repeat_after_me/fig1b_cpu/arch=nope,seed=0-<id> --sets len=20 len=30

Tasks whose decoding splices retrieved tokens in (a DataModule with a ``retriever``) are not profiled.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable

import torch

from common.decoding import greedy_generate, teacher_forced_answers
from common.lit.datamodule import exact_match
from common.models.base import SequenceModel


@dataclass
class Profile:
    """Per answer position (0-based): scored answers, correct tokens teacher-forced and greedy, first greedy errors."""

    scored: list[int]
    teacher_forced: list[int]
    greedy: list[int]
    first_error: list[int]
    answers: int = 0

    @staticmethod
    def empty(width: int) -> "Profile":
        return Profile([0] * width, [0] * width, [0] * width, [0] * width)

    @property
    def greedy_accuracy(self) -> float:
        """Token accuracy of greedy decoding over every scored position (the run's ``acc_token``)."""
        return sum(self.greedy) / sum(self.scored)

    @property
    def exact(self) -> float:
        """Share of answers with no greedy error (the run's ``acc_seq``)."""
        return (self.answers - sum(self.first_error)) / self.answers

    def rate(self, correct: list[int], lo: int, hi: int) -> float:
        """Correct tokens at positions lo..hi-1 over the tokens scored there."""
        scored = sum(self.scored[lo:hi])
        return sum(correct[lo:hi]) / scored if scored else float("nan")

    def first_errors(self, lo: int, hi: int) -> float:
        """Share of all answers whose first greedy error is at positions lo..hi-1."""
        return sum(self.first_error[lo:hi]) / self.answers


@torch.no_grad()
def profile(model: SequenceModel, batches: list[dict]) -> Profile:
    """Accuracy of ``model`` by answer position over evaluation batches (prompt, answer, answer_mask)."""
    width = max(b["answer"].shape[1] for b in batches)
    out = Profile.empty(width)
    for b in batches:
        prompt, answer, mask = b["prompt"], b["answer"], b["answer_mask"]
        forced = teacher_forced_answers(model, prompt, answer) == answer
        greedy = greedy_generate(model, prompt, answer.shape[1]) == answer
        wrong = ~greedy & mask
        first = torch.where(wrong.any(1), wrong.float().argmax(1), torch.full_like(wrong[:, 0], -1, dtype=torch.long))
        for p in range(answer.shape[1]):
            m = mask[:, p]
            out.scored[p] += int(m.sum())
            out.teacher_forced[p] += int((forced[:, p] & m).sum())
            out.greedy[p] += int((greedy[:, p] & m).sum())
            out.first_error[p] += int((first == p).sum())
        out.answers += answer.shape[0]
    return out


@torch.no_grad()
def exact_answers(model: SequenceModel, batch: dict) -> torch.Tensor:
    """(B,) whether greedy decoding gets each answer of an evaluation batch exactly right."""
    answer = batch["answer"]
    return exact_match(greedy_generate(model, batch["prompt"], answer.shape[1]), answer, batch["answer_mask"])[1]


def bins(width: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size, width)) for lo in range(0, width, size)]


def table(name: str, prof: Profile, size: int) -> str:
    """A markdown table of one evaluation set, positions 1-based and grouped ``size`` at a time."""
    rows = [f"**{name}** ({prof.answers} answers; the last position is the end marker where the task has one)", "",
            "| answer positions | teacher-forced | greedy | first greedy error here |", "|---|---|---|---|"]
    width = len(prof.scored)
    for lo, hi in bins(width, size):
        label = f"{lo + 1}" if hi == lo + 1 else f"{lo + 1}-{hi}"
        rows.append(f"| {label} | {prof.rate(prof.teacher_forced, lo, hi):.2f} | {prof.rate(prof.greedy, lo, hi):.2f} "
                    f"| {prof.first_errors(lo, hi):.2f} |")
    rows.append(f"| all | | {prof.greedy_accuracy:.2f} | no error: {prof.exact:.2f} |")
    return "\n".join(rows)


def run_parser(prog: str, description: str, bin_help: str, bin_default: int) -> argparse.ArgumentParser:
    """The arguments of a command that profiles a finished run: its directory, which evaluation sets, a bin size."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("run_dir", help="a finished run's directory (config.yaml and checkpoints/)")
    ap.add_argument("--stage", default="test", choices=["val", "test"], help="whose evaluation sets (default: test)")
    ap.add_argument("--sets", nargs="*", default=None, help="evaluation set names, e.g. len=30 (default: all of the stage)")
    ap.add_argument("--bin", type=int, default=bin_default, help=f"{bin_help} per table row (default: {bin_default})")
    return ap


def parse_run_args(ap: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = ap.parse_args(argv)
    if args.bin < 1:
        ap.error(f"--bin {args.bin}: must be >= 1")
    return args


def chosen_sets(data, stage: str, names: list[str] | None) -> dict[str, list[dict]]:
    """A run's evaluation sets of ``stage`` by name (every one when ``names`` is empty); a one-line
    ValueError naming the sets the run has when a name is not among them."""
    sets = data.eval_data(stage)
    unknown = [n for n in names or [] if n not in sets]
    if unknown:
        raise ValueError(f"no {stage} set named {', '.join(unknown)}; this run has: {', '.join(sets)}")
    return {n: sets[n] for n in names} if names else sets


def load_profiled(args: argparse.Namespace, refusal: Callable[[object], str | None]):
    """(module, DataModule, chosen evaluation sets) of the run ``args`` names, or None after printing the
    one-line error: why ``refusal`` turns this run's DataModule down, or which set names it lacks."""
    from common.load import load_run

    module, data = load_run(args.run_dir)
    why = refusal(data)
    try:
        if why:
            raise ValueError(why)
        return module, data, chosen_sets(data, args.stage, args.sets)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    ap = run_parser("python -m common.position_profile", __doc__.split("\n\n")[0], "answer positions", 5)
    args = parse_run_args(ap, argv)
    loaded = load_profiled(args, lambda data: None if getattr(data, "retriever", None) is None else
                           f"{type(data).__name__} decodes with a retriever; position profiles cover plain greedy "
                           "decoding only")
    if loaded is None:
        return 2
    module, _, sets = loaded
    for name, batches in sets.items():
        print(table(name, profile(module.model, batches), args.bin), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
