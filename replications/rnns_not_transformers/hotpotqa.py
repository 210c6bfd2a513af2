"""HotpotQA (Yang et al., 2018): the paper's natural-language test of in-context retrieval. Not run here.

The ICLR version evaluates pretrained language models on a subset of 350 validation questions that
every compared model answers correctly when given only the gold paragraphs; the question is then
how much accuracy each model keeps when the gold paragraphs sit among distractors, with and without
retrieval (the paper names Python's ``re`` among its tools). Which models, the prompt and the
retrieval protocol were not retrieved; this module fixes a plain, documented version [OURS]:

- ``load_hotpotqa``: the official distractor-setting JSON (``hotpot_dev_distractor_v1.json``: a list
  of records with ``_id``, ``question``, ``answer``, ``supporting_facts`` and ``context`` =
  [[title, [sentences]], ...]).
- ``build_prompt``: settings ``gold`` (supporting paragraphs only), ``distractor`` (all ten, in the
  file's order) and ``retrieval`` (two hops of ``RegexRetriever`` search: the paragraph the
  question's terms match, then the one the entities of that paragraph match).
- ``exact_match`` / ``f1``: the standard answer normalisation (lower case, no punctuation, articles
  or extra spaces).
- ``answerable_subset`` and ``evaluate`` take any ``generate(prompt) -> str`` callable, so a
  pretrained model plugs in without this module importing a model library.

Tested offline on a small stand-in file; the README marks the HotpotQA rows "not run here" (it needs
the data set and pretrained models, and no published number of it was retrieved).
"""
from __future__ import annotations

import json
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

SETTINGS = ("gold", "distractor", "retrieval")
STOPWORDS = frozenset("a an the of in on at to for by with from and or is was were are be been what which who whom "
                      "whose when where why how did does do that this these those as it its than".split())


@dataclass(frozen=True)
class Paragraph:
    title: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(s.strip() for s in self.sentences)


@dataclass(frozen=True)
class HotpotExample:
    id: str
    question: str
    answer: str
    paragraphs: tuple[Paragraph, ...]
    gold_titles: tuple[str, ...]

    @property
    def gold(self) -> tuple[Paragraph, ...]:
        return tuple(p for p in self.paragraphs if p.title in self.gold_titles)


def parse_record(rec: dict) -> HotpotExample:
    """One record of the official JSON; fails with the missing key named."""
    for key in ("_id", "question", "answer", "supporting_facts", "context"):
        if key not in rec:
            raise ValueError(f"HotpotQA record {rec.get('_id', '?')!r} lacks {key!r}")
    paragraphs = tuple(Paragraph(title, tuple(sents)) for title, sents in rec["context"])
    titles = [p.title for p in paragraphs]
    gold = tuple(dict.fromkeys(title for title, _ in rec["supporting_facts"]))
    missing = [t for t in gold if t not in titles]
    if missing:
        raise ValueError(f"HotpotQA record {rec['_id']!r}: supporting titles {missing} not in its context")
    return HotpotExample(rec["_id"], rec["question"], rec["answer"], paragraphs, gold)


def load_hotpotqa(path: str | Path, limit: int | None = None) -> list[HotpotExample]:
    """Examples of an official HotpotQA JSON file (distractor or fullwiki format), in file order."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of HotpotQA records")
    return [parse_record(r) for r in data[:limit]]


def query_terms(question: str) -> list[str]:
    """Content words and capitalised phrases of a question: what a model would search for."""
    words = [w for w in re.findall(r"[\w'\-]+", question) if w.lower() not in STOPWORDS and len(w) > 2]
    return list(dict.fromkeys(capitalised_phrases(question) + words))


def capitalised_phrases(text: str) -> list[str]:
    """Runs of capitalised words ("Blue Rondo", "Dave Brubeck"): the entities a search would name."""
    runs = re.findall(r"[A-Z][\w'\-]*(?:\s+[A-Z][\w'\-]*)*", text)
    return list(dict.fromkeys(r for r in runs if r.lower() not in STOPWORDS))


class RegexRetriever:
    """In-context retrieval over a question's paragraphs with ``re``: a paragraph matches a query when
    the query occurs in its title or text as whole words, case-insensitively."""

    def __init__(self, paragraphs: Iterable[Paragraph]):
        self.paragraphs = tuple(paragraphs)

    def search(self, query: str) -> list[Paragraph]:
        pat = re.compile(rf"(?<!\w){re.escape(query.strip())}(?!\w)", re.IGNORECASE)
        return [p for p in self.paragraphs if query.strip() and (pat.search(p.title) or pat.search(p.text))]

    def hits(self, queries: Iterable[str]) -> Counter:
        """Per paragraph title, how many of the queries match it."""
        count = Counter()
        for q in queries:
            for p in self.search(q):
                count[p.title] += 1
        return count

    def multi_hop(self, question: str, hops: int = 2) -> list[Paragraph]:
        """One paragraph per hop: the first is the one the question's terms match most; each next one
        is matched most by the entities of the paragraphs found so far (then by the question's terms),
        so a bridge entity absent from the question is still reached. Ties go to context order."""
        terms, found = query_terms(question), []
        order = {p.title: i for i, p in enumerate(self.paragraphs)}
        by_title = {p.title: p for p in self.paragraphs}
        for _ in range(min(hops, len(self.paragraphs))):
            q_hits = self.hits(terms)
            bridge = self.hits(e for p in found for e in capitalised_phrases(p.title + ". " + p.text))
            left = [t for t in order if t not in {p.title for p in found} and (q_hits[t] or bridge[t])]
            if not left:
                break
            found.append(by_title[min(left, key=lambda t: (-bridge[t], -q_hits[t], order[t]))])
        return sorted(found, key=lambda p: order[p.title])


def context_paragraphs(ex: HotpotExample, setting: str, k: int = 2) -> tuple[Paragraph, ...]:
    """The paragraphs a prompt shows: the gold ones, all of them, or the ``k`` found by regex search."""
    if setting == "gold":
        return ex.gold
    if setting == "distractor":
        return ex.paragraphs
    if setting == "retrieval":
        return tuple(RegexRetriever(ex.paragraphs).multi_hop(ex.question, k))
    raise ValueError(f"unknown setting {setting!r}; choose one of {SETTINGS}")


def build_prompt(ex: HotpotExample, setting: str, k: int = 2) -> str:
    """Paragraphs (title: text), then the question, then ``Answer:``."""
    ctx = "\n".join(f"{p.title}: {p.text}" for p in context_paragraphs(ex, setting, k))
    return f"{ctx}\n\nQuestion: {ex.question}\nAnswer:"


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction: str, gold: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(gold)


def f1(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def first_line(text: str) -> str:
    """A model's answer: its continuation up to the first newline."""
    return text.strip().split("\n", 1)[0].strip()


def evaluate(generate: Callable[[str], str], examples: Iterable[HotpotExample], setting: str, k: int = 2) -> dict:
    """Exact match and F1 of ``generate`` on ``examples`` in ``setting`` (means over examples)."""
    em = f = n = 0
    for ex in examples:
        pred = first_line(generate(build_prompt(ex, setting, k)))
        em += exact_match(pred, ex.answer)
        f += f1(pred, ex.answer)
        n += 1
    if n == 0:
        raise ValueError("no examples to evaluate")
    return {"em": em / n, "f1": f / n, "n": n, "setting": setting}


def answerable_subset(generates: dict[str, Callable[[str], str]], examples: Iterable[HotpotExample],
                      size: int | None = 350) -> list[HotpotExample]:
    """The paper's filter: questions every model answers exactly given only the gold paragraphs
    (the first ``size`` of them, in file order)."""
    keep = []
    for ex in examples:
        prompt = build_prompt(ex, "gold")
        if all(exact_match(first_line(g(prompt)), ex.answer) for g in generates.values()):
            keep.append(ex)
            if size is not None and len(keep) == size:
                break
    return keep


def hf_generator(model_name: str, max_new_tokens: int = 16, device: str | None = None) -> Callable[[str], str]:
    """Greedy ``generate(prompt)`` of a pretrained causal LM from Hugging Face ``transformers``
    (not a dependency of this package: install it to run the experiment)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the HotpotQA experiment needs `pip install transformers`") from e
    tok = AutoTokenizer.from_pretrained(model_name)
    model = AutoModelForCausalLM.from_pretrained(model_name).eval()
    if device:
        model.to(device)

    @torch.no_grad()
    def generate(prompt: str) -> str:
        ids = tok(prompt, return_tensors="pt").to(model.device)
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
        return tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)

    return generate
