"""The two language models of the example, trained on the spot from the Python standard library.

The task: which standard module defines a function ("module of dedent is" -> textwrap), 600-odd
questions with known answers. The cloud learns 90 % of the facts; the edge about half of them,
some wrongly. Set LLM_SEED to draw another split (both workers must use the same one).
"""

import os

from sedna_lib.llm import NGramLanguageModel
from sedna_lib.llm.qa import fact_sentences, module_qa, split_knowledge

SEED = int(os.environ.get("LLM_SEED", "0"))
QUESTIONS = module_qa()
EDGE_FACTS, CLOUD_FACTS = split_knowledge(QUESTIONS, topic_skew=0.6, seed=SEED)


def edge_model():
    """The weak edge model (a word trigram model that knows about half the facts)."""
    facts = fact_sentences(EDGE_FACTS, wrong=0.1, seed=SEED)
    return NGramLanguageModel(order=3, name="edge-ngram").fit(facts)


def cloud_model():
    """The stronger cloud model (knows 90 % of the facts)."""
    return NGramLanguageModel(order=3, name="cloud-ngram").fit(fact_sentences(CLOUD_FACTS))


def first_word(text):
    """The answer's first word (" textwrap ." -> "textwrap")."""
    words = str(text).replace(".", " ").split()
    return words[0] if words else ""
