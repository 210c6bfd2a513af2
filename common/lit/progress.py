"""One line per validation on the terminal: step, elapsed time and the accuracies (TensorBoard has the rest)."""
from __future__ import annotations

import time

import lightning as L


class ProgressLine(L.Callback):
    def on_train_start(self, trainer, pl_module):
        self.started = time.time()

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking or not trainer.is_global_zero or not hasattr(pl_module, "last_eval"):
            return
        metrics = pl_module.last_eval.get("val", {})
        shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k.startswith("acc"))
        elapsed = time.time() - getattr(self, "started", time.time())
        print(f"step {trainer.global_step}/{trainer.max_steps} ({elapsed:.0f} s): {shown}", flush=True)
