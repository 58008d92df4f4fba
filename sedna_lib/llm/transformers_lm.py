"""A Hugging Face ``transformers`` causal language model behind the :class:`LanguageModel` protocol."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..exceptions import BackendUnavailableError, StorageNotFoundError
from ..transport.openai_wire import TokenStep, check_generation_options, rng_seed
from .edge import _check_prompt

__all__ = ["TransformersLM"]


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise BackendUnavailableError.missing("transformers", "sedna_lib[llm]", error=exc) from exc
    return transformers


class TransformersLM:
    """Run a ``transformers`` causal LM (a local folder or a model already loaded) token by token.

    Each generated token comes with its log-probability, the top alternatives and the entropy
    of the model's whole distribution, which the confidence routers read. Nothing is
    downloaded unless ``local_files_only=False``: an edge device loads the weights it was given.

    Parameters
    ----------
    model_name_or_path : str, default=None
        A folder with the model and its tokenizer (``save_pretrained``), or a hub name.
    model : transformers.PreTrainedModel, default=None
        A model already loaded (then ``tokenizer`` is required too).
    tokenizer : transformers.PreTrainedTokenizerBase, default=None
        Its tokenizer.
    device : str, default='cpu'
        Where the model runs (``'cuda'`` on a GPU).
    local_files_only : bool, default=True
        Refuse to download weights.
    name : str, default=None
        The id on ``/v1/models``; the folder's name if omitted.

    Examples
    --------
    Serve a local model at the edge or in the cloud::

        lm = TransformersLM("/models/qwen2.5-0.5b-instruct")
        job = LLMJointInference(EdgeLM(lm), "MeanLogProb", cloud=OpenAIClient(url))
    """

    def __init__(self, model_name_or_path: str | None = None, *, model: Any = None, tokenizer: Any = None,
                 device: str = "cpu", local_files_only: bool = True, name: str | None = None) -> None:
        self.model_name_or_path = model_name_or_path
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.local_files_only = local_files_only
        self.name = name or (str(model_name_or_path).rstrip("/").rsplit("/", 1)[-1] if model_name_or_path
                             else "transformers")

    def _load(self) -> tuple[Any, Any]:
        if self.model is None or self.tokenizer is None:
            if self.model_name_or_path is None:
                raise StorageNotFoundError("TransformersLM needs model_name_or_path, or model and tokenizer")
            transformers = _transformers()
            try:
                if self.tokenizer is None:
                    self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                        self.model_name_or_path, local_files_only=self.local_files_only)
                if self.model is None:
                    self.model = transformers.AutoModelForCausalLM.from_pretrained(
                        self.model_name_or_path, local_files_only=self.local_files_only)
            except OSError as exc:
                raise StorageNotFoundError(f"cannot load the model {self.model_name_or_path!r}: {exc}",
                                           uri=str(self.model_name_or_path)) from exc
            self.model.to(self.device).eval()
        return self.model, self.tokenizer

    def count_tokens(self, text: str) -> int:
        """Return how many tokens ``text`` is to the tokenizer.

        Parameters
        ----------
        text : str
            The text.

        Returns
        -------
        int
            The count.
        """
        _, tokenizer = self._load()
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def format_chat(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """Render chat messages with the tokenizer's chat template (``role: content`` lines without one).

        Parameters
        ----------
        messages : list of dict
            The messages.

        Returns
        -------
        str
            The prompt.
        """
        _, tokenizer = self._load()
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return "\n".join([*(f"{m['role']}: {m['content']}" for m in messages), "assistant:"])

    def generate(self, prompt: str, *, max_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int | None = None, top_logprobs: int = 0) -> Iterator[TokenStep]:
        """Yield the tokens after ``prompt`` with their log-probabilities (KV-cached decoding).

        Parameters
        ----------
        prompt : str
            The prompt.
        max_tokens : int, default=64
            Largest number of tokens.
        temperature : float, default=0.0
            0 is greedy.
        top_p : float, default=1.0
            Nucleus sampling.
        seed : int, default=None
            Seed of the sampling; any integer (a negative one too, see
            :func:`~sedna_lib.transport.openai_wire.rng_seed`).
        top_logprobs : int, default=0
            Alternatives per position.

        Yields
        ------
        TokenStep
            Each token's text, log-probability, alternatives and entropy. Each step runs without
            gradients on whichever thread resumes the generator.

        Raises
        ------
        DataError
            If ``prompt`` is not a string, when called.
        ParameterError
            If an option is out of range, when called (see
            :func:`~sedna_lib.transport.openai_wire.check_generation_options`): ``max_tokens`` must
            be a whole number >= 1, ``temperature`` finite and >= 0, ``top_p`` in (0, 1], ``seed``
            a whole number or None, ``top_logprobs`` a whole number >= 0.
        BackendUnavailableError
            If transformers (or torch) is not installed.
        StorageNotFoundError
            If the model cannot be loaded.
        """
        prompt = _check_prompt(prompt)
        options = check_generation_options(max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                                           seed=seed, top_logprobs=top_logprobs)
        return self._steps(prompt, **options)

    def _steps(self, prompt: str, *, max_tokens: int, temperature: float, top_p: float, seed: int | None,
               top_logprobs: int) -> Iterator[TokenStep]:
        import torch

        model, tokenizer = self._load()
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(self.device)
        eos = {i for i in [tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)]
               for i in (i if isinstance(i, list) else [i]) if i is not None}
        generator = torch.Generator(device=self.device)
        if seed is not None:
            generator.manual_seed(rng_seed(seed))
        import inspect

        # the KV cache's keyword: ``cache`` in recent transformers, ``past_key_values`` before
        key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        past, generated, said = None, [], ""
        step_input = ids
        for _ in range(max_tokens):
            # no_grad around each step, not around the loop: grad mode belongs to a thread, and the
            # caller may resume this generator on another one (a server streams from a thread pool)
            with torch.no_grad():
                out = model(input_ids=step_input, use_cache=True, **{key: past})
                past = out[key] if key in out else None
                logprobs = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
                probs = logprobs.exp()
                if temperature <= 0:
                    token = int(torch.argmax(logprobs))
                else:
                    weights = torch.softmax(logprobs / temperature, dim=-1)
                    if top_p < 1.0:
                        sorted_w, order = torch.sort(weights, descending=True)
                        keep = torch.cumsum(sorted_w, 0) - sorted_w < top_p
                        weights = torch.zeros_like(weights).scatter(0, order[keep], sorted_w[keep])
                    token = int(torch.multinomial(weights, 1, generator=generator))
                if token in eos:
                    return
                entropy = float(-(probs * torch.where(probs > 0, logprobs, torch.zeros_like(logprobs))).sum())
                top = None
                if top_logprobs:
                    values, indices = torch.topk(logprobs, top_logprobs)
                    top = {tokenizer.decode([int(i)]): float(v) for v, i in zip(values, indices)}
                lp = float(logprobs[token])
            generated.append(token)
            text = tokenizer.decode(generated, skip_special_tokens=True)
            piece, said = text[len(said):], text
            yield TokenStep(piece, lp if math.isfinite(lp) else -1e9, top, entropy)
            step_input = torch.tensor([[token]], device=self.device)

    def predict(self, data: Any, **kwargs: Any) -> str:
        """Return the greedy continuation of a prompt (the estimator face).

        Parameters
        ----------
        data : str
            The prompt.
        **kwargs : object
            Passed to :meth:`generate`.

        Returns
        -------
        str
            The continuation.
        """
        return "".join(step.text for step in self.generate(str(data), **kwargs))
