"""Edge worker: answers with the small language model, routes unsure queries to the cloud LLM.

Configured only by the environment: SEDNA_LLM_BASE_URL (any OpenAI-compatible API root; default
http://BIG_MODEL_IP:BIG_MODEL_PORT/v1), SEDNA_LLM_MODEL, OPENAI_API_KEY, HEM_NAME (MeanLogProb,
MinLogProb, TokenEntropy, SelfConsistency, LearnedRouter, Random, ...), HEM_PARAMETERS (e.g.
'[{"key": "upload_ratio", "value": "0.3"}]'), MINING_MODE, SEDNA_LLM_CACHE_SIZE,
SEDNA_LLM_PRICE_CLOUD_PROMPT / _COMPLETION, LC_SERVER. Run: python edge_llm.py
"""

from models import EDGE_FACTS, QUESTIONS, edge_model, first_word

from sedna_lib.context import Context
from sedna_lib.llm import EdgeLM, LLMJointInference


def main():
    context = Context.from_env()
    hem = context.config.hem or {"method": "MeanLogProb", "param": {"upload_ratio": 0.3}}
    edge = EdgeLM(edge_model(), max_tokens=4, top_logprobs=5, num_samples=3)
    job = LLMJointInference(edge, hem, context=context)
    known = {item.question for item in EDGE_FACTS}
    edge_right = joint_right = 0
    for item in QUESTIONS:
        is_hard, answer, edge_answer, cloud_answer = job.inference({"prompt": item.question,
                                                                   "reference": item.answer})
        joint_right += first_word(answer) == item.answer
        edge_right += edge_answer is not None and first_word(edge_answer) == item.answer
    totals = job.llm_metrics.totals()
    job.close()
    n = len(QUESTIONS)
    print(f"{n} questions; the edge was taught {len(known)} facts")
    if job.context.config.mining_mode.value == "inference-then-mining":
        print(f"edge-only accuracy   {edge_right / n:.3f}")
    print(f"joint accuracy       {joint_right / n:.3f}")
    print(f"routed to the cloud  {totals['routed_share']:.3f} (router {hem})")
    print(f"cloud-token share    {totals['cloud_token_share']:.3f}; cost {totals['cost']:.6f}")
    print(f"mean time to first token {1000 * (totals['mean_ttft_s'] or 0):.2f} ms, "
          f"end to end {1000 * (totals['mean_e2e_s'] or 0):.2f} ms")


if __name__ == "__main__":
    main()
