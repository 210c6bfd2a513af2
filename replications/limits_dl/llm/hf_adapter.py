"""A local Hugging Face causal LM behind the harness's ``TextModel`` interface: loaded from a folder on disk
only (never from a hub) and decoded by ``common.textgen``: greedy for temperature 0, seeded sampling
otherwise; the chat template is applied when the tokenizer has one (``chat=None``).
"""
from __future__ import annotations

from common import textgen
from replications.limits_dl.llm.interface import GenerationConfig, TextModel


class HFLocalModel(TextModel):
    """Args: path (a checkpoint folder), device, dtype name, chat (None: use the tokenizer's chat
    template if it has one), batch_size (prompts per generate call, left-padded)."""

    def __init__(self, path: str, device: str = "cpu", dtype: textgen.Dtype = "float32", chat: bool | None = None,
                 batch_size: int = 8, name: str | None = None):
        self.generator = textgen.load(path, dtype=dtype, device=device, local_only=True, batch_size=batch_size,
                                      name=name)
        self.tok, self.model, self.name = self.generator.tokenizer, self.generator.model, self.generator.name
        self.chat = bool(getattr(self.tok, "chat_template", None)) if chat is None else chat

    def _format(self, prompt: str, config: GenerationConfig) -> str:
        if not self.chat:
            return prompt if not config.system else f"{config.system}\n\n{prompt}"
        messages = ([{"role": "system", "content": config.system}] if config.system else [])
        messages.append({"role": "user", "content": prompt})
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def complete(self, prompts: list[str], config: GenerationConfig) -> list[str]:
        return self.generator.generate([self._format(p, config) for p in prompts], config.max_tokens,
                                       skip_special_tokens=True, temperature=config.temperature, seed=config.seed)
