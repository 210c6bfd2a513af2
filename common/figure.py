"""The ``figure:`` and ``sweep:`` blocks of a figure config, validated by jsonargparse like the rest."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional, Union, get_args


ClaimKind = Literal["paper", "prediction", "control", "check"]
CLAIM_KINDS = get_args(ClaimKind)
Average = Literal["mean", "median"]
AVERAGES = get_args(Average)


@dataclass
class Claim:
    """A qualitative claim of the paper as a predicate over this figure's measured series.

    ``holds_if`` is an expression over ``at(series, x)``, ``last(series)``, ``reach(series, threshold)``,
    ``published(series, x)``, ``slope(series)`` (log-log least-squares slope over the measured points;
    ``published_slope(series)`` the same over the published ones), numbers, arithmetic, comparisons,
    ``and``/``or``/``not``, ``min``/``max``. ``at``, ``last``, ``reach`` and ``slope`` take an optional
    last argument, another y of the same figure (e.g. ``at('k=3', 20, 'first_step:acc@fresh>=0.55')``).
    It is inconclusive when a value it needs was not measured (or is infinite, for ``slope``). ``kind`` says whose claim it is:
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
           with eval x, the metric name such as "acc_seq". With axis x, ``first_step:<key>>=<threshold>``
           is each run's first evaluated step at which the validation metric <key> reached the threshold
           (inf when it never did): e.g. iterations to 99% accuracy, ``first_step:acc@fresh>=0.99``.
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
        average: how the runs (seeds) of a point are combined: "mean" (± standard deviation) or "median"
            (± half the interquartile range; robust to runs that never reach a threshold).
        ylog: log-scale y axis.
        slopes: fit each series' log-log slope (least squares of log y on log x, the exponent of a power
            law y ∝ x^slope) and report it beside the slope of the published values of that series.
        also_y: further metrics of the same runs and x, each plotted in a panel of its own beside y (e.g.
            accuracy and loss beside a weight-movement measure); claims reach them by ``at``'s y argument.
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
    average: Average = "mean"
    ylog: bool = False
    slopes: bool = False
    also_y: list[str] = field(default_factory=list)
    x_label: Optional[str] = None
    y_label: Optional[str] = None
    claims: list[Claim] = field(default_factory=list)

    def __post_init__(self):
        if self.average not in AVERAGES:
            raise ValueError(f"figure.average={self.average!r}; use one of {', '.join(AVERAGES)}")


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
