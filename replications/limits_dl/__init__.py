"""Zubić et al., "Limits of Deep Learning: Sequence Modeling through the Lens of Complexity Theory"
(ICLR 2025): task generators, checkers and exact-arithmetic pieces.

The replication's README maps each experiment (E1-E4) to the theorem it tests.
"""
