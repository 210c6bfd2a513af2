"""The paper's networks set by hand to compute parity exactly, and each figure config end to end on a tiny slice."""
import json
import math

import lightning as L
import pytest
import torch

from common.cli import main
from common.lit.classifier import BinaryClassifier
from replications.hidden_progress.data import ParityDataModule
from replications.hidden_progress.models import MLP, SinNeuron

REPLICATION = "replications.hidden_progress"


def test_sin_neuron_with_set_weights_solves_the_parity_through_the_classifier():
    """sin(pi/2 * sum_{i in S} x_i + pi) is the (n, 3)-parity: the module scores it 100% right, loss 0, no movement."""
    dm = ParityDataModule(n=10, k=3, eval_examples=512, seed=1)
    module = BinaryClassifier(SinNeuron, input_size=10, movement_of=["linear.weight"])
    with torch.no_grad():
        module.model.linear.weight.zero_()
        module.model.linear.weight[0, dm.subset] = math.pi / 2
        module.model.linear.bias.fill_(math.pi)
        module._init_0.copy_(module.model.linear.weight)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False)
    trainer.validate(module, dm, verbose=False)
    assert module.last_eval["val"]["acc@fresh"] == 1.0
    assert module.last_eval["val"]["loss@fresh"] == pytest.approx(0.0, abs=1e-6)
    assert module.last_eval["val"]["rho"] == 0.0


def test_mlp_with_set_weights_is_the_two_sparse_parity():
    """ReLU(x_a + x_b) + ReLU(-x_a - x_b) - 1 is +1 when x_a = x_b and -1 otherwise."""
    net = MLP(input_size=6, width=2)
    with torch.no_grad():
        net.hidden.weight.zero_()
        net.hidden.weight[0, [1, 4]] = 1.0
        net.hidden.weight[1, [1, 4]] = -1.0
        net.hidden.bias.zero_()
        net.out.weight.fill_(1.0)
        net.out.bias.fill_(-1.0)
    x = torch.tensor([[s1, 1, 1, 1, s2, -1] for s1 in (-1.0, 1.0) for s2 in (-1.0, 1.0)])
    assert net(x).tolist() == (x[:, 1] * x[:, 4]).tolist()
    assert SinNeuron(6)(x).shape == (4,)


@pytest.mark.slow  # plans 120 runs, then trains and evaluates one every 2 steps
def test_parity_scaling_cpu_trains_one_cell_to_99_percent_and_reports(tmp_path, capsys):
    rc = main(REPLICATION, ["fit", "--config", "parity_scaling_cpu", "--sweep.only", "k=k=2,n=10,seed=0",
                            "--sweep.runs_dir", str(tmp_path)])
    assert rc == 0
    (path,) = (tmp_path / "hidden_progress" / "parity_scaling_cpu").glob("*/result.json")
    r = json.loads(path.read_text())
    steps = [h["step"] for h in r["history"]]
    accs = [h["metrics"]["acc@fresh"] for h in r["history"]]
    assert steps == list(range(2, r["steps"] + 1, 2))  # evaluated every 2 steps for k=2
    assert accs[-1] >= 0.99 and max(accs[:-1], default=0) < 0.99  # stopped at the first success
    assert r["steps"] < 1000 and r["num_params"] == 10 * 100 + 100 + 100 + 1
    out = capsys.readouterr().out
    assert "### Log-log slopes" in out and "| k=2 |  | 0.42 |" in out  # one n: no measured slope yet
    assert "Runs finished: 1 of 120" in out


@pytest.mark.parametrize("config,only", [
    pytest.param("parity_scaling", "k=k=5,n=10,seed=0", marks=pytest.mark.slow),  # plans 400 runs
    pytest.param("width", "lr=lr=0.1,width=10,seed=0", marks=pytest.mark.slow),
    ("hidden_progress", "labels=random,seed=0")])
def test_paper_scale_configs_run_a_few_steps(config, only, tmp_path, capsys):
    rc = main(REPLICATION, ["fit", "--config", config, "--sweep.only", only, "--trainer.max_steps", "50",
                            "--sweep.runs_dir", str(tmp_path)])
    assert rc == 0
    (path,) = (tmp_path / "hidden_progress" / config).glob("*/result.json")
    r = json.loads(path.read_text())
    assert r["steps"] == 50 and r["config"]["data"]["init_args"]["eval_examples"] == 8192
    assert "paper-scale figure" in capsys.readouterr().err or torch.cuda.is_available()
