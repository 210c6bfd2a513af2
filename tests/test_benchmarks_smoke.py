"""The benchmark scripts run (their numbers are not asserted: speed is measured, not tested)."""
from benchmarks import decoding
from benchmarks.common import interleaved, table


def test_decoding_benchmark_produces_a_row_per_model_and_length():
    out = decoding.run(lengths=(4,), batch=2, repeats=1)
    rows = [line for line in out.splitlines() if line.startswith("| ") and "model" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["transformer", "lstm", "mamba"]
    assert all(r.rstrip(" |").endswith("1.000") for r in rows)  # cached and recomputed decoding agree


def test_interleaved_reports_every_function_and_table_aligns():
    calls = []
    t = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=2)
    assert calls == ["a", "b", "a", "b"] and set(t) == {"a", "b"}
    lines = table(["x", "long header"], [[1, 2]]).splitlines()
    assert len({len(line) for line in lines}) == 1
