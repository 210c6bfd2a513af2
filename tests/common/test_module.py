import math

import pytest
import torch

from common.lit.module import SequenceLM, lr_factor
from common.models import Transformer


def make(**kw):
    return SequenceLM(lambda v: Transformer(v, d_model=16, n_layer=1, n_head=2), vocab_size=10, **kw)


def test_token_accuracy_is_micro_averaged_over_scored_tokens():
    m = make()
    answer = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    pred = torch.tensor([[1, 2, 3, 9], [9, 9, 7, 7]])  # row 0: 3/4 right; row 1: 0/2 right (pads ignored)
    m.generate_answers = lambda batch: pred
    m._eval_step({"prompt": torch.zeros(2, 3, dtype=torch.long), "answer": answer, "answer_mask": mask}, 0, "val")
    metrics = m._metrics("val", "set0")
    assert metrics["acc_token"].compute().item() == pytest.approx(3 / 6)  # micro: 3 of 6 tokens, not mean(3/4, 0/2)
    assert metrics["acc_seq"].compute().item() == 0.0
    assert metrics["n"].compute().item() == 2


def test_teacher_forced_eval_equals_generation_for_exact_match():
    torch.manual_seed(1)
    gen, tf = make(eval_mode="generate"), make(eval_mode="teacher_forced")
    tf.load_state_dict(gen.state_dict())
    prompt = torch.randint(0, 10, (3, 5))
    answer = gen.generate_answers({"prompt": prompt, "answer": torch.zeros(3, 6, dtype=torch.long)})
    batch = {"prompt": prompt, "answer": answer}
    assert torch.equal(tf.generate_answers(batch), answer)


def test_lr_schedule_warms_up_then_decays_to_min_ratio():
    assert lr_factor(0, 10, 100, "cosine", 0.0) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100, "cosine", 0.0) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100, "cosine", 0.0) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100, "linear", 0.1) == pytest.approx(0.1)
    assert lr_factor(55, 10, 100, "constant", 0.0) == 1.0


@pytest.mark.slow  # torch.compile's first compilation takes tens of seconds on 2 cores
def test_compiled_training_forward_matches_eager_and_keeps_parameter_names():
    torch.manual_seed(0)
    m = make(compile=True)
    x = torch.randint(0, 10, (2, 7))
    assert torch.allclose(m._train_forward(x), m.model(x), atol=1e-5)
    assert not any("_orig_mod" in k for k in m.state_dict())


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="schedule"):
        make(schedule="exp")


def test_train_loss_reaches_the_logger_every_log_every_n_steps(tmp_path):
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger

    from replications.repeat_after_me.data import CopyDataModule

    dm = CopyDataModule(alphabet=6, min_train_len=2, max_train_len=4, context_len=16, batch_size=4, eval_examples=4)
    m = SequenceLM(lambda v: Transformer(v, d_model=16, n_layer=1, n_head=2), vocab_size=dm.vocab_size)
    trainer = L.Trainer(max_steps=7, log_every_n_steps=3, logger=CSVLogger(tmp_path), limit_val_batches=0,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(m, dm)
    rows = (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    logged = [(int(r.split(",")[header.index("step")]), float(r.split(",")[header.index("train/loss")]))
              for r in rows[1:] if r.split(",")[header.index("train/loss")]]
    assert [s for s, _ in logged] == [0, 3, 6]
    assert all(math.isfinite(v) and v > 0 for _, v in logged)
