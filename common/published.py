"""Published values of a replication: one YAML file, each value with its figure, page and how it was read."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

HOW = ("table", "text", "plot", "derived")


@dataclass(frozen=True)
class PublishedValue:
    """One published number. ``plotted: false`` marks a number the text states about a figure that is not a
    point of its curves (a ratio of samples, a drop in accuracy): the report's table shows it, the plot's
    axes do not."""

    figure: str
    series: str
    x: float | str
    y: float
    source: str
    how: str
    uncertainty: float = 0.0
    tolerance: float = 0.1
    note: str = ""
    plotted: bool = True


def load_published(path: Path) -> list[PublishedValue]:
    """Read and validate ``published.yaml``; any malformed entry fails with its index and the key to fix."""
    path = Path(path)
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text()) or {}
    values = []
    for i, entry in enumerate(data.get("values", [])):
        missing = [k for k in ("figure", "series", "x", "y", "source", "how") if k not in entry]
        if missing:
            raise ValueError(f"{path}: values[{i}] lacks {missing}")
        if entry["how"] not in HOW:
            raise ValueError(f"{path}: values[{i}].how={entry['how']!r} must be one of {HOW}")
        unknown = set(entry) - set(PublishedValue.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: values[{i}] has unknown keys {sorted(unknown)}")
        values.append(PublishedValue(**entry))
    return values
