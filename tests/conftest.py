import copy
import os

# One thread per process: on a 2-core machine, several processes (DDP and CLI subprocesses, or other
# jobs) each running 2 spin-waiting threads make tests tens of times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

@pytest.fixture
def one_thread():
    """One intra-op thread for the test (tiny tensors: faster, and not stalled by other jobs on the cores);
    a module opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# A figure small enough to train in seconds: copying with a 1-layer Transformer and an LSTM.
TINY = {
    "seed_everything": 0,
    "model": {"class_path": "common.lit.SequenceLM",
              "init_args": {"model": {"class_path": "common.models.Transformer",
                                      "init_args": {"d_model": 16, "n_layer": 1, "n_head": 2}},
                            "lr": 0.003, "warmup_steps": 2, "check_finite_every": 1}},
    "data": {"class_path": "replications.repeat_after_me.data.CopyDataModule",
             "init_args": {"alphabet": 6, "min_train_len": 2, "max_train_len": 4, "context_len": 16,
                           "val_lengths": [4], "test_lengths": [3, 5], "batch_size": 4, "eval_examples": 8}},
    "trainer": {"max_steps": 4, "val_check_interval": 2, "check_val_every_n_epoch": None, "accelerator": "cpu",
                "enable_progress_bar": False, "enable_model_summary": False, "logger": False},
    "sweep": {"grid": [{"name": "arch", "values": {
        "transformer": {"model.init_args.model": {"class_path": "common.models.Transformer",
                                                  "init_args": {"d_model": 16, "n_layer": 1, "n_head": 2,
                                                                "position": "hard_alibi", "num_masked_heads": 1}}},
        "lstm": {"model.init_args.model": {"class_path": "common.models.LSTM", "init_args": {"d_model": 16}}}}}]},
    "figure": {"id": "tiny", "x": "eval:len", "y": "acc_seq", "series": ["arch"], "published_id": "fig1a",
               "scale": "cpu", "claims": [{"text": "both run", "holds_if": "at('transformer', 3) >= 0 and at('lstm', 5) >= 0"},
                                          {"text": "unmeasured length", "holds_if": "at('lstm', 99) > 0.5"}]},
}


@pytest.fixture(scope="session")
def tiny_dict():
    return copy.deepcopy(TINY)


@pytest.fixture(scope="session")
def tiny_transformer_run(tmp_path_factory):
    """Train the tiny figure's Transformer alone (no claims) for ``steps`` and return its run directory."""
    from common.cli import main as cli_main

    def train(steps: int, lr: float | None = None):
        cfg_dict = copy.deepcopy(TINY)
        cfg_dict["trainer"]["max_steps"] = steps
        if lr is not None:
            cfg_dict["model"]["init_args"]["lr"] = lr
        cfg_dict["sweep"]["grid"][0]["values"].pop("lstm")
        cfg_dict["figure"]["claims"] = []
        tmp = tmp_path_factory.mktemp("tiny_run")
        cfg = tmp / "tiny.yaml"
        cfg.write_text(yaml.safe_dump(cfg_dict))
        runs = tmp / "runs"
        assert cli_main("replications.repeat_after_me", ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 0
        (found,) = (runs / "repeat_after_me" / "tiny").glob("arch=*")
        return found

    return train


@pytest.fixture
def tiny_config(tmp_path):
    """Write the tiny figure (with optional nested overrides) to a YAML file and return its path."""

    def make(name="tiny.yaml", **sections):
        cfg = copy.deepcopy(TINY)
        for section, values in sections.items():
            if isinstance(values, dict) and isinstance(cfg.get(section), dict):
                cfg[section].update(values)
            else:
                cfg[section] = values
        path = tmp_path / name
        path.write_text(yaml.safe_dump(cfg))
        return path

    return make


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
