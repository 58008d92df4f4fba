"""Joint inference for language models: an edge LM, an OpenAI-compatible cloud, routers, metrics, a cache.

The edge answers with a local model (:class:`EdgeLM` over any :class:`LanguageModel`); a router
registered under the hard-example-mining door decides which queries go to the cloud, any server
speaking ``/v1/chat/completions`` (:class:`~sedna_lib.transport.openai.OpenAIClient`), sedna_lib's
own ``BigModelService`` included.
"""

from __future__ import annotations

from .._lazy import lazy_attributes
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


# the joint-inference job, the cloud client and the transformers adapter are imported on first use
_LAZY = {
    "LLMJointInference": "sedna_lib.llm.joint:LLMJointInference",
    "TransformersLM": "sedna_lib.llm.transformers_lm:TransformersLM",
    "OpenAIClient": "sedna_lib.transport.openai:OpenAIClient",
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
