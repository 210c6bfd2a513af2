"""Figures as sweeps: a grid of named axes expands into runs, each with a content-addressed id.

An axis either sets one config key to each of its values::

    - {name: seed, key: seed_everything, values: [0, 1, 2]}

or gives each label a set of dotted overrides (a value replaces that whole subtree)::

    - name: arch
      values:
        transformer: {model.init_args.model: {class_path: common.models.Transformer, init_args: {...}}}
        lstm: {model.init_args.model: {class_path: common.models.LSTM, init_args: {...}}}

The run id hashes the fully resolved config, so any change of any value makes a new run.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

# Config keys that never change a result: excluded from the run id.
NON_RESULT_KEYS = (
    "sweep", "figure", "trainer.enable_progress_bar", "trainer.enable_model_summary", "trainer.logger",
    "trainer.default_root_dir", "trainer.log_every_n_steps", "trainer.callbacks", "trainer.enable_checkpointing",
    "data.init_args.num_workers",
)


@dataclass
class Axis:
    """One sweep axis: ``name``, and either ``key`` with a list of ``values`` or ``values`` as {label: overrides}."""

    name: str
    values: Any
    key: str | None = None

    def points(self) -> list[tuple[str, dict[str, Any]]]:
        if not self.values:
            raise ValueError(f"sweep axis {self.name!r} has no values; give it at least one or remove it")
        if self.key is not None:
            if not isinstance(self.values, list):
                raise ValueError(f"sweep axis {self.name!r}: with 'key', 'values' must be a list")
            return [(str(v), {self.key: v}) for v in self.values]
        if not isinstance(self.values, dict) or not all(isinstance(o, dict) for o in self.values.values()):
            raise ValueError(f"sweep axis {self.name!r}: without 'key', 'values' must map labels to overrides")
        return [(str(label), dict(over)) for label, over in self.values.items()]


@dataclass
class Run:
    index: int
    labels: dict[str, str]
    overrides: dict[str, Any]
    config: dict = field(default_factory=dict)
    run_id: str = ""
    namespace: Any = None

    @property
    def name(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.labels.items()) or "run"


def set_dotted(cfg: dict, key: str, value: Any) -> None:
    """Replace the value at a dotted path (creating intermediate dicts); the subtree is replaced whole."""
    node = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)


def get_dotted(cfg: dict, key: str, default=None):
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _touches(a: str, b: str) -> bool:
    """True when dotted keys ``a`` and ``b`` are the same key or one lies inside the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def expand(axes: list[Axis], pinned: dict[str, Any] | None = None) -> tuple[list[Run], list[str]]:
    """Cartesian product of the axes, in order (last axis fastest), and notes on ``pinned`` keys.

    ``pinned`` (the keys given on the command line) win over the axes in every run: an axis whose
    ``key`` is pinned collapses to the pinned value; a pinned key inside (or above) what a
    labelled axis sets is applied after it. Runs made identical by this are merged by the caller.
    """
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise ValueError(f"sweep axis names must be unique, got {names}")
    pinned = dict(pinned or {})
    notes, axes = [], list(axes)
    for i, axis in enumerate(axes):
        if axis.key is not None and axis.key in pinned:
            notes.append(f"--{axis.key} {pinned[axis.key]} replaces sweep axis {axis.name!r} (values {axis.values}) "
                         "in every run")
            axes[i] = Axis(axis.name, [pinned[axis.key]], axis.key)
        elif axis.key is None:
            keys = {k for _, over in axis.points() for k in over}
            for g in pinned:
                hit = sorted(k for k in keys if _touches(g, k))
                if hit:
                    notes.append(f"--{g} {pinned[g]} overrides what sweep axis {axis.name!r} sets ({', '.join(hit)}) "
                                 "in every run")
    runs = []
    for i, combo in enumerate(itertools.product(*(a.points() for a in axes))):
        overrides: dict[str, Any] = {}
        for _, over in combo:
            overrides.update(over)
        for g, v in pinned.items():
            if any(_touches(g, k) for k in list(overrides)):
                overrides[g] = v
        runs.append(Run(i, {n: label for n, (label, _) in zip(names, combo)}, overrides))
    return runs, notes


def run_id(config: dict) -> str:
    """Hash of the resolved config without the keys that cannot change a result."""
    cfg = copy.deepcopy(config)
    for key in NON_RESULT_KEYS:
        parent, _, leaf = key.rpartition(".")
        node = get_dotted(cfg, parent) if parent else cfg
        if isinstance(node, dict):
            node.pop(leaf, None)
    blob = json.dumps(cfg, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def select(runs: list[Run], only: str | None) -> list[Run]:
    """Pick runs by index ("3", for a SLURM array task), run id prefix, or labels ("arch=lstm,seed=0")."""
    if only is None or only == "":
        return runs
    only = str(only)
    if only.isdigit():
        i = int(only)
        if i >= len(runs):
            raise ValueError(f"sweep.only={i} but the sweep has {len(runs)} runs (0..{len(runs) - 1})")
        return [runs[i]]
    if "=" in only:
        want = dict(kv.split("=", 1) for kv in only.split(","))
        picked = [r for r in runs if all(r.labels.get(k) == v for k, v in want.items())]
    else:
        picked = [r for r in runs if r.run_id.startswith(only)]
    if not picked:
        raise ValueError(f"sweep.only={only!r} matches no run; list them with --sweep.dry_run true")
    return picked
