"""A finished run comes back from its directory as the model its result file describes."""
import json
import shutil

import lightning as L
import pytest
import yaml

from common.cli import main
from common.load import load_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_dict):
    tmp = tmp_path_factory.mktemp("load")
    cfg = tmp / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_dict))
    assert main("replications.repeat_after_me", ["fit", "--config", str(cfg), "--sweep.runs_dir", str(tmp / "runs")]) == 0
    return sorted((tmp / "runs" / "repeat_after_me" / "tiny").glob("arch=*"))


def test_loaded_run_recomputes_its_recorded_test_metrics(runs):
    for run_dir in runs:
        module, data = load_run(run_dir)
        got = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).test(module, data, verbose=False)[0]
        want = json.loads((run_dir / "result.json").read_text())["final"]
        assert {k.removeprefix("test/"): v for k, v in got.items()} == {k: v for k, v in want.items() if not k.startswith("n@")}


def test_missing_directory_and_foreign_checkpoint_are_refused(runs, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        load_run(tmp_path)
    a, b = tmp_path / "a", runs[1]
    shutil.copytree(runs[0], a)
    shutil.copy(b / "checkpoints" / "last.ckpt", a / "checkpoints" / "last.ckpt")
    with pytest.raises(ValueError, match="belongs to run"):
        load_run(a)
