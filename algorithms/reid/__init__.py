"""Re-identification: match query features against a gallery of target features across cameras."""

from .multi_img_matching import ReIDMatcher, cosine_similarity_score, match_query_to_targets, tensor_reshape

__all__ = ["ReIDMatcher", "cosine_similarity_score", "match_query_to_targets", "tensor_reshape"]
