"""E4b(a)'s counting-capacity search against an independent re-implementation of one coordinate,
and the E1 / E4b figure helpers against hand-computed values."""
import itertools
import math
from collections import Counter

import pytest

from replications.limits_dl import capacity as K
from replications.limits_dl import plots as PL


def orbit_plain(a, w, h0, bits, n_max=64):
    """One coordinate in plain Python floats: round to the nearest of 2^p levels in [-1, 1]."""
    steps = 2 ** bits - 1

    def q(x):
        x = min(1.0, max(-1.0, x))
        return round((x + 1) / 2 * steps) / steps * 2 - 1

    h, seen = h0, set()
    for _ in range(n_max):
        nxt = q(a * h + (1 - a) * math.tanh(w))
        seen.add(round(nxt, 6))
        if abs(nxt - h) < 1e-9:
            break
        h = nxt
    return len(seen)


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_one_coordinate_orbit_matches_plain_python_and_never_exceeds_2_to_p(bits):
    starts = [-1 + 2 * i / (2 ** bits - 1) for i in range(2 ** bits)]
    for a, w, h0 in itertools.product([0.1, 0.5, 0.8, 0.95], [-2.0, -0.3, 0.4, 2.5], starts):
        got = K.orbit_length(a, w, h0, bits, n_max=64)
        assert got == orbit_plain(a, w, h0, bits) and got <= 2 ** bits


def test_searched_model_counts_stay_under_2_to_p_for_any_d():
    for bits, d in [(2, 1), (2, 8), (3, 8)]:
        assert 1 <= K.search(bits, d, draws=8, n_max=40) <= 2 ** bits


def test_majority_shortcut_and_store_what_fits():
    assert PL.majority_shortcut(4) == pytest.approx(0.53125)
    brute = sum(max(Counter(f).values()) for f in itertools.product(range(3), repeat=3)) / 3 ** 4
    assert PL.majority_shortcut(3) == pytest.approx(brute)
    assert PL.store_what_fits(4, 0) == 0.25 and PL.store_what_fits(4, 4) == pytest.approx(0.5 + 0.5 / 4)
    assert PL.store_what_fits(4, 8) == 1.0


def test_e1_points_average_seeds_at_s_over_n_log_n(tmp_path):
    def run(seed, p, d, acc):
        return {"labels": {"seed": str(seed), "n": "4", "k": "1", "p": str(p), "d": str(d)},
                "config": {"model": {"init_args": {"model": {"init_args": {"n_layer": 1}}}}},
                "final": {"acc_seq@first": acc, "acc_token@final": acc}}
    pts = PL.e1_points([run(0, 2, 16, 1.0), run(1, 2, 16, 0.8), run(0, 1, 4, 0.4)])
    assert pts[(4, 1, 2)][4.0] == pytest.approx((0.9, 0.1, 2))
    assert pts[(4, 1, 1)][0.5] == (0.4, 0.0, 1)
    PL.plot_e1([run(0, 2, 16, 1.0), run(0, 1, 4, 0.4)], tmp_path / "e1.png")
    assert (tmp_path / "e1.png").stat().st_size > 1000


def test_plots_read_only_the_runs_the_figure_config_plans(tmp_path):
    import json

    from common.config import parse, plan_runs
    from common.errors import ConfigError
    from common.results import RESULT_FILE, SCHEMA, run_dir_name
    _, ns = parse("replications.limits_dl", ["--config", str(PL.CONFIGS / "e1_cpu.yaml")], "test")
    runs = plan_runs(None, ns)[:3]
    fig_dir = tmp_path / "limits_dl" / "e1_cpu"

    def write(run, run_id, config):  # a result file in the run folder named after labels and run_id
        folder = fig_dir / run_dir_name(run.labels, run_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RESULT_FILE).write_text(json.dumps(
            {"schema": SCHEMA, "run_id": run_id, "labels": run.labels, "config": config, "final": {}}))

    write(runs[0], runs[0].run_id, runs[0].config)
    write(runs[1], runs[1].run_id, runs[1].config)
    write(runs[2], "000000stale0", dict(runs[2].config, seed_everything=99))  # an earlier config's run: left out
    assert [r["run_id"] for r in PL.load_results(fig_dir)] == [runs[0].run_id, runs[1].run_id]
    assert len(PL.load_results(fig_dir, tmp_path / "no_such.yaml")) == 3  # no config: every run
    with pytest.raises(ConfigError, match="is figure 'e1_cpu'"):
        PL.load_results(tmp_path / "limits_dl" / "other", PL.CONFIGS / "e1_cpu.yaml")
    write(runs[1], runs[1].run_id, dict(runs[1].config, seed_everything=99))  # another config under this run's name
    with pytest.raises(ConfigError, match="different config"):
        PL.load_results(fig_dir)
