"""OpenAI-compatible HTTP endpoint (``POST {base_url}/chat/completions`` or ``/completions``) through
the standard library, for GPT-4-class APIs or local servers (vLLM, llama.cpp) that speak the same
protocol. Off by default: nothing is sent unless the caller passes ``enabled=True`` (the CLI's
``--allow-network``), so no test or config reaches the network by accident.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from replications.limits_dl.llm.interface import GenerationConfig, TextModel

RETRY_STATUS = (429, 500, 502, 503, 504)


class NetworkDisabled(RuntimeError):
    """Raised when an HTTP adapter is used without ``enabled=True``."""


class OpenAICompatibleModel(TextModel):
    """One request per prompt, bounded retries with backoff on 429/5xx and connection errors.

    Args:
        base_url: e.g. "http://127.0.0.1:8000/v1".
        model: model id sent in each request (also the result's name).
        api_key_env: environment variable holding the key (sent as a Bearer token if set).
        chat: chat/completions (messages) when True, completions (prompt) when False.
        enabled: must be True to send anything.
        timeout_s, max_retries, backoff_s: per-request timeout, retries after the first try, first
            backoff (doubled each retry).
    """

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", chat: bool = True,
                 enabled: bool = False, timeout_s: float = 120.0, max_retries: int = 3, backoff_s: float = 1.0):
        if max_retries < 0 or timeout_s <= 0:
            raise ValueError("need max_retries >= 0 and timeout_s > 0")
        self.base_url, self.name, self.api_key_env, self.chat = base_url.rstrip("/"), model, api_key_env, chat
        self.enabled, self.timeout_s, self.max_retries, self.backoff_s = enabled, timeout_s, max_retries, backoff_s
        self.requests_sent = 0

    def _payload(self, prompt: str, config: GenerationConfig) -> tuple[str, dict]:
        body: dict = {"model": self.name, "max_tokens": config.max_tokens, "temperature": config.temperature}
        if config.seed is not None:
            body["seed"] = config.seed
        if self.chat:
            messages = ([{"role": "system", "content": config.system}] if config.system else [])
            body["messages"] = messages + [{"role": "user", "content": prompt}]
            return f"{self.base_url}/chat/completions", body
        body["prompt"] = prompt if not config.system else f"{config.system}\n\n{prompt}"
        return f"{self.base_url}/completions", body

    def _post(self, url: str, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode()
        delay = self.backoff_s
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            self.requests_sent += 1
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read().decode())
            except urllib.error.HTTPError as e:
                if e.code not in RETRY_STATUS or attempt == self.max_retries:
                    raise RuntimeError(f"{url}: HTTP {e.code}: {e.read()[:200]!r}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                if attempt == self.max_retries:
                    raise RuntimeError(f"{url}: {e}") from None
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    @staticmethod
    def _text(response: dict, chat: bool) -> str:
        try:
            choice = response["choices"][0]
            return choice["message"]["content"] if chat else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"unexpected response shape: {str(response)[:200]}") from None

    def complete(self, prompts: list[str], config: GenerationConfig) -> list[str]:
        if not self.enabled:
            raise NetworkDisabled("the HTTP adapter is off by default; pass enabled=True (CLI: --allow-network)")
        return [self._text(self._post(*self._payload(p, config)), self.chat) or "" for p in prompts]
