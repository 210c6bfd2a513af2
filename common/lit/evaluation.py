"""What the project's LightningModules share at evaluation: named evaluation sets and their metrics.

A module keeps one ``ModuleDict`` of torchmetrics per ``"<stage>/<set name>"`` in ``eval_metrics``
and implements ``_eval_step(batch, dataloader_idx, stage)``; this mixin routes the validation and
test steps to it, names each dataloader after its DataModule's evaluation set, and at the end of
an evaluation computes, logs and resets every metric into ``last_eval`` (``"<metric>@<set>"``).
"""
from __future__ import annotations


class EvalSets:
    """Mixin for a ``LightningModule`` with ``eval_metrics`` and ``_eval_step``."""

    UNLOGGED = ("n",)  # bookkeeping metrics: in ``last_eval``, not in the loggers

    def _datamodule(self):
        """The attached DataModule, or None when evaluated on bare dataloaders."""
        return getattr(self._trainer, "datamodule", None) if self._trainer is not None else None

    def _eval_set_name(self, dataloader_idx: int, stage: str) -> str:
        dm = self._datamodule()
        names = dm.eval_set_names(stage) if dm is not None and hasattr(dm, "eval_set_names") else None
        return names[dataloader_idx] if names else f"set{dataloader_idx}"

    def _whole_eval_metrics(self) -> dict[str, float]:
        """Metrics of the whole model rather than of one evaluation set (none by default)."""
        return {}

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        self._eval_step(batch, dataloader_idx, "val")

    def test_step(self, batch, batch_idx, dataloader_idx=0):
        self._eval_step(batch, dataloader_idx, "test")

    def _eval_epoch_end(self, stage: str) -> None:
        results = {}
        for key, metrics in self.eval_metrics.items():
            if not key.startswith(stage + "/") or next(iter(metrics.values())).update_count == 0:
                continue
            name = key.split("/", 1)[1]
            for metric, m in metrics.items():
                results[f"{metric}@{name}"] = float(m.compute())
                m.reset()
        results.update(self._whole_eval_metrics())
        for k, v in results.items():
            if k.split("@", 1)[0] not in self.UNLOGGED:
                self.log(f"{stage}/{k}", v, add_dataloader_idx=False)
        self.last_eval = {stage: results, "step": int(self.global_step)}

    def on_validation_epoch_end(self):
        self._eval_epoch_end("val")

    def on_test_epoch_end(self):
        self._eval_epoch_end("test")
