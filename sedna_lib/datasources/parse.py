"""Sedna's index-file parsers (txt, csv, json, jsonl, LLM metadata) and the dataset loaders."""

from __future__ import annotations

import csv
import functools
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .._json import loads as json_loads
from .. import config as _cfg
from ..exceptions import (
    BackendUnavailableError,
    ConfigError,
    DataError,
    SednaWarning,
    StorageError,
    StorageNotFoundError,
)
from ..context import resolve
from ..registry import Kind, get_class, resolve_callback
from ..storage import StorageRouter, strip_file_scheme

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

_is_remote = StorageRouter.is_remote


def _resolve_func(func: Any) -> Callable[..., Any] | None:
    """Keep a callable; look a name up as ``Kind.CALLBACK`` and instantiate it (Sedna's rule)."""
    return resolve_callback(func, instantiate=True, label="func",
                            get=functools.partial(get_class, Kind.CALLBACK))


def _to_array(items: list[Any]) -> np.ndarray:
    """``np.array(items)``, or a 1-D object array when the rows are ragged."""
    try:
        return np.array(items)
    except ValueError:
        out = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            out[i] = item
        return out


def _check_local(path: str, what: str) -> str:
    text = strip_file_scheme(os.fspath(path))
    if _is_remote(text):
        raise StorageError(f"{what} {text!r} is remote; download it first (Context.storage.download) and "
                           f"parse the local copy", uri=text)
    if not os.path.isfile(text):
        raise StorageNotFoundError(f"{what} {text!r} does not exist", uri=text)
    return text


class BaseDataSource:
    """A dataset: ``x``, ``y`` and optional ``meta_attr``, parsed by a subclass's ``parse``.

    Parameters
    ----------
    data_type : {'train', 'eval', 'test'}, default='train'
        ``'test'`` data has no labels.
    func : callable or str, default=None
        Applied to each line or frame while parsing; a name is looked up as
        ``ClassType.CALLBACK`` and instantiated with no arguments.

    Attributes
    ----------
    x : array-like or None
        The samples.
    y : array-like or None
        The labels.
    meta_attr : object or None
        Extra per-sample attributes (lifelong learning).

    Examples
    --------
    >>> ds = BaseDataSource("train")
    >>> len(ds), bool(ds)
    (0, False)
    """

    def __init__(self, data_type: str = "train", func: Callable[..., Any] | str | None = None) -> None:
        self.data_type = data_type
        self.process_func = _resolve_func(func)
        self.x: Any = None
        self.y: Any = None
        self.meta_attr: Any = None

    @property
    def is_test_data(self) -> bool:
        """Whether the data is unlabelled test data (``data_type == 'test'``)."""
        return self.data_type == "test"

    def num_examples(self) -> int:
        """Return the number of samples (0 before parsing).

        Returns
        -------
        int
            ``len(x)``.
        """
        return 0 if self.x is None else len(self.x)

    def __len__(self) -> int:
        """Return the number of samples."""
        return self.num_examples()

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        """Fill ``x`` and ``y``; subclasses implement it.

        Parameters
        ----------
        *args : object
            Sources.
        **kwargs : object
            Options.

        Returns
        -------
        object
            Subclass-defined.

        Raises
        ------
        NotImplementedError
            Always, on the base class.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement parse()")

    def save(self, output: str) -> str:
        """Write the whole data source to a local file (joblib when installed, else pickle).

        Such files are trusted-only: loading them runs code. They are never read back from the
        network by sedna_lib.

        Parameters
        ----------
        output : str
            A local file path (its folder is created).

        Returns
        -------
        str
            ``output``.

        Raises
        ------
        StorageError
            If ``output`` is remote or cannot be written.
        """
        path = strip_file_scheme(os.fspath(output))
        if not path or _is_remote(path):
            raise StorageError(f"BaseDataSource.save writes local files only, got {path!r}; save locally, "
                               f"then upload with Context.storage.upload", uri=path)
        from ..storage.local import atomic_path

        try:
            # written beside the file and swapped in: a failed write leaves the previous file whole
            with atomic_path(path) as tmp:
                try:
                    import joblib
                except ImportError:
                    with open(tmp, "wb") as fh:
                        pickle.dump(self, fh)
                else:  # the compression the name asks for (joblib reads it from the name it writes)
                    joblib.dump(self, tmp, compress=_compression(path))
        except OSError as exc:
            raise StorageError(f"cannot write {path!r}: {exc}", uri=path) from exc
        return path


_COMPRESSED = {".z": "zlib", ".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".lzma": "lzma"}


def _compression(path: str) -> Any:
    """Return joblib's ``compress`` for a file name: ``(method, 3)`` for ``.gz`` and the like, else 0."""
    method = _COMPRESSED.get(os.path.splitext(path)[1].lower())
    return (method, 3) if method else 0


def _looks_like_path(token: str) -> bool:
    if not token or os.path.isabs(token) or _is_remote(token):
        return False
    if "/" in token or os.sep in token:
        return True
    ext = os.path.splitext(token)[1][1:]
    return bool(ext) and not ext.isdigit() and any(c.isalpha() for c in ext)


def _resolve_row(row: Any, folder: str) -> Any:
    if isinstance(row, str):
        return os.path.join(folder, row) if _looks_like_path(row) else row
    if isinstance(row, (list, tuple)):
        return type(row)(os.path.join(folder, t) if isinstance(t, str) and _looks_like_path(t) else t
                         for t in row)
    return row


def _lines(path: str) -> Iterator[tuple[int, str]]:
    try:
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    yield lineno, raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(f"{path}:{lineno}: not UTF-8 text ({exc.reason}); index files must be "
                                    f"UTF-8") from None
    except OSError as exc:
        raise StorageError(f"cannot read {path!r}: {exc}", uri=path) from exc


class TxtDataParse(BaseDataSource):
    r"""Parse whitespace-separated index files (one sample per line) into ``x`` and ``y``.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "train.txt")
    >>> _ = open(path, "w").write("images/a.jpg 1\nimages/b.jpg 0\n")
    >>> ds = TxtDataParse("train")
    >>> _ = ds.parse(path)
    >>> ds.x.tolist(), ds.y.tolist()
    (['images/a.jpg', 'images/b.jpg'], ['1', '0'])
    """

    def parse(self, *files: str | None, use_raw: bool = False, resolve_paths: bool = False) -> TxtDataParse:
        """Read index files.

        Each non-empty line is stripped, then given to ``func`` if set, or split on whitespace.
        With ``use_raw`` the whole row is a sample; otherwise the first item is ``x`` and the second
        is ``y`` (``0`` when absent; no ``y`` for test data). Rows of different lengths are kept
        (``x`` becomes an object array).

        Parameters
        ----------
        *files : str or None
            Index files. ``None`` and ``""`` are skipped (an unset ``TEST_DATASET_URL`` gives an
            empty, falsy data source, as in Sedna).
        use_raw : bool, default=False
            Keep whole rows in ``x``.
        resolve_paths : bool, default=False
            Join relative path items (items with a ``/`` or a file extension) with the index
            file's folder, as the control plane writes paths relative to the index.

        Returns
        -------
        TxtDataParse
            ``self`` (Sedna returned None).

        Raises
        ------
        StorageNotFoundError
            If a named file does not exist (Sedna skipped it silently).
        DataError
            If ``func`` fails on a line, or a file is not UTF-8; the message names file and line.
        """
        xs: list[Any] = []
        ys: list[Any] = []
        for f in files:
            if not f:
                continue
            path = _check_local(f, "index file")
            folder = os.path.dirname(os.path.abspath(path))
            for lineno, line in _lines(path):
                text = line.strip()
                if not text:
                    continue
                if self.process_func is not None:
                    try:
                        row = self.process_func(text)
                    except Exception as exc:  # user code: re-raised with the file and line
                        raise DataError(f"{path}:{lineno}: func failed on {text[:80]!r}: "
                                        f"{type(exc).__name__}: {exc}") from exc
                else:
                    row = text.split()
                if row is None or (hasattr(row, "__len__") and not len(row)):
                    continue
                if resolve_paths:
                    row = _resolve_row(row, folder)
                if use_raw:
                    xs.append(row)
                    continue
                xs.append(row[0])
                if not self.is_test_data:
                    ys.append(row[1] if len(row) > 1 else 0)
        self.x = _to_array(xs)
        self.y = _to_array(ys)
        return self


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise BackendUnavailableError.missing("pandas (for CSVDataParse)", "pandas", error=exc) from None
    return pandas


class CSVDataParse(BaseDataSource):
    """Parse CSV files (with a header) or dict rows into pandas ``x`` (features) and ``y`` (label).

    pandas is imported on first use.
    """

    @staticmethod
    def parse_json(lines: dict[str, Any] | list[dict[str, Any]], **kwargs: Any) -> Any:
        """Turn one dict (one row) or a list of dicts (rows) into a DataFrame.

        Parameters
        ----------
        lines : dict or list of dict
            The row(s).
        **kwargs : object
            Passed to ``pandas.DataFrame.from_records``.

        Returns
        -------
        pandas.DataFrame
            The frame.
        """
        pd = _pandas()
        rows = [lines] if isinstance(lines, dict) else list(lines)
        usecols = kwargs.pop("usecols", None)
        frame = pd.DataFrame.from_records(rows, **kwargs)
        if usecols:
            frame = frame[[c for c in usecols if c in frame.columns]]
        return frame

    def parse(self, *files_or_dicts: Any, label: str | None = None, usecols: str | list[str] | None = None,
              **pd_kwargs: Any) -> CSVDataParse:
        """Read CSV files or dict rows; the ``label`` column becomes ``y``.

        Parameters
        ----------
        *files_or_dicts : str or dict or list of dict
            CSV paths (``None``/``""`` skipped), or rows.
        label : str, default=None
            The label column; without it ``y`` stays None. A frame lacking the column is
            skipped with a :class:`SednaWarning` (Sedna skipped it silently).
        usecols : str or list of str, default=None
            Columns to keep (a comma-separated string works); the label is added.
        **pd_kwargs : object
            Passed to ``pandas.read_csv``.

        Returns
        -------
        CSVDataParse
            ``self``.

        Raises
        ------
        BackendUnavailableError
            If pandas is not installed.
        StorageNotFoundError
            If a named file does not exist.
        DataError
            If a file is not valid CSV.
        """
        pd = _pandas()
        if isinstance(usecols, str):
            usecols = [c.strip() for c in usecols.split(",") if c.strip()]
        if usecols:
            usecols = list(usecols)
            if label and label not in usecols:
                usecols.append(label)
            pd_kwargs["usecols"] = usecols
        xs, ys = [], []
        for source in files_or_dicts:
            if isinstance(source, (dict, list)):
                frame = self.parse_json(source, **pd_kwargs)
                where = "row"
            else:
                if not source:
                    continue
                where = _check_local(source, "CSV file")
                try:
                    frame = pd.read_csv(where, **pd_kwargs)
                except (ValueError, pd.errors.ParserError) as exc:
                    raise DataError(f"{where}: not a valid CSV file: {exc}") from exc
            if self.process_func is not None:
                frame = self.process_func(frame)
            if label:
                if label not in frame.columns:
                    warnings.warn(f"{where}: no label column {label!r}; skipped", SednaWarning, stacklevel=2)
                    continue
                ys.append(frame[label])
                frame = frame.drop(columns=[label])
            xs.append(frame)
        if xs:
            self.x = pd.concat(xs)
            self.y = pd.concat(ys) if ys else None
        return self


class CocoIndex:
    """A small COCO annotation index over plain JSON (the calls the MOT parser needs; no pycocotools).

    Parameters
    ----------
    dataset : dict
        The decoded annotation file: ``images``, ``annotations``, ``categories``.
    """

    def __init__(self, dataset: dict[str, Any]) -> None:
        self.dataset = dataset
        self.imgs = {img["id"]: img for img in dataset.get("images", [])}
        self.anns = {ann["id"]: ann for ann in dataset.get("annotations", [])}
        self.cats = {cat["id"]: cat for cat in dataset.get("categories", [])}
        self.img_to_anns: dict[Any, list[Any]] = {}
        for ann in dataset.get("annotations", []):
            self.img_to_anns.setdefault(ann["image_id"], []).append(ann["id"])

    def getImgIds(self) -> list[Any]:  # noqa: N802 (pycocotools' name)
        """Return every image id.

        Returns
        -------
        list
            Image ids in file order.
        """
        return list(self.imgs)

    def getCatIds(self) -> list[Any]:  # noqa: N802
        """Return every category id.

        Returns
        -------
        list
            Category ids.
        """
        return list(self.cats)

    def loadImgs(self, ids: Any) -> list[dict[str, Any]]:  # noqa: N802
        """Return the image records of ``ids``.

        Parameters
        ----------
        ids : int or list of int
            Image ids.

        Returns
        -------
        list of dict
            The records.
        """
        ids = ids if isinstance(ids, (list, tuple)) else [ids]
        return [self.imgs[i] for i in ids]

    def getAnnIds(self, imgIds: Iterable[Any] = (),  # noqa: N802,N803 (pycocotools' names)
                  iscrowd: bool | None = None) -> list[Any]:
        """Return the annotation ids of some images (non-crowd ones only when ``iscrowd`` is False).

        Parameters
        ----------
        imgIds : list of int, default=()
            Image ids.
        iscrowd : bool, default=None
            ``False`` drops crowd annotations.

        Returns
        -------
        list
            Annotation ids.
        """
        out = [a for i in imgIds for a in self.img_to_anns.get(i, [])]
        if iscrowd is False:
            out = [a for a in out if not self.anns[a].get("iscrowd", 0)]
        return out

    def loadAnns(self, ids: Iterable[Any]) -> list[dict[str, Any]]:  # noqa: N802
        """Return the annotation records of ``ids``.

        Parameters
        ----------
        ids : list of int
            Annotation ids.

        Returns
        -------
        list of dict
            The records.
        """
        return [self.anns[i] for i in ids]


class JSONDataParse(BaseDataSource):
    """Parse COCO-MOT annotations (``<root>/annotations/x.json``, images under ``<root>/train``).

    ``x`` becomes ``{data_dir, coco, ids, class_ids, annotations}`` with one
    ``(boxes, (height, width, frame_id, video_id, file_name), file_name)`` per image, ``boxes``
    an ``(n, 6)`` array of ``x1, y1, x2, y2, class_index, track_id``; ``y`` lists the
    ``train/*/gt/gt_val_half.txt`` files.
    """

    def parse(self, path: str, **kwargs: Any) -> JSONDataParse:
        """Read one annotation file.

        Parameters
        ----------
        path : str
            The COCO-style JSON file.
        **kwargs : object
            Ignored (Sedna's signature).

        Returns
        -------
        JSONDataParse
            ``self``.

        Raises
        ------
        StorageNotFoundError
            If the file does not exist.
        DataError
            If it is not JSON or lacks the COCO fields; the message names the file.
        """
        path = _check_local(path, "annotation file")
        try:
            with open(path, encoding="utf-8") as fh:
                dataset = json_loads(fh.read())
            self.coco = CocoIndex(dataset)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path}: not a COCO annotation file (images/annotations/categories with ids): "
                            f"{type(exc).__name__}: {exc}") from None
        self.data_dir = Path(Path(path).parents[1], "train")
        self.ids = self.coco.getImgIds()
        self.class_ids = sorted(self.coco.getCatIds())
        self.annotations = [self.load_anno_from_ids(i, source=path) for i in self.ids]
        self.x = {"data_dir": self.data_dir, "coco": self.coco, "ids": self.ids,
                  "class_ids": self.class_ids, "annotations": self.annotations}
        self.y = sorted(self.data_dir.glob("*/gt/gt_val_half.txt"))
        return self

    def __len__(self) -> int:
        """Return the number of samples."""
        return 0 if self.x is None else len(self.x["ids"])

    def load_anno_from_ids(self, id_: Any, source: str = "") -> tuple[np.ndarray, tuple[Any, ...], str]:
        """Return one image's boxes and information.

        Parameters
        ----------
        id_ : int
            The image id.
        source : str, default=''
            The file, for error messages.

        Returns
        -------
        tuple
            ``(boxes, (height, width, frame_id, video_id, file_name), file_name)``.

        Raises
        ------
        DataError
            If the image or one of its annotations lacks a required field.
        """
        try:
            img = self.coco.loadImgs(id_)[0]
            boxes = []
            for ann in self.coco.loadAnns(self.coco.getAnnIds(imgIds=[id_], iscrowd=False)):
                x1, y1, w, h = ann["bbox"]
                if ann["area"] > 0 and w >= 0 and h >= 0:
                    boxes.append([x1, y1, x1 + w, y1 + h, self.class_ids.index(ann["category_id"]),
                                  ann["track_id"]])
            file_name = img.get("file_name", f"{id_:012}.jpg")
            info = (img["height"], img["width"], img["frame_id"], img["video_id"], file_name)
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"{source}: image {id_!r}: missing or bad field {exc}") from None
        return np.asarray(boxes, dtype=float).reshape(-1, 6), info, file_name


def _json_records(path: str, process_func: Callable[..., Any] | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, record)`` for each non-empty line of a JSON Lines file."""
    for lineno, line in _lines(path):
        text = line.strip()
        if not text:
            continue
        try:
            record = json_loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not a JSON object ({exc.msg}); a .jsonl file holds one JSON "
                            f"object per line") from None
        if process_func is not None:
            try:
                record = process_func(record)
            except Exception as exc:  # user code: re-raised with the file and line
                raise DataError(f"{path}:{lineno}: func failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
        yield lineno, record


def _field(record: dict[str, Any], key: str, path: str, lineno: int) -> Any:
    try:
        return record[key]
    except KeyError:
        raise DataError(f"{path}:{lineno}: no {key!r} field; the line has {sorted(record)}") from None


class JsonlDataParse(BaseDataSource):
    r"""Parse JSON Lines files of ``{"question": ..., "answer": ...}`` records (Sedna 0.6).

    ``x`` holds the questions and ``y`` the answers, in file order. Ianvs reads its ``.jsonl``
    datasets with this parser.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "test.jsonl")
    >>> rows = '{"question": "1+1?", "answer": "2"}\n{"question": "2+2?", "answer": "4"}\n'
    >>> _ = open(path, "w").write(rows)
    >>> ds = JsonlDataParse("test")
    >>> _ = ds.parse(path)
    >>> ds.x.tolist(), ds.y.tolist()
    (['1+1?', '2+2?'], ['2', '4'])
    """

    def parse(self, *files: str | None, **kwargs: Any) -> JsonlDataParse:
        """Read JSON Lines files.

        Parameters
        ----------
        *files : str or None
            ``.jsonl`` files; ``None`` and ``""`` are skipped.
        **kwargs : object
            Ignored (Sedna's signature).

        Returns
        -------
        JsonlDataParse
            ``self`` (Sedna returned None).

        Raises
        ------
        StorageNotFoundError
            If a named file does not exist (Sedna skipped it silently).
        DataError
            If a line is not a JSON object or lacks ``question`` or ``answer``; the message names
            file and line.
        """
        xs: list[Any] = []
        ys: list[Any] = []
        for f in files:
            if not f:
                continue
            path = _check_local(f, "JSON Lines file")
            for lineno, record in _json_records(path, self.process_func):
                xs.append(_field(record, "question", path, lineno))
                ys.append(_field(record, "answer", path, lineno))
        self.x = _to_array(xs)
        self.y = _to_array(ys)
        return self


class JSONMetaDataParse(BaseDataSource):
    """Parse an LLM benchmark: a ``metadata.json`` file and the ``data.jsonl`` beside it (Sedna 0.6).

    ``metadata.json`` gives ``dataset``, ``description``, ``level_1_dim`` and ``level_2_dim``
    (and optionally ``level_3_dim``, ``level_4_dim``); they become the attributes
    ``dataset_name``, ``description``, ``level_1_dim``, ... Each line of ``data.jsonl`` has
    ``query``, ``response``, ``level_3_dim`` and ``level_4_dim`` and optionally ``prompt``,
    ``explanation`` and ``judge_prompt``: ``x`` is ``prompt + query``, ``y`` the response, and
    ``explanation``, ``judge_prompts``, ``level_3``, ``level_4`` are arrays aligned with ``x``
    (an absent optional text is ``""``). ``need_other_info`` is True, which tells Ianvs to hand
    the whole data source to the model.
    """

    def __init__(self, data_type: str = "train", func: Callable[..., Any] | str | None = None) -> None:
        super().__init__(data_type=data_type, func=func)
        self.need_other_info = True

    def parse(self, *files: str | None, **kwargs: Any) -> JSONMetaDataParse:
        """Read ``metadata.json`` files and their ``data.jsonl``; the last file given wins.

        Parameters
        ----------
        *files : str or None
            ``metadata.json`` paths; ``None`` and ``""`` are skipped. The data file is the
            same name with ``metadata.json`` replaced by ``data.jsonl``, else ``data.jsonl`` in
            the same folder.
        **kwargs : object
            Ignored (Sedna's signature).

        Returns
        -------
        JSONMetaDataParse
            ``self`` (Sedna returned None).

        Raises
        ------
        StorageNotFoundError
            If a metadata file or its data file does not exist.
        DataError
            If a file is not JSON or lacks a required field; the message names file, line and
            field.
        """
        for f in files:
            if not f:
                continue
            path = _check_local(f, "metadata file")
            try:
                with open(path, encoding="utf-8") as fh:
                    meta = json_loads(fh.read())
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise StorageError(f"cannot read {path!r}: {exc}", uri=path) from exc
            if not isinstance(meta, dict):
                raise DataError(f"{path}: expected a JSON object, got {type(meta).__name__}")
            self.dataset_name = _field(meta, "dataset", path, 1)
            self.description = _field(meta, "description", path, 1)
            self.level_1_dim = _field(meta, "level_1_dim", path, 1)
            self.level_2_dim = _field(meta, "level_2_dim", path, 1)
            for key in ("level_3_dim", "level_4_dim"):
                if key in meta:
                    setattr(self, key, meta[key])
            folder, name = os.path.split(path)
            data_name = (name.replace("metadata.json", "data.jsonl") if "metadata.json" in name
                         else "data.jsonl")
            data_path = _check_local(os.path.join(folder, data_name), f"the data file of {name}")
            columns: dict[str, list[Any]] = {k: [] for k in ("x", "y", "explanation", "judge_prompts",
                                                             "level_3", "level_4")}
            for lineno, record in _json_records(data_path, self.process_func):
                query = _field(record, "query", data_path, lineno)
                columns["x"].append(str(record.get("prompt", "")) + str(query))
                columns["y"].append(_field(record, "response", data_path, lineno))
                columns["explanation"].append(record.get("explanation", ""))
                columns["judge_prompts"].append(record.get("judge_prompt", ""))
                columns["level_3"].append(_field(record, "level_3_dim", data_path, lineno))
                columns["level_4"].append(_field(record, "level_4_dim", data_path, lineno))
            for key, values in columns.items():
                setattr(self, key, _to_array(values))
        return self


# -- solar_corona: load_train_dataset / load_eval_dataset -----------------------------------------

def _local_copy(url: str, context: Any) -> str:
    return context.storage.download(url) if _is_remote(url) else url


def _numeric(values: list[str]) -> np.ndarray:
    array = np.asarray(values)
    for dtype in (np.int64, np.float64):
        try:
            return array.astype(dtype)
        except ValueError:
            continue
    return array


def _load_csv(path: str, label: str | None) -> tuple[np.ndarray, np.ndarray]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if not rows:
        raise DataError(f"{path}: empty CSV file")
    header = rows[0]
    has_header = any(not _is_number(c) for c in header)
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"{path}: the CSV file has a header and no rows")
    width = len(body[0])
    for i, row in enumerate(body, 2 if has_header else 1):
        if len(row) != width:
            raise DataError(f"{path}:{i}: expected {width} columns, got {len(row)}")
    if label is not None and has_header:
        if label not in header:
            raise DataError(f"{path}: no label column {label!r}; columns are {header}")
        col = header.index(label)
    else:
        col = header.index("label") if has_header and "label" in header else width - 1
    table = np.asarray(body, dtype=object)
    y = _numeric(list(table[:, col]))
    x_cols = [c for c in range(width) if c != col]
    try:
        x = table[:, x_cols].astype(np.float64)
    except ValueError:
        x = table[:, x_cols].astype(str)
    return x, y


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_dataset(url: str | None, *, variable: str = "TRAIN_DATASET_URL", label: str | None = None,
                 context: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Load ``(x, y)`` from a dataset file: ``.npz`` (arrays ``x`` and ``y``), ``.csv`` or a ``.txt`` index.

    * ``.npz``: arrays named ``x`` and ``y`` (else the first two), read without pickle.
    * ``.csv``: numbers; the ``label`` column (default: a column named ``label``, else the last)
      is ``y``, the others are ``x``. A header row is detected.
    * ``.txt`` (or any other name): a Sedna index, ``<path> <label>`` per line; ``x`` holds the
      paths resolved against the index file's folder, ``y`` the labels (numbers when they all are).

    Parameters
    ----------
    url : str
        The file; a remote URL (``s3://``, ``http(s)://``) is downloaded first.
    variable : str, default='TRAIN_DATASET_URL'
        The variable that gave ``url`` (for error messages).
    label : str, default=None
        The label column of a CSV file.
    context : Context, default=None
        Gives the storage layer for remote URLs.

    Returns
    -------
    tuple of (ndarray, ndarray)
        ``(x, y)``.

    Raises
    ------
    ConfigError
        If ``url`` is empty.
    StorageNotFoundError
        If the file does not exist.
    DataError
        If the file is malformed; the message names it.
    """
    if not url:
        raise ConfigError(f"{variable} is not set; point it at a .npz, .csv or .txt dataset file",
                          variable=variable)
    if _is_remote(url):
        context = resolve(context)
    path = _check_local(_local_copy(url, context), variable)
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = list(data.keys())
                if "x" in keys and "y" in keys:
                    return data["x"], data["y"]
                if len(keys) >= 2:
                    return data[keys[0]], data[keys[1]]
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: not a readable .npz file without pickled objects: {exc}") from exc
        raise DataError(f"{path}: a dataset .npz needs arrays 'x' and 'y', found {keys}")
    if suffix == ".csv":
        return _load_csv(path, label)
    parsed = TxtDataParse("train").parse(path, resolve_paths=True)
    return parsed.x, _numeric([str(v) for v in parsed.y.tolist()]) if len(parsed.y) else parsed.y


def load_train_dataset(url: str | None = None, *, label: str | None = None,
                       context: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Load the training set named by ``TRAIN_DATASET_URL`` (solar_corona's ``load_train_dataset``).

    Parameters
    ----------
    url : str, default=None
        The dataset file; ``TRAIN_DATASET_URL`` when omitted.
    label : str, default=None
        The label column of a CSV file.
    context : Context, default=None
        Configuration and storage; the process environment when omitted.

    Returns
    -------
    tuple of (ndarray, ndarray)
        ``(x, y)``; see :func:`load_dataset` for the formats.

    Raises
    ------
    ConfigError
        If no URL is given and ``TRAIN_DATASET_URL`` is unset.
    """
    return _load_named(url, "TRAIN_DATASET_URL", label=label, context=context)


def load_eval_dataset(url: str | None = None, *, label: str | None = None,
                      context: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Load the evaluation set named by ``TEST_DATASET_URL`` (solar_corona's ``load_eval_dataset``).

    Parameters
    ----------
    url : str, default=None
        The dataset file; ``TEST_DATASET_URL`` when omitted.
    label : str, default=None
        The label column of a CSV file.
    context : Context, default=None
        Configuration and storage; the process environment when omitted.

    Returns
    -------
    tuple of (ndarray, ndarray)
        ``(x, y)``.

    Raises
    ------
    ConfigError
        If no URL is given and ``TEST_DATASET_URL`` is unset.
    """
    return _load_named(url, "TEST_DATASET_URL", label=label, context=context)


def _load_named(url: str | None, variable: str, *, label: str | None,
                context: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_dataset` of ``url``, else of the URL the variable ``variable`` gives."""
    if url is None:  # the Config field of a variable is its name in lower case
        url = (getattr(context.config, variable.lower()) if context is not None
               else _cfg.get_parameter(variable))
    return load_dataset(url, variable=variable, label=label, context=context)
