"""One registry for everything pluggable: backends, miners, aggregators, callbacks, task algorithms.

Built-ins and third-party plugins enter through the same door, the ``sedna_lib.<kind>`` entry-point
groups, and are imported only when first asked for; user code registers with the
:func:`register` decorator. Names are listed without importing anything.
"""

from __future__ import annotations

import contextlib
import difflib
import enum
import functools
import inspect
import json
import logging
import math
import threading
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Union

from ._json import loads as json_loads
from .config import parse_key_value_parameters
from .exceptions import (
    ClassNotFoundError,
    ConfigError,
    DuplicateRegistrationError,
    NotRegisteredError,
    ParameterError,
    PluginLoadError,
)

__all__ = ["Kind", "Plugin", "Registry", "default_registry", "register", "get", "create", "names",
           "is_registered", "coerce_params", "parse_kwargs", "accepts", "signature_shape",
           "AlgorithmSpec", "parse_spec", "build", "build_algorithm", "get_class", "resolve_callback"]

logger = logging.getLogger(__name__)

ENTRY_POINT_PREFIX = "sedna_lib."


class Kind(str, enum.Enum):
    """The kinds of pluggable things; values are Sedna's ``ClassType`` strings where one exists."""

    GENERAL = "general"
    BACKEND = "backends"
    HARD_EXAMPLE_MINING = "hard_example_mining"
    AGGREGATION = "aggregation"
    CLIENT_CHOOSE = "client_choose"
    CALLBACK = "post_process_callback"
    MULTI_TASK_LEARNING = "multi_task_learening"  # Sedna's spelling, the key of scripts, CRDs, entry points
    UNSEEN_TASK_DETECT = "unseen_task_detect"
    SEEN_TASK_PROCESSING = "seen_task_processing"
    UNSEEN_TASK_PROCESSING = "unseen_task_processing"
    KNOWLEDGE_MANAGEMENT = "knowledge_management"
    OPTICAL_FLOW = "optical_flow"
    ALGORITHM = "algorithm"
    DATASET = "data_process"
    REID = "reid"

    @classmethod
    def _missing_(cls, value: object) -> Kind | None:
        key = _SPELLINGS.get(value) if isinstance(value, str) else None
        return None if key is None else cls(key)

    @property
    def label(self) -> str:
        """The name shown to users: the value, spelt correctly where Sedna's key is misspelt."""
        return _LABELS.get(self.value, self.value)


#: Correct spelling -> Sedna's key, for keys Sedna misspelt; both spellings are accepted everywhere.
_SPELLINGS = {"multi_task_learning": Kind.MULTI_TASK_LEARNING.value}
_LABELS = {key: label for label, key in _SPELLINGS.items()}

KindLike = Union[Kind, str]


def _key(kind: KindLike) -> str:
    if isinstance(kind, Kind):
        return kind.value
    return _SPELLINGS.get(str(kind), str(kind))


def _label(key: str) -> str:
    """Return the name users see for a kind key (``multi_task_learning`` for ``multi_task_learening``)."""
    return _LABELS.get(key, key)


@dataclass(frozen=True)
class Plugin:
    """A plugin before loading: where it is, not what it is (listing never imports)."""

    kind: str
    name: str
    value: str
    distribution: str | None = None

    def load(self) -> Any:
        """Import the plugin's object.

        Returns
        -------
        object
            The class or function the entry point names.

        Raises
        ------
        PluginLoadError
            If the import fails; the original error is the ``__cause__``.
        """
        module_name, _, attr = self.value.partition(":")
        try:
            obj = __import__(module_name, fromlist=["_"])
            for part in filter(None, attr.split(".")):
                obj = getattr(obj, part)
        except Exception as exc:  # any import-time failure of a plugin is reported the same way
            raise PluginLoadError(
                f"{_label(self.kind)} plugin {self.name!r} ({self.value}) failed to load: {exc}",
                kind=self.kind, name=self.name) from exc
        return obj


def _did_you_mean(name: Any, known: list[str]) -> str:
    """Return ``"; did you mean 'FedAvg'?"`` for a name that differs from a known one in case or a little."""
    if not isinstance(name, str) or not known:
        return ""
    folded = {k.lower(): k for k in known}
    match = [folded[name.lower()]] if name.lower() in folded else (
        difflib.get_close_matches(name, known, n=1)
        or [folded[m] for m in difflib.get_close_matches(name.lower(), list(folded), n=1)])
    return f"; did you mean {match[0]!r}?" if match else ""


class Registry:
    """Maps ``(kind, name)`` to a class or function.

    Parameters
    ----------
    use_entry_points : bool, default=True
        Discover ``sedna_lib.<kind>`` entry points lazily on first use of a kind.

    Examples
    --------
    >>> reg = Registry(use_entry_points=False)
    >>> @reg.register("demo", "Echo")
    ... class Echo:
    ...     def __init__(self, times: int = 1):
    ...         self.times = times
    >>> reg.create("demo", "Echo", times="3").times
    3
    >>> reg.names("demo")
    ['Echo']
    """

    def __init__(self, *, use_entry_points: bool = True) -> None:
        self.use_entry_points = use_entry_points
        self._entries: dict[str, dict[str, Any]] = {}
        self._plugins: dict[str, dict[str, Plugin]] = {}
        self._lock = threading.RLock()

    def __getstate__(self) -> dict:
        """Pickle without the lock (a backend shipped to a Ray worker carries its context's registry)."""
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        """Restore, with a fresh lock."""
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- discovery -------------------------------------------------------------------------
    def _discover(self, kind: str) -> dict[str, Plugin]:
        with self._lock:
            found = self._plugins.get(kind)
            if found is None:
                found = {}
                if self.use_entry_points:
                    # importlib.metadata costs more to import than the rest of sedna_lib: only on first lookup
                    from importlib import metadata

                    for ep in metadata.entry_points(group=ENTRY_POINT_PREFIX + kind):
                        dist = getattr(getattr(ep, "dist", None), "name", None)
                        found.setdefault(ep.name, Plugin(kind, ep.name, ep.value, dist))
                self._plugins[kind] = found
            return found

    def plugins(self, kind: KindLike) -> list[Plugin]:
        """List the entry-point plugins of a kind without importing them.

        Parameters
        ----------
        kind : Kind or str
            The kind to list.

        Returns
        -------
        list of Plugin
            Sorted by name.
        """
        return [p for _, p in sorted(self._discover(_key(kind)).items())]

    # -- registration ----------------------------------------------------------------------
    def register(self, kind: KindLike, name: str | None = None, obj: Any = None, *,
                 override: bool = False) -> Any:
        """Register ``obj`` under ``(kind, name)``; without ``obj``, return a decorator.

        Parameters
        ----------
        kind : Kind or str
            The kind of thing registered.
        name : str, default=None
            The registered name; defaults to ``obj.__name__``. Third-party plugins should
            prefix theirs (``"mypkg.MyMiner"``).
        obj : class or callable, default=None
            The thing to register.
        override : bool, default=False
            Replace an existing registration instead of raising.

        Returns
        -------
        object
            ``obj`` unchanged, or a decorator that registers and returns its argument.

        Raises
        ------
        DuplicateRegistrationError
            If the name is taken (by a registration or an entry point) and ``override`` is False.
        """
        if obj is None:
            def decorator(target: Any) -> Any:
                return self.register(kind, name, target, override=override)
            return decorator
        key = _key(kind)
        reg_name = name or getattr(obj, "__name__", None)
        if not reg_name:
            raise ParameterError(f"cannot register {obj!r} under kind {key!r}: give a name")
        with self._lock:
            entries = self._entries.setdefault(key, {})
            existing = entries.get(reg_name)
            taken = existing is not None and existing is not obj
            if not taken and existing is None:
                plugin = self._discover(key).get(reg_name)
                taken = plugin is not None and f"{obj.__module__}:{obj.__qualname__}" != plugin.value
            if taken and not override:
                raise DuplicateRegistrationError(
                    f"{_label(key)} name {reg_name!r} is already registered; pick another name "
                    f"(prefix it with your package) or pass override=True", kind=key, name=reg_name)
            entries[reg_name] = obj
        return obj

    def unregister(self, kind: KindLike, name: str) -> None:
        """Remove a registration made with :meth:`register` (entry points stay discoverable).

        Parameters
        ----------
        kind : Kind or str
            The kind.
        name : str
            The registered name.

        Raises
        ------
        NotRegisteredError
            If nothing was registered under that name.
        """
        key = _key(kind)
        with self._lock:
            if name not in self._entries.get(key, {}):
                raise NotRegisteredError(f"{_label(key)} name {name!r} was not registered",
                                         kind=key, name=name)
            del self._entries[key][name]

    @contextlib.contextmanager
    def scope(self) -> Iterator[Registry]:
        """Undo every registration made inside the ``with`` block (for tests and experiments).

        Yields
        ------
        Registry
            This registry.
        """
        with self._lock:
            saved = {k: dict(v) for k, v in self._entries.items()}
        try:
            yield self
        finally:
            with self._lock:
                self._entries = saved

    # -- lookup ----------------------------------------------------------------------------
    def names(self, kind: KindLike) -> list[str]:
        """Return the registered names of a kind, sorted, without importing plugins.

        Parameters
        ----------
        kind : Kind or str
            The kind.

        Returns
        -------
        list of str
            Registered and entry-point names.
        """
        key = _key(kind)
        with self._lock:
            return sorted(set(self._entries.get(key, {})) | set(self._discover(key)))

    def kinds(self) -> list[str]:
        """Return the kinds that have at least one registration made in this process.

        Returns
        -------
        list of str
            Kind keys.
        """
        with self._lock:
            return sorted(k for k, v in self._entries.items() if v)

    def is_registered(self, kind: KindLike, name: str) -> bool:
        """Tell whether ``name`` is registered (or discoverable) for ``kind``.

        Parameters
        ----------
        kind : Kind or str
            The kind.
        name : str
            The name.

        Returns
        -------
        bool
            True if :meth:`get` would find it.
        """
        key = _key(kind)
        with self._lock:
            return name in self._entries.get(key, {}) or name in self._discover(key)

    def get(self, kind: KindLike, name: str) -> Any:
        """Return the class or function registered as ``(kind, name)``, loading it if needed.

        Parameters
        ----------
        kind : Kind or str
            The kind.
        name : str
            The registered name.

        Returns
        -------
        object
            The registered class or function.

        Raises
        ------
        NotRegisteredError
            If the name is unknown; the message lists the known names, and asks "did you mean
            'FedAvg'?" when one differs only in case or is close.
        PluginLoadError
            If the entry point fails to import.
        """
        key = _key(kind)
        with self._lock:
            entries = self._entries.setdefault(key, {})
            if name in entries:
                return entries[name]
            plugin = self._discover(key).get(name)
        if plugin is None:
            names = self.names(key)
            known = ", ".join(names) or "none"
            raise NotRegisteredError(f"no {_label(key)} named {name!r}; known names: {known}"
                                     f"{_did_you_mean(name, names)}", kind=key, name=name)
        obj = plugin.load()
        with self._lock:
            return entries.setdefault(name, obj)

    def create(self, kind: KindLike, name: str, /, **params: Any) -> Any:
        """Instantiate ``(kind, name)`` with ``params``, coercing strings by the constructor's annotations.

        Values that come from environment variables or CRDs are strings; each is converted to
        the type its constructor parameter declares (``int``, ``float``, ``bool``, lists and
        dicts from JSON). Unknown parameters are refused.

        Parameters
        ----------
        kind : Kind or str
            The kind.
        name : str
            The registered name.
        **params : object
            Constructor parameters.

        Returns
        -------
        object
            The new instance.

        Raises
        ------
        NotRegisteredError
            If the name is unknown.
        ParameterError
            If a parameter is unknown or cannot be converted.
        """
        cls = self.get(kind, name)
        return cls(**coerce_params(cls, params, label=f"{_label(_key(kind))} {name!r}"))


# -- the spec -> algorithm door ------------------------------------------------------------------

class AlgorithmSpec(tuple):
    """``(method, params)``: a registered name and its parameters."""

    @property
    def method(self) -> str:
        """The registered name."""
        return self[0]

    @property
    def params(self) -> dict:
        """The parameters."""
        return self[1]


def parse_spec(spec: Any, default: str | None, *, label: str) -> AlgorithmSpec | None:
    """Parse an algorithm argument.

    Parameters
    ----------
    spec : dict, str or None
        ``{"method": name, "param": dict | JSON string | [{"key", "value"}]}``, a bare name, or
        None for ``default``.
    default : str or None
        The method used when ``spec`` is None or names no method.
    label : str
        The argument's name, for error messages.

    Returns
    -------
    AlgorithmSpec or None
        None when there is neither a spec nor a default.

    Raises
    ------
    ParameterError
        If ``spec`` is malformed or its ``param`` is not valid JSON (Sedna's ``json.loads(...,
        encoding=)`` broke here on Python 3.9+).
    """
    if spec is None or spec == {}:
        return None if default is None else AlgorithmSpec((default, {}))
    if isinstance(spec, str):
        return AlgorithmSpec((spec, {}))
    if not isinstance(spec, Mapping):
        raise ParameterError(f"{label} must be {{'method': name, 'param': {{...}}}}, "
                             f"got {type(spec).__name__}")
    method = spec.get("method") or default
    if not method:
        raise ParameterError(f"{label} needs a 'method' (a registered algorithm name), got {spec!r}")
    raw = spec.get("param", spec.get("params"))
    if raw is None or raw == "":
        params: dict = {}
    elif isinstance(raw, Mapping):
        params = dict(raw)
    elif isinstance(raw, (str, list)):
        text = raw if isinstance(raw, str) else json.dumps(raw)
        try:
            params = parse_key_value_parameters(text, variable=f"{label}.param")
        except ConfigError as exc:
            raise ParameterError(f"{label}: 'param' must be a dict or JSON object: {exc}") from None
    else:
        raise ParameterError(f"{label}: 'param' must be a dict or a JSON string, got {type(raw).__name__}")
    return AlgorithmSpec((str(method), params))


def build(registry: Registry, kind: Kind, spec: AlgorithmSpec, **context: Any) -> Any:
    """Instantiate ``spec`` from the registry, adding the ``context`` arguments its constructor accepts.

    Parameters
    ----------
    registry : Registry
        Where the name is looked up.
    kind : Kind
        The algorithm kind.
    spec : AlgorithmSpec
        Method and parameters.
    **context : object
        Run-time arguments (``task_extractor``, ``models``, ``task_index``, ...), given only to
        constructors that declare them; the user's parameters win.

    Returns
    -------
    object
        The algorithm.

    Raises
    ------
    NotRegisteredError
        If the name is unknown (the message lists the known names).
    ParameterError
        If a parameter is unknown or ill-typed.
    """
    cls = registry.get(kind, spec.method)
    params = coerce_params(cls, dict(spec.params), label=f"{kind.label} {spec.method!r}")
    extra = {k: v for k, v in context.items() if k not in params and accepts(cls, k)}
    return cls(**params, **extra)


def build_algorithm(registry: Registry, kind: Kind, spec: Any, *, default: str | None = None,
                    label: str = "algorithm", **context: Any) -> Any:
    """Turn what a user passed for an algorithm into the algorithm: the one spec -> algorithm door.

    Parameters
    ----------
    registry : Registry
        Where names are looked up.
    kind : Kind
        The algorithm kind.
    spec : str, dict, AlgorithmSpec, object or None
        A registered name, Sedna's ``{"method": name, "param": dict | JSON string | [{"key",
        "value"}]}``, a parsed :class:`AlgorithmSpec`, or an algorithm instance (returned as it is).
    default : str or None, default=None
        The method when ``spec`` is None or names none.
    label : str, default='algorithm'
        The argument's name, for error messages.
    **context : object
        Run-time arguments given only to constructors that declare them.

    Returns
    -------
    object or None
        The algorithm; None when there is neither a spec nor a default.

    Raises
    ------
    NotRegisteredError
        If the name is unknown (the message lists the known names).
    ParameterError
        If the spec is malformed or a parameter is unknown or ill-typed.

    Examples
    --------
    >>> reg = Registry()
    >>> @reg.register(Kind.HARD_EXAMPLE_MINING, "Half")
    ... class Half:
    ...     def __init__(self, threshold: float = 0.5):
    ...         self.threshold = threshold
    >>> spec = {"method": "Half", "param": '{"threshold": "0.2"}'}
    >>> build_algorithm(reg, Kind.HARD_EXAMPLE_MINING, spec).threshold
    0.2
    """
    if spec is not None and not isinstance(spec, (str, Mapping, AlgorithmSpec)):
        return spec  # an instance the user built
    parsed = spec if isinstance(spec, AlgorithmSpec) else parse_spec(spec, default, label=label)
    return None if parsed is None else build(registry, kind, parsed, **context)


# -- the one callback resolver -------------------------------------------------------------------

def get_class(kind: KindLike, name: str | None, *, registry: Registry | None = None) -> Any:
    """Return what is registered as ``(kind, name)``, or raise :class:`ClassNotFoundError` (Sedna's lookup).

    The lookup of Sedna's ``ClassFactory.get_cls`` and of the names a Sedna script passes (callbacks,
    parsers): the error is also a ``ValueError`` and names the kind and the name in Sedna's words.

    Parameters
    ----------
    kind : Kind or str
        The kind.
    name : str or None
        The registered name.
    registry : Registry, default=None
        Where to look (the default registry when None).

    Returns
    -------
    object
        The registered class or function.

    Raises
    ------
    ClassNotFoundError
        If the name is missing or unknown; the message lists the known names.
    PluginLoadError
        If the built-in or plugin that provides the name fails to import.
    """
    reg = registry or default_registry
    key = _key(kind)
    if name is None:
        raise ClassNotFoundError(f"can't find class: class type={key}, no class name given; "
                                 f"known names: {', '.join(reg.names(key)) or 'none'}", kind=key, name=None)
    try:
        return reg.get(key, name)
    except NotRegisteredError as exc:
        known = ", ".join(reg.names(key)) or "none"
        raise ClassNotFoundError(f"can't find class type {key} class name {name} in class registry; "
                                 f"known names: {known}", kind=key, name=name) from exc


def resolve_callback(post_process: Any, *, registry: Registry | None = None, instantiate: bool = False,
                     get: Callable[[str], Any] | None = None, label: str = "post_process") -> Any:
    """Turn a ``post_process`` argument into what to call with a result.

    A callable is kept as it is; a name is looked up as ``Kind.CALLBACK``
    (``post_process_callback``). What a name gives depends on the call site, as in Sedna:
    ``JobBase.inference``/``evaluate`` and the federated faces call the registered object with the
    result (``instantiate=False``: a registered class is constructed with the result); the data
    parsers and the inference server build a registered class with no arguments and call the
    instance (``instantiate=True``; a registered function is called as it is).

    Parameters
    ----------
    post_process : callable, str or None
        The argument as the user gave it.
    registry : Registry, default=None
        Where names are looked up (the default registry when None).
    instantiate : bool, default=False
        Build a registered class with no arguments before returning it.
    get : callable, default=None
        The name lookup, when a face raises its own error for unknown names (Sedna's
        ``ClassFactory.get_cls``); ``registry.get(Kind.CALLBACK, name)`` when None.
    label : str, default='post_process'
        The argument's name, for error messages.

    Returns
    -------
    callable or None
        What to call with the result; None for None.

    Raises
    ------
    NotRegisteredError
        If a name is not registered (the message lists the known names).
    ParameterError
        If ``post_process`` is neither a callable nor a name.

    Examples
    --------
    >>> reg = Registry()
    >>> @reg.register(Kind.CALLBACK, "Double")
    ... class Double:
    ...     def __call__(self, value):
    ...         return 2 * value
    >>> resolve_callback("Double", registry=reg, instantiate=True)(3), resolve_callback(len)("ab")
    (6, 2)
    """
    if post_process is None or callable(post_process):
        return post_process
    if not isinstance(post_process, str):
        raise ParameterError(f"{label} must be a callable or a registered {Kind.CALLBACK.value} name, "
                             f"got {type(post_process).__name__}")
    if get is None:
        target = (registry or default_registry).get(Kind.CALLBACK, post_process)
    else:
        target = get(post_process)
    return target() if instantiate and isinstance(target, type) else target


# -- signatures: what a callable accepts (read once per function, cached) ------------------------

def parse_kwargs(func: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    """Keep only the keyword arguments ``func`` accepts.

    A function that takes a var-keyword parameter (under any name: ``**kwargs``, ``**kw``, ...)
    receives everything; otherwise keys that are not named parameters of ``func`` are dropped,
    so user estimators with narrow signatures keep working when callers pass extras.

    Parameters
    ----------
    func : callable
        The function or class to be called.
    **kwargs : object
        The candidate keyword arguments.

    Returns
    -------
    dict
        The arguments ``func`` can take.

    Examples
    --------
    >>> def train(train_data, epochs=1): ...
    >>> parse_kwargs(train, epochs=3, lr=0.1)
    {'epochs': 3}
    >>> def fit(x, **options): ...
    >>> parse_kwargs(fit, epochs=3, lr=0.1)
    {'epochs': 3, 'lr': 0.1}
    """
    shape = signature_shape(func)
    if shape is None or shape[0]:  # no signature (a builtin), or a **kwargs parameter: pass everything
        return dict(kwargs)
    if not kwargs:
        return {}
    return {k: v for k, v in kwargs.items() if k in shape[1]}


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@functools.lru_cache(maxsize=1024)
def _cached_shape(func: Callable[..., Any], bound: bool) -> tuple[bool, frozenset[str], int] | None:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    if bound and params and params[0].kind in _POSITIONAL:
        params = params[1:]  # the instance (or class) a method is bound to
    return (any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params),
            frozenset(p.name for p in params if p.kind in _NAMED), sum(p.kind in _POSITIONAL for p in params))


def signature_shape(func: Callable[..., Any]) -> tuple[bool, frozenset[str], int] | None:
    """Return ``(takes **kwargs, named parameters, positional count)`` of ``func``, or None.

    None means ``func`` has no signature (some builtins).

    Read once per function and cached (``inspect.signature`` costs tens of microseconds, and
    backends consult it on every ``predict``). A bound method is cached by its function, so the
    cache never keeps a model instance alive.
    """
    if inspect.ismethod(func):
        target, bound = func.__func__, True
    else:
        target, bound = func, False
    try:
        return _cached_shape(target, bound)
    except TypeError:  # an unhashable callable object: read it each time
        return _cached_shape.__wrapped__(target, bound)


def accepts(func: Callable[..., Any], name: str, *, default: bool = False) -> bool:
    """Tell whether ``func`` takes a keyword argument ``name`` (by name or through ``**kwargs``).

    Parameters
    ----------
    func : callable
        A function, method or class (its constructor is read).
    name : str
        The keyword.
    default : bool, default=False
        The answer when ``func`` has no readable signature (some builtins).

    Returns
    -------
    bool
        Whether ``func(name=...)`` binds.

    Examples
    --------
    >>> def f(x, *, lr=0.1): ...
    >>> accepts(f, "lr"), accepts(f, "epochs"), accepts(lambda **kw: None, "epochs")
    (True, False, True)
    """
    shape = signature_shape(func)
    if shape is None:
        return default
    return shape[0] or name in shape[1]


# -- parameter coercion ----------------------------------------------------------------------

def _signature_target(cls: Any) -> Callable[..., Any]:
    return cls.__init__ if inspect.isclass(cls) else cls


_INT_DIGITS = 4300  # the longest integer accepted, as Python's own int(str) limit


def _parse_int(text: str) -> int:
    """Parse an integer exactly, or raise ValueError.

    ``12345678901234567890`` keeps every digit; ``1e3`` and ``2.0`` are accepted because they are
    whole numbers; ``2.5``, NaN and infinities are not.
    """
    try:
        return int(text)
    except ValueError:
        pass
    import decimal

    try:
        number = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValueError(text) from None
    if not number.is_finite() or number.adjusted() >= _INT_DIGITS or number != number.to_integral_value():
        raise ValueError(text)
    return int(number)


def _parse_float(text: str) -> float:
    """Parse a finite number, or raise ValueError (``nan``, ``inf`` and ``1e999`` are not finite)."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _expected(hint: Any) -> str:
    """Name what a value of type ``hint`` must be, for an error message."""
    return "a finite float" if hint is float else str(getattr(hint, "__name__", hint))


def _convert(value: str, hint: Any, label: str, pname: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if value.strip().lower() in ("none", "null") and optional:
            return None
        for arg in args:
            try:
                return _convert(value, arg, label, pname)
            except ParameterError:
                continue
        expected = " or ".join([_expected(arg) for arg in args] + (["None"] if optional else []))
        raise ParameterError(f"{label}: parameter {pname!r} got {value!r}; it must be {expected}")
    if hint is Any or hint is str or hint is inspect.Parameter.empty:
        return value
    try:
        if hint is bool:
            from .config import parse_bool

            return parse_bool(value, pname)
        if hint is int:
            return _parse_int(value)
        if hint is float:
            return _parse_float(value)
        if origin in (list, tuple, dict) or hint in (list, tuple, dict):
            parsed = json_loads(value, allow_nan=False)
            container = origin or hint
            if container is dict and not isinstance(parsed, dict):
                raise ValueError(value)
            if container in (list, tuple) and not isinstance(parsed, list):
                parsed = [parsed]
            return container(parsed)
    except (ValueError, TypeError):
        what = _expected(hint)
        raise ParameterError(f"{label}: parameter {pname!r} must be {what}, got {value!r}") from None
    return value


def coerce_params(cls: Any, params: dict[str, Any], *, label: str | None = None) -> dict[str, Any]:
    """Check ``params`` against ``cls``'s constructor and convert string values to declared types.

    Parameters
    ----------
    cls : class or callable
        The thing to be constructed.
    params : dict
        The parameters, possibly strings from the environment.
    label : str, default=None
        How to name ``cls`` in error messages.

    Returns
    -------
    dict
        The converted parameters.

    Raises
    ------
    ParameterError
        If a parameter is unknown (and the constructor takes no ``**kwargs``) or ill-typed: text
        that is not an ``int``'s whole number, not a ``float``'s finite number (``"nan"``,
        ``"inf"``), or not strict JSON for a list or dict (``NaN`` and ``Infinity`` are refused).
    """
    label = label or getattr(cls, "__name__", repr(cls))
    target = _signature_target(cls)
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return dict(params)
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: fall back to no conversion
        hints = {}
    accepted = {n: p for n, p in sig.parameters.items()
                if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    out: dict[str, Any] = {}
    for pname, value in params.items():
        if pname not in accepted:
            if takes_kwargs:
                out[pname] = value
                continue
            known = ", ".join(accepted) or "none"
            raise ParameterError(f"{label} has no parameter {pname!r}; valid parameters: {known}")
        hint = hints.get(pname, accepted[pname].annotation)
        if isinstance(value, str) and not isinstance(hint, str):
            value = _convert(value, hint, label, pname)
        out[pname] = value
    return out


default_registry = Registry()
"""The process-wide registry that features use unless given another."""


def register(kind: KindLike, name: str | None = None, obj: Any = None, *, override: bool = False) -> Any:
    """Register on the default registry; see :meth:`Registry.register`.

    Parameters
    ----------
    kind : Kind or str
        The kind.
    name : str, default=None
        The name (defaults to ``obj.__name__``).
    obj : object, default=None
        What to register; omitted, a decorator is returned.
    override : bool, default=False
        Replace an existing registration.

    Returns
    -------
    object
        ``obj`` or a decorator.
    """
    return default_registry.register(kind, name, obj, override=override)


def get(kind: KindLike, name: str) -> Any:
    """Look up on the default registry; see :meth:`Registry.get`.

    Parameters
    ----------
    kind : Kind or str
        The kind.
    name : str
        The name.

    Returns
    -------
    object
        The registered class or function.
    """
    return default_registry.get(kind, name)


def create(kind: KindLike, name: str, /, **params: Any) -> Any:
    """Instantiate from the default registry; see :meth:`Registry.create`.

    Parameters
    ----------
    kind : Kind or str
        The kind.
    name : str
        The name.
    **params : object
        Constructor parameters (strings are coerced).

    Returns
    -------
    object
        The instance.
    """
    return default_registry.create(kind, name, **params)


def names(kind: KindLike) -> list[str]:
    """List names on the default registry; see :meth:`Registry.names`.

    Parameters
    ----------
    kind : Kind or str
        The kind.

    Returns
    -------
    list of str
        The names.
    """
    return default_registry.names(kind)


def is_registered(kind: KindLike, name: str) -> bool:
    """Tell whether the default registry knows ``(kind, name)``.

    Parameters
    ----------
    kind : Kind or str
        The kind.
    name : str
        The name.

    Returns
    -------
    bool
        True if known.
    """
    return default_registry.is_registered(kind, name)
