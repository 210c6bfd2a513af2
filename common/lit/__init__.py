"""Lightning glue: the sequence LightningModule and the synthetic DataModule base."""
from common.lit.datamodule import SyntheticDataModule
from common.lit.module import SequenceLM

__all__ = ["SequenceLM", "SyntheticDataModule"]
