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
from typing import NamedTuple

import numpy as np

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

    Examples
    --------
    >>> items = {item.question: item.answer for item in module_qa()}
    >>> items["module of dedent is"]
    'textwrap'
    """
    owners: dict[str, set[str]] = {}
    docs: dict[str, str] = {}
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr in dir(module):
            if not _NAME.match(attr) or attr == name:
                continue
            obj = getattr(module, attr, None)
            if not (inspect.isfunction(obj) or inspect.isbuiltin(obj)):
                continue
            owners.setdefault(attr, set()).add(name)
            doc = (inspect.getdoc(obj) or "").strip().splitlines()
            docs.setdefault(attr, doc[0][:200] if doc else "")
    return [QAItem(f"module of {fn} is", next(iter(mods)), docs.get(fn, ""))
            for fn, mods in sorted(owners.items()) if len(mods) == 1]


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
    """
    rng = np.random.default_rng(seed)
    answers = sorted({item.answer for item in items})
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
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(items))
    cloud = [items[i] for i in order[:int(round(cloud_share * len(items)))]]
    if not topic_skew:
        return [items[i] for i in order[:int(round(edge_share * len(items)))]], cloud
    modules = sorted({item.answer for item in items})
    familiar = {modules[i] for i in rng.permutation(len(modules))[:len(modules) // 2]}
    base = edge_share / cloud_share
    edge = [item for item in cloud
            if rng.random() < base + (topic_skew / 2 if item.answer in familiar else -topic_skew / 2)]
    return edge, cloud
