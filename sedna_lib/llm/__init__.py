"""Joint inference for language models: an edge LM, an OpenAI-compatible cloud, routers, metrics, a cache.

The edge answers with a local model (:class:`EdgeLM` over any :class:`LanguageModel`); a router
registered under the hard-example-mining door decides which queries go to the cloud, any server
speaking ``/v1/chat/completions`` (:class:`~sedna_lib.transport.openai.OpenAIClient`), sedna_lib's
own ``BigModelService`` included.
"""

from __future__ import annotations

from ..transport.openai_wire import Generation, LanguageModel, TokenStep, as_language_model
from .cache import ResponseCache
from .edge import EdgeLM, prompt_of
from .metrics import LLMMetrics, Prices, QueryMetrics
from .ngram import NGramLanguageModel, tokenize

__all__ = [
    "EdgeLM",
    "LLMJointInference",
    "LLMMetrics",
    "OpenAIClient",
    "Prices",
    "QueryMetrics",
    "ResponseCache",
    "TransformersLM",
    "Generation",
    "LanguageModel",
    "NGramLanguageModel",
    "TokenStep",
    "as_language_model",
    "prompt_of",
    "tokenize",
]


def __getattr__(name: str) -> object:
    """Import the joint-inference job, the cloud client and the transformers adapter on first use."""
    if name == "LLMJointInference":
        from .joint import LLMJointInference

        return LLMJointInference
    if name == "TransformersLM":
        from .transformers_lm import TransformersLM

        return TransformersLM
    if name == "OpenAIClient":
        from ..transport.openai import OpenAIClient

        return OpenAIClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
