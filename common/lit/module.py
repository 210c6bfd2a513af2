"""SequenceLM: next-token training on task sequences, evaluated by greedy generation.

Loss is cross-entropy on the answer positions only (the task's ``loss_mask``). Evaluation
decodes greedily from each prompt and scores the generated answer: token accuracy
(micro-averaged over every scored answer token) and sequence accuracy (the whole answer
exactly right), per evaluation set (e.g. per test length).
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Literal, get_args

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric, SumMetric
from torchmetrics.classification import MulticlassAccuracy

from common.decoding import greedy_generate, retrieval_generate_batch, teacher_forced_answers
from common.lit.datamodule import exact_match  # noqa: F401  (re-exported)
from common.lit.evaluation import EvalSets
from common.lit.hooks import PlainHookName
from common.models.base import SequenceModel

# SequenceLM moves batches itself (see transfer_batch_to_device); Lightning warns at every fit that it does.
warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device`.*")

IGNORE = -100
Schedule = Literal["cosine", "linear", "constant"]
EvalMode = Literal["generate", "teacher_forced"]


class SequenceLM(PlainHookName, EvalSets, L.LightningModule):
    """Trains any ``SequenceModel`` on any task that yields prompt/answer batches.

    Args:
        model: the architecture, as a class path plus its arguments except ``vocab_size``
            (filled in from the data).
        vocab_size: set from the DataModule by the CLI.
        lr, weight_decay, betas: AdamW; the parameters the model names in ``no_weight_decay()``
            (norms, biases, embeddings by default) get no weight decay.
        warmup_steps: linear warm-up; then ``schedule`` ("cosine", "linear" or "constant")
            decays to ``min_lr_ratio * lr`` at ``trainer.max_steps``.
        eval_mode: "generate" (greedy decoding, the honest protocol) or "teacher_forced"
            (argmax of one forward pass on the gold sequence, the copying paper's code).
        check_finite_every: every step's loss is folded into a flag on the device (no sync); the
            flag is read, stopping the run with a clear error if any loss was not finite, every this
            many steps, before every checkpoint and at the end (on the CPU reading is free: every
            step). 0 reads it only before checkpoints and at the end.
        compile: run the training forward pass through ``torch.compile`` (evaluation and
            decoding stay eager, so the step-wise state paths need no recompilation).
    """

    METRICS = ("acc_token", "acc_seq", "n")  # per evaluation set: "acc_seq@<set>" (a task's score may add more)
    WHOLE_METRICS: tuple[str, ...] = ()  # once per evaluation: none

    def __init__(
        self,
        model: Callable[[int], SequenceModel],
        vocab_size: int,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.95),
        warmup_steps: int = 100,
        schedule: Schedule = "cosine",
        min_lr_ratio: float = 0.0,
        eval_mode: EvalMode = "generate",
        check_finite_every: int = 50,
        compile: bool = False,
    ):
        super().__init__()
        if schedule not in get_args(Schedule):
            raise ValueError(f"unknown schedule={schedule!r}; choose cosine, linear or constant")
        if eval_mode not in get_args(EvalMode):
            raise ValueError(f"unknown eval_mode={eval_mode!r}; choose generate or teacher_forced")
        self.save_hyperparameters(ignore=["model"])
        self.model = model(vocab_size)
        self.eval_metrics = torch.nn.ModuleDict()
        self._nonfinite: torch.Tensor | None = None  # any non-finite training loss so far (on the device)
        self._finite_until = 0  # last step at which the flag was read and clear
        # A compiled bound method, not a submodule: checkpoints keep the plain parameter names.
        self._train_forward = torch.compile(self.model.forward) if compile else self.model.forward

    # ----- training -----
    def forward(self, idx):
        return self.model(idx)

    def training_step(self, batch, batch_idx):
        logits = self._train_forward(batch["inputs"])
        targets = batch["targets"].masked_fill(~batch["loss_mask"], IGNORE)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)
        self._log_train_loss(loss)
        bad = ~torch.isfinite(loss.detach())
        self._nonfinite = bad if self._nonfinite is None else self._nonfinite | bad
        every = self.hparams.check_finite_every
        if loss.device.type == "cpu" or (every and self.global_step % every == 0):
            self.check_finite()
        return loss

    def check_finite(self, weights: bool = False) -> None:
        """Raise FloatingPointError if a training loss since the start (or, with ``weights``, a parameter) is not finite.

        One host sync; called by ``training_step`` (see ``check_finite_every``), before every
        checkpoint and before a result is written, so neither is ever made from a diverged model.
        """
        step = int(self.global_step)
        if self._nonfinite is not None and bool(self._nonfinite):
            when = f"at step {step}" if step == self._finite_until else f"between steps {self._finite_until} and {step}"
            raise FloatingPointError(f"non-finite training loss {when}; lower model.init_args.lr, set "
                                     "trainer.gradient_clip_val, or use fp32")
        self._finite_until = step
        if weights:
            bad = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
            if bad:
                raise FloatingPointError(f"non-finite weights at step {step} ({', '.join(bad[:3])}); lower "
                                         "model.init_args.lr, set trainer.gradient_clip_val, or use fp32")

    def _log_train_loss(self, loss: torch.Tensor) -> None:
        """``train/loss`` to the loggers every ``trainer.log_every_n_steps`` steps, at step ``global_step``.

        Written straight to the loggers rather than through ``self.log``, whose bookkeeping costs
        about 0.5 ms a step (5% of a small LSTM's step on a CPU); one host sync per logged step.
        """
        if self._trainer is None or not self.loggers:
            return
        every = self.trainer.log_every_n_steps
        if every and self.global_step % every == 0:
            value = float(loss.detach())
            for logger in self.loggers:
                logger.log_metrics({"train/loss": value}, step=self.global_step)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        """Batches are flat dicts of tensors: move them directly (Lightning's generic walk costs ~0.3 ms a step)."""
        if isinstance(batch, dict) and all(isinstance(v, torch.Tensor) for v in batch.values()):
            return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def configure_callbacks(self):
        from common.lit.progress import ProgressLine
        # Once per trainer: fit adds it, and test would otherwise log that it "overrides" the first one.
        return [] if any(isinstance(c, ProgressLine) for c in self.trainer.callbacks) else [ProgressLine()]

    def configure_optimizers(self):
        decay, no_decay, skip = [], [], self.model.no_weight_decay()
        for name, p in self.model.named_parameters():
            if p.requires_grad:
                (no_decay if name in skip else decay).append(p)
        hp = self.hparams
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=hp.lr, betas=tuple(hp.betas),
        )
        total = int(self.trainer.max_steps) if self._trainer is not None and self.trainer.max_steps > 0 else None
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: lr_factor(s, hp.warmup_steps, total, hp.schedule, hp.min_lr_ratio))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ----- evaluation -----
    def _metrics(self, stage: str, name: str):
        key = f"{stage}/{name}"
        if key not in self.eval_metrics:  # ModuleDict keys may not contain '.'
            self.eval_metrics[key.replace(".", "_")] = torch.nn.ModuleDict({
                "acc_token": MulticlassAccuracy(num_classes=self.hparams.vocab_size, average="micro", ignore_index=IGNORE),
                "acc_seq": MeanMetric(),
                "n": SumMetric(),
            }).to(self.device)
        return self.eval_metrics[key.replace(".", "_")]

    def generate_answers(self, batch) -> torch.Tensor:
        """Predicted answer tokens (B, A) for a batch of equal-length prompts."""
        prompt, answer = batch["prompt"], batch["answer"]
        if self.hparams.eval_mode == "teacher_forced":
            return teacher_forced_answers(self.model, prompt, answer)
        dm = self._datamodule()
        retriever = dm.retriever if dm is not None else None
        if retriever is not None:  # retrieved tokens land in ``out`` too; answer_mask leaves them unscored
            rows = retrieval_generate_batch(self.model, prompt, answer.shape[1], retriever)
            out = torch.full_like(answer, IGNORE)
            for i, r in enumerate(rows):
                out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            return out
        return greedy_generate(self.model, prompt, answer.shape[1])

    def _eval_step(self, batch, dataloader_idx: int, stage: str):
        pred = self.generate_answers(batch)
        dm = self._datamodule()
        # A task's score may return a third item: {metric name: per-example score} logged beside acc_seq.
        scored = dm.score(pred, batch) if dm is not None else exact_match(pred, batch["answer"], batch["answer_mask"])
        seq_ok, extra = scored[1], (scored[2] if len(scored) > 2 else {})  # token accuracy: from pred below
        m = self._metrics(stage, self._eval_set_name(dataloader_idx, stage))
        for name, values in extra.items():
            if name not in m:
                m[name] = MeanMetric().to(self.device)
            m[name].update(values.float())
        mask = batch["answer_mask"]
        m["acc_token"].update(pred.masked_fill(~mask, 0), batch["answer"].masked_fill(~mask, IGNORE))
        m["acc_seq"].update(seq_ok.float())
        m["n"].update(torch.tensor(float(seq_ok.numel()), device=self.device))


def lr_factor(step: int, warmup: int, total: int | None, schedule: str, min_ratio: float) -> float:
    """Multiplier of the base lr: linear warm-up, then cosine/linear decay to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant" or total is None or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
    return min_ratio + (1 - min_ratio) * shape
