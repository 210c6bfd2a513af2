"""Equal-size comparisons: pick a width (or depth) so that a family has a target parameter count.

Counts come from building the model itself (on the meta device, so nothing is allocated), which
keeps the helper exact for every family, including one a user adds, with no formula to drift.

>>> kw = fit_size("transformer", 200_000, vocab_size=32, n_layer=2)
>>> kw["d_model"], kw["n_layer"]
(92, 2)
"""
from __future__ import annotations

import inspect

import torch

from common.models.base import SequenceModel


def _family(family: str | type[SequenceModel]) -> type[SequenceModel]:
    from common.models import FAMILIES

    if isinstance(family, str):
        if family not in FAMILIES:
            raise ValueError(f"unknown family={family!r}; choose one of {sorted(FAMILIES)} or pass a class")
        return FAMILIES[family]
    return family


def count_params(family: str | type[SequenceModel], vocab_size: int, **kwargs) -> int:
    """``num_params()`` of ``family(vocab_size, **kwargs)``, built without allocating weights."""
    cls = _family(family)
    try:
        with torch.device("meta"):
            return cls(vocab_size, **kwargs).num_params()
    except (NotImplementedError, RuntimeError):  # a model whose init needs real data
        return cls(vocab_size, **kwargs).num_params()


def fit_size(family: str | type[SequenceModel], target_params: int, vocab_size: int, solve_for: str = "d_model",
             multiple_of: int | None = None, refine: str | None = None, max_value: int = 1 << 14, **fixed) -> dict:
    """Constructor kwargs (``fixed`` plus ``solve_for``) whose ``num_params()`` is closest to the target.

    ``solve_for`` is any integer argument the count grows with (``d_model`` at fixed depth, or
    ``n_layer`` at fixed width); its value is a multiple of ``multiple_of`` (default: ``n_head``
    for families with heads, so widths split evenly, else 1). Widths in steps of ``n_head`` land
    only within a few % of the target; ``refine`` (e.g. ``"d_ff"``) then solves a second argument
    in steps of 1 at that width to close the gap.
    """
    if refine is not None:
        kw = fit_size(family, target_params, vocab_size, solve_for, multiple_of, None, max_value, **fixed)
        return fit_size(family, target_params, vocab_size, refine, 1, None, max_value, **kw)
    cls = _family(family)
    params = inspect.signature(cls.__init__).parameters
    if solve_for not in params:
        raise ValueError(f"{cls.__name__} has no argument {solve_for!r} to solve for")
    if multiple_of is None:
        heads = solve_for == "d_model" and "n_head" in params
        multiple_of = fixed.get("n_head", params["n_head"].default) if heads else 1

    def count(k: int) -> int:
        return count_params(cls, vocab_size, **{**fixed, solve_for: k * multiple_of})

    lo, hi = 1, 1
    while count(hi) < target_params:  # exponential search for an upper bound
        if hi * multiple_of >= max_value:
            raise ValueError(f"{cls.__name__} needs {solve_for} > {max_value} for {target_params} parameters")
        lo, hi = hi, hi * 2
    while lo < hi:  # smallest k with count(k) >= target
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if count(mid) < target_params else (lo, mid)
    best = min((k for k in (lo - 1, lo) if k >= 1), key=lambda k: abs(count(k) - target_params))
    return {**fixed, solve_for: best * multiple_of}
