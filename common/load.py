"""A run's trained model and its data back from the run directory, to inspect or evaluate it.

    from common.load import load_run
    module, data = load_run("runs/rnns_not_transformers/fig3_cpu/n=8,format=cot,model=mamba-fdd3fc26d004")
    module.model        # the network (a SequenceModel here), weights of the last checkpoint
    lightning.Trainer(logger=False).test(module, data)   # the run's test metrics, recomputed

The run is rebuilt from its own ``config.yaml`` (the fully resolved config the sweep wrote) by the
builder ``fit`` uses, and the checkpoint must belong to that run (the run id stored in it is
checked), so what comes back is the model the result file describes.
"""
from __future__ import annotations

from pathlib import Path

import lightning as L
import yaml

from common.checkpoints import check_resumable
from common.config import build, parse_run
from common.lit.datamodule import SyntheticDataModule
from common.sweep import run_id


def load_run(run_dir: str | Path, checkpoint: str = "last.ckpt") -> tuple[L.LightningModule, SyntheticDataModule]:
    """(module with the checkpoint's weights, in eval mode, e.g. a SequenceLM; the run's DataModule)."""
    run_dir = Path(run_dir)
    cfg_path, ckpt_path = run_dir / "config.yaml", run_dir / "checkpoints" / checkpoint
    for path in (cfg_path, ckpt_path):
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: {run_dir} is not a run directory with that checkpoint")
    config = yaml.safe_load(cfg_path.read_text())
    ckpt = check_resumable(ckpt_path, run_id(config))
    init = build(parse_run(config, str(run_dir)))
    init.model.load_state_dict(ckpt["state_dict"])
    return init.model.eval(), init.data
