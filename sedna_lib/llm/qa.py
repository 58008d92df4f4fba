"""A question-answering task with known answers, built from the Python standard library itself.

"module of ``sqrt`` is" -> ``math``: which standard module defines a function. The facts and the
docstrings that go with them ship with every Python, so tests, examples and benchmarks can train
language models on the spot (a weak edge that knows some facts, a stronger cloud that knows more)
and measure accuracy without downloading anything.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..base import check_count, check_number
from ..exceptions import DataError, ParameterError

__all__ = ["QAItem", "module_qa", "fact_sentences", "split_knowledge"]

MODULES = ("math", "cmath", "statistics", "random", "string", "textwrap", "re", "json", "itertools",
           "functools", "operator", "heapq", "bisect", "copy", "shutil", "glob", "fnmatch", "base64",
           "binascii", "zlib", "gzip", "hashlib", "hmac", "secrets", "calendar", "time", "socket", "struct",
           "codecs", "unicodedata", "locale",
           "tempfile", "filecmp", "difflib", "html", "keyword", "platform", "sysconfig", "inspect", "pickle",
           "warnings", "traceback", "gc", "signal", "subprocess", "threading", "contextlib", "abc", "atexit",
           "colorsys", "zipfile", "tarfile", "csv", "uuid", "ipaddress", "mimetypes", "webbrowser", "pprint")
_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


class QAItem(NamedTuple):
    """One question and its answer.

    Attributes
    ----------
    question : str
        The prompt (``"module of sqrt is"``).
    answer : str
        The right answer (``"math"``).
    doc : str
        The first line of the function's docstring ('' if none).
    """

    question: str
    answer: str
    doc: str = ""


def module_qa(modules: tuple[str, ...] = MODULES) -> list[QAItem]:
    """List the functions defined in exactly one of ``modules``, as questions with their module as answer.

    Parameters
    ----------
    modules : tuple of str, default=MODULES
        Standard-library modules to read (those missing on this platform are skipped).

    Returns
    -------
    list of QAItem
        Sorted by function name.

    Raises
    ------
    ParameterError
        If ``modules`` is not a non-empty sequence of module names (one string alone is refused:
        write ``("math",)``), or none of them can be imported.

    Examples
    --------
    >>> items = {item.question: item.answer for item in module_qa()}
    >>> items["module of dedent is"]
    'textwrap'
    """
    if isinstance(modules, (str, bytes)) or not isinstance(modules, Sequence) or not modules:
        raise ParameterError(f"module_qa: modules must be a non-empty sequence of module names such as "
                             f"('math', 'json'), got {modules!r:.80}")
    for i, name in enumerate(modules):
        if not isinstance(name, str) or not name:
            raise ParameterError(f"module_qa: modules[{i}] must be a module name (a non-empty string), "
                                 f"got {name!r:.80}")
    owners: dict[str, set[str]] = {}
    docs: dict[str, str] = {}
    found = False
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found = True
        for attr in dir(module):
            if not _NAME.match(attr) or attr == name:
                continue
            obj = getattr(module, attr, None)
            if not (inspect.isfunction(obj) or inspect.isbuiltin(obj)):
                continue
            owners.setdefault(attr, set()).add(name)
            doc = (inspect.getdoc(obj) or "").strip().splitlines()
            docs.setdefault(attr, doc[0][:200] if doc else "")
    if not found:
        raise ParameterError(f"module_qa: none of the modules {list(modules)!r:.120} can be imported; name "
                             f"standard-library modules such as 'math'")
    return [QAItem(f"module of {fn} is", next(iter(mods)), docs.get(fn, ""))
            for fn, mods in sorted(owners.items()) if len(mods) == 1]


def _checked_items(items: Any, function: str) -> Sequence[Any]:
    """Return ``items`` after checking that it is a non-empty sequence of questions with their answers."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise DataError(f"{function}: items must be a list of QAItem (as module_qa() returns), got "
                        f"{type(items).__name__}")
    if not items:
        raise DataError(f"{function}: items is empty; pass the questions module_qa() returns (or some of "
                        f"them)")
    for i, item in enumerate(items):
        if not all(isinstance(getattr(item, field, None), str) for field in ("question", "answer")):
            raise DataError(f"{function}: items[{i}] must be a QAItem(question, answer) with string fields, "
                            f"got {type(item).__name__} {item!r:.80}")
    return items


def fact_sentences(items: list[QAItem], *, wrong: float = 0.0, seed: int = 0) -> list[str]:
    """Write the training text of some facts: ``"module of f is m ."`` and ``"f : <docstring>"`` lines.

    Parameters
    ----------
    items : list of QAItem
        The facts to teach.
    wrong : float, default=0.0
        Share of the facts taught with a wrong module (a model that is confidently wrong on them).
    seed : int, default=0
        Seed of the wrong answers.

    Returns
    -------
    list of str
        One sentence per line.

    Raises
    ------
    DataError
        If ``items`` is not a non-empty list of :class:`QAItem`, or ``wrong`` is above 0 while the
        items have fewer than two different answers (a wrong one is drawn among the others).
    ParameterError
        If ``wrong`` is not a finite number in [0, 1], or ``seed`` not a whole number >= 0.
    """
    items = _checked_items(items, "fact_sentences")
    wrong = check_number("wrong", wrong, 0, 1)
    rng = np.random.default_rng(check_count("seed", seed, low=0))
    answers = sorted({item.answer for item in items})
    if wrong and len(answers) < 2:
        raise DataError(f"fact_sentences: wrong={wrong:g} needs items with two different answers at least "
                        f"(a wrong answer is another item's), got only {answers!r:.80}; pass wrong=0")
    lines = []
    for item in items:
        answer = item.answer
        if wrong and rng.random() < wrong:
            answer = str(rng.choice([a for a in answers if a != item.answer]))
        lines.append(f"{item.question} {answer} .")
    return lines


def split_knowledge(items: list[QAItem], *, edge_share: float = 0.55, cloud_share: float = 0.9,
                    topic_skew: float = 0.0, seed: int = 0) -> tuple[list[QAItem], list[QAItem]]:
    """Choose the facts each side knows: the edge's are a subset of the cloud's.

    With ``topic_skew`` the edge knows some modules better than others (as a small model knows
    the popular topics): half the modules, drawn at random, are known ``topic_skew / 2`` more
    often than the mean, the other half as much less often.

    Parameters
    ----------
    items : list of QAItem
        All facts.
    edge_share : float, default=0.55
        Share the edge model learns.
    cloud_share : float, default=0.9
        Share the cloud model learns (>= ``edge_share``).
    topic_skew : float, default=0.0
        Difference between the edge's knowledge of familiar and unfamiliar modules (0: none).
    seed : int, default=0
        Seed of the choice.

    Returns
    -------
    (list of QAItem, list of QAItem)
        The edge's facts and the cloud's facts.

    Raises
    ------
    DataError
        If ``items`` is not a non-empty list of :class:`QAItem`.
    ParameterError
        If ``edge_share``, ``cloud_share`` or ``topic_skew`` is not a finite number in [0, 1],
        ``edge_share`` is above ``cloud_share`` (the edge knows a subset of the cloud's facts), or
        ``seed`` is not a whole number >= 0.
    """
    items = _checked_items(items, "split_knowledge")
    edge_share = check_number("edge_share", edge_share, 0, 1)
    cloud_share = check_number("cloud_share", cloud_share, 0, 1)
    topic_skew = check_number("topic_skew", topic_skew, 0, 1)
    if edge_share > cloud_share:
        raise ParameterError(f"split_knowledge: edge_share ({edge_share:g}) must be <= cloud_share "
                             f"({cloud_share:g}): the edge knows a subset of the cloud's facts")
    rng = np.random.default_rng(check_count("seed", seed, low=0))
    order = rng.permutation(len(items))
    cloud = [items[i] for i in order[:int(round(cloud_share * len(items)))]]
    if not topic_skew:
        return [items[i] for i in order[:int(round(edge_share * len(items)))]], cloud
    modules = sorted({item.answer for item in items})
    familiar = {modules[i] for i in rng.permutation(len(modules))[:len(modules) // 2]}
    base = edge_share / cloud_share if cloud_share else 0.0
    edge = [item for item in cloud
            if rng.random() < base + (topic_skew / 2 if item.answer in familiar else -topic_skew / 2)]
    return edge, cloud
