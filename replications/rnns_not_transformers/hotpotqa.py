"""HotpotQA (Yang et al., 2018): the paper's natural-language test of in-context retrieval (Fig. 6 of
arXiv 2402.18510, rev. 2024-12-10). Not run here (pretrained models and the data set are needed).

The paper evaluates Phi-1.5 and Mamba / hybrid models distilled from it on 350 validation questions
that every model answers given only the two needed paragraphs, with n = 2, 4, 6, 8 paragraphs in the
context: in random order ("Retrieval Required") or with the needed ones last ("Retrieval Free").

- ``load_hotpotqa``: the official distractor-setting JSON (``hotpot_dev_distractor_v1.json``).
- ``panel_paragraphs`` / ``panel_prompt`` / ``run_fig6``: Fig. 6's two panels at each n, for any
  ``generate(prompt) -> str`` callables (``hf_generator`` wraps a Hugging Face causal LM);
  ``fig6_report`` prints the 24 published values beside whatever was measured.
- ``build_prompt`` with settings ``gold``, ``distractor`` (all ten) and ``retrieval`` (two hops of
  ``RegexRetriever`` search) [OURS]; ``exact_match`` / ``f1`` with the standard normalisation;
  ``answerable_subset`` is the paper's filter.

The prompt format (the paper uses 4-shot CoT prompting) is ours: a plain one, documented here.
Tested offline on stand-in data, including the whole Fig. 6 pipeline on a tiny local model.
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


def hf_generator(model_name: str, max_new_tokens: int = 16, device: str = "auto") -> Callable[[str], str]:
    """Greedy ``generate(prompt)`` of a pretrained causal LM (hub id or local folder) through
    ``common.textgen`` (needs the optional extra: ``pip install -e ".[pretrained]"``)."""
    from common.textgen import load

    gen = load(model_name, device=device)
    return lambda prompt: gen.generate([prompt], max_new_tokens, skip_special_tokens=True)[0]


# ----- Fig. 6: accuracy against the number of paragraphs, both panels -----------------------------------

PANELS = {"required": "Retrieval Required: the paragraphs in random order",
          "free": "Retrieval Free: the two needed paragraphs last"}


def panel_paragraphs(ex: HotpotExample, n: int, panel: str, seed: int = 0) -> tuple[Paragraph, ...]:
    """Fig. 6's context: the needed (gold) paragraphs plus the first ``n - len(gold)`` distractors, in an
    order fixed by (seed, question id) for ``required``, or distractors first and the gold last for ``free``."""
    import random

    if panel not in PANELS:
        raise ValueError(f"unknown panel {panel!r}; choose one of {tuple(PANELS)}")
    distractors = [p for p in ex.paragraphs if p.title not in ex.gold_titles]
    if n < len(ex.gold) or n - len(ex.gold) > len(distractors):
        raise ValueError(f"question {ex.id} has {len(ex.gold)} gold and {len(distractors)} other paragraphs; n={n}")
    chosen = distractors[: n - len(ex.gold)]
    if panel == "free":
        return tuple(chosen) + ex.gold
    mixed = list(chosen) + list(ex.gold)
    random.Random(f"{seed}/{ex.id}").shuffle(mixed)
    return tuple(mixed)


def panel_prompt(ex: HotpotExample, n: int, panel: str, seed: int = 0) -> str:
    ctx = "\n".join(f"{p.title}: {p.text}" for p in panel_paragraphs(ex, n, panel, seed))
    return f"{ctx}\n\nQuestion: {ex.question}\nAnswer:"


def run_fig6(generates: dict[str, Callable[[str], str]], examples: list[HotpotExample],
             ns: Iterable[int] = (2, 4, 6, 8), seed: int = 0) -> list[dict]:
    """Exact-match accuracy of each model in each panel at each n, as result records ``report`` reads
    (labels panel / model / n, final ``acc``)."""
    out = []
    for panel in PANELS:
        for model, generate in generates.items():
            for n in ns:
                hits = [exact_match(first_line(generate(panel_prompt(ex, n, panel, seed))), ex.answer) for ex in examples]
                if not hits:
                    raise ValueError("no examples to evaluate")
                out.append({"labels": {"panel": panel, "model": model, "n": str(n)}, "history": [],
                            "final": {"acc": sum(hits) / len(hits), "questions": len(hits)}})
    return out


def fig6_report(results: list[dict], published_path: str | Path | None = None) -> str:
    """Fig. 6's 24 published values beside whatever was measured (cells without a measurement say
    "not run"), both panels, n = 2, 4, 6, 8; models are named transformer / hybrid / rnn as in the paper."""
    from common.figure import Figure
    from common.published import load_published
    from common.report import build_report, render_markdown

    path = Path(published_path) if published_path else Path(__file__).parent / "published.yaml"
    figure = Figure(id="fig6", title="HotpotQA: accuracy against the number of paragraphs", x="axis:n", y="acc",
                    series=["panel", "model"], scale="paper")
    report = build_report(figure, results, load_published(path), "Wen, Dang, Lyu, ICLR 2025",
                          expected_runs=len(results))
    return render_markdown(report, figure)
