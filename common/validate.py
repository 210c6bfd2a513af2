"""Checks of a whole plan before any run trains: value ranges, sequence-length and memory bounds,
the figure's axes and claims against the sweep, and a writable output folder.

Each check raises ``ValueError`` with one line that names the key and says what to change; the CLI
prints it and exits with code 2 before anything is written.
"""
from __future__ import annotations

import ast
import math
import os
import re
import tempfile
from pathlib import Path

from common.claims import check_expression

# Ranges by argument name, wherever the argument sits in the config (model, its architecture, data,
# trainer). lr may be 0: a model with set weights (limits_dl E4) is evaluated untrained. None values mean
# "not set" and are not checked; lists are checked element by element.
AT_LEAST_1 = {
    # sizes
    "d_model", "n_layer", "n_head", "d_ff", "d_state", "d_conv", "expand", "d_hidden", "readout_depth",
    "max_seq_len", "chunk_size", "bits", "alphabet", "n_keys", "n_values", "n_facts", "n_gram", "answer_len",
    "n", "k", "max_n", "train_pool",
    # lengths
    "context_len", "min_train_len", "max_train_len", "dup_length", "val_lengths", "test_lengths",
    # counts and intervals
    "batch_size", "eval_batch_size", "eval_examples", "val_examples", "max_steps", "log_every_n_steps", "accumulate_grad_batches",
    "check_val_every_n_epoch", "num_nodes", "workers", "checkpoint_every",
}
AT_LEAST_0 = {"lr", "warmup_steps", "num_workers", "weight_decay", "num_masked_heads", "fillers", "n_fillers",
              "check_finite_every", "gradient_clip_val", "ngram_sizes"}
POSITIVE = {"dt_min", "dt_max", "dt_scale", "dt_init_floor", "eps"}
FRACTION = {"min_lr_ratio": (0.0, 1.0, True), "rope_fraction": (0.0, 1.0, True), "dropout": (0.0, 1.0, False),
            "betas": (0.0, 1.0, False)}  # name: (low, high, high included); low always included

MAX_TOKENS = 1 << 17      # longest sequence a run may make (2x the longest any paper here uses)
MAX_EVAL_TOKENS = 1 << 27  # all evaluation sets together, held in memory as Python lists
FIRST_STEP = re.compile(r"^first_step:(.+)>=([-+0-9.eE]+)$")  # y = a run's first step with <key> >= <threshold>
CLAIM_FUNCTIONS = {"at", "last", "reach", "published", "slope", "published_slope", "min", "max", "abs"}
SERIES_ARG = {"at", "last", "reach", "slope"}  # functions whose first argument names a measured series


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _rule(name: str, v) -> str | None:
    """What ``v`` must be, when it is out of range for an argument called ``name``; None when it is fine."""
    if not _number(v):
        return None
    if not math.isfinite(v):
        return "a finite number"
    if name in AT_LEAST_1 and (v < 1 or v != int(v)):
        return "an integer >= 1"
    if name in AT_LEAST_0 and v < 0:
        return ">= 0"
    if name in POSITIVE and v <= 0:
        return "> 0"
    if name in FRACTION:
        lo, hi, closed = FRACTION[name]
        if v < lo or v > hi or (v == hi and not closed):
            return f"in [{lo:g}, {hi:g}{']' if closed else ')'}"
    if name == "val_check_interval" and (v <= 0 or (isinstance(v, float) and v > 1)):
        return "an integer number of steps >= 1, or a fraction of an epoch in (0, 1]"
    return None


def check_ranges(config: dict, prefix: str = "") -> None:
    """Every size, rate, interval, length and count in ``config`` (a run's resolved config) within its range."""
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            check_ranges(value, path + ".")
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            must = _rule(key, v)
            if must:
                raise ValueError(f"{path}={value!r} must be {must}")
        if key.startswith("min_") and _number(value) and _number(config.get("max_" + key[4:])) \
                and value > config["max_" + key[4:]]:
            raise ValueError(f"{path}={value} is above {prefix}max_{key[4:]}={config['max_' + key[4:]]}")


def check_sizes(dm) -> None:
    """Sequence-length and memory bounds of the data a run would generate, from its (meta-built) DataModule."""
    longest = dm.max_eval_tokens()
    if not longest:
        return
    if longest > MAX_TOKENS:
        raise ValueError(f"the data makes sequences of up to {longest:,} tokens, above the {MAX_TOKENS:,} this "
                         "project allows (generation time and memory grow with it); lower the data's sizes")
    n_sets = sum(len(dm.eval_set_names(stage)) for stage in ("val", "test"))
    total = n_sets * int(dm.eval_examples) * longest
    if total > MAX_EVAL_TOKENS:
        raise ValueError(f"the evaluation sets hold up to {total:,} tokens ({n_sets} sets x {dm.eval_examples} "
                         f"examples x {longest:,}), above {MAX_EVAL_TOKENS:,}; lower data.eval_examples or the lengths")


def check_figure(figure, axes: list[str], series_names: set[str]) -> None:
    """The figure's x and series name sweep axes, and every claim parses and names only measured series."""
    kind, _, param = figure.x.partition(":")
    if kind not in ("step", "samples", "eval", "axis") or (kind in ("eval", "axis")) != bool(param):
        raise ValueError(f"figure.x={figure.x!r}: use step, samples, eval:<param> or axis:<sweep axis>")
    if kind == "axis" and param not in axes:
        raise ValueError(f"figure.x={figure.x!r} names no sweep axis; axes: {', '.join(axes) or 'none'}")
    for name in figure.series:
        if name not in axes:
            raise ValueError(f"figure.series names {name!r}, not a sweep axis; axes: {', '.join(axes) or 'none'}")
    for claim in figure.claims:
        tree = check_expression(claim.holds_if, CLAIM_FUNCTIONS)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in SERIES_ARG:
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    raise ValueError(f"claim {claim.holds_if!r}: {node.func.id}() takes a series name in quotes first")
                if first.value not in series_names:
                    raise ValueError(f"claim {claim.holds_if!r} names series {first.value!r}, which this sweep does "
                                     f"not make; series: {', '.join(sorted(series_names))}")


def check_figure_data(figure, dm, metrics: tuple[str, ...], whole: tuple[str, ...] = ()) -> None:
    """The figure's x and y (and ``also_y``) name evaluation sets and metrics the run measures.

    ``metrics`` are measured per evaluation set (``<metric>@<set>``), ``whole`` once per evaluation:
    the LightningModule's ``METRICS`` and ``WHOLE_METRICS``.
    """
    kind, _, param = figure.x.partition(":")
    val, test = dm.eval_set_names("val"), dm.eval_set_names("test")
    if kind == "eval":
        if not any(n.startswith(param + "=") for n in test):
            raise ValueError(f"figure.x={figure.x!r}: no test set is named {param}=<x>; test sets: {', '.join(test)}")
        if figure.y not in metrics:
            raise ValueError(f"figure.y={figure.y!r}: with x=eval:<param>, y is a metric: {', '.join(metrics)}")
        return
    y, what = figure.y, f"figure.y={figure.y!r} is not measured"
    if y.startswith("first_step:"):
        reached = FIRST_STEP.match(y)
        if kind != "axis" or not reached:
            raise ValueError(f"figure.y={y!r}: write first_step:<validation metric>>=<threshold>, with x=axis:<name>")
        y, sets = reached.group(1), val
        what = f"figure.y={figure.y!r}: {y!r} in first_step: is not a validation metric"
    else:
        sets = val if kind in ("step", "samples") else test
    keys = [f"{m}@{s}" for m in metrics for s in sets] + list(whole)
    if y not in keys:
        raise ValueError(f"{what}; with x={figure.x} use one of: {', '.join(keys)}")
    for extra in figure.also_y:
        if extra not in keys and not (kind == "axis" and FIRST_STEP.match(extra)):
            raise ValueError(f"figure.also_y names {extra!r}, which is not measured; with x={figure.x} use: "
                             f"{', '.join(keys)}")


def check_writable(folder: Path) -> None:
    """``folder`` exists or can be made, is a directory, and a file can be created in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        where = e.filename or folder
        raise ValueError(f"cannot write results under {folder} ({where}: {e.strerror}); choose a writable folder "
                         "with --sweep.runs_dir") from None
