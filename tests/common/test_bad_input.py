"""Bad input from a newcomer's trials: each gives one ``error:`` line naming what to change, exit code 2,
and writes nothing (no run folder). The trial numbers are those of the newcomer review of commit 229054e
(62 trials); the table says where each one is now checked.

| #      | input                                              | now                                   | checked by |
|--------|----------------------------------------------------|---------------------------------------|------------|
| 1, 27  | unknown config name / path                         | one line, rc 2                        | TRIALS |
| 2      | unknown command                                    | one line, rc 2                        | TRIALS |
| 4, 6, 7| misspelt flag or YAML key                          | one line naming the key, rc 2         | TRIALS, test_cli |
| 5      | `--trainer.max_step` (a prefix of a real flag)     | refused, rc 2 (was taken as max_steps)| TRIALS |
| 8, 9   | wrong type                                         | one line, rc 2                        | TRIALS |
| 10     | override inside a swept subtree                    | applied to every run, with a note     | test_overrides |
| 11, 12 | `d_model: 0`, `n_layer: -1`                        | one line, rc 2 (were trained)         | TRIALS |
| 13-15, 17, 19 | batch 0, bad heads, n_nodes 1, max_steps 0, workers 0 | one line, rc 2              | TRIALS, test_reliability |
| 16     | `n_nodes: 1000000`                                 | refused by the length bound, rc 2     | TRIALS |
| 18     | `val_check_interval 0`                             | one line before training (was 4 crashes) | TRIALS |
| 20, 21 | `--sweep.only` out of range / no match             | one line, rc 2                        | TRIALS |
| 22-25  | YAML syntax error / empty / a list / binary        | one line with file (and line), rc 2   | TRIALS |
| 26     | `--config` a folder                                | one line, rc 2                        | TRIALS |
| 28     | two `--config`                                     | last wins (jsonargparse)              | not re-checked |
| 29     | `--trainer.accelerator gpu` without a GPU          | one line, rc 2                        | not re-checked (needs no GPU) |
| 30     | lr -1                                              | one line before training (was a traceback) | TRIALS |
| 31-33  | runs_dir a file / under /proc / read-only          | one line naming the path, rc 2        | TRIALS (read-only: not as root) |
| 34, 35 | duplicate axis name / axis with no values          | one line, rc 2                        | TRIALS |
| 36-38  | claim syntax error (report, fit) / bogus figure.x  | one line before training, rc 2        | TRIALS |
| 41, 42 | NaN at step 50 / NaN before the first check        | rc 2, no result, good checkpoint kept | test_reliability |
| 43-47, 49, 51-53 | corrupt or foreign checkpoints and results | one line, rc 2 / skipped            | test_reliability, test_cli |
| 48, 50 | result.json binary / a folder                      | one line naming it, rc 2              | TRIALS |
| 54-59  | SIGKILL, Ctrl-C, SIGTERM mid-training, workers     | resumes from the last validation, says so; one line; no orphans | test_resume, test_processes |
| 60     | two fits on one folder                             | the second skips locked runs, saying so | test_processes |
| 61     | disk full while writing                            | one line naming the file and the fix  | test_os_errors |
| 62     | paper-scale config on a CPU                        | one warning: runs, steps, timed estimate | test_estimate |
| L1-L6  | a choice-valued data or model argument off its list | jsonargparse's one line (`Literal[...]` types), rc 2 | TRIALS |
"""
import os
from dataclasses import dataclass, field

import pytest

from common.cli import main

TINY = "replications.repeat_after_me"
RNNS = "replications.rnns_not_transformers"
RAM = "replications.repeat_after_me"
LDL = "replications.limits_dl"


@dataclass
class Trial:
    num: str
    args: list = field(default_factory=list)   # after --config <tiny figure>, unless `config` is given
    expect: str = ""                           # in the one error line
    sections: dict = field(default_factory=dict)  # overrides of the tiny figure's sections
    config: str | None = None                  # raw config text instead of the tiny figure
    command: str = "fit"
    replication: str = TINY


GRID_AXIS = {"grid": [{"name": "arch", "values": {"lstm": {"model.init_args.model": {
    "class_path": "common.models.LSTM", "init_args": {"d_model": 16}}}}}]}

TRIALS = [
    Trial("1", ["--config", "nosuch"], "neither a file nor one of"),
    Trial("2", expect="unknown command 'train'", command="train"),
    Trial("4", ["--trainer.max_stpes", "100"], "max_stpes"),
    Trial("5", ["--trainer.max_step", "100"], "max_step"),
    Trial("8", ["--trainer.max_steps", "abc"], "max_steps"),
    Trial("11", ["--model.init_args.model.init_args.d_model", "0"], "d_model=0 must be an integer >= 1"),
    Trial("12", ["--model.init_args.model.init_args.n_layer", "-1"], "n_layer=-1 must be an integer >= 1"),
    Trial("13", ["--data.init_args.batch_size", "0"], "batch_size"),
    Trial("16", ["--config", "fig3_cpu", "--data.init_args.n_nodes", "1000000"], "tokens", replication=RNNS),
    Trial("16b", ["--config", "fig3_cpu", "--data.init_args.val_examples", "0"], "val_examples=0 must be an integer >= 1",
          replication=RNNS),
    Trial("16c", ["--config", "fig3_cpu", "--data.init_args.num_workers", "-1"], "num_workers=-1 must be >= 0",
          replication=RNNS),
    Trial("17", ["--trainer.max_steps", "0"], "max_steps"),
    Trial("18", ["--trainer.val_check_interval", "0"], "val_check_interval=0 must be"),
    Trial("19", ["--sweep.workers", "0"], "workers"),
    Trial("20", ["--sweep.only", "99"], "sweep.only=99"),
    Trial("21", ["--sweep.only", "arch=bogus"], "matches no run"),
    Trial("22", expect="bad.yaml, line 3", config="trainer:\n  max_steps: [1500\n"),
    Trial("23", expect="is empty", config=""),
    Trial("24", expect="holds a list", config="- a\n- b\n"),
    Trial("25", expect="not text", config=b"\x8f\xff\x00garbage"),
    Trial("30", ["--model.init_args.lr", "-1"], "lr=-1.0 must be >= 0"),
    Trial("31", ["--sweep.runs_dir", "{tmp}/a_file"], "a_file"),
    Trial("32", ["--sweep.runs_dir", "/proc/runs"], "/proc/runs"),
    Trial("34", sections={"sweep": {"grid": GRID_AXIS["grid"] * 2}}, expect="unique"),
    Trial("35", sections={"sweep": {"grid": [{"name": "seed", "key": "seed_everything", "values": []}]}},
          expect="sweep axis 'seed' has no values"),
    Trial("36", expect="not a valid expression", command="report",
          sections={"figure": {"claims": [{"text": "t", "holds_if": "at('lstm', 3) >"}]}}),
    Trial("37", expect="not a valid expression",
          sections={"figure": {"claims": [{"text": "t", "holds_if": "at('lstm', 3) >"}]}}),
    Trial("37b", expect="names series 'mamba'",
          sections={"figure": {"claims": [{"text": "t", "holds_if": "at('mamba', 3) > 0.5"}]}}),
    Trial("38", expect="figure.x='bogus'", command="report", sections={"figure": {"x": "bogus"}}),
    Trial("38b", expect="figure.series names 'model'", sections={"figure": {"series": ["model"]}}),
    # choice-valued arguments are typed Literal[...]: the parser names the key, the choices and the bad value
    Trial("L1", ["--config", "fig3_cpu", "--data.init_args.graph_type", "grid"],
          "graph_type: Expected a typing.Literal['binary', 'random']. Got value: grid", replication=RNNS),
    Trial("L2", ["--config", "factlookup_cpu", "--data.init_args.format", "dfs"],
          "format: Expected a typing.Literal['direct', 'retrieval']. Got value: dfs", replication=RNNS),
    Trial("L3", ["--config", "fig5_cpu", "--data.init_args.key", "middle"],
          "key: Expected a typing.Literal['prefix', 'suffix']", replication=RAM),
    Trial("L4", ["--config", "e1_cpu", "--data.init_args.order", "G-X-F"], "order: Expected a typing.Literal",
          replication=LDL),
    Trial("L5", ["--config", "e4b_cpu", "--data.init_args.eval_range", "within"],
          "eval_range: Expected a typing.Literal['exact', 'upto']", replication=LDL),
    Trial("L6", ["--config", "e1_cpu", "--data.init_args.function_kind", "random"], "function_kind: Expected",
          replication=LDL),
    Trial("38c", expect="figure.y='acc_seq@len=7' is not measured", sections={"figure": {"x": "step", "y": "acc_seq@len=7"}}),
]


@pytest.mark.parametrize("trial", TRIALS, ids=lambda t: f"trial{t.num}")
def test_bad_input_is_one_line_exit_2_and_writes_nothing(trial, tiny_config, tmp_path, capsys):
    runs = tmp_path / "runs"
    (tmp_path / "a_file").write_text("in the way")
    if trial.config is not None:
        cfg = tmp_path / "bad.yaml"
        cfg.write_bytes(trial.config if isinstance(trial.config, bytes) else trial.config.encode())
        base = ["--config", str(cfg)]
    elif "--config" in trial.args:
        base = []
    else:
        base = ["--config", str(tiny_config(**trial.sections))]
    args = [a.replace("{tmp}", str(tmp_path)) for a in trial.args]
    rc = main(trial.replication, [trial.command, *base, "--sweep.runs_dir", str(runs), *args])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert rc == 2 and len(errors) == 1, errors
    assert trial.expect in errors[0], errors[0]
    assert not runs.exists() or not any(p.is_dir() for p in runs.rglob("*-*")), "a run folder was written"


@pytest.mark.parametrize("content,expect", [(b"\xd3\x00\xff", "not text"), (None, "is a folder")],
                         ids=["trial48-binary", "trial50-folder"])
def test_an_unreadable_result_file_is_named(tiny_config, tmp_path, capsys, content, expect):
    cfg, runs = tiny_config(), tmp_path / "runs"
    assert main(TINY, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.dry_run", "true"]) == 0
    rid = next(line.split()[2] for line in capsys.readouterr().out.splitlines() if "arch=lstm" in line)
    path = runs / "repeat_after_me" / "tiny" / f"arch=lstm-{rid}" / "result.json"
    path.parent.mkdir(parents=True)
    path.mkdir() if content is None else path.write_bytes(content)
    for command in ("fit", "report"):
        assert main(TINY, [command, "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(path) in err[0] and expect in err[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_trial33_read_only_runs_dir(tiny_config, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    assert main(TINY, ["fit", "--config", str(tiny_config()), "--sweep.runs_dir", str(ro / "runs")]) == 2
    err = capsys.readouterr().err
    assert "--sweep.runs_dir" in err and str(ro) in err
