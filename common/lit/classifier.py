"""BinaryClassifier: online SGD on ±1-labelled vectors, for the papers whose models are not sequence models.

Batches are ``{"x": (B, n) float, "y": (B,) ±1}``; the model maps ``x`` to one real score per row
and predicts its sign. Training is plain SGD, ``θ ← (1 − lr·weight_decay)θ − lr·∇loss``, at a constant
rate, with the hinge loss ``max(0, 1 − y f)`` or the logistic (binary cross-entropy) loss
``log(1 + exp(−y f))``. Evaluation reports, per evaluation set, accuracy and loss, and once per
evaluation the weight movement ``‖θ_t − θ_0‖_∞`` of the parameters named by ``movement_of`` (a
hidden-progress measure: it can grow while loss and accuracy sit flat).
"""
from __future__ import annotations

from typing import Callable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from common.lit.evaluation import EvalSets
from common.lit.hooks import PlainHookName
from common.models.base import Network

LOSSES = ("hinge", "logistic")


def margin_loss(score: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-example hinge or logistic loss of scores ``score`` against ±1 labels ``y``."""
    margin = y * score
    if kind == "hinge":
        return F.relu(1 - margin)
    if kind == "logistic":
        return F.softplus(-margin)
    raise ValueError(f"unknown loss={kind!r}; choose one of {', '.join(LOSSES)}")


class BinaryClassifier(PlainHookName, EvalSets, L.LightningModule):
    """Trains any ``Network`` that maps (B, n) inputs to (B,) scores on ±1 labels with plain SGD.

    Args:
        model: the architecture, as a class path plus its arguments except ``input_size``
            (filled in from the data).
        input_size: set from the DataModule by the CLI (the length n of an input vector).
        lr: SGD step size (constant).
        weight_decay: λ of the update above (0: none, the paper's online setting).
        loss: "hinge" or "logistic".
        movement_of: names (or name prefixes) of the parameters whose movement ``‖θ_t − θ_0‖_∞`` is
            logged as ``rho``; empty: all parameters.
    """

    METRICS = ("acc", "loss")  # per evaluation set: "acc@<set>"
    WHOLE_METRICS = ("rho",)  # once per evaluation

    def __init__(self, model: Callable[[int], Network], input_size: int, lr: float = 0.1,
                 weight_decay: float = 0.0, loss: str = "hinge", movement_of: Sequence[str] = ()):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"unknown loss={loss!r}; choose one of {', '.join(LOSSES)}")
        self.save_hyperparameters(ignore=["model"])
        self.model = model(input_size)
        chosen = [n for n, _ in self.model.named_parameters()
                  if not movement_of or any(n.startswith(p) for p in movement_of)]
        if not chosen:
            names = ", ".join(n for n, _ in self.model.named_parameters())
            raise ValueError(f"movement_of={list(movement_of)} names no parameter; parameters: {names}")
        self._moved = chosen
        # The initial weights, saved in checkpoints so that a resumed run measures movement from the same start.
        for i, name in enumerate(chosen):
            self.register_buffer(f"_init_{i}", self.model.get_parameter(name).detach().clone())
        self.eval_metrics = nn.ModuleDict()
        self._nonfinite = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    # ----- training -----
    def training_step(self, batch, batch_idx):
        loss = margin_loss(self.model(batch["x"]), batch["y"], self.hparams.loss).mean()
        if not torch.isfinite(loss.detach()):
            self._nonfinite = True
            self.check_finite()
        if self._trainer is not None and self.loggers and self.trainer.log_every_n_steps \
                and self.global_step % self.trainer.log_every_n_steps == 0:
            for logger in self.loggers:
                logger.log_metrics({"train/loss": float(loss.detach())}, step=self.global_step)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.model.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def check_finite(self, weights: bool = False) -> None:
        """Raise FloatingPointError after a non-finite training loss (or, with ``weights``, parameter)."""
        if self._nonfinite:
            raise FloatingPointError(f"non-finite training loss by step {int(self.global_step)}; lower "
                                     "model.init_args.lr")
        if weights:
            bad = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
            if bad:
                raise FloatingPointError(f"non-finite weights at step {int(self.global_step)} ({', '.join(bad[:3])}); "
                                         "lower model.init_args.lr")

    def movement(self) -> float:
        """‖θ_t − θ_0‖_∞ over the parameters named by ``movement_of``."""
        return max(float((self.model.get_parameter(n).detach() - getattr(self, f"_init_{i}")).abs().max())
                   for i, n in enumerate(self._moved))

    # ----- evaluation -----
    def _eval_step(self, batch, dataloader_idx: int, stage: str):
        score = self.model(batch["x"])
        key = f"{stage}/{self._eval_set_name(dataloader_idx, stage)}"
        if key not in self.eval_metrics:
            self.eval_metrics[key] = nn.ModuleDict({"acc": MeanMetric(), "loss": MeanMetric()}).to(self.device)
        m = self.eval_metrics[key]
        # A score of exactly 0 has no sign: counted wrong, so an untrained all-zero model is at chance or below.
        m["acc"].update((torch.sign(score) == batch["y"]).float())
        m["loss"].update(margin_loss(score, batch["y"], self.hparams.loss))

    def _whole_eval_metrics(self) -> dict[str, float]:
        return {"rho": self.movement()}
