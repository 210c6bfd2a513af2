"""Before a paper-scale figure trains without a GPU: one warning with the plan and a time estimate.

The estimate times real training steps of one run (the cheapest pending one, after a warm-up step)
and scales them to every pending run by its cost (steps x batch x longest sequence x parameters,
as ``common.cli.check_buildable`` computes it), so it costs seconds, not a run.
"""
from __future__ import annotations

import json
import random
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F


def seconds_per_step(model: torch.nn.Module, make_batch: Callable[[int], dict], steps: int = 1) -> float:
    """Wall seconds of one AdamW training step (forward, loss, backward, update), after one warm-up step."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for i in range(steps + 1):
        batch = make_batch(i)
        t0 = time.perf_counter()
        if "inputs" in batch:  # a sequence batch
            logits = model(batch["inputs"])
            targets = batch["targets"].masked_fill(~batch["loss_mask"], -100)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)
        else:  # a vector batch (common.lit.classifier): any scalar of the scores costs the same step
            loss = model(batch["x"]).float().square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return min(times[1:])


def timed_costs(runs: list, build: Callable, rough: list[float]) -> list[float]:
    """Each run's training time in seconds, estimated as one timed step of its model on its batch (one
    thread, as a pool's workers run) times its steps; for starting a pool's longest runs first.

    ``rough`` (steps x batch x length x parameters) ranks a 1 x 112 LSTM above a 2 x 64 Transformer that
    takes twice as long a step, and NoPE above Mamba's longer runs; a timed step does not. Runs that
    share model and data, up to the seed, are timed once. Ordering is only an optimisation, so if any run cannot
    be timed every run keeps its rough cost (the units must not mix).
    """
    step_s: dict[str, float] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = []
        for run in runs:
            data = dict(run.config.get("data") or {})
            data["init_args"] = {k: v for k, v in (data.get("init_args") or {}).items() if k != "seed"}
            key = json.dumps([run.config.get("model"), data], sort_keys=True, default=str)
            if key not in step_s:
                init = build(run)
                step_s[key] = seconds_per_step(init.model.model, lambda i: init.data.train_batch(random.Random(i)))
            out.append(step_s[key] * steps_of(run))
        return out
    except Exception:  # noqa: BLE001 -- an ordering hint never stops a figure
        return list(rough)
    finally:
        torch.set_num_threads(threads)


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def paper_scale_warning(n_runs: int, total_steps: int, measured_run: str, step_s: float, cost_ratio: float,
                        workers: int = 1) -> str:
    """The warning text: what is about to run, how long it would take here, and how to run less."""
    total = step_s * cost_ratio / max(1, workers)
    return (f"warning: this is a paper-scale figure (meant for a GPU) and no GPU was found. It trains {n_runs} "
            f"run(s), {total_steps:,} training steps in all. One step of {measured_run} took {step_s:.2f} s here, "
            f"so the whole figure would take about {_duration(total)} on this machine (evaluation not counted). "
            "To run one run only, add --sweep.only <index or labels> (list them with --sweep.dry_run true); "
            "its CPU-scale twin, if any, is the *_cpu config.")


def steps_of(run) -> int:
    return int((run.config.get("trainer") or {}).get("max_steps") or 0)


def estimate_pending(pending: list, costs: dict[int, float], build: Callable) -> tuple[str, float, float]:
    """(name of the timed run, seconds per step there, total cost in units of one step of it).

    ``build(run)`` returns the instantiated config (``.model.model``, ``.data``) on the CPU; ``costs``
    are per run index (``check_buildable``'s), proportional to the run's steps.
    """
    cheapest = min(pending, key=lambda r: costs[r.index])
    init = build(cheapest)
    step_s = seconds_per_step(init.model.model, lambda i: init.data.train_batch(random.Random(i)))
    per_step_cost = costs[cheapest.index] / max(1, steps_of(cheapest))
    return cheapest.name, step_s, sum(costs[r.index] for r in pending) / per_step_cost


def go_on_without_gpu(pending: list, costs: dict[int, float], build: Callable, workers: int = 1) -> bool:
    """A paper-scale figure about to train: with a GPU say nothing; without one, warn with the estimate
    and, in an interactive terminal, ask before going on."""
    if torch.cuda.is_available():
        return True
    name, step_s, ratio = estimate_pending(pending, costs, build)
    total_steps = sum(steps_of(r) for r in pending)
    return confirm(paper_scale_warning(len(pending), total_steps, name, step_s, ratio, workers))


def confirm(message: str) -> bool:
    """Print the warning; in an interactive terminal ask before going on, otherwise go on."""
    print(message, file=sys.stderr, flush=True)
    if not sys.stdin.isatty():
        return True
    return input("Continue with all of them? [y/N] ").strip().lower() in ("y", "yes")
