"""Zubić et al., "Limits of Deep Learning: Sequence Modeling through the Lens of Complexity Theory"
(ICLR 2025): task generators, checkers and exact-arithmetic pieces.

See ``/work/shared/papers/limits_dl.md`` for the research note (experiments E1-E6, provenance tags).
"""
