"""A local Hugging Face causal LM (``transformers``, optional extra ``pretrained``): loaded from a folder on
disk only (``local_files_only``), never from a hub. Greedy decoding for temperature 0, seeded
sampling otherwise; the chat template is applied when the tokenizer has one (``chat=None``).
"""
from __future__ import annotations

import torch

from replications.limits_dl.llm.interface import GenerationConfig, TextModel


class HFLocalModel(TextModel):
    """Args: path (a checkpoint folder), device, dtype name, chat (None: use the tokenizer's chat
    template if it has one), batch_size (prompts per generate call, left-padded)."""

    def __init__(self, path: str, device: str = "cpu", dtype: str = "float32", chat: bool | None = None,
                 batch_size: int = 8, name: str | None = None):
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("HFLocalModel needs transformers: pip install -e '.[pretrained]'") from e
        self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True,
                                                          dtype=getattr(torch, dtype)).to(device).eval()
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token if self.tok.eos_token is not None else self.tok.unk_token
        self.tok.padding_side = "left"
        self.chat = bool(getattr(self.tok, "chat_template", None)) if chat is None else chat
        self.device, self.batch_size, self.name = device, batch_size, name or str(path)

    def _format(self, prompt: str, config: GenerationConfig) -> str:
        if not self.chat:
            return prompt if not config.system else f"{config.system}\n\n{prompt}"
        messages = ([{"role": "system", "content": config.system}] if config.system else [])
        messages.append({"role": "user", "content": prompt})
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    @torch.no_grad()
    def complete(self, prompts: list[str], config: GenerationConfig) -> list[str]:
        out: list[str] = []
        for i in range(0, len(prompts), self.batch_size):
            texts = [self._format(p, config) for p in prompts[i: i + self.batch_size]]
            enc = self.tok(texts, return_tensors="pt", padding=True).to(self.device)
            kw = dict(max_new_tokens=config.max_tokens, pad_token_id=self.tok.pad_token_id)
            if config.temperature > 0:
                if config.seed is not None:
                    torch.manual_seed(config.seed + i)
                kw.update(do_sample=True, temperature=config.temperature)
            else:
                kw.update(do_sample=False)
            gen = self.model.generate(**enc, **kw)
            new = gen[:, enc["input_ids"].shape[1]:]
            out += self.tok.batch_decode(new, skip_special_tokens=True)
        return out
