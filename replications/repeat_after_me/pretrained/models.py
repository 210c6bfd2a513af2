"""Loading Hugging Face causal LMs (Pythia, Mamba) and greedy generation with a stop string.

``load`` takes a local folder or a hub id (e.g. ``EleutherAI/pythia-410m``, ``state-spaces/mamba-2.8b-hf``);
the paper tokenises every model with ``EleutherAI/gpt-neox-20b`` (Pythia and Mamba share that
vocabulary), which ``tokenizer=`` reproduces. Needs the optional extra: ``pip install -e ".[pretrained]"``.
The paper ran the original ``mamba_ssm`` checkpoints with its CUDA kernels in fp16; the ``-hf``
conversions hold the same weights for the ``transformers`` implementation. In half precision the
SSM's ``A_log`` and ``D`` stay fp32, as ``mamba_ssm`` keeps them (a plain ``dtype=float16`` load
would round them).
"""
from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _transformers():
    try:
        import transformers
    except ImportError as e:  # pragma: no cover - the extra is installed in tests
        raise ImportError('the pretrained experiments need transformers: pip install -e ".[pretrained]"') from e
    return transformers


KEEP_FP32 = ("A_log", "D")  # Mamba's SSM parameters, fp32 in mamba_ssm whatever the model's dtype


def cast_except(model, dtype: torch.dtype, keep: tuple[str, ...] = KEEP_FP32):
    """Cast every floating parameter and buffer to ``dtype`` except those whose own name is in ``keep``."""
    for module in model.modules():
        for name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            if tensor.is_floating_point() and name not in keep:
                tensor.data = tensor.data.to(dtype)
    return model


def load(path: str, tokenizer: str | None = None, dtype: str = "float32", device: str = "auto"):
    """(model in eval mode, tokenizer) from a folder or hub id; ``tokenizer`` overrides the model's own.

    Loaded in fp32 and then cast to ``dtype`` except Mamba's ``A_log`` and ``D`` (see ``KEEP_FP32``).
    """
    tf = _transformers()
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype={dtype!r}; choose one of {sorted(DTYPES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = tf.AutoTokenizer.from_pretrained(tokenizer or path)
    model = tf.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model = cast_except(model, DTYPES[dtype]).to(device).eval()
    return model, tok


def _stop_criterion(tf, tok, prompt_len: int, stop: str):
    """Stop once the generated text contains ``stop`` (everything after it is cut anyway)."""

    class StopOnText(tf.StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = [stop in tok.decode(row[prompt_len:]) for row in input_ids]
            return torch.tensor(done, device=input_ids.device)

    return tf.StoppingCriteriaList([StopOnText()])


@torch.no_grad()
def greedy(model, tok, prompt: str, max_new_tokens: int | None = None, stop: str | None = None,
           new_tokens_factor: float = 0.0, suppress_eos_first: bool = False) -> str:
    """Greedy continuation of ``prompt`` (decoded, special tokens kept as text).

    The budget is ``max_new_tokens`` plus ``new_tokens_factor`` times the prompt's token count
    (the copy task allows 0.5 x prompt + 50, as the official code's ``max_length = 1.5 x prompt + 50``).
    """
    tf = _transformers()
    enc = tok(prompt, return_tensors="pt").to(model.device)
    n_prompt = enc.input_ids.shape[1]
    budget = int(max_new_tokens or 0) + int(new_tokens_factor * n_prompt)
    eos = tok.eos_token_id
    kwargs = dict(max_new_tokens=max(budget, 1), do_sample=False, pad_token_id=eos if eos is not None else 0)
    if stop:
        kwargs["stopping_criteria"] = _stop_criterion(tf, tok, n_prompt, stop)
    if suppress_eos_first and eos is not None:
        kwargs["begin_suppress_tokens"] = [eos]
    out = model.generate(**enc, **kwargs)
    return tok.decode(out[0, n_prompt:])
