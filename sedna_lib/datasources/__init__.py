"""Data sources: Sedna's index-file parsers (txt, csv, json, jsonl, LLM metadata) and dataset loaders.

The code is in :mod:`sedna_lib.datasources.parse`; the names are the ones Sedna scripts import from
``sedna.datasources``.
"""

from . import parse as _parse
from .parse import *  # noqa: F401,F403 - the public names are the parsing module's
from .parse import __all__

# Pickles and reprs name the public path (``sedna_lib.datasources.TxtDataParse``), which the ``sedna``
# alias maps to Sedna's own ``sedna.datasources``.
for _name in __all__:
    if isinstance(getattr(_parse, _name), type):
        getattr(_parse, _name).__module__ = __name__
del _name
