"""Servers: the big-model inference service, the aggregation server, the knowledge base."""
