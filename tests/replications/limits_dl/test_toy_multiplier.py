"""The toy multiplier: its tokenizer round-trips what the harness parses, training keeps the
harness's problems out, and a tiny trained model saved with ``save_pretrained`` runs through the
harness's hf adapter with the same completions as a one-prompt-at-a-time greedy decode (batching,
left padding and the export change nothing), with the paper's numbers beside it in the report ``common.report`` writes."""
import random

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from replications.limits_dl import multiplication  # noqa: E402
from replications.limits_dl.llm import protocol as P  # noqa: E402
from replications.limits_dl.llm import run as R  # noqa: E402
from replications.limits_dl.llm import toy_multiplier as T  # noqa: E402
from replications.limits_dl.llm.hf_adapter import HFLocalModel  # noqa: E402
from replications.limits_dl.llm.interface import GenerationConfig  # noqa: E402


@pytest.mark.parametrize("scratchpad", [False, True])
def test_tokenizer_round_trips_what_the_parser_reads(scratchpad):
    tok, rng = T.build_tokenizer(), random.Random(1)
    for _ in range(50):
        a, b = multiplication.sample_operands(rng, rng.randint(1, 4), rng.randint(1, 3))
        prob = multiplication.MultiplicationProblem(a, b)
        assert tok.unk_token_id not in tok(prob.prompt_text())["input_ids"]
        text = tok.decode(tok(T.completion(a, b, scratchpad))["input_ids"] + [tok.eos_token_id],
                          skip_special_tokens=True)
        assert text == T.completion(a, b, scratchpad) and prob.check(text)
    assert T.completion(12, 34, True) == "48+360=408"


def test_training_batches_never_contain_excluded_problems():
    tok = T.build_tokenizer()
    keep = (3, 4)
    exclude = {(a, b) for a in range(10) for b in range(10)} - {keep}
    batch = T.make_batch(tok, random.Random(0), [(1, 1)], 16, False, exclude)
    for ids, labels in zip(batch["input_ids"], batch["labels"]):
        answer = [int(t) for t, lab in zip(ids, labels) if lab != T.IGNORE]
        assert tok.decode(answer, skip_special_tokens=True) == "12"


def _greedy(model, tok, prompt: str, max_tokens: int) -> str:
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    new = []
    with torch.no_grad():
        for _ in range(max_tokens):
            nxt = int(model(ids).logits[0, -1].argmax())
            new.append(nxt)
            if nxt == tok.eos_token_id:
                break
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return tok.decode(new, skip_special_tokens=True)


def test_tiny_trained_model_runs_through_the_harness(tmp_path, capsys):
    ckpt = tmp_path / "toy"
    summary = T.train(ckpt, scratchpad=True, sizes=[(2, 2)], steps=4, batch_size=8, warmup=2, log_every=0,
                      model_kw={"n_embd": 16, "n_layer": 1, "n_head": 2})
    assert summary["steps"] == 4 and (ckpt / "config.json").exists() and (ckpt / "training.json").exists()
    hf = HFLocalModel(str(ckpt), batch_size=5, name="toy")
    res = P.evaluate(hf, "multiplication:2x2", samples=7, runs=1, seed=3, config=GenerationConfig(max_tokens=6))
    for rec in res["records"]:  # batched, left-padded harness decode == one prompt at a time
        assert rec["completion"] == _greedy(hf.model, hf.tok, rec["prompt"], 6)
    assert R.main(["--adapter", "hf", "--path", str(ckpt), "--model", "toy", "--task", "multiplication:2x2",
                   "--samples", "3", "--runs", "1", "--max-tokens", "6", "--out", str(tmp_path / "out")]) == 0
    report = (tmp_path / "out" / "report.md").read_text()  # through common.report, like every figure
    assert "| toy | multiplication:2x2 |" in report and "Runs finished: 1 of 1" in report
    assert "| GPT-4 | 0.270 / not run |" in report and "| Jamba | 0.170 / not run |" in report
    assert (tmp_path / "out" / "report.csv").exists() and (tmp_path / "out" / "llm.png").exists()
