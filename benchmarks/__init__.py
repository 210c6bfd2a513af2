"""Throughput and memory measurements: scripts, never tests (no test asserts a timing)."""
