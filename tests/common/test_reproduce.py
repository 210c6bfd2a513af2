"""``reproduce`` on a tiny synthetic paper (two CPU figures, one paper-scale figure): every CPU figure is
trained and reported in one REPORT.md, a rerun resumes (finished runs are kept), runs of all figures
share one worker pool, and bad input is one line."""
import copy
import sys

import pytest
import yaml

from common import estimate
from common import reproduce as reproduce_module
from common.cli import main

PAPER = "fakepaper_i16"


@pytest.fixture(scope="module")
def paper(tmp_path_factory, tiny_dict):
    """A replication package with figures a_cpu, b_cpu (cpu scale) and a (paper scale)."""
    root = tmp_path_factory.mktemp("paper")
    pkg = root / PAPER
    (pkg / "configs").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "published.yaml").write_text(yaml.safe_dump({"paper": "Fake et al. 2099", "values": [
        {"figure": "a", "series": "lstm", "x": 5, "y": 1.0, "source": "Fig. 1", "how": "text"}]}))
    for fid, scale in (("a_cpu", "cpu"), ("b_cpu", "cpu"), ("a", "paper")):
        cfg = copy.deepcopy(tiny_dict)
        cfg["figure"].update(id=fid, scale=scale, published_id="a", title=f"figure {fid}")
        if fid == "b_cpu":  # one run only, so the two figures differ
            cfg["sweep"]["grid"][0]["values"].pop("transformer")
            cfg["figure"]["claims"] = [{"text": "lstm runs", "holds_if": "at('lstm', 5) >= 0", "kind": "check"}]
        (pkg / "configs" / f"{fid}.yaml").write_text(yaml.safe_dump(cfg))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


def test_reproduce_trains_every_figure_of_the_scale_and_writes_one_report(paper, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(PAPER, ["reproduce", "--scale", "cpu", "--sweep.runs_dir", str(runs), "--sweep.workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 figures at cpu scale, 3 runs, 0 already finished" in out
    assert len(list((runs / PAPER / "a_cpu").glob("*/result.json"))) == 2
    assert len(list((runs / PAPER / "b_cpu").glob("*/result.json"))) == 1
    assert not (runs / PAPER / "a").exists()  # the paper-scale figure is not part of --scale cpu
    report = (runs / PAPER / "REPORT.md").read_text()
    assert report.startswith("# Fake et al. 2099: every figure at cpu scale")
    assert "runs finished: 3 of 3" in report
    assert "| a_cpu | both run | paper | holds |" in report and "| b_cpu | lstm runs | check | holds (check) |" in report
    for fid in ("a_cpu", "b_cpu"):
        assert f"## {fid} (cpu scale): figure {fid}" in report and f"![{fid}]({fid}/{fid}.png)" in report
        assert (runs / PAPER / fid / f"{fid}.png").exists()
    assert "Made with: commit" in report and "Claims: 2 holds, 1 inconclusive." in report

    before = {p: p.stat().st_mtime_ns for p in runs.rglob("result.json")}
    assert main(PAPER, ["reproduce", "--sweep.runs_dir", str(runs), "--sweep.workers", "1"]) == 0  # cpu: the default
    assert "3 runs, 3 already finished" in capsys.readouterr().out
    assert before == {p: p.stat().st_mtime_ns for p in runs.rglob("result.json")}


def test_report_scale_writes_the_paper_report_from_finished_runs_and_trains_nothing(paper, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(PAPER, ["report", "--scale", "cpu", "--sweep.runs_dir", str(runs)]) == 0
    assert "3 runs, 0 already finished" in capsys.readouterr().out
    report = (runs / PAPER / "REPORT.md").read_text()
    assert "runs finished: 0 of 3" in report and f"`python -m {PAPER} report --scale cpu` from the runs finished" in report
    assert "| b_cpu | lstm runs | check | inconclusive |" in report and "Claims: 3 inconclusive." in report
    assert not list(runs.rglob("result.json")) and not list(runs.rglob("*.ckpt"))  # nothing trained


def test_runs_of_all_figures_share_one_worker_pool_longest_first(paper, tmp_path, monkeypatch, capsys):
    seen = {}

    def pool(replication, argv, pending, total, workers):
        seen.update(pending=pending, total=total, workers=workers)

    monkeypatch.setattr(reproduce_module, "train_in_workers", pool)
    # The pool orders runs by one timed step each; fixed step times keep the test off the machine's load.
    monkeypatch.setattr(estimate, "seconds_per_step",
                        lambda model, make_batch, steps=1: 2.0 if type(model).__name__ == "Transformer" else 1.0)
    assert main(PAPER, ["reproduce", "--sweep.runs_dir", str(tmp_path), "--sweep.workers", "2"]) == 0
    assert seen["workers"] == 2 and seen["total"] == 3
    figures = [next(a for a in args if a.endswith(".yaml")).rsplit("/", 1)[-1] for _, _, args in seen["pending"]]
    assert sorted(figures) == ["a_cpu.yaml", "a_cpu.yaml", "b_cpu.yaml"]  # each run with its own figure's config
    names = [run.name for run, _, _ in seen["pending"]]
    assert names.index("arch=transformer") < names.index("arch=lstm")  # the costlier run starts first


@pytest.mark.parametrize("args,expect", [(["--scale", "gpu"], "--scale gpu: use cpu"),
                                         (["--config", "a_cpu"], "use fit --config"),
                                         (["--scale"], "--scale needs a value")])
def test_bad_reproduce_input_is_one_line(paper, tmp_path, capsys, args, expect):
    assert main(PAPER, ["reproduce", *args, "--sweep.runs_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expect in err[0]
