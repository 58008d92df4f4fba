"""Parse Sedna's ``{"method": name, "param": dict or JSON}`` algorithm arguments and build them."""

from __future__ import annotations

import json
from typing import Any

from ..config import parse_key_value_parameters
from ..exceptions import ConfigError, ParameterError
from ..registry import Kind, Registry, accepts

__all__ = ["AlgorithmSpec", "parse_spec", "build"]


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
    if not isinstance(spec, dict):
        raise ParameterError(f"{label} must be {{'method': name, 'param': {{...}}}}, "
                             f"got {type(spec).__name__}")
    method = spec.get("method") or default
    if not method:
        raise ParameterError(f"{label} needs a 'method' (a registered algorithm name), got {spec!r}")
    raw = spec.get("param", spec.get("params"))
    if raw is None or raw == "":
        params: dict = {}
    elif isinstance(raw, dict):
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
    from ..registry import coerce_params

    cls = registry.get(kind, spec.method)
    params = coerce_params(cls, dict(spec.params), label=f"{kind.value} {spec.method!r}")
    extra = {k: v for k, v in context.items() if k not in params and accepts(cls, k)}
    return cls(**params, **extra)
