"""What the harness asks of a language model: a batch of prompt strings in, one completion string
per prompt out, under explicit decoding settings. Adapters: ``hf_adapter`` (local checkpoint),
``openai_adapter`` (OpenAI-compatible HTTP, off by default), and the oracles below for tests and
for checking a protocol without a model.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings sent with every prompt. The paper's are [NR]; greedy is our default.

    Args:
        max_tokens: new tokens at most per completion.
        temperature: 0 means greedy (deterministic where the backend allows it).
        seed: sampling seed, passed to backends that accept one.
        system: optional system message for chat backends.
    """

    max_tokens: int = 512
    temperature: float = 0.0
    seed: int | None = None
    system: str | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 1 or self.temperature < 0:
            raise ValueError("need max_tokens >= 1 and temperature >= 0")


class TextModel:
    """A text-completion model. ``name`` identifies it in results (e.g. the API model id)."""

    name: str = "model"

    def complete(self, prompts: list[str], config: GenerationConfig) -> list[str]:
        raise NotImplementedError


@dataclass
class OracleModel(TextModel):
    """Answers from a lookup of reference answers, wrong with probability ``error_rate`` (a fixed
    wrong text then). With error_rate 0 every problem must score correct: a check of the prompts,
    parsers and scorers with no model in the loop."""

    answers: dict[str, str] = field(default_factory=dict)
    error_rate: float = 0.0
    seed: int = 0
    name: str = "oracle"

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def complete(self, prompts: list[str], config: GenerationConfig) -> list[str]:
        out = []
        for p in prompts:
            if p not in self.answers:
                raise KeyError("oracle has no answer for this prompt")
            wrong = self._rng.random() < self.error_rate
            out.append("I cannot tell." if wrong else f"Answer:\n{self.answers[p]}")
        return out
