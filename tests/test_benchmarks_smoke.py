"""The benchmark scripts run (their numbers are not asserted: speed is measured, not tested)."""
import torch

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


def test_lightning_overhead_benchmark_times_both_loops_per_model():
    from benchmarks import lightning_overhead

    families = ["lstm", "mamba", "tiny"]  # two of the five, and the fixed-cost probe, to keep the test short
    out = lightning_overhead.run(steps=lightning_overhead.WARM + 3, batch_size=2, repeats=1, families=families)
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines()
            if line.startswith("| ") and "model" not in line]
    assert [r[0].split()[:2] for r in rows] == [["lstm", "d112"], ["mamba", rows[1][0].split()[1]], ["lstm", "d4"]]
    assert rows[1][2] in ("c_scan", "torch_scan")  # the backend that ran
    assert all(len(set(r[3].split("/"))) == 1 for r in rows)  # both loops ran with the same thread count
    assert all(float(r[4]) > 0 and float(r[5]) > 0 and float(r[6]) > 0 for r in rows)


def test_roofline_builds_each_distinct_model_of_a_figure_and_counts_its_flops():
    from benchmarks import roofline

    assert roofline.matmul_peak(n=64, repeats=1) > 0
    out = list(roofline.rows(["rnns_not_transformers"], peak=1.0, repeats=1, pattern="factlookup_cpu.yaml"))
    assert [r[3] for r in out] == ["Transformer", "MambaLM", "Transformer", "MambaLM"]  # 2 formats x 2 models
    assert all(float(r[7]) > 0 for r in out)
    walls: dict = {}
    mlp = list(roofline.rows(["hidden_progress"], peak=1.0, repeats=1, pattern="parity_scaling_cpu.yaml", walls=walls))
    assert mlp and all(r[3] == "MLP" and float(r[6]) > 0 for r in mlp)  # {"x", "y"} batches
    assert len(mlp) == 3 * 4  # one row per (k, n) cell: its 10 seeds are not distinct models
    (runs, steps, sec), = walls.values()  # but every seed's run counts in the figure's training time
    assert runs == 120 and steps == 120 * 20000 and sec > 0  # trainer.max_steps 20000 in that config


def test_roofline_times_steps_under_bf16_autocast(monkeypatch):
    from benchmarks import roofline

    assert roofline.matmul_peak(n=64, repeats=1, dtype=torch.bfloat16) > 0
    seen = []
    real = roofline.step_time

    def spy(module, batch, repeats, precision="32-true"):
        with roofline.autocast(precision):
            seen.append(torch.is_autocast_enabled("cpu"))
        return real(module, batch, repeats, precision)

    monkeypatch.setattr(roofline, "step_time", spy)
    out = list(roofline.rows(["rnns_not_transformers"], peak=1.0, repeats=1, pattern="factlookup_cpu.yaml",
                             precision="bf16-mixed"))
    assert seen and all(seen) and all(float(r[7]) > 0 for r in out)


def test_peer_benchmark_builds_llama_and_ours_with_equal_parameter_counts():
    from benchmarks import peers

    for d, n_layer in peers.SIZES.values():
        a, b = peers.ours(d, n_layer, 16), peers.llama(d, n_layer, 16)
        pa, pb = (sum(p.numel() for p in m.parameters()) for m in (a, b))
        assert abs(pa - pb) / pb < 0.01  # the 0.5M / 1M / 2M configs, within 1%
    out = peers.run(batch=2, seq=8, repeats=1)
    assert [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ") and "size" not in line] \
        == list(peers.SIZES)
