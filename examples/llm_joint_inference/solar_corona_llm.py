"""The same edge through solar_corona's face: load_model(..., cloud_offload_algorithm=...).

Configured by the environment as edge_llm.py (BIG_MODEL_IP, BIG_MODEL_PORT or SEDNA_LLM_BASE_URL).
Run: python solar_corona_llm.py
"""

from models import QUESTIONS, edge_model, first_word

from sedna_lib import joint_inference
from sedna_lib.context import Context
from sedna_lib.llm import EdgeLM


def main():
    context = Context.from_env()
    cfg = context.config
    endpoint = cfg.llm_base_url or f"http://{cfg.big_model_ip}:{cfg.big_model_port}/v1"  # an OpenAI API root
    router = context.registry.create("hard_example_mining", "MinLogProb", upload_ratio=0.4)
    model = joint_inference.load_model(EdgeLM(edge_model(), max_tokens=4), cloud_offload_algorithm=router,
                                       big_model_endpoint=endpoint, context=context)
    right = sum(first_word(model.predict(item.question)) == item.answer for item in QUESTIONS)
    stats = model.stats
    model.close()
    print(f"joint accuracy {right / len(QUESTIONS):.3f}; routed {stats['hard'] / stats['inferences']:.3f}")


if __name__ == "__main__":
    main()
