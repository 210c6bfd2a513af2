"""HotpotQA loading, prompts, regex retrieval and scoring, offline on a small stand-in file in the official format."""
from __future__ import annotations

import json

import pytest

from replications.rnns_not_transformers import hotpotqa as hq

RECORDS = [
    {"_id": "q1", "question": "Which city is the birthplace of the composer of Blue Rondo?", "answer": "Concord",
     "type": "bridge", "level": "hard",
     "supporting_facts": [["Blue Rondo", 0], ["Dave Brubeck", 1]],
     "context": [["Cheese", ["Cheese is a dairy product.", " It is old."]],
                 ["Blue Rondo", ["Blue Rondo is a piece by Dave Brubeck."]],
                 ["Oslo", ["Oslo is a city in Norway."]],
                 ["Dave Brubeck", ["Dave Brubeck was a pianist.", " He was born in Concord, California."]]]},
    {"_id": "q2", "question": "Are Oslo and Bergen both in Norway?", "answer": "yes", "type": "comparison",
     "level": "easy", "supporting_facts": [["Oslo", 0], ["Bergen", 0], ["Oslo", 0]],
     "context": [["Bergen", ["Bergen is a city in Norway."]], ["Lima", ["Lima is in Peru."]],
                 ["Oslo", ["Oslo is the capital of Norway."]]]},
]


@pytest.fixture
def standin(tmp_path):
    path = tmp_path / "hotpot_dev_distractor_standin.json"
    path.write_text(json.dumps(RECORDS))
    return path


def test_loader_reads_the_official_format(standin):
    exs = hq.load_hotpotqa(standin)
    assert [e.id for e in exs] == ["q1", "q2"]
    assert exs[0].gold_titles == ("Blue Rondo", "Dave Brubeck") and exs[1].gold_titles == ("Oslo", "Bergen")
    assert [p.title for p in exs[0].gold] == ["Blue Rondo", "Dave Brubeck"]  # context order
    assert exs[0].paragraphs[3].text == "Dave Brubeck was a pianist. He was born in Concord, California."
    assert len(hq.load_hotpotqa(standin, limit=1)) == 1


def test_loader_rejects_malformed_records(tmp_path):
    bad = dict(RECORDS[0], supporting_facts=[["Nowhere", 0]])
    (tmp_path / "a.json").write_text(json.dumps([bad]))
    with pytest.raises(ValueError, match="Nowhere"):
        hq.load_hotpotqa(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps([{k: v for k, v in RECORDS[0].items() if k != "answer"}]))
    with pytest.raises(ValueError, match="answer"):
        hq.load_hotpotqa(tmp_path / "b.json")


def test_prompts_per_setting(standin):
    ex = hq.load_hotpotqa(standin)[0]
    gold = hq.build_prompt(ex, "gold")
    assert "Dave Brubeck:" in gold and "Cheese" not in gold and gold.endswith(f"Question: {ex.question}\nAnswer:")
    assert all(p.title in hq.build_prompt(ex, "distractor") for p in ex.paragraphs)
    with pytest.raises(ValueError, match="setting"):
        hq.build_prompt(ex, "oracle")


def words(text: str) -> str:
    return " " + "".join(c if c.isalnum() or c in "'-" else " " for c in text.lower()) + " "


def test_regex_retriever_equals_a_plain_scan_of_the_paragraphs(standin):
    for ex in hq.load_hotpotqa(standin):
        r = hq.RegexRetriever(ex.paragraphs)
        for q in hq.query_terms(ex.question) + ["city", "Norway", "is", "zzz", "Brubeck was"]:
            plain = [p for p in ex.paragraphs if any(f" {q.lower()} " in words(x) for x in (p.title, p.text))]
            assert [p.title for p in r.search(q)] == [p.title for p in plain], q
    q1, q2 = hq.load_hotpotqa(standin)
    # The bridge paragraph (Dave Brubeck) is not named in the question: the second hop finds it.
    assert [p.title for p in hq.context_paragraphs(q1, "retrieval")] == ["Blue Rondo", "Dave Brubeck"]
    assert [p.title for p in hq.context_paragraphs(q1, "retrieval", k=1)] == ["Blue Rondo"]
    assert {p.title for p in hq.context_paragraphs(q2, "retrieval")} == {"Oslo", "Bergen"}


def test_answer_normalisation_exact_match_and_f1():
    assert hq.exact_match("The  Concord!", "concord") and not hq.exact_match("Concord, CA", "Concord")
    assert hq.f1("Concord California", "Concord") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert hq.f1("Oslo", "Bergen") == 0.0 and hq.f1("", "") == 1.0


def reader(prompt: str) -> str:
    """A stand-in model: answers only when the paragraph holding the answer is in its prompt."""
    if "born in Concord" in prompt:
        return " Concord\nQuestion: ..."
    if "Bergen:" in prompt and "Oslo:" in prompt:
        return "yes"
    return "unknown"


def test_evaluate_and_the_answerable_subset(standin):
    exs = hq.load_hotpotqa(standin)
    assert hq.evaluate(reader, exs, "gold") == {"em": 1.0, "f1": 1.0, "n": 2, "setting": "gold"}
    assert hq.evaluate(reader, exs, "distractor")["em"] == 1.0
    assert hq.evaluate(reader, exs, "retrieval")["em"] == 1.0
    blind = lambda prompt: "unknown"  # noqa: E731
    assert hq.answerable_subset({"reader": reader, "blind": blind}, exs) == []
    assert [e.id for e in hq.answerable_subset({"reader": reader}, exs, size=1)] == ["q1"]
