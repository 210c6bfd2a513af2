"""In-context retrieval (RAG) end to end on a tiny key-value task defined here.

Sequence: ``[BOS] k = v k = v ... [QUERY] k`` then the answer ``[START] k [END] v v [EOS]``: the
model asks, the retriever splices the value after ``[END]`` (target_mask False: context, never a
prediction), the model copies it.
"""
import random

import lightning as L
import pytest
import torch

from common.decoding import retrieval_generate, retrieval_generate_batch
from common.lit import SequenceLM
from common.lit.datamodule import SyntheticDataModule, eval_batches
from common.models import Hybrid, SequenceModel, Transformer
from common.tasks import Example, collate

PAD, BOS, EQ, QUERY, START, END, EOS = range(7)
KEYS, VALUES = range(7, 11), range(11, 15)
VOCAB = 15


def kv_example(rng: random.Random, n_facts: int = 3) -> Example:
    keys = rng.sample(list(KEYS), n_facts)
    values = [rng.choice(list(VALUES)) for _ in keys]
    q = rng.randrange(n_facts)
    prompt = [BOS] + [t for k, v in zip(keys, values) for t in (k, EQ, v)] + [QUERY, keys[q]]
    answer = [START, keys[q], END, values[q], values[q], EOS]
    return Example(prompt + answer, [False] * len(prompt) + [True, True, True, False, True, True], len(prompt))


def kv_retriever(seq: list[int]) -> list[int] | None:
    """After ``[START] k [END]``: the value of the fact ``k = v`` before the query."""
    if len(seq) < 3 or seq[-1] != END or seq[-3] != START:
        return None
    facts = seq[: seq.index(QUERY)]
    for i in range(1, len(facts) - 1):
        if facts[i] == EQ and facts[i - 1] == seq[-2]:
            return [facts[i + 1]]
    return [PAD]


class KVData(SyntheticDataModule):
    retriever = staticmethod(kv_retriever)

    @property
    def vocab_size(self):
        return VOCAB

    def train_example(self, rng):
        return kv_example(rng)

    def eval_sets(self, stage):
        return {"facts=3": kv_example}


class Scripted(SequenceModel):
    """Predicts the gold continuation of ``example`` while its context is a prefix of it, except at
    the retrieval slot, where it guesses a wrong value; ``PAD`` once the context leaves the gold
    sequence. Records every context it is fed (its decoding state)."""

    def __init__(self, examples: list[Example]):
        super().__init__()
        self.vocab_size = VOCAB
        self.gold = [e.tokens for e in examples]
        self.slot = [len(e.tokens) - 3 for e in examples]  # index of the retrieved value
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def _next(self, ctx: list[int]) -> int:
        for gold, slot in zip(self.gold, self.slot):
            if gold[: len(ctx)] == ctx and len(ctx) < len(gold):
                if len(ctx) == slot:  # a wrong guess of the value
                    return VALUES[0] if gold[slot] != VALUES[0] else VALUES[1]
                return gold[len(ctx)]
        return PAD

    def _logits(self, contexts):
        out = torch.full((len(contexts[0][1]), len(contexts), VOCAB), -1.0)
        for b, (before, new) in enumerate(contexts):
            for t in range(len(new)):
                out[t, b, self._next(before + new[: t + 1])] = 1.0
        return out.transpose(0, 1)

    def forward(self, idx):
        return self._logits([([], row) for row in idx.tolist()])

    def init_state(self, batch_size, device=None):
        return [[] for _ in range(batch_size)]

    def step(self, idx, state):
        rows = idx.tolist()
        logits = self._logits(list(zip(state, rows)))
        self.seen = [s + r for s, r in zip(state, rows)]
        return logits, self.seen

    def state_size(self, seq_len):
        return 0


def examples(n=4, seed=0):
    rng = random.Random(seed)
    return [kv_example(rng) for _ in range(n)]


def test_training_convention_retrieved_token_is_input_not_target():
    ex = examples(1)[0]
    slot = len(ex.tokens) - 3
    batch = collate([ex], PAD)
    assert batch["inputs"][0, slot] == ex.tokens[slot]  # the model reads it...
    # ...but never predicts it
    assert not batch["loss_mask"][0, slot - 1] and batch["targets"][0, slot - 1] == ex.tokens[slot]
    assert batch["loss_mask"][0, slot] and batch["loss_mask"][0, slot - 3]  # its copy and the query are targets


class Bumped(Transformer):
    """A Transformer whose logits at position ``bump_at`` are pushed far off (to probe the loss)."""

    bump_at: int | None = None

    def forward(self, idx):
        logits = super().forward(idx)
        if self.bump_at is not None:
            logits = logits.clone()
            logits[:, self.bump_at] += 50.0 * torch.arange(VOCAB)
        return logits


def test_loss_ignores_predictions_of_retrieved_tokens():
    ex = examples(1)[0]
    slot = len(ex.tokens) - 3
    batch = collate([ex], PAD)
    lm = SequenceLM(lambda v: Bumped(v, d_model=16, n_layer=1, n_head=2), VOCAB)
    lm.log = lambda *a, **k: None

    def loss(bump_at):
        lm.model.bump_at = bump_at
        with torch.no_grad():
            return float(lm.training_step(batch, 0))

    clean = loss(None)
    assert loss(slot - 1) == clean  # the position predicting the retrieved token: not scored
    assert loss(slot - 2) != pytest.approx(clean)  # the position predicting [END]: scored


def test_decoding_feeds_retrieved_tokens_as_context_not_predictions():
    exs = examples(4)
    model = Scripted(exs)
    prompts = torch.tensor([e.prompt for e in exs])
    rows = retrieval_generate_batch(model, prompts, 6, kv_retriever)
    assert rows == [e.answer for e in exs]  # the model copies the value it was given
    for seen, e in zip(model.seen, exs):  # the retrieved value is in the context the model read
        assert seen[len(e.tokens) - 3] == e.tokens[-3] and seen[: len(e.tokens) - 1] == e.tokens[:-1]
    # Without a retriever the model's own (wrong) guess enters the context and the copy fails.
    plain = retrieval_generate_batch(model, prompts, 6, lambda seq: None)
    assert all(r[3] != e.answer[3] for r, e in zip(plain, exs))


def test_evaluation_scores_neither_retrieved_tokens_nor_misses_them():
    exs = examples(6, seed=1)
    batch = eval_batches(exs, 6, PAD)[0]
    assert not batch["answer_mask"][:, 3].any() and batch["answer_mask"][:, [0, 1, 2, 4, 5]].all()

    class _DM:
        retriever = staticmethod(kv_retriever)

    lm = SequenceLM(lambda v: Scripted(exs), VOCAB)
    lm._trainer = type("T", (), {"datamodule": _DM()})()  # just what generate_answers reads
    pred = lm.generate_answers(batch)
    assert torch.equal(pred, batch["answer"])


def test_batched_retrieval_decoding_equals_one_row_at_a_time():
    torch.manual_seed(0)
    m = Transformer(VOCAB, d_model=16, n_layer=2, n_head=2).double().eval()
    prompts = torch.randint(0, VOCAB, (6, 5))
    trigger = lambda seq: [KEYS[0], KEYS[1]] if seq[-1] % 3 == 0 else None  # noqa: E731
    rows = retrieval_generate_batch(m, prompts, 10, trigger, stop_id=EOS)
    assert rows == [retrieval_generate(m, p.tolist(), 10, trigger, stop_id=EOS) for p in prompts]
    assert any(KEYS[0] in r for r in rows) and len({tuple(r) for r in rows}) > 1


@pytest.mark.slow
def test_tiny_fit_with_a_retriever_runs_through_lightning(tmp_path):
    dm = KVData(batch_size=8, eval_batch_size=8, eval_examples=8)
    lm = SequenceLM(lambda v: Hybrid(v, d_model=16, n_layer=1, n_head=2, mixer="gru"), dm.vocab_size,
                    lr=3e-3, warmup_steps=1)
    calls = []
    dm.retriever = lambda seq: calls.append(1) or kv_retriever(seq)
    trainer = L.Trainer(max_steps=3, val_check_interval=3, check_val_every_n_epoch=None, accelerator="cpu",
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(lm, datamodule=dm)
    assert trainer.global_step == 3 and calls
    assert 0.0 <= lm.last_eval["val"]["acc_token@facts=3"] <= 1.0 and lm.last_eval["val"]["n@facts=3"] == 8
