"""Data sources: Sedna's index-file parsers (txt, csv, json, jsonl, LLM metadata) and dataset loaders.

The code is in :mod:`sedna_lib.datasources.parse`; the names are the ones Sedna scripts import from
``sedna.datasources``.
"""

from .parse import (BaseDataSource, CocoIndex, CSVDataParse, JSONDataParse, JsonlDataParse, JSONMetaDataParse,
                    TxtDataParse, load_dataset, load_eval_dataset, load_train_dataset)

__all__ = [
    "BaseDataSource",
    "TxtDataParse",
    "CSVDataParse",
    "JSONDataParse",
    "JsonlDataParse",
    "JSONMetaDataParse",
    "CocoIndex",
    "load_train_dataset",
    "load_eval_dataset",
    "load_dataset",
]

# Pickles and reprs name the public path (``sedna_lib.datasources.TxtDataParse``), which the ``sedna``
# alias maps to Sedna's own ``sedna.datasources``.
for _cls in (BaseDataSource, TxtDataParse, CSVDataParse, JSONDataParse, JsonlDataParse, JSONMetaDataParse,
             CocoIndex):
    _cls.__module__ = __name__
del _cls
