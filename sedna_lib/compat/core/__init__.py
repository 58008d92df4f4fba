"""Sedna's ``sedna.core``: the job base and the feature classes under Sedna's calling conventions."""
