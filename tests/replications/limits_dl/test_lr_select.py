"""The learning-rate selection builds its trials from the figure's own axes, picks by validation with a stated
tie rule, and writes the chosen rates so that a run at an unchanged rate keeps its run id."""
from pathlib import Path

import pytest
import yaml

from common.config import parse, plan_runs
from replications.limits_dl import lr_select as S

CONFIGS = Path(__file__).parents[3] / "replications" / "limits_dl" / "configs"


def load(name):
    return yaml.safe_load((CONFIGS / name).read_text())


def test_point_overrides_take_labelled_and_single_valued_axes():
    cfg = load("e3_cpu.yaml")
    over = S.point_overrides(cfg, {"cot": "online"})
    assert over["data.init_args.cot"] == "online" and over["data.init_args.order"] == "X-G-F"
    assert over["data.init_args.n"] == 4
    assert S.lr_of(cfg, over) == 0.03  # the rate e3_cpu.yaml carries for online CoT since its selection
    assert S.lr_of(load("e2_cpu.yaml"), S.point_overrides(load("e2_cpu.yaml"), {"arch": "transformer"})) == 0.003


def test_point_must_pin_every_swept_axis():
    with pytest.raises(ValueError, match="name one"):
        S.point_overrides(load("e1_cpu.yaml"), {"p": "2"})
    with pytest.raises(ValueError, match="no value"):
        S.point_overrides(load("e2_cpu.yaml"), {"arch": "lstm"})


def test_choose_best_then_configured_then_smallest():
    assert S.choose({0.003: (0.5, 0.4), 0.01: (0.6, 0.1), 0.03: (0.55, 0.9)}, 0.01) == 0.01
    assert S.choose({0.003: (0.7, 0.4), 0.01: (0.6, 0.1)}, 0.01) == 0.003
    assert S.choose({0.003: (1.0, 1.0), 0.01: (1.0, 1.0), 0.03: (1.0, 1.0)}, 0.01) == 0.01
    assert S.choose({0.003: (1.0, 1.0), 0.01: (0.9, 1.0), 0.03: (1.0, 1.0)}, 0.01) == 0.003
    assert S.choose({0.003: (0.6, 0.5), 0.03: (0.6, 0.7)}, 0.01) == 0.03  # second key breaks the tie


def plan(cfg: dict, tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    _, ns = parse(S.REPLICATION, ["--config", str(path)], "test")
    return {r.name: r for r in plan_runs(None, ns)}


def test_apply_keeps_run_ids_at_unchanged_rates_and_changes_the_rest(tmp_path):
    cfg = load("e1_cpu.yaml")
    before = plan(cfg, tmp_path, "a.yaml")
    same = plan(S.apply_choice(cfg, "p", {"1": 0.01, "2": 0.03}), tmp_path, "b.yaml")  # the rates it carries
    assert {n: r.run_id for n, r in same.items()} == {n: r.run_id for n, r in before.items()}
    moved = plan(S.apply_choice(cfg, "p", {"2": 0.01}), tmp_path, "c.yaml")
    assert set(moved) == set(before)
    for name, run in moved.items():
        assert (run.run_id == before[name].run_id) == (run.labels["p"] == "1")
        assert run.namespace.model.init_args.lr == 0.01


def test_apply_on_a_labelled_axis_leaves_other_labels_alone():
    cfg = load("e2_cpu.yaml")
    before = next(a for a in cfg["sweep"]["grid"] if a["name"] == "arch")["values"]
    out = S.apply_choice(cfg, "arch", {"ssm_L4": 0.001})
    arch = next(a for a in out["sweep"]["grid"] if a["name"] == "arch")["values"]
    assert arch["ssm_L4"][S.LR_KEY] == 0.001
    assert {k: v for k, v in arch.items() if k != "ssm_L4"} == {k: v for k, v in before.items() if k != "ssm_L4"}
    with pytest.raises(ValueError, match="not a sweep axis"):
        S.apply_choice(cfg, "depth", {"ssm_L4": 0.03})


def test_selection_config_is_one_seed_of_trials_without_claims(tmp_path):
    cfg = load("e2_cpu.yaml")
    over = S.point_overrides(cfg, {"arch": "ssm_L2"})
    sel = S.selection_config(cfg, {"arch:ssm_L2@0.03": {**over, S.LR_KEY: 0.03}}, seed=0)
    runs = plan(sel, tmp_path, "sel.yaml")
    (run,) = runs.values()
    assert run.labels == {"seed": "0", "trial": "arch:ssm_L2@0.03"}
    assert run.namespace.model.init_args.lr == 0.03 and run.namespace.model.init_args.model.init_args.n_layer == 2
    assert sel["figure"]["claims"] == [] and sel["figure"]["id"] == "e2_cpu_lr"
    # the same series at the figure's own rate has the figure's run id (so the figure's run is reused)
    own = S.selection_config(cfg, {"x": {**over}}, seed=0)
    fig = plan(cfg, tmp_path, "fig.yaml")
    assert next(iter(plan(own, tmp_path, "own.yaml").values())).run_id == fig["seed=0,n=4,arch=ssm_L2"].run_id


def test_retire_moves_only_unplanned_runs(tmp_path):
    fig = tmp_path / "e1_cpu"
    for name in ("seed=0,p=1-aaaaaaaaaaaa", "seed=0,p=2-bbbbbbbbbbbb", "seed=0,p=2-cccccccccccc"):
        (fig / name).mkdir(parents=True)
        (fig / name / "result.json").write_text("{}")
    (fig / "seed=1,p=2-dddddddddddd").mkdir()  # unfinished: left where it is
    S.retire(fig, {"aaaaaaaaaaaa", "cccccccccccc"}, tmp_path / "old")
    assert sorted(p.name for p in fig.iterdir()) == ["seed=0,p=1-aaaaaaaaaaaa", "seed=0,p=2-cccccccccccc",
                                                     "seed=1,p=2-dddddddddddd"]
    assert (tmp_path / "old" / "seed=0,p=2-bbbbbbbbbbbb" / "result.json").exists()
