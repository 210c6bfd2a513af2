"""The paper's evaluation protocol for prompted LLMs (note §5): a task spec -> text problems,
500 samples per setting, three runs, accuracy = fraction of problems whose answer the task's
parser accepts. Problems of run r are drawn from the seed (seed, task, r): a run re-samples the
problems (whether the paper re-sampled or re-queried is [NR]; ``resample=False`` re-queries the
run-0 problems instead).

Task specs (sizes are ours where the paper's are [NR]):
- ``multiplication:AxB``: A-digit times B-digit integers (the paper's 27 % / 17 % case is 4x3);
- ``dp:M``: the no-two-adjacent maximum-sum selection over M integers in [-5, 5];
- ``einstein:KxM``: a K-house, M-attribute puzzle, one cell asked;
- ``composition:SETTING:K``: SETTING in function, spatial, temporal, relational; K chained steps.

>>> [p.reference_answer() for p in problems("multiplication:2x1", 3, seed=0, run=0)]
['258', '510', '0']
"""
from __future__ import annotations

import random
import statistics
from dataclasses import asdict, dataclass

from common.seeding import rng_for
from replications.limits_dl import composition_text, dynamic_programming, einstein, multiplication
from replications.limits_dl.llm.interface import GenerationConfig, TextModel
from replications.limits_dl.text_problem import TextProblem

PAPER_SAMPLES, PAPER_RUNS = 500, 3


def _pair(spec: str, what: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in spec.lower().split("x"))
    except ValueError:
        raise ValueError(f"{what} needs a size like 4x3, got {spec!r}") from None
    return a, b


def make_problem(task: str, rng: random.Random) -> TextProblem:
    """One random problem of ``task`` (module docstring)."""
    family, _, rest = task.partition(":")
    if family == "multiplication":
        a, b = _pair(rest, "multiplication")
        return multiplication.MultiplicationProblem(*multiplication.sample_operands(rng, a, b))
    if family == "dp":
        return dynamic_programming.DPProblem(dynamic_programming.sample_list(rng, int(rest)))
    if family == "einstein":
        k, m = _pair(rest, "einstein")
        puzzle = einstein.generate(rng, k, m)
        return puzzle.with_query(rng.randrange(k), rng.randrange(m))
    if family == "composition":
        setting, _, k = rest.partition(":")
        return composition_text.sample(rng, setting, int(k or 2))
    raise ValueError(f"unknown task {task!r}: use multiplication:AxB, dp:M, einstein:KxM or composition:SETTING:K")


def problems(task: str, count: int, seed: int = 0, run: int = 0) -> list[TextProblem]:
    rng = rng_for(seed, task, run)
    return [make_problem(task, rng) for _ in range(count)]


@dataclass
class RunResult:
    run: int
    accuracy: float
    records: list[dict]


def evaluate(model: TextModel, task: str, samples: int = PAPER_SAMPLES, runs: int = PAPER_RUNS, seed: int = 0,
             config: GenerationConfig = GenerationConfig(), resample: bool = True, batch_size: int = 16) -> dict:
    """Run the protocol; returns per-run accuracies, their mean and std, and every record
    (prompt, reference, completion, correct)."""
    if samples < 1 or runs < 1:
        raise ValueError("need samples >= 1 and runs >= 1")
    results = []
    for r in range(runs):
        probs = problems(task, samples, seed, r if resample else 0)
        cfg = GenerationConfig(config.max_tokens, config.temperature,
                               None if config.seed is None else config.seed + r, config.system)
        records = []
        for i in range(0, len(probs), batch_size):
            chunk = probs[i: i + batch_size]
            outs = model.complete([p.prompt_text() for p in chunk], cfg)
            if len(outs) != len(chunk):
                raise RuntimeError(f"{model.name} returned {len(outs)} completions for {len(chunk)} prompts")
            records += [{"prompt": p.prompt_text(), "reference": p.reference_answer(), "completion": o,
                         "correct": bool(p.check(o))} for p, o in zip(chunk, outs)]
        results.append(RunResult(r, sum(x["correct"] for x in records) / len(records), records))
    accs = [x.accuracy for x in results]
    return {"model": model.name, "task": task, "samples": samples, "runs": runs, "seed": seed,
            "resample": resample, "config": asdict(config),
            "accuracies": accs, "mean": statistics.fmean(accs),
            "std": statistics.pstdev(accs) if len(accs) > 1 else 0.0,
            "records": [dict(rec, run=x.run) for x in results for rec in x.records]}
