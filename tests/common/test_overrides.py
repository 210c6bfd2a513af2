"""A key given on the command line wins over a sweep axis that sets it, in every run, with a one-line note:
an axis that sets exactly that key collapses to the given value, and runs made identical are merged.
The README's override examples work on the shipped configs."""
import pytest

from common.cli import parse, plan_runs, replication_dir, resolve_config_names
from common.sweep import get_dotted

REPLICATION = "replications.repeat_after_me"
NO_CLAIMS = {"id": "tiny", "x": "eval:len", "y": "acc_seq", "series": [], "claims": []}


def plan(cfg, *args, replication=REPLICATION):
    argv = resolve_config_names(["--config", str(cfg), *args], replication_dir(replication) / "configs")
    parser, ns = parse(replication, argv, "test")
    return plan_runs(parser, ns, argv)


def test_a_key_inside_what_an_axis_sets_applies_to_every_run(tiny_config, capsys):
    runs = plan(tiny_config(), "--model.init_args.model.init_args.d_model", "32")
    assert sorted(r.labels["arch"] for r in runs) == ["lstm", "transformer"]
    assert all(get_dotted(r.config, "model.init_args.model.init_args.d_model") == 32 for r in runs)
    assert {get_dotted(r.config, "model.init_args.model.class_path") for r in runs} == {
        "common.models.Transformer", "common.models.LSTM"}  # the axis still chooses the architecture
    notes = capsys.readouterr().err.strip().splitlines()
    assert len(notes) == 1 and "overrides what sweep axis 'arch' sets" in notes[0]


def test_a_key_axis_collapses_to_the_command_line_value(tiny_config, capsys):
    grid = [{"name": "seed", "key": "seed_everything", "values": [0, 1, 2]},
            {"name": "arch", "values": {"lstm": {"model.init_args.model": {
                "class_path": "common.models.LSTM", "init_args": {"d_model": 16}}}}}]
    runs = plan(tiny_config(sweep={"grid": grid}, figure=NO_CLAIMS), "--seed_everything", "7")
    assert [(r.index, r.labels["seed"], r.config["seed_everything"]) for r in runs] == [(0, "7", 7)]
    assert "replaces sweep axis 'seed'" in capsys.readouterr().err


def test_runs_made_identical_are_merged_with_a_note(tiny_config, capsys):
    grid = [{"name": "steps", "values": {"short": {"trainer.max_steps": 4}, "long": {"trainer.max_steps": 6}}}]
    runs = plan(tiny_config(sweep={"grid": grid}, figure=NO_CLAIMS), "--trainer.max_steps", "3")
    assert len(runs) == 1 and runs[0].config["trainer"]["max_steps"] == 3 and runs[0].index == 0
    err = capsys.readouterr().err
    assert "overrides what sweep axis 'steps' sets" in err and "1 run(s) of the sweep are the same as another" in err


@pytest.mark.parametrize("replication,config", [
    ("replications.repeat_after_me", "copy_cpu"),
    ("replications.rnns_not_transformers", "fig3_cpu"),  # its axes set trainer.max_steps and model.init_args.lr
])
def test_readme_override_examples_work_on_shipped_configs(replication, config):
    runs = plan(config, "--trainer.max_steps", "500", "--model.init_args.lr", "3e-3", replication=replication)
    assert runs and all(r.config["trainer"]["max_steps"] == 500 and r.config["model"]["init_args"]["lr"] == 3e-3
                        for r in runs)
