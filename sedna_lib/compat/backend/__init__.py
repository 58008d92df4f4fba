"""Sedna's ``sedna.backend``: ``set_backend`` and the backend classes."""
