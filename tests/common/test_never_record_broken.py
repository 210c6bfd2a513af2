"""A diverged run is never recorded: no result.json, no checkpoint written after the divergence, and the
one-line error names the last good checkpoint (newcomer trial 42: lr 1e6 with fewer steps than the old
every-50-steps check wrote a result whose weights were all NaN)."""
import math

import pytest
import torch

from common.checkpoints import ResumeCheckpoint
from common.cli import main

REPLICATION = "replications.repeat_after_me"


def test_a_diverging_run_stops_before_its_result_and_keeps_a_good_checkpoint(tiny_config, tmp_path, capsys):
    cfg = tiny_config(trainer={"max_steps": 40, "val_check_interval": 2})
    runs = tmp_path / "runs"  # the LSTM at lr 1e6 diverges after its first good checkpoint
    rc = main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.only", "arch=lstm",
                            "--model.init_args.lr", "1e6", "--model.init_args.check_finite_every", "50"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    # The loss or the weights, whichever goes first (the loss's own message is tested below and in test_reliability).
    assert rc == 2 and len(err) == 1 and "non-finite" in err[0] and "lower model.init_args.lr" in err[0]
    assert not list(runs.rglob("result.json"))
    (last,) = runs.rglob("last.ckpt")
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    assert f"last good checkpoint (step {ckpt['global_step']}," in err[0]
    assert 0 < ckpt["global_step"] < 40
    assert all(torch.isfinite(w).all() for w in ckpt["state_dict"].values() if w.is_floating_point())


class _Trainer:
    sanity_checking = False

    class state:
        fn = "fit"

    def __init__(self):
        self.saved = []

    def save_checkpoint(self, path, weights_only=None):
        self.saved.append(path)


def test_the_checkpoint_callback_never_saves_a_diverged_state(tmp_path):
    """However rarely the loss flag is read during training (check_finite_every on a GPU), it is read before a save."""
    from common.lit.module import SequenceLM
    from common.models import LSTM

    module = SequenceLM(lambda v: LSTM(v, d_model=8), vocab_size=5)
    trainer, cb = _Trainer(), ResumeCheckpoint(tmp_path / "last.ckpt")
    cb.on_validation_end(trainer, module)
    assert trainer.saved == [tmp_path / "last.ckpt"]
    module._nonfinite = torch.tensor(True)  # a NaN loss folded into the flag, not yet read
    with pytest.raises(FloatingPointError, match="non-finite training loss"):
        cb.on_validation_end(trainer, module)
    module._nonfinite = torch.tensor(False)
    with torch.no_grad():
        next(module.model.parameters())[0] = math.nan
    with pytest.raises(FloatingPointError, match="non-finite weights"):
        cb.on_train_end(trainer, module)
    assert len(trainer.saved) == 1
