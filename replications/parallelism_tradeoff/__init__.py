"""Merrill & Sabharwal (TACL 2023), The Parallelism Tradeoff, probed as in Merrill, Petty & Sabharwal (ICML 2024):
the minimum depth that solves the word problem of Z60, A4xZ5 and A5 as the sequence grows."""
