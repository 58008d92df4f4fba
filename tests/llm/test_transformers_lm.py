"""TransformersLM on a real local causal LM: a tiny GPT-2 and tokenizer built and trained on the spot."""

from __future__ import annotations

import numpy as np
import pytest

from sedna_lib.exceptions import StorageNotFoundError
from sedna_lib.llm import EdgeLM
from sedna_lib.transport.openai import OpenAIClient

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

FACTS = ["module of dedent is textwrap .", "module of gcd is math .", "module of dumps is json .",
         "module of sha256 is hashlib .", "module of glob is glob .", "module of copyfile is shutil ."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A one-layer GPT-2 with a word-level tokenizer, trained until it knows FACTS, saved to a folder."""
    words = sorted({w for line in FACTS for w in line.split()})
    vocab = {w: i for i, w in enumerate(["<unk>", "</s>", *words])}
    raw = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    raw.decoder = tokenizers.decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>",
                                                     eos_token="</s>")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=len(vocab), n_positions=16, n_embd=32, n_layer=1, n_head=2,
                                     eos_token_id=vocab["</s>"], bos_token_id=vocab["</s>"])
    model = transformers.GPT2LMHeadModel(config)
    batch = torch.tensor([tokenizer(line)["input_ids"] + [vocab["</s>"]] for line in FACTS])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        optimizer.zero_grad()
        model(input_ids=batch, labels=batch).loss.backward()
        optimizer.step()
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_local_causal_lm_answers_with_logprobs_alternatives_and_entropy(model_dir):
    from sedna_lib.llm.transformers_lm import TransformersLM

    lm = TransformersLM(str(model_dir))
    answer = EdgeLM(lm, max_tokens=4, top_logprobs=3).predict("module of gcd is")
    assert answer.text.replace(".", " ").split()[0] == "math" and answer.finish_reason == "stop"
    assert np.exp(answer.token_logprobs[0]) > 0.5 and len(answer.top_logprobs[0]) == 3
    assert answer.entropies is not None and answer.prompt_tokens == 4 == lm.count_tokens("module of gcd is")


def test_sampling_with_a_seed_is_reproducible(model_dir):
    from sedna_lib.llm.transformers_lm import TransformersLM

    lm = TransformersLM(str(model_dir))
    draw = lambda: [s.text for s in lm.generate("module of", temperature=1.5, seed=4, max_tokens=5)]  # noqa
    assert draw() == draw()


def test_the_local_model_is_served_on_the_openai_routes(model_dir, serve):
    from sedna_lib.llm.transformers_lm import TransformersLM

    url = serve(TransformersLM(str(model_dir), name="tiny-gpt2")) + "/v1"
    client = OpenAIClient(url, model="tiny-gpt2", route="completion", top_logprobs=2, max_tokens=4)
    answer = client.predict("module of dumps is")  # completions: the tiny model has no chat template
    assert answer.text.replace(".", " ").split()[0] == "json" and answer.token_logprobs[0] <= 0


def test_a_missing_model_folder_is_a_storage_error_and_nothing_is_downloaded(tmp_path):
    from sedna_lib.llm.transformers_lm import TransformersLM

    with pytest.raises(StorageNotFoundError, match="cannot load the model"):
        TransformersLM(str(tmp_path / "no-such-model")).count_tokens("x")


def test_a_stream_resumed_on_other_threads_runs_every_step_without_gradients(model_dir):
    import threading

    from sedna_lib.llm.transformers_lm import TransformersLM

    lm = TransformersLM(str(model_dir))
    model, _ = lm._load()
    seen = []
    hook = model.register_forward_hook(
        lambda module, args, out: seen.append((torch.is_grad_enabled(), out.logits.requires_grad)))
    try:
        steps = lm.generate("module of", max_tokens=4, temperature=1.0, seed=1)
        first = [next(steps)]  # the first step here, then each on a thread of its own (as a server does)
        for _ in range(3):
            thread = threading.Thread(target=lambda: first.append(next(steps, None)))
            thread.start()
            thread.join()
    finally:
        hook.remove()
    assert len(seen) >= 2 and seen == [(False, False)] * len(seen)


def test_a_negative_or_huge_seed_samples_reproducibly(model_dir):
    from sedna_lib.llm.transformers_lm import TransformersLM

    lm = TransformersLM(str(model_dir))
    draw = lambda seed: [s.text for s in lm.generate("module of", temperature=1.5, seed=seed,  # noqa: E731
                                                     max_tokens=5)]
    assert draw(-3) == draw(-3) and draw(-1) == draw(2 ** 64 - 1) and draw(2 ** 70) == draw(2 ** 70)


@pytest.mark.parametrize("option, value", [
    ("max_tokens", -1), ("max_tokens", 0), ("temperature", float("nan")), ("temperature", -1.0),
    ("top_p", 0.0), ("top_p", 1.5), ("seed", 2.5), ("top_logprobs", -1)], ids=repr)
def test_generate_refuses_a_bad_option_as_edge_lm_does(model_dir, option, value):
    from sedna_lib.exceptions import ParameterError
    from sedna_lib.llm.transformers_lm import TransformersLM

    lm = TransformersLM(str(model_dir))
    with pytest.raises(ParameterError, match=f"^{option} must be"):
        list(lm.generate("module of", **{"temperature": 1.0, option: value}))
