"""Runner of the pretrained-model figures: build prompts, generate greedily, score, write results and report.

A pretrained figure config (``pretrained/configs/*.yaml``) names the task, the x values (phone-book
entries, text length in tokens, or SQuAD paragraph-length bins), the models (label -> local folder or
hub id) and the claims. Each model's results go to ``<runs_dir>/repeat_after_me/<id>/model=<label>/
result.json`` in the layout of the synthetic runs (``final`` holds ``<metric>@len=<x>``), so the
report is built by ``common.report`` like every other figure; models not run are marked
"not run here" against the published values.
"""
from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from common import textgen
from common.figure import Claim, Figure
from common.io import atomic_write_json
from common.published import load_published
from common.report import build_report, write_report
from replications.repeat_after_me.pretrained import prompts as P
from replications.repeat_after_me.pretrained.score import score

HERE = Path(__file__).parent
REPLICATION_DIR = HERE.parent
TASKS = ("phonebook", "copy", "squad")
# The paper ran the original ``mamba_ssm`` checkpoints with its CUDA kernels in fp16; the ``-hf`` conversions
# hold the same weights for the ``transformers`` implementation. In half precision the SSM's ``A_log`` and
# ``D`` stay fp32, as ``mamba_ssm`` keeps them (a plain fp16 load would round them).
KEEP_FP32 = ("A_log", "D")


@dataclass
class PretrainedFigure:
    """One pretrained-model figure.

    Args:
        id, title, claims, xlog: as a synthetic figure's ``figure`` block.
        task: "phonebook", "copy" or "squad".
        lengths: x values: entries in the book, tokens of text, or the upper token bound of each SQuAD bin.
        per_length, batches: prompts per batch and batches per x (mean and std over batches).
        models: label -> local folder or hub id.
        tokenizer: one tokenizer for every model (the paper: EleutherAI/gpt-neox-20b); None = each its own.
        dtypes: label -> "float32" / "float16" / "bfloat16" (default float32).
        shuffle: copy task only: shuffle the tokens of each text window (Sec. 4, shuffled text).
        phone_format: phone book only: "dashed" (609-323-7777, as the paper prints the book) or "plain"
            (ten digits, as the official code writes them).
        data_file: copy: text documents (one per line, or JSON lines with "text"); squad: SQuAD-v2 JSON.
        seed: prompts are drawn from random.Random(seed, x, batch), the same for every model.
        batch_size: prompts per generate call (left-padded; 1 decodes each prompt alone).
    """

    id: str
    title: str
    task: str
    lengths: list[int]
    models: dict[str, str]
    per_length: int = 32
    batches: int = 3
    tokenizer: str | None = None
    dtypes: dict[str, str] = field(default_factory=dict)
    shuffle: bool = False
    phone_format: str = "dashed"
    data_file: str | None = None
    seed: int = 0
    batch_size: int = 1
    xlog: bool = False
    claims: list[dict] = field(default_factory=list)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r}: choose one of {TASKS}")
        if not self.lengths or not self.models or self.per_length < 1 or self.batches < 1:
            raise ValueError("a pretrained figure needs lengths, models, per_length >= 1 and batches >= 1")
        if self.phone_format not in P.PHONE_FORMATS:
            raise ValueError(f"phone_format={self.phone_format!r}: choose one of {P.PHONE_FORMATS}")

    @property
    def metric(self) -> str:
        return "f1" if self.task == "squad" else "acc"

    def figure(self) -> Figure:
        return Figure(id=self.id, title=self.title, x="eval:len", y=self.metric, series=["model"], published_id=self.id,
                      scale="paper", xlog=self.xlog, claims=[Claim(**c) for c in self.claims])


def load_config(name_or_path: str) -> PretrainedFigure:
    path = Path(name_or_path)
    if not path.exists():
        path = HERE / "configs" / (name_or_path if name_or_path.endswith(".yaml") else f"{name_or_path}.yaml")
    if not path.exists():
        names = sorted(p.stem for p in (HERE / "configs").glob("*.yaml"))
        raise FileNotFoundError(f"no pretrained config {name_or_path!r}; available: {', '.join(names)}")
    return PretrainedFigure(**yaml.safe_load(path.read_text()))


# ----- prompts -----
def read_documents(path: str) -> list[str]:
    """One document per line; JSON lines with a "text" field are unpacked."""
    docs = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            docs.append(json.loads(line)["text"] if line.lstrip().startswith("{") else line)
    return docs


def c4_documents(limit: int = 20000) -> list[str]:  # pragma: no cover - needs the hub
    """The paper's source text: the start of C4 "en" train (needs ``datasets`` and the network)."""
    from datasets import load_dataset

    return [r["text"] for r in load_dataset("allenai/c4", "en", split=f"train[:{limit}]")]


def squad_items(path: str, tokenize, bins: list[int]) -> dict[int, list[P.Prompt]]:
    """SQuAD-v2 paragraphs with >= 2 answerable questions, binned by token length (bin = upper bound).

    The first question (with its first gold answer) is the worked example, the second is asked.
    """
    data = json.loads(Path(path).read_text())["data"]
    out: dict[int, list[P.Prompt]] = {b: [] for b in bins}
    for article in data:
        for para in article["paragraphs"]:
            qas = [q for q in para["qas"] if q.get("answers") and not q.get("is_impossible", False)]
            if len(qas) < 2:
                continue
            n = len(tokenize(para["context"]))
            upper = next((b for b in sorted(bins) if n <= b), None)
            if upper is None:
                continue
            demo, ask = qas[0], qas[1]
            out[upper].append(P.squad_prompt(para["context"], demo["question"], demo["answers"][0]["text"],
                                             ask["question"], [a["text"] for a in ask["answers"]]))
    return out


def build_prompts(cfg: PretrainedFigure, tok, documents: list[str] | None = None) -> dict[int, list[list[P.Prompt]]]:
    """x -> batches -> prompts, identical for every model of the figure."""
    out: dict[int, list[list[P.Prompt]]] = {}
    tokenize = (lambda s: tok(s, add_special_tokens=False).input_ids) if tok is not None else None
    squad = squad_items(cfg.data_file, tokenize, cfg.lengths) if cfg.task == "squad" else None
    for x in cfg.lengths:
        batches = []
        for b in range(cfg.batches):
            rng = random.Random(f"{cfg.seed}/{x}/{b}")
            if cfg.task == "phonebook":
                batch = [P.phonebook_prompt(rng, x, phone_format=cfg.phone_format) for _ in range(cfg.per_length)]
            elif cfg.task == "copy":
                batch = [P.copy_prompt(P.copy_text(rng, documents, tokenize, tok.decode, x, cfg.shuffle))
                         for _ in range(cfg.per_length)]
            else:
                batch = squad[x][b * cfg.per_length:(b + 1) * cfg.per_length]
            batches.append(batch)
        out[x] = batches
    return out


GENERATION = {  # budget and stop string per task, as the official code
    "phonebook": dict(max_new_tokens=50, stop="\n"),
    "copy": dict(max_new_tokens=50, new_tokens_factor=0.5, stop="\n\n"),
    "squad": dict(max_new_tokens=200, stop="\n\n", suppress_eos_first=True),
}


def evaluate(cfg: PretrainedFigure, generate, prompts: dict[int, list[list[P.Prompt]]], eos: str | None = None) -> dict:
    """Score ``generate(prompt_texts) -> continuations`` on every prompt: mean and std over batches per x."""
    final, samples = {}, []
    for x, batches in prompts.items():
        per_batch: dict[str, list[float]] = {}
        for batch in batches:
            if not batch:
                continue
            outs = generate([p.text for p in batch])
            scores = [score(cfg.task, o, p.answers, eos) for p, o in zip(batch, outs)]
            for m in scores[0]:
                per_batch.setdefault(m, []).append(statistics.fmean(s[m] for s in scores))
            samples.append({"x": x, "prompt_tail": batch[0].text[-80:], "answers": batch[0].answers})
        for m, vals in per_batch.items():
            final[f"{m}@len={x}"] = statistics.fmean(vals)
            final[f"{m}_std@len={x}"] = statistics.pstdev(vals) if len(vals) > 1 else 0.0
            final[f"n@len={x}"] = float(sum(len(b) for b in batches))
    return {"final": final, "samples": samples[:5]}


def run_model(cfg: PretrainedFigure, label: str, runs_dir: Path, device: str = "auto", documents=None) -> dict:
    """Load one model, evaluate it on the figure's prompts, write its result.json."""
    start = time.time()
    gen = textgen.load(cfg.models[label], cfg.tokenizer, cfg.dtypes.get(label, "float32"), device,
                       keep_fp32=KEEP_FP32, batch_size=cfg.batch_size)
    model, tok = gen.model, gen.tokenizer
    if cfg.task == "copy" and documents is None:
        documents = read_documents(cfg.data_file) if cfg.data_file else c4_documents()
    prompts = build_prompts(cfg, tok, documents)
    out = evaluate(cfg, lambda texts: gen.generate(texts, **GENERATION[cfg.task]), prompts, eos=tok.eos_token)
    result = {"run_id": f"{cfg.id}-{label}", "labels": {"model": label}, "config": asdict(cfg), "final": out["final"],
              "history": [], "samples": out["samples"], "wall_time_s": round(time.time() - start, 1),
              "provenance": {"model": cfg.models[label], "device": str(model.device), "dtype": str(model.dtype)}}
    run_dir = runs_dir / "repeat_after_me" / cfg.id / f"model={label}"
    atomic_write_json(run_dir / "result.json", result)
    return result


def report(cfg: PretrainedFigure, runs_dir: Path) -> str:
    """Measured (where run) against published values and claims; unrun models are 'not run here'."""
    fig_dir = runs_dir / "repeat_after_me" / cfg.id
    results = []
    for label in cfg.models:
        p = fig_dir / f"model={label}" / "result.json"
        if p.exists():
            results.append(json.loads(p.read_text()))
    published = load_published(REPLICATION_DIR / "published.yaml")
    paper = yaml.safe_load((REPLICATION_DIR / "published.yaml").read_text()).get("paper", "")
    figure = cfg.figure()
    rep = build_report(figure, results, published, paper, expected_runs=len(cfg.models))
    for row in rep["rows"]:
        if row["status"] == "not measured":
            row["status"] = "not run here"
    return write_report(rep, figure, published, fig_dir)
