"""Language models trained on the spot (a weak edge, a stronger cloud) and the cloud served on 127.0.0.1."""

from __future__ import annotations

import pytest

from sedna_lib.config import Config
from sedna_lib.context import Context
from sedna_lib.joint_inference import BigModelService
from sedna_lib.llm import NGramLanguageModel
from sedna_lib.llm.qa import fact_sentences, module_qa, split_knowledge


@pytest.fixture(scope="session")
def qa_items():
    """Which standard module defines a function: 600-odd questions with known answers."""
    return module_qa()


@pytest.fixture(scope="session")
def edge_lm(qa_items):
    """The edge: knows 55 % of the facts, a tenth of them wrongly."""
    edge, _ = split_knowledge(qa_items)
    return NGramLanguageModel(order=3, name="edge-ngram").fit(fact_sentences(edge, wrong=0.1))


@pytest.fixture(scope="session")
def cloud_lm(qa_items):
    """The cloud: knows 90 % of the facts."""
    _, cloud = split_knowledge(qa_items)
    return NGramLanguageModel(order=3, name="cloud-ngram").fit(fact_sentences(cloud))


@pytest.fixture(scope="session")
def cloud_url(cloud_lm):
    """The cloud LM served by a BigModelService on a free local port; yields its OpenAI API root."""
    service = BigModelService(estimator=cloud_lm, context=Context(Config()))
    service.start(host="127.0.0.1", port=0, block=False)
    try:
        yield service.url + "/v1"
    finally:
        service.close()


@pytest.fixture
def serve():
    """Serve an estimator with the given config for one test; yields a function returning the base URL."""
    services = []

    def start(estimator, **config):
        service = BigModelService(estimator=estimator, context=Context(Config(**config)))
        services.append(service.start(host="127.0.0.1", port=0, block=False))
        return service.url

    try:
        yield start
    finally:
        for service in services:
            service.close()
