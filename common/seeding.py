"""Stable seeds derived from (seed, split, index): splits never share a random stream."""
from __future__ import annotations

import hashlib
import random


def derive_seed(*parts) -> int:
    """A 63-bit seed from any tuple of printable parts, stable across processes and Python versions."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def rng_for(*parts) -> random.Random:
    return random.Random(derive_seed(*parts))
