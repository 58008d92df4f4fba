"""Plain-JSON conversion of the numpy values that end up in reports, records, indexes and replies."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import re
import sys
from typing import Any, Mapping

__all__ = ["NonFiniteNumberError", "is_series", "is_table", "json_default", "json_safe", "loads",
           "table_from_json", "table_to_json"]


def _numpy() -> Any:
    """Return numpy if something imported it already (a value cannot be numpy otherwise)."""
    return sys.modules.get("numpy")


def json_safe(value: Any, *, strict: bool = False) -> Any:
    """Turn numpy scalars and arrays (also inside mappings and sequences) into plain JSON values.

    Parameters
    ----------
    value : object
        A metric, record, sample or reply.
    strict : bool, default=False
        When False, values with no JSON form are kept as they are (for ``json.dumps`` to judge);
        when True, dataclass instances become dicts and anything else that is not a JSON value
        raises TypeError.

    Returns
    -------
    object
        The same structure with lists, floats and ints where numpy types were; mapping keys become
        strings and tuples lists.

    Raises
    ------
    TypeError
        With ``strict=True``, if a part of ``value`` has no JSON form.

    Examples
    --------
    >>> import numpy as np
    >>> json_safe({"acc": np.float32(0.5), 1: np.arange(2)})
    {'acc': 0.5, '1': [0, 1]}
    >>> json_safe({"a": np.arange(2), "b": (np.float32(0.5), "x")}, strict=True)
    {'a': [0, 1], 'b': [0.5, 'x']}
    """
    np = _numpy()
    if np is not None:
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return [json_safe(v, strict=strict) for v in value.tolist()]
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, strict=strict) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, strict=strict) for v in value]
    if not strict:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # a Generation, for instance
        return json_safe(dataclasses.asdict(value), strict=True)
    raise TypeError(f"a {type(value).__name__} cannot be sent as JSON; "
                    f"return lists, numbers, strings or arrays")


def is_table(value: Any) -> bool:
    """Whether ``value`` is a pandas DataFrame, its subclasses too (False when pandas was never imported)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.DataFrame)


def is_series(value: Any) -> bool:
    """Whether ``value`` is a pandas Series, its subclasses too (False when pandas was never imported)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.Series)


# the column types a table's JSON form restores, by exact name (others are read back as JSON gives them)
_RESTORED = re.compile(r"bool|u?int(8|16|32|64)|float(16|32|64)|datetime64\[(s|ms|us|ns)\]|"
                       r"timedelta64\[(s|ms|us|ns)\]|category")


def table_to_json(frame: Any) -> dict[str, Any]:
    """Encode a DataFrame as ``{"data": rows, "columns": names, "dtypes": types}`` (plain JSON).

    ``data`` is a list with one list of values per row, in the columns' order; datetimes are ISO
    8601 strings, timedeltas their seconds, missing values ``null`` (``NaN`` in a float column).
    ``dtypes`` names each column's type, from which :func:`table_from_json` restores it.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.

    Returns
    -------
    dict
        Its JSON form.

    Raises
    ------
    TypeError
        If a cell or a column name has no JSON form.

    Examples
    --------
    >>> import pandas as pd
    >>> table_to_json(pd.DataFrame({"n": [3], "age": [31.5]}))
    {'data': [[3, 31.5]], 'columns': ['n', 'age'], 'dtypes': ['int64', 'float64']}
    """
    pd = sys.modules["pandas"]
    columns = [frame.iloc[:, i] for i in range(frame.shape[1])]
    cells = []
    for column in columns:
        kind = column.dtype.kind
        if kind == "M":
            values = [None if pd.isna(v) else v.isoformat() for v in column]
        elif kind == "m":
            values = [None if pd.isna(v) else v.total_seconds() for v in column]
        else:
            values = [None if v is pd.NA or v is pd.NaT else v
                      for v in column.astype(object).tolist()]
        cells.append(values)
    rows = [list(row) for row in zip(*cells)] if cells else [[] for _ in range(len(frame))]
    return {"data": json_safe(rows, strict=True), "columns": json_safe(list(frame.columns), strict=True),
            "dtypes": [str(column.dtype) for column in columns]}


def table_from_json(rows: list[Any], columns: list[Any], dtypes: list[Any] | None = None) -> Any:
    """Rebuild the DataFrame :func:`table_to_json` encoded (the rows as they are without pandas).

    Parameters
    ----------
    rows : list
        One list of values per row.
    columns : list
        The column names.
    dtypes : list of str, default=None
        Each column's type; numeric, boolean, datetime, timedelta and categorical types are restored
        (a value that does not fit leaves its column as JSON gave it).

    Returns
    -------
    pandas.DataFrame or list
        The table, or ``rows`` when pandas cannot be imported.

    Raises
    ------
    ValueError
        If a row's length differs from the number of columns.
    """
    try:
        import pandas as pd
    except ImportError:
        return rows
    frame = pd.DataFrame(rows, columns=columns if columns else None)
    if not isinstance(dtypes, list) or len(dtypes) != frame.shape[1]:
        return frame
    for i, dtype in enumerate(dtypes):
        if not isinstance(dtype, str) or not _RESTORED.fullmatch(dtype):
            continue
        column = frame.iloc[:, i]
        if str(column.dtype) == dtype:
            continue
        try:
            if dtype.startswith("datetime64"):
                restored = pd.to_datetime(column).astype(dtype)
            elif dtype.startswith("timedelta64"):
                restored = pd.to_timedelta(column, unit="s").astype(dtype)
            else:
                restored = column.astype(dtype)
        except Exception:  # noqa: BLE001 - a value the type cannot hold: the column stays as JSON gave it
            continue
        frame.isetitem(i, restored)
    return frame


def json_default(value: Any) -> Any:
    """Encode what ``json.dumps`` cannot: the ``default=`` hook for our records and reports.

    Arrays and scalars with ``tolist()`` (numpy, torch) become lists and numbers, enums their
    value, paths strings.

    Parameters
    ----------
    value : object
        A value ``json`` could not encode itself.

    Returns
    -------
    object
        Its plain JSON form.

    Raises
    ------
    TypeError
        If the value has none, as ``json.dumps`` expects.

    Examples
    --------
    >>> import json, numpy as np
    >>> json.dumps({"n": np.int64(3), "v": np.arange(2)}, default=json_default)
    '{"n": 3, "v": [0, 1]}'
    """
    if isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class NonFiniteNumberError(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity`` in a document read with ``loads(..., allow_nan=False)``.

    Python's parser reads these words as floats, but JSON has no such numbers; a NaN threshold or
    rate compares false with everything, so a parameter that holds one silently does nothing.
    """


def _refuse_constant(name: str) -> Any:
    """``parse_constant`` hook of :func:`loads` with ``allow_nan=False``."""
    raise NonFiniteNumberError(f"{name} is not a number; write a finite number")


def loads(data: str | bytes | bytearray | memoryview, *, allow_nan: bool = True, **kwargs: Any) -> Any:
    """``json.loads`` for text from outside (a peer's reply, an upload, a file, a variable).

    The standard parser recurses once per nesting level, so a document nested a few thousand levels
    deep raises :class:`RecursionError`, which no ``except ValueError`` around a parse expects; here
    it is a :class:`json.JSONDecodeError` (a ValueError) like any other malformed document.

    Parameters
    ----------
    data : str or bytes-like
        The document (bytes in UTF-8, -16 or -32, as ``json.loads`` reads them).
    allow_nan : bool, default=True
        When False, ``NaN``, ``Infinity`` and ``-Infinity`` (which Python's parser reads, though
        JSON has no such numbers) are refused, as ``json.dumps(..., allow_nan=False)`` refuses to
        write them.
    **kwargs
        Passed to :func:`json.loads`; ``parse_constant`` only with ``allow_nan=True``.

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    json.JSONDecodeError
        If ``data`` is not JSON or nests too deeply to parse.
    NonFiniteNumberError
        With ``allow_nan=False``, if ``data`` holds ``NaN`` or an infinity (a ValueError, but no
        JSONDecodeError: the text is readable, its numbers are not finite).
    TypeError
        If ``allow_nan=False`` comes with a ``parse_constant`` of its own.

    Examples
    --------
    >>> loads("[[1]]")
    [[1]]
    >>> loads("[" * 100_000)
    Traceback (most recent call last):
    json.decoder.JSONDecodeError: JSON nested too deeply to parse: line 1 column 1 (char 0)
    >>> loads('{"rate": NaN}', allow_nan=False)
    Traceback (most recent call last):
    sedna_lib._json.NonFiniteNumberError: NaN is not a number; write a finite number
    """
    if not allow_nan:
        if "parse_constant" in kwargs:
            raise TypeError("loads() takes allow_nan=False or a parse_constant, not both")
        kwargs["parse_constant"] = _refuse_constant
    if isinstance(data, memoryview):
        data = bytes(data)
    try:
        return json.loads(data, **kwargs)
    except RecursionError:
        raise json.JSONDecodeError("JSON nested too deeply to parse", "", 0) from None
