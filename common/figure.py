"""The ``figure:`` and ``sweep:`` blocks of a figure config, validated by jsonargparse like the rest."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional, Union, get_args


ClaimKind = Literal["paper", "prediction", "control", "check"]
CLAIM_KINDS = get_args(ClaimKind)


@dataclass
class Claim:
    """A qualitative claim of the paper as a predicate over this figure's measured series.

    ``holds_if`` is an expression over ``at(series, x)``, ``last(series)``, ``reach(series, threshold)``,
    ``published(series, x)``, numbers, arithmetic, comparisons, ``and``/``or``/``not``, ``min``/``max``.
    It is inconclusive when a value it needs was not measured. ``kind`` says whose claim it is:
    "paper" (the paper states it), "prediction" (derived from the paper's theory, not a published
    result; it can fail), "control" (a sanity check of the experiment itself, e.g. a baseline that must
    learn), or "check" (holds by construction, e.g. an upper bound implied by how the state is counted;
    failing means an implementation leak or sampling noise, not a finding).
    """

    text: str
    holds_if: str
    source: str = ""
    kind: ClaimKind = "paper"

    def __post_init__(self):
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"claim kind={self.kind!r}; use one of {', '.join(CLAIM_KINDS)}")


@dataclass
class Figure:
    """What a figure plots and what it is compared with.

    Args:
        id: the figure's id, the key into the replication's published values (e.g. "fig1a").
        title: plot title.
        x: "step", "samples", "eval:<param>" (x read from evaluation set names "<param>=<x>")
           or "axis:<name>" (x is a sweep axis label).
        y: metric key: with step/samples/axis x, a full key such as "acc_seq@len=300";
           with eval x, the metric name such as "acc_seq".
        series: sweep axes whose labels name a curve; other axes (seeds) are averaged.
        published_id: which published figure to compare with (default: ``id``).
        scale: "paper" or "cpu"; a CPU-scale figure compares through its claims, and the published
            values it lists are context from another scale, never compared.
        xlog: log-scale x axis.
        published_series: which published series to lay out (default: all of ``published_id``): a
            list of names, or {published name: measured series} when the sweep labels differ.
        published_x: which published x values to lay out (default: all).
        panels: plot one panel per first series label (e.g. per model and size), published values
            beside measured ones, the paper's layout for bar figures over a few x values.
        x_label, y_label: the axes in words, with units (default: ``common.report.axis_label`` of
            ``x`` and ``y``, e.g. "accuracy (whole answer exact)" for acc_seq, "training step").
    """

    id: str = "figure"
    title: str = ""
    x: str = "step"
    y: str = "acc_seq"
    series: list[str] = field(default_factory=list)
    published_id: Optional[str] = None
    scale: Literal["paper", "cpu"] = "paper"
    xlog: bool = False
    published_series: Optional[Union[list[str], dict[str, str]]] = None
    published_x: Optional[list[Union[float, str]]] = None
    panels: bool = False
    x_label: Optional[str] = None
    y_label: Optional[str] = None
    claims: list[Claim] = field(default_factory=list)


@dataclass
class SweepAxis:
    """See ``common.sweep``: a key with a list of values, or labels mapped to dotted overrides."""

    name: str
    values: Union[list, dict]
    key: Optional[str] = None


@dataclass
class Sweep:
    """Runs of the figure and where they go.

    Args:
        grid: axes whose cartesian product is the list of runs.
        only: run only some: an index (SLURM array id), a run-id prefix, or labels "arch=lstm,seed=0".
        dry_run: print the plan (runs, ids, done or not) and exit.
        runs_dir: root of run directories: <runs_dir>/<replication>/<figure id>/<labels>-<run id>/.
        checkpoint_every: also checkpoint every this many training steps (one is always written after
            every validation and at the end).
        workers: runs trained at once, each in its own process with cores / workers threads (small
            models on a multi-core CPU train faster side by side than one after another).
    """

    grid: list[SweepAxis] = field(default_factory=list)
    only: Optional[str] = None
    dry_run: bool = False
    runs_dir: str = "runs"
    checkpoint_every: Optional[int] = None
    workers: int = 1
