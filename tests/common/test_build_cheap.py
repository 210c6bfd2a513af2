"""Building a run makes its objects and nothing more: no evaluation set is generated, for a sequence task
(which has no ``input_size`` for the model's link) or a vector task (no ``vocab_size``)."""
from pathlib import Path

from common import cli
from common.config import build
from common.lit.datamodule import SyntheticDataModule
from replications.hidden_progress.data import ParityDataModule

ROOT = Path(__file__).parents[2]


def test_building_a_run_generates_no_evaluation_data(tiny_config, monkeypatch):
    def refuse(self, stage):
        raise AssertionError(f"{type(self).__name__} generated its {stage} sets while being built")

    for cls in (SyntheticDataModule, ParityDataModule):
        monkeypatch.setattr(cls, "eval_data", refuse)
    parity = ROOT / "replications" / "hidden_progress" / "configs" / "hidden_progress_cpu.yaml"
    for replication, config in (("replications.repeat_after_me", tiny_config()), ("replications.hidden_progress", parity)):
        parser, cfg = cli.parse(replication, ["--config", str(config)], "test")
        init = build(cli.plan_runs(parser, cfg)[0].namespace)
        assert str(init.data).startswith(f"{type(init.data).__name__}(batch_size=")
