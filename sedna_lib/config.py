"""Typed, frozen configuration read from the environment in one place.

Every environment variable sedna_lib understands is a field of :class:`Config`; the field's
metadata names the variable, its parser and its meaning, and that metadata is the table the
documentation shows (:func:`describe`). This module is the only one that reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import math
import os
import re
import socket
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from ._json import NonFiniteNumberError
from ._json import loads as json_loads
from .exceptions import ConfigError

__all__ = [
    "Config",
    "MiningMode",
    "VariableSpec",
    "default_work_dir",
    "describe",
    "get_parameter",
    "parse_key_value_parameters",
    "parse_bool",
    "parse_log_level",
    "LOG_FORMATS",
    "GROUPS",
    "check",
    "check_advice",
]


class MiningMode(str, enum.Enum):
    """When joint inference runs the hard-example miner (``MINING_MODE``)."""

    INFERENCE_THEN_MINING = "inference-then-mining"
    MINING_THEN_INFERENCE = "mining-then-inference"


# -- URLs as messages show them ------------------------------------------------------------------
# A URL may carry a password (``http://user:secret@host/...``) or a presigned signature, token or
# credential in its query (``?X-Amz-Signature=...``, ``?sig=...``). Messages, the ``uri``/``url`` of
# errors and ``sedna-lib config`` show such URLs through redact_uri, and text that came from elsewhere
# (an HTTP library's exception) through redact_text. They live here, the floor every layer imports;
# sedna_lib.storage._uri names them too.

#: What a hidden part of a URL is shown as.
REDACTED = "***"

# the userinfo of a URL inside some text: scheme://userinfo@
_USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\s]*)@")
# one query parameter inside some text: ?name=value or &name=value (the value up to a separator)
_QUERY_VALUE_RE = re.compile(r"([?&][^=&#?\s'\"]+=)[^&#\s'\"()<>]*")


def _redact_userinfo(userinfo: str) -> str:
    """Return ``userinfo`` with its password hidden; a user alone may be a token, and is hidden too."""
    user, sep, _password = userinfo.partition(":")
    return f"{user}:{REDACTED}" if sep else REDACTED


def redact_uri(uri: str | None) -> str | None:
    """Return ``uri`` as a message may show it: userinfo password and query values hidden.

    The scheme, host, port, path and the names of the query parameters stay, so the URL still
    says which file was meant; a query field without ``=`` is hidden whole. A userinfo without a
    password (``https://token@host``) is hidden whole, as it may be a token; a fragment is hidden
    too. A local path, or a URL with neither userinfo, query nor fragment, comes back unchanged.

    Parameters
    ----------
    uri : str or None
        A URL or path.

    Returns
    -------
    str or None
        The URL with its secrets replaced by ``***`` (None for None).

    Examples
    --------
    >>> redact_uri("https://u:pw@host/m.bin?X-Amz-Signature=abc&files=m.bin")
    'https://u:***@host/m.bin?X-Amz-Signature=***&files=***'
    >>> redact_uri("/data/model.pb")
    '/data/model.pb'
    """
    if uri is None:
        return None
    text = str(uri)
    try:
        parts = urlsplit(text)
    except ValueError:  # a broken [IPv6 host: hide what the patterns find
        return redact_text(text)
    if not parts.scheme or ("@" not in parts.netloc and not parts.query and not parts.fragment):
        return text
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{_redact_userinfo(userinfo)}@{host}"
    query = "&".join(  # a field without '=' may be a bare token: hidden whole
        f"{field.partition('=')[0]}={REDACTED}" if "=" in field else REDACTED if field else field
        for field in parts.query.split("&")) if parts.query else ""
    fragment = REDACTED if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str, uri: str | None = None) -> str:
    """Return ``text`` (an error message from elsewhere) with URL secrets hidden.

    ``uri`` itself, written in full, is replaced by :func:`redact_uri`'s form; then every userinfo
    (``scheme://user:password@``) and every query value (``?name=value``, ``&name=value``) the text
    holds is hidden, as is the password of ``uri`` wherever it appears (also percent-decoded; one
    of 4 characters or more).

    Parameters
    ----------
    text : str
        The message.
    uri : str, default=None
        The URL the message is about.

    Returns
    -------
    str
        The message with the secrets replaced by ``***``.

    Examples
    --------
    >>> redact_text("Max retries exceeded with url: /m.bin?sig=abc&token=t (refused)")
    'Max retries exceeded with url: /m.bin?sig=***&token=*** (refused)'
    """
    text = str(text)
    if uri:
        shown = redact_uri(uri)
        text = text.replace(str(uri), shown or "")
    text = _USERINFO_RE.sub(lambda m: m.group(1) + _redact_userinfo(m.group(2)) + "@", text)
    text = _QUERY_VALUE_RE.sub(lambda m: m.group(1) + REDACTED, text)
    if uri:
        try:
            password = urlsplit(str(uri)).password
        except ValueError:
            password = None
        for secret in {password, unquote(password or "")} - {None, REDACTED}:
            if len(secret) >= 4:  # a shorter one would hide ordinary words; the patterns above found it
                text = text.replace(secret, REDACTED)
    return text


def redact_value(raw: str) -> str:
    """Return a setting's value as a message shows it: a URL's password and query values hidden.

    A value written without a scheme (``user:secret@host:9100``, which the parsers refuse) is read
    as ``http://`` for this, so its password is hidden too; a value with nothing to hide comes back
    as given.

    Parameters
    ----------
    raw : str
        The value, as the environment gave it.

    Returns
    -------
    str
        The value with its secrets replaced by ``***``.

    Examples
    --------
    >>> redact_value("admin:hunter2@lc:9100"), redact_value("http://lc:9100")
    ('admin:***@lc:9100', 'http://lc:9100')
    """
    text = str(raw)
    if "://" in text:
        return redact_uri(text) or ""
    probe = "http://" + text.strip()
    shown = redact_uri(probe) or ""
    return text if shown == probe else shown[len("http://"):]


# -- parsers: each takes (raw string, variable name) and returns the typed value ----------------

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def parse_bool(raw: str, variable: str = "value") -> bool:
    """Parse a boolean the way users write it in pod specs.

    Parameters
    ----------
    raw : str
        ``1/true/yes/on`` or ``0/false/no/off``, in any case.
    variable : str, default='value'
        The variable name, for the error message.

    Returns
    -------
    bool
        The parsed value.

    Raises
    ------
    ConfigError
        If ``raw`` is not one of the accepted spellings.

    Examples
    --------
    >>> parse_bool("TRUE"), parse_bool("0")
    (True, False)
    """
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{variable} must be a boolean (true/false, 1/0, yes/no), got {raw!r}",
                      variable=variable)


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
"""The values of ``SEDNA_LOG_FORMAT``."""


def parse_log_level(raw: str, variable: str = "SEDNA_LOG_LEVEL") -> int:
    """Parse a logging level name (any case) into its number.

    Parameters
    ----------
    raw : str
        ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` or ``CRITICAL`` (``WARN`` is read as ``WARNING``).
    variable : str, default='SEDNA_LOG_LEVEL'
        The variable name, for the error message.

    Returns
    -------
    int
        The level (``logging.INFO`` is 20).

    Raises
    ------
    ConfigError
        If ``raw`` is not a level name.

    Examples
    --------
    >>> parse_log_level("debug"), parse_log_level("WARN")
    (10, 30)
    """
    text = str(raw).strip().upper()
    text = "WARNING" if text == "WARN" else text
    if text not in _LOG_LEVELS:
        raise ConfigError(f"{variable} must be {', '.join(_LOG_LEVELS[:-1])} or {_LOG_LEVELS[-1]}, "
                          f"got {raw!r}", variable=variable)
    return (10, 20, 30, 40, 50)[_LOG_LEVELS.index(text)]


def _level_name(raw: str, variable: str) -> str:
    parse_log_level(raw, variable)
    text = raw.strip().upper()
    return "WARNING" if text == "WARN" else text


def _log_format(raw: str, variable: str) -> str:
    text = raw.strip().lower()
    if text not in LOG_FORMATS:
        raise ConfigError(f"{variable} must be one of {', '.join(LOG_FORMATS)}, got {raw!r}",
                          variable=variable)
    return text


def _port(raw: str, variable: str) -> int:
    value = _int(raw, variable)
    if not 0 <= value <= 65535:
        raise ConfigError(f"{variable} must be a port number between 0 and 65535, got {raw!r}",
                          variable=variable)
    return value


def _str(raw: str, variable: str) -> str:
    return raw


def _int(raw: str, variable: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"{variable} must be an int, got {raw!r}", variable=variable) from None


def _float(raw: str, variable: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{variable} must be a number, got {raw!r}", variable=variable) from None
    if not math.isfinite(value):  # a nan timeout compares false with everything: a wait that never ends
        raise ConfigError(f"{variable} must be a finite number, got {raw!r}", variable=variable)
    return value


def _json(raw: str, variable: str) -> Any:
    try:
        return json_loads(raw, allow_nan=False)
    except NonFiniteNumberError as exc:
        raise ConfigError(f"{variable} must be strict JSON: {exc}, got {raw!r}", variable=variable) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{variable} must be JSON ({exc.msg} at char {exc.pos}), got {raw!r}",
                          variable=variable) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise ConfigError(f"{variable} holds JSON Python cannot read: {exc}", variable=variable) from None


def _ws_scheme(raw: str, variable: str) -> str:
    text = raw.strip().lower()
    if text not in ("ws", "wss"):
        raise ConfigError(f"{variable} must be ws or wss, got {raw!r}", variable=variable)
    return text


def _http_url(raw: str, variable: str) -> str:
    """Check a server's base URL: ``http(s)://host[:port][/path]``, the form the control plane writes."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        parts.port  # reads the port: 99999, 'abc' and a broken [IPv6 are ValueErrors
    except ValueError as exc:
        raise ConfigError(f"{variable} must be http(s)://host:port, got {redact_value(raw)!r} "
                          f"({redact_text(str(exc), text)})", variable=variable) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        fix = f" (write http://{redact_value(text)})" if text and "://" not in text else ""
        raise ConfigError(f"{variable} must be http(s)://host:port, got {redact_value(raw)!r}{fix}",
                          variable=variable)
    return text


def _readable_file(raw: str, variable: str) -> str:
    """Check a file a server or client opens later (a TLS certificate, key or CA bundle) is there now."""
    if os.path.isdir(raw):
        why = "is a folder, not a file"
    elif not os.path.isfile(raw):
        why = f"does not exist (looked in {os.getcwd()!r} for a relative path)" if not os.path.isabs(raw) \
            else "does not exist"
    elif not os.access(raw, os.R_OK):
        why = "this process may not read"
    else:
        return raw
    raise ConfigError(f"{variable} names {raw!r}, which {why}; set it to a readable PEM file",
                      variable=variable)


def _bind_address(raw: str, variable: str) -> str:
    """Check a bind address, ``host:port`` or ``http(s)://host:port``, as binding it will.

    The port must be in 0-65535 and the host one this machine resolves.
    """
    text = raw.strip()
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
        port = parts.port
    except ValueError:  # a port past 65535 or not a number, a broken [IPv6
        raise ConfigError(f"{variable} must be host:port (a port in 0-65535), got {redact_value(raw)!r}",
                          variable=variable) from None
    host = parts.hostname
    if host:
        try:
            socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except (OSError, UnicodeError) as exc:
            raise ConfigError(f"{variable} must be host:port with a host this machine can bind, got "
                              f"{redact_value(raw)!r}: {host!r} is no address ({exc}); e.g. 0.0.0.0:9020",
                              variable=variable) from None
    return raw


def parse_s3_endpoint(url: str) -> tuple[str, bool]:
    """Split an ``S3_ENDPOINT_URL`` value into ``host[:port]`` and whether it uses TLS, checking it.

    Parameters
    ----------
    url : str
        ``http://host[:port]`` or ``https://host[:port]``; a bare ``host[:port]`` means https.

    Returns
    -------
    netloc : str
        ``host[:port]``.
    secure : bool
        Whether to use TLS.

    Raises
    ------
    ConfigError
        If ``url`` is empty, has another scheme, a path, credentials, or a port that is not 1-65535.

    Examples
    --------
    >>> parse_s3_endpoint("http://127.0.0.1:9000")
    ('127.0.0.1:9000', False)
    >>> parse_s3_endpoint("minio.example.org")
    ('minio.example.org', True)
    """
    raw = (url or "").strip()
    if not raw:
        raise ConfigError("S3_ENDPOINT_URL is not set, so s3:// URLs cannot be used; set it to the "
                          "endpoint, e.g. S3_ENDPOINT_URL=https://minio.example.org:9000 (there is no "
                          "default public endpoint)", variable="S3_ENDPOINT_URL")
    if "://" not in raw:
        raw = "https://" + raw
    shown = redact_value(url)  # what the messages show: the password and query values hidden
    try:
        parts = urlsplit(raw)
    except ValueError as exc:  # a broken [IPv6 address
        raise ConfigError(f"S3_ENDPOINT_URL must look like http(s)://host[:port], got {shown!r} "
                          f"({redact_text(str(exc), raw)})", variable="S3_ENDPOINT_URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"S3_ENDPOINT_URL must look like http(s)://host[:port], got {shown!r}",
                          variable="S3_ENDPOINT_URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"S3_ENDPOINT_URL must be only scheme://host[:port] (no path), got {shown!r}",
                          variable="S3_ENDPOINT_URL")
    try:
        port = parts.port  # reads the port: 70000, 'abc' and a broken [IPv6 are ValueErrors
        host = parts.hostname
    except ValueError as exc:
        raise ConfigError(f"S3_ENDPOINT_URL must look like http(s)://host[:port] with a port in 1-65535, "
                          f"got {shown!r} ({redact_text(str(exc), raw)})",
                          variable="S3_ENDPOINT_URL") from None
    if "@" in parts.netloc:
        raise ConfigError(f"S3_ENDPOINT_URL must be http(s)://host[:port], with the credentials in "
                          f"ACCESS_KEY_ID and SECRET_ACCESS_KEY, got {shown!r}", variable="S3_ENDPOINT_URL")
    if not host or port == 0:
        raise ConfigError(f"S3_ENDPOINT_URL must name a host and a port in 1-65535, got {shown!r}",
                          variable="S3_ENDPOINT_URL")
    return parts.netloc, parts.scheme == "https"


def _s3_endpoint(raw: str, variable: str) -> str:
    if raw.strip():
        parse_s3_endpoint(raw)  # checked when read; S3 storage splits it again where it connects
    return raw


def parse_key_value_parameters(raw: str | None, variable: str = "parameters") -> dict[str, Any]:
    """Parse algorithm parameters as the control plane writes them.

    The GlobalManager marshals a CRD's parameter list as ``[{"key": k, "value": v}, ...]`` (or
    ``null`` when there is none). A plain JSON object ``{"k": v}`` is accepted too.

    Parameters
    ----------
    raw : str or None
        The JSON text; ``None``, ``""`` and ``"null"`` mean no parameters.
    variable : str, default='parameters'
        The variable name, for the error message.

    Returns
    -------
    dict
        ``{key: value}``; a missing ``value`` becomes ``""`` as in Sedna.

    Raises
    ------
    ConfigError
        If the text is not JSON, or not a list of key/value objects nor an object.

    Examples
    --------
    >>> parse_key_value_parameters('[{"key": "threshold_img", "value": "0.9"}, {"key": "x"}]')
    {'threshold_img': '0.9', 'x': ''}
    >>> parse_key_value_parameters("null")
    {}
    """
    if raw is None or not str(raw).strip():
        return {}
    value = _json(str(raw), variable)
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        params: dict[str, Any] = {}
        for i, item in enumerate(value):
            if not isinstance(item, dict) or "key" not in item:
                raise ConfigError(
                    f"{variable}[{i}] must be an object with a 'key' (and 'value'), got {item!r}; "
                    f"write {variable}='[{{\"key\": \"name\", \"value\": \"1\"}}]'", variable=variable)
            params[str(item["key"])] = item.get("value", "")
        return params
    raise ConfigError(f"{variable} must be a JSON list of {{key, value}} objects or a JSON object, "
                      f"got {raw!r}", variable=variable)


def _params(raw: str, variable: str) -> dict[str, Any]:
    return parse_key_value_parameters(raw, variable)


def _semicolon_list(raw: str, variable: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(";") if part.strip())


def _bar_list(raw: str, variable: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split("|") if part.strip())


def _mining_mode(raw: str, variable: str) -> MiningMode:
    try:
        return MiningMode(raw.strip())
    except ValueError:
        choices = ", ".join(m.value for m in MiningMode)
        raise ConfigError(f"{variable} must be one of {choices}; got {raw!r}", variable=variable) from None


def _poll_period(raw: str, variable: str) -> int:
    value = _int(raw, variable)
    return value if value >= 1 else 60  # Sedna's rule: below 1 means the default


def _yaml(fh: Any) -> Any:
    """Parse a YAML file; its parse errors (and a nesting too deep to parse) as ValueError."""
    import yaml

    try:
        data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None
    _finite(data, "")
    return data


def _finite(value: Any, where: str) -> None:
    """Refuse YAML's ``.nan`` and ``.inf`` anywhere in a parsed file, as strict JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        raise NonFiniteNumberError(f"{where or 'the value'} is {value} (YAML's .nan or .inf), not a number; "
                                   "write a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _finite(item, f"{where}[{i}]")


def _url_or_file_dict(raw: str, variable: str) -> dict[str, Any]:
    """PARAMETERS: a .yaml/.yml/.json file, or inline JSON (Sedna's ``_url2dict`` without ``.py``)."""
    text = raw.strip()
    lowered = text.lower()
    if lowered.endswith((".yaml", ".yml", ".json")):
        try:
            with open(text, encoding="utf-8") as fh:
                if lowered.endswith(".json"):
                    data = json_loads(fh.read(), allow_nan=False)
                else:
                    data = _yaml(fh)
        except OSError as exc:
            raise ConfigError(f"{variable} names the file {text!r}, which cannot be read: {exc}",
                              variable=variable) from None
        except ValueError as exc:  # JSON, YAML (see _yaml) and UTF-8 errors alike
            raise ConfigError(f"{variable} file {text!r} is not valid: {exc}", variable=variable) from None
    else:
        data = _json(text, variable)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{variable} must hold a mapping, got {type(data).__name__}", variable=variable)
    return data


@dataclass(frozen=True)
class VariableSpec:
    """One row of the configuration table: the variable, its field, parser and meaning."""

    variable: str
    field: str
    default: Any
    help: str
    aliases: tuple[str, ...] = ()
    group: str = ""


# The feature each variable belongs to, for `sedna-lib config`: a group starts at its first
# variable (in declaration order) and runs to the next group's first variable.
GROUPS: tuple[tuple[str, str], ...] = (
    ("Worker identity and the LocalController", "NAMESPACE"),
    ("Backend", "BACKEND_TYPE"),
    ("Models", "MODEL_URL"),
    ("Data", "TRAIN_DATASET_URL"),
    ("Joint inference and hard-example mining", "HEM_NAME"),
    ("Model hot update", "MODEL_HOT_UPDATE"),
    ("Federated learning", "AGG_PROTOCOL"),
    ("Object storage", "S3_ENDPOINT_URL"),
    ("Lifelong learning", "KB_SERVER"),
    ("Multi-edge inference", "BATCH_SIZE"),
    ("Security, network limits and queues", "SEDNA_AUTH_TOKEN"),
    ("Observability", "SEDNA_LOG_LEVEL"),
    ("Language models", "SEDNA_LLM_BASE_URL"),
)
"""``(group title, first variable)`` in declaration order."""


def _var(env: str, default: Any = None, parse: Callable[[str, str], Any] = _str, *, help: str,
         aliases: tuple[str, ...] = (), secret: bool = False,
         factory: Callable[[], Any] | None = None, shown: str | None = None) -> Any:
    """Declare a Config field read from ``env`` (after ``aliases``); ``shown``: a computed default."""
    meta = {"env": env, "parse": parse, "help": help, "aliases": aliases}
    if shown is not None:
        meta["shown"] = shown
    if factory is not None:
        return field(default_factory=factory, metadata=meta, repr=not secret)
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True)
class Config:
    """Every setting sedna_lib reads from the environment, parsed and typed once.

    Build it with :meth:`from_env` at the entry point of a worker (or let a feature do it when
    no ``context=`` is given), or directly in tests: ``Config(agg_port=0)``. Derive variants
    with ``dataclasses.replace``. Variable names are Sedna's, so the GlobalManager's pod
    environment configures sedna_lib unchanged; an empty variable means unset.

    Attributes
    ----------
    environ : mapping of str to str
        The raw environment the config was built from (for script-level parameters such as
        ``epochs``, read through :meth:`get_parameter`).

    Examples
    --------
    >>> cfg = Config.from_env({"AGG_PORT": "8000", "HEM_NAME": "IBT",
    ...                        "HEM_PARAMETERS": '[{"key": "threshold_img", "value": "0.9"}]'})
    >>> cfg.agg_port, cfg.hem_name, cfg.hem_parameters
    (8000, 'IBT', {'threshold_img': '0.9'})
    """

    # -- worker identity and the LocalController ---------------------------------------------
    namespace: str = _var("NAMESPACE", "", help="Kubernetes namespace of the job.")
    worker_name: str = _var("WORKER_NAME", "", help="This worker's name; the LC report path segment.")
    job_name: str = _var("JOB_NAME", "", help="Owning job's name (FL/IL/LL jobs). Empty by default, "
                                              "so SERVICE_NAME is no longer masked.")
    service_name: str = _var("SERVICE_NAME", "",
                             help="Owning service's name (joint inference, feature extraction).")
    lc_server: str = _var("LC_SERVER", "http://127.0.0.1:9100", _http_url,
                          help="LocalController base URL for reports (http:// or https://).")
    lc_period: float = _var("LC_PERIOD", 30.0, _float, help="Seconds between joint-inference LC reports.")
    log_level: str = _var("LOG_LEVEL", "INFO", _level_name,
                          help="Level of the console lines a Sedna script (one importing sedna) prints; "
                               "SEDNA_LOG_LEVEL overrides it.")
    # -- backend -------------------------------------------------------------------------------
    backend_type: str = _var("BACKEND_TYPE", "", help="TENSORFLOW, KERAS, TORCH, SKLEARN, ...; empty: "
                                                      "chosen from the estimator's type.")
    device_category: str = _var("DEVICE_CATEGORY", "CPU", help="CPU or GPU (read, never written).")
    cuda_visible_devices: str | None = _var("CUDA_VISIBLE_DEVICES", None,
                                            help="Presence enables CUDA in the torch backend.")
    # -- models --------------------------------------------------------------------------------
    model_url: str | None = _var("MODEL_URL", None, help="Model file or output directory.")
    model_name: str | None = _var("MODEL_NAME", None, help="File name used to save/load the model.")
    model_urls: tuple[str, ...] = _var("MODEL_URLS", (), _semicolon_list,
                                       help="';'-separated models to evaluate (new, then deployed).")
    model_path: str | None = _var("MODEL_PATH", None, aliases=("model_path",),
                                  help="Explicit model file (overrides MODEL_URL/MODEL_NAME).")
    model_load_mode: str = _var("MODEL_LOAD_MODE", "file",
                                help="'file' (a local file must exist) or "
                                     "anything else (the estimator loads itself).")
    base_model_url: str | None = _var("BASE_MODEL_URL", None, help="Base model for incremental training.")
    pretrained_model_url: str = _var("PRETRAINED_MODEL_URL", "./",
                                     help="Pretrained model (federated learning).")
    # -- data ----------------------------------------------------------------------------------
    train_dataset_url: str | None = _var("TRAIN_DATASET_URL", None, help="Training index file.")
    test_dataset_url: str | None = _var("TEST_DATASET_URL", None, help="Test index file.")
    original_dataset_url: str | None = _var(
        "ORIGINAL_DATASET_URL", None, help="Original dataset index (relative paths resolve against it).")
    dataset_name: str | None = _var("DATASET_NAME", None, help="Dataset CR name (informational).")
    data_path_prefix: str = _var("DATA_PATH_PREFIX", "/home/data",
                                 help="Container prefix of host paths; stripped from reported URLs.")
    parameters: dict[str, Any] = _var("PARAMETERS", None, _url_or_file_dict, factory=dict,
                                      help="Extra parameters: inline JSON, or a .json/.yaml file.")
    # -- hard-example mining and joint inference -----------------------------------------------
    hem_name: str | None = _var("HEM_NAME", None, help="Registered hard-example miner (IBT, Threshold, ...).")
    hem_parameters: dict[str, Any] = _var("HEM_PARAMETERS", None, _params, factory=dict,
                                          help='Miner parameters, [{"key": .., "value": ..}] or null.')
    mining_mode: MiningMode = _var("MINING_MODE", MiningMode.INFERENCE_THEN_MINING, _mining_mode,
                                   help="inference-then-mining or mining-then-inference.")
    big_model_ip: str = _var("BIG_MODEL_IP", "127.0.0.1", help="Cloud big-model host, as the edge sees it.")
    big_model_port: int = _var("BIG_MODEL_PORT", 5000, _int, help="Cloud big-model port.")
    big_model_bind_ip: str = _var("BIG_MODEL_BIND_IP", "0.0.0.0", help="Address the big-model server binds.")
    big_model_bind_port: int = _var("BIG_MODEL_BIND_PORT", 5000, _int,
                                    help="Port the big-model server binds.")
    # -- model hot update ----------------------------------------------------------------------
    model_hot_update: bool = _var("MODEL_HOT_UPDATE", False, parse_bool, help="Poll for new models.")
    model_poll_period_seconds: int = _var("MODEL_POLL_PERIOD_SECONDS", 60, _poll_period,
                                          help="Hot-update poll period (values below 1 mean 60).")
    model_hot_update_config: str | None = _var("MODEL_HOT_UPDATE_CONFIG", None,
                                               help="Path of the LC-written model_config.json.")
    # -- federated learning --------------------------------------------------------------------
    agg_protocol: str = _var("AGG_PROTOCOL", "ws", _ws_scheme, help="Aggregator URL scheme (ws or wss).")
    agg_ip: str = _var("AGG_IP", "127.0.0.1", help="Aggregator host, as trainers see it.")
    agg_port: int = _var("AGG_PORT", 7363, _int, help="Aggregator port, as trainers see it.")
    agg_bind_ip: str = _var("AGG_BIND_IP", "0.0.0.0", help="Address the aggregation server binds.")
    agg_bind_port: int = _var("AGG_BIND_PORT", 7363, _int, help="Port the aggregation server binds.")
    connect_timeout: float = _var("CONNECT_TIMEOUT", 300.0, _float,
                                  help="Seconds to wait for the aggregator.")
    participants_count: int | None = _var("PARTICIPANTS_COUNT", None, _int, aliases=("participants_count",),
                                          help="Trainers the aggregator waits for each round.")
    exit_round: int | None = _var("EXIT_ROUND", None, _int, aliases=("exit_round",),
                                  help="Rounds after which the federated job ends.")
    aggregation_algorithm: str | None = _var("AGGREGATION_ALGORITHM", None,
                                             aliases=("aggregation_algorithm",),
                                             help="Registered aggregator name (FedAvg, ...).")
    aggregation_parameters: dict[str, Any] = _var(
        "AGGREGATION_PARAMETERS", None, _params, factory=dict,
        help='The aggregator\'s parameters, [{"key": .., "value": ..}] or {"buffer_size": 10}; e.g. '
             "FedBuff's buffer_size or DPFedAvg's noise_multiplier. Empty: the aggregator's defaults.")
    transmitter: str = _var("TRANSMITTER", "ws", help="Weights transport for the V2 API: ws or s3.")
    agg_data_path: str = _var("AGG_DATA_PATH", "./", help="Shared path for the s3 transmitter.")
    agg_round_timeout: float = _var("AGG_ROUND_TIMEOUT", 600.0, _float,
                                    help="Seconds a round waits, after its first update, for the rest "
                                         "before aggregating what it has (stragglers never hang a job).")
    agg_evaluate_every: int = _var("AGG_EVALUATE_EVERY", 0, _int,
                                   help="Every N rounds the aggregation server asks the trainers to evaluate "
                                        "the new global model on their own evaluation data, and keeps the "
                                        "metrics averaged by sample count in its history (0: never).")
    agg_secure_aggregation: bool = _var("AGG_SECURE_AGGREGATION", False, parse_bool,
                                        help="Run every round of the aggregation server through secure "
                                             "aggregation (pairwise masks, Shamir shares for dropouts): the "
                                             "server learns only the sum of the updates. Needs a linear "
                                             "aggregator (FedAvg & co) and sedna_lib trainers.")
    agg_secure_threshold: int = _var("AGG_SECURE_THRESHOLD", 0, _int,
                                     help="Secure aggregation: shares that rebuild a trainer's secrets, and "
                                          "trainers needed at the end of a round (0: a majority of the "
                                          "round's members).")
    agg_min_clients: int = _var("AGG_MIN_CLIENTS", 1, _int,
                                help="Fewest updates a round aggregates when its deadline passes.")
    agg_max_message_bytes: int = _var("AGG_MAX_MESSAGE_BYTES", 2 ** 31, _int,
                                      help="Largest weights message (reassembled from its frames) the "
                                           "aggregation server or a trainer accepts; a size a peer declares "
                                           "is checked against it before anything is allocated.")
    agg_handshake_timeout: float = _var("AGG_HANDSHAKE_TIMEOUT", 30.0, _float,
                                        help="Seconds a new aggregation websocket has to send its subscribe "
                                             "frame before the server closes it.")
    agg_read_timeout: float = _var("AGG_READ_TIMEOUT", 120.0, _float,
                                   help="Seconds the aggregation server waits for the next frame of a "
                                        "message it is receiving (an idle trainer is not limited), and for a "
                                        "trainer to take a frame sent to it.")
    agg_max_connections: int = _var("AGG_MAX_CONNECTIONS", 1024, _int,
                                    help="Websocket connections the aggregation server holds at once; one "
                                         "more is refused with close code 1013.")
    # -- object storage ------------------------------------------------------------------------
    s3_endpoint_url: str = _var("S3_ENDPOINT_URL", "", _s3_endpoint,
                                help="S3 endpoint (http:// or https://); no default.")
    access_key_id: str = _var("ACCESS_KEY_ID", "", secret=True, help="S3 access key.")
    secret_access_key: str = _var("SECRET_ACCESS_KEY", "", secret=True, help="S3 secret key.")
    # -- lifelong learning ---------------------------------------------------------------------
    kb_server: str | None = _var("KB_SERVER", None, _http_url,
                                 help="Knowledge-base server base URL (http:// or https://).")
    kb_url: str = _var("KB_URL", "sqlite:///lifelong_kb.sqlite3", help="KB server database URL (SQLite).")
    knowledge_base_server: str = _var("KnowledgeBaseServer", "0.0.0.0:9020", _bind_address,
                                      help="KB server bind host:port.")
    knowledge_base_path: str = _var("KnowledgeBasePath", "", help="KB server file folder.")
    output_url: str | None = _var("OUTPUT_URL", None, help="Lifelong-learning output folder.")
    cloud_kb_index: str | None = _var("CLOUD_KB_INDEX", None, help="KB index after initial training.")
    has_completed_initial_training: bool = _var("HAS_COMPLETED_INITIAL_TRAINING", False, parse_bool,
                                                help="true: train() updates the knowledge base.")
    min_train_sample: int = _var("MIN_TRAIN_SAMPLE", 10, _int, help="Smallest task that gets its own model.")
    operator: str = _var("OPERATOR", ">", aliases=("operator",), help="Task-drop comparison in evaluation.")
    model_threshold: float = _var("MODEL_THRESHOLD", 0.1, _float, aliases=("model_threshold",),
                                  help="Task-drop threshold in evaluation.")
    edge_output_url: str = _var("EDGE_OUTPUT_URL", "/var/lib/sedna/kb", aliases=("edge_output_url",),
                                help="Edge knowledge-base folder.")
    unseen_save_url: str | None = _var("UNSEEN_SAVE_URL", None, aliases=("unseen_save_url",),
                                       help="Where unseen samples are saved.")
    # -- multi-edge inference ------------------------------------------------------------------
    batch_size: int = _var("BATCH_SIZE", 1, _int, aliases=("batch_size",), help="Batch size of a service.")
    kafka_enabled: bool = _var("KAFKA_ENABLED", False, parse_bool, help="Use Kafka between components.")
    kafka_bind_ips: tuple[str, ...] = _var("KAFKA_BIND_IPS", (), _bar_list, help="'|'-separated Kafka hosts.")
    kafka_bind_ports: tuple[str, ...] = _var("KAFKA_BIND_PORTS", (), _bar_list,
                                             help="'|'-separated Kafka ports.")
    reid_model_bind_url: str | None = _var("REID_MODEL_BIND_URL", None,
                                           help="ReID service: address it binds (default 0.0.0.0) and peers "
                                                "call (default reid-reid).")
    reid_model_bind_port: int = _var("REID_MODEL_BIND_PORT", 5000, _int, help="ReID service port.")
    fe_model_bind_url: str | None = _var("FE_MODEL_BIND_URL", None,
                                         help="Feature-extraction service: bind address (default 0.0.0.0) "
                                              "and peer host (default feature-extraction-fe).")
    fe_model_bind_port: int = _var("FE_MODEL_BIND_PORT", 6000, _int, help="Feature-extraction service port.")
    det_model_bind_url: str | None = _var("DET_MODEL_BIND_URL", None,
                                          help="Video-analytics service: bind address (default 0.0.0.0) and "
                                               "peer host (default video-analytics-videoanalytics).")
    det_model_bind_port: int = _var("DET_MODEL_BIND_PORT", 4000, _int, help="Video-analytics service port.")
    legacy_pickle: bool = _var("SEDNA_LEGACY_PICKLE", False, parse_bool,
                               help="Accept and send pickle on the multi-edge REST/Kafka wire, and Sedna's "
                                    "pickled knowledge-base index (read through an allow-list of the "
                                    "index's classes), to talk to original Sedna components. Unsafe with "
                                    "untrusted peers; off by default.")
    # -- sedna_lib's own settings (beyond Sedna) -----------------------------------------------
    auth_token: str | None = _var("SEDNA_AUTH_TOKEN", None, secret=True,
                                  help="Shared token: servers require it, clients send it.")
    tls_cert: str | None = _var("SEDNA_TLS_CERT", None, _readable_file,
                                help="PEM certificate file: servers speak TLS.")
    tls_key: str | None = _var("SEDNA_TLS_KEY", None, _readable_file, help="PEM key file for SEDNA_TLS_CERT.")
    tls_ca: str | None = _var("SEDNA_TLS_CA", None, _readable_file,
                              help="CA bundle file clients use to verify servers.")
    connect_timeout_s: float = _var("SEDNA_CONNECT_TIMEOUT", 3.0, _float, help="HTTP connect timeout (s).")
    request_timeout: float = _var("SEDNA_REQUEST_TIMEOUT", 10.0, _float, help="HTTP read timeout (s).")
    max_retries: int = _var("SEDNA_MAX_RETRIES", 2, _int, help="Bounded retries of idempotent calls.")
    max_request_bytes: int = _var("SEDNA_MAX_REQUEST_BYTES", 64 * 1024 * 1024, _int,
                                  help="Largest request body a server accepts (413 beyond).")
    http_header_timeout: float = _var("SEDNA_HTTP_HEADER_TIMEOUT", 10.0, _float,
                                      help="Seconds an HTTP server waits for a request's head (request "
                                           "line and headers) on a new or idle connection before closing "
                                           "it; slow or silent clients cannot hold a connection forever.")
    http_body_timeout: float = _var("SEDNA_HTTP_BODY_TIMEOUT", 60.0, _float,
                                    help="Seconds an HTTP server allows for reading one request body "
                                         "(408 beyond).")
    http_keep_alive: float = _var("SEDNA_HTTP_KEEP_ALIVE", 30.0, _float,
                                  help="Seconds an idle keep-alive connection stays open between requests.")
    http_max_connections: int = _var("SEDNA_HTTP_MAX_CONNECTIONS", 256, _int,
                                     help="Most connections (and requests in progress) an HTTP server "
                                          "holds at once; beyond, it answers 503 at once.")
    http_large_request_bytes: int = _var("SEDNA_HTTP_LARGE_REQUEST_BYTES", 1024 * 1024, _int,
                                         help="A request body at least this big counts as large (see "
                                              "SEDNA_HTTP_MAX_LARGE_REQUESTS).")
    http_max_large_requests: int = _var("SEDNA_HTTP_MAX_LARGE_REQUESTS", 4, _int,
                                        help="Large requests one HTTP server reads and decodes at once; "
                                             "more wait (up to SEDNA_HTTP_BODY_TIMEOUT, then 503).")
    work_dir: str = _var("SEDNA_WORK_DIR", factory=lambda: default_work_dir(),
                         shown="$XDG_STATE_HOME/sedna_lib, else ~/.local/state/sedna_lib",
                         help="Folder for queues, caches and state (offload queues, hard-example spools, "
                              "downloaded models). The default is the user's state folder, the same "
                              "whichever folder a worker starts in; on Windows %LOCALAPPDATA%/sedna_lib.")
    hard_example_spool: str = _var("SEDNA_HARD_EXAMPLE_SPOOL", "",
                                   help="Folder where hard examples wait until they are uploaded (kept "
                                        "across runs; the next run uploads what is left); empty: "
                                        "<SEDNA_WORK_DIR>/hard_examples_spool.")
    offload_max_age: float = _var("SEDNA_OFFLOAD_MAX_AGE", 3600.0, _float,
                                  help="Seconds a hard example may wait in the offload queue before it is "
                                       "dead-lettered instead of sent (0: no limit).")
    offload_max_attempts: int = _var("SEDNA_OFFLOAD_MAX_ATTEMPTS", 5, _int,
                                     help="Cloud failures (5xx, malformed replies) one queued hard example "
                                          "may meet before it is dead-lettered.")

    # -- observability -------------------------------------------------------------------------
    sedna_log_level: str | None = _var("SEDNA_LOG_LEVEL", None, _level_name,
                                       help="Print sedna_lib's log lines at this level (DEBUG, INFO, "
                                            "WARNING, ...) on stderr; unset: only WARNING and above, through "
                                            "Python's last-resort handler.")
    log_format: str | None = _var("SEDNA_LOG_FORMAT", None, _log_format,
                                  help="text (Sedna's line format) or json (one JSON object per line, for "
                                       "log collectors); setting it prints INFO lines too.")
    metrics_port: int | None = _var("SEDNA_METRICS_PORT", None, _port,
                                    help="Port where a long-lived worker (joint-inference edge, incremental "
                                         "inference) serves /metrics, /healthz, /readyz and its status page; "
                                         "unset: none, 0: a free port.")
    metrics_bind_ip: str = _var("SEDNA_METRICS_BIND_IP", "0.0.0.0",
                                help="Address a worker's SEDNA_METRICS_PORT binds (all interfaces, so that "
                                     "Prometheus can scrape the pod).")

    # -- language models (joint inference of an edge LM and an OpenAI-compatible cloud) ---------
    llm_base_url: str | None = _var("SEDNA_LLM_BASE_URL", None, _http_url,
                                    help="API root of the OpenAI-compatible cloud (http://host:8000/v1); "
                                         "default: http://BIG_MODEL_IP:BIG_MODEL_PORT/v1.")
    llm_api_key: str | None = _var("OPENAI_API_KEY", None, aliases=("SEDNA_LLM_API_KEY",), secret=True,
                                   help="API key sent to the OpenAI-compatible cloud (SEDNA_LLM_API_KEY "
                                        "wins); default: SEDNA_AUTH_TOKEN.")
    llm_model: str = _var("SEDNA_LLM_MODEL", "", help="Model the edge asks the cloud for (empty: not sent).")
    llm_max_tokens: int = _var("SEDNA_LLM_MAX_TOKENS", 256, _int, help="Longest cloud answer, in tokens.")
    llm_stream: bool = _var("SEDNA_LLM_STREAM", False, parse_bool,
                            help="Read cloud answers as server-sent events (measures time to first token).")
    llm_timeout: float = _var("SEDNA_LLM_TIMEOUT", 60.0, _float,
                              help="Read timeout (s) of a cloud generation (each wait for data).")
    llm_query_log: str | None = _var("SEDNA_LLM_QUERY_LOG", None,
                                     help="JSON-lines file where each query's route, answers and tokens are "
                                          "appended (LearnedRouter.fit_log trains on it).")
    llm_cache_size: int = _var("SEDNA_LLM_CACHE_SIZE", 0, _int,
                               help="Exact-match response cache entries, an int >= 0 (0: no cache; a "
                                    "negative or non-integer value is a ConfigError); repeated queries do "
                                    "not reach the cloud.")
    llm_price_cloud_prompt: float = _var("SEDNA_LLM_PRICE_CLOUD_PROMPT", 0.0, _float,
                                         help="Price of one million cloud prompt tokens (cost estimate).")
    llm_price_cloud_completion: float = _var("SEDNA_LLM_PRICE_CLOUD_COMPLETION", 0.0, _float,
                                             help="Price of one million cloud completion tokens.")
    llm_price_edge_prompt: float = _var("SEDNA_LLM_PRICE_EDGE_PROMPT", 0.0, _float,
                                        help="Price of one million edge prompt tokens (energy, amortised "
                                             "hardware).")
    llm_price_edge_completion: float = _var("SEDNA_LLM_PRICE_EDGE_COMPLETION", 0.0, _float,
                                            help="Price of one million edge completion tokens.")

    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        """Show the settings, secrets left out and URLs with their password and query values hidden."""
        def shown(value: Any) -> Any:
            if isinstance(value, str) and "://" in value:
                return redact_uri(value)
            if isinstance(value, tuple):
                return tuple(shown(v) for v in value)
            return value

        fields = ", ".join(f"{f.name}={shown(getattr(self, f.name))!r}" for f in dataclasses.fields(self)
                           if f.repr)
        return f"{type(self).__name__}({fields})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the config from an environment mapping (``os.environ`` by default).

        Parameters
        ----------
        environ : mapping of str to str, default=None
            The variables to read; ``None`` reads the process environment, once.

        Returns
        -------
        Config
            The parsed configuration.

        Raises
        ------
        ConfigError
            If a variable is malformed; the error names it and the expected form.
        """
        env = dict(_environ(environ))
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            meta = f.metadata
            if "env" not in meta:
                continue
            name, raw = _first_set(env, (*meta["aliases"], meta["env"]))
            if raw is None:
                continue
            values[f.name] = _parse(meta, raw, name)
        values.setdefault("work_dir", default_work_dir(env))  # from this environment, not the process's
        return cls(**values, environ=MappingProxyType(env))

    def get_parameter(self, name: str, default: Any = None) -> Any:
        """Look up a raw variable with Sedna's rule: ``name``, then ``name.upper()``; empty is unset.

        Parameters
        ----------
        name : str
            Variable name as scripts write it (``"epochs"``, ``"original_dataset_url"``).
        default : object, default=None
            Returned, unconverted, when neither spelling is set.

        Returns
        -------
        str or object
            The variable's string value, or ``default``.
        """
        return _lookup(self.environ, name, default)

    @property
    def job_or_service_name(self) -> str:
        """The owner name for reports and the big-model path: ``JOB_NAME``, else ``SERVICE_NAME``."""
        return self.job_name or self.service_name

    @property
    def hard_example_spool_dir(self) -> str:
        """Where hard examples wait for upload: ``SEDNA_HARD_EXAMPLE_SPOOL``, else in ``SEDNA_WORK_DIR``."""
        return self.hard_example_spool or os.path.join(self.work_dir, "hard_examples_spool")

    @property
    def use_cuda(self) -> bool:
        """Whether ``CUDA_VISIBLE_DEVICES`` is set (Sedna's GPU switch)."""
        return self.cuda_visible_devices is not None

    @property
    def hem(self) -> dict[str, Any]:
        """The miner from ``HEM_NAME``/``HEM_PARAMETERS`` as ``{"method", "param"}``, or ``{}``."""
        if not self.hem_name:
            return {}
        return {"method": self.hem_name, "param": dict(self.hem_parameters)}


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """Return ``environ``, or the process environment: the single place it is read."""
    return os.environ if environ is None else environ


def default_work_dir(environ: Mapping[str, str] | None = None) -> str:
    """Return the default ``SEDNA_WORK_DIR``: the user's state folder, whatever the current folder.

    ``$XDG_STATE_HOME/sedna_lib`` (an absolute ``XDG_STATE_HOME`` only, as the XDG specification
    says), else ``~/.local/state/sedna_lib``; ``%LOCALAPPDATA%/sedna_lib`` on Windows. Without a
    home folder, ``<temporary folder>/sedna_lib-<user id>``.

    Parameters
    ----------
    environ : mapping of str to str, default=None
        Where ``XDG_STATE_HOME``, ``HOME`` and ``LOCALAPPDATA`` are read; the process environment
        when None.

    Returns
    -------
    str
        An absolute path (not created).

    Examples
    --------
    >>> default_work_dir({"XDG_STATE_HOME": "/var/lib/me", "HOME": "/home/me"})
    '/var/lib/me/sedna_lib'
    """
    env = _environ(environ)
    if os.name == "nt":
        base = env.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return os.path.join(os.path.abspath(base), "sedna_lib")
    state = env.get("XDG_STATE_HOME") or ""
    if os.path.isabs(state):
        return os.path.join(state, "sedna_lib")
    home = env.get("HOME") or os.path.expanduser("~")
    if not os.path.isabs(home) or home == os.sep:
        import tempfile

        return os.path.join(tempfile.gettempdir(), f"sedna_lib-{os.getuid() if hasattr(os, 'getuid') else 0}")
    return os.path.join(home, ".local", "state", "sedna_lib")


def _first_set(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str | None]:
    for name in names:
        raw = env.get(name)
        if raw is not None and raw != "":
            return name, raw
    return names[-1], None


def _lookup(env: Mapping[str, str], name: str, default: Any) -> Any:
    value = env.get(name) or env.get(str(name).upper())
    return value if value else default


def get_parameter(name: str, default: Any = None, environ: Mapping[str, str] | None = None) -> Any:
    """Read one variable at call time with Sedna's rule (``name`` then ``name.upper()``).

    Parameters
    ----------
    name : str
        The variable, as scripts spell it.
    default : object, default=None
        Returned when neither spelling is set or both are empty.
    environ : mapping, default=None
        Where to look; the process environment by default.

    Returns
    -------
    str or object
        The value as a string, or ``default`` unconverted.

    Examples
    --------
    >>> get_parameter("epochs", 1, environ={"EPOCHS": "5"})
    '5'
    >>> get_parameter("epochs", 1, environ={"epochs": ""})
    1
    """
    return _lookup(_environ(environ), name, default)


def describe() -> Iterator[VariableSpec]:
    """Yield one :class:`VariableSpec` per variable, in declaration order (the docs table).

    Yields
    ------
    VariableSpec
        The variable, its Config field, default and meaning.
    """
    starts = {first: title for title, first in GROUPS}
    group = GROUPS[0][0]
    for f in dataclasses.fields(Config):
        if "env" not in f.metadata:
            continue
        group = starts.get(f.metadata["env"], group)
        if "shown" in f.metadata:  # a default computed on the machine at run time: its rule
            default = f.metadata["shown"]
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if isinstance(default, enum.Enum):
            default = default.value
        yield VariableSpec(f.metadata["env"], f.name, default, f.metadata["help"], f.metadata["aliases"],
                           group)


_POSITIVE = ("LC_PERIOD", "CONNECT_TIMEOUT", "AGG_ROUND_TIMEOUT", "AGG_MAX_MESSAGE_BYTES",
             "AGG_HANDSHAKE_TIMEOUT", "AGG_READ_TIMEOUT", "AGG_MAX_CONNECTIONS", "SEDNA_CONNECT_TIMEOUT",
             "SEDNA_REQUEST_TIMEOUT", "SEDNA_MAX_REQUEST_BYTES", "BATCH_SIZE", "PARTICIPANTS_COUNT",
             "EXIT_ROUND", "AGG_MIN_CLIENTS", "SEDNA_OFFLOAD_MAX_ATTEMPTS", "SEDNA_HTTP_HEADER_TIMEOUT",
             "SEDNA_HTTP_BODY_TIMEOUT", "SEDNA_HTTP_KEEP_ALIVE", "SEDNA_HTTP_MAX_CONNECTIONS",
             "SEDNA_HTTP_LARGE_REQUEST_BYTES", "SEDNA_HTTP_MAX_LARGE_REQUESTS", "SEDNA_LLM_MAX_TOKENS",
             "SEDNA_LLM_TIMEOUT")
_NOT_NEGATIVE = ("SEDNA_MAX_RETRIES", "SEDNA_OFFLOAD_MAX_AGE", "MIN_TRAIN_SAMPLE", "AGG_EVALUATE_EVERY",
                 "AGG_SECURE_THRESHOLD", "SEDNA_LLM_CACHE_SIZE", "SEDNA_LLM_PRICE_CLOUD_PROMPT",
                 "SEDNA_LLM_PRICE_CLOUD_COMPLETION", "SEDNA_LLM_PRICE_EDGE_PROMPT",
                 "SEDNA_LLM_PRICE_EDGE_COMPLETION")
_PORTS = ("BIG_MODEL_PORT", "BIG_MODEL_BIND_PORT", "AGG_PORT", "AGG_BIND_PORT", "REID_MODEL_BIND_PORT",
          "FE_MODEL_BIND_PORT", "DET_MODEL_BIND_PORT")


def _parse(meta: Mapping[str, Any], raw: str, name: str) -> Any:
    """Parse one variable's value and check its range (as :meth:`Config.from_env` and :func:`check` do).

    A value out of range (a port past 65535, a timeout of 0 or less) is refused when the environment is
    read, not where it is first used (a negative timeout reached the network code as a bare ValueError).
    """
    variable = meta["env"]
    value = meta["parse"](raw, name)
    if variable in _PORTS:
        return _port(raw, name)
    if variable in _POSITIVE and value is not None and value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}", variable=name)
    if variable in _NOT_NEGATIVE and value is not None and value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {raw!r}", variable=name)
    return value


def check(environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any], list[ConfigError]]:
    """Parse and check every variable, collecting every problem instead of stopping at the first.

    Besides each variable's own parser (what :meth:`Config.from_env` runs), values are checked for
    range (ports in 0-65535, timeouts and counts positive) and for pairs that only work together
    (``SEDNA_TLS_KEY`` with ``SEDNA_TLS_CERT``). Names of plugins (``BACKEND_TYPE``, ``HEM_NAME``,
    ``AGGREGATION_ALGORITHM``) are checked against the registry by ``sedna-lib config``.

    Parameters
    ----------
    environ : mapping of str to str, default=None
        The variables; the process environment when None.

    Returns
    -------
    values : dict
        ``{variable: parsed value}`` of the variables that are set and valid.
    errors : list of ConfigError
        One per problem, in declaration order, each naming its variable.

    Examples
    --------
    >>> values, errors = check({"AGG_PORT": "80000", "LC_PERIOD": "soon", "MODEL_URL": "m.pkl"})
    >>> values
    {'MODEL_URL': 'm.pkl'}
    >>> [str(e) for e in errors]
    ["LC_PERIOD must be a number, got 'soon'", "AGG_PORT must be a port number between 0 and 65535, \
got '80000'"]
    """
    env = dict(_environ(environ))
    values: dict[str, Any] = {}
    errors: list[ConfigError] = []
    for f in dataclasses.fields(Config):
        meta = f.metadata
        if "env" not in meta:
            continue
        name, raw = _first_set(env, (*meta["aliases"], meta["env"]))
        if raw is None:
            continue
        variable = meta["env"]
        try:
            value = _parse(meta, raw, name)
        except ConfigError as exc:
            errors.append(exc)
            continue
        values[variable] = value
    if "SEDNA_TLS_KEY" in values and "SEDNA_TLS_CERT" not in values:
        errors.append(ConfigError("SEDNA_TLS_KEY is set without SEDNA_TLS_CERT; set the certificate too",
                                  variable="SEDNA_TLS_KEY"))
    return values, errors


# A variable of the environment this close to one of ours (difflib's ratio) is taken for a misspelling.
_MISSPELT_RATIO = 0.85


def check_advice(environ: Mapping[str, str] | None = None) -> list[str]:
    """List what is valid but probably not meant: misspelt variable names, S3 without credentials.

    Nothing here stops a worker: a variable whose name is not one of sedna_lib's is not read at all, and
    an S3 endpoint without credentials is used anonymously. :func:`check` lists what a worker refuses.

    Parameters
    ----------
    environ : mapping of str to str, default=None
        The variables; the process environment when None.

    Returns
    -------
    list of str
        One sentence per finding.

    Examples
    --------
    >>> check_advice({"BIG_MODEL_PROT": "5000", "EPOCHS": "3"})
    ['unknown variable BIG_MODEL_PROT; did you mean BIG_MODEL_PORT?']
    """
    env = _environ(environ)
    known = [name for f in dataclasses.fields(Config) if "env" in f.metadata
             for name in (f.metadata["env"], *f.metadata["aliases"])]
    advice = []
    for name in sorted(env):
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=_MISSPELT_RATIO)
        if close:
            advice.append(f"unknown variable {name}; did you mean {close[0]}?")
    if env.get("S3_ENDPOINT_URL") and not (env.get("ACCESS_KEY_ID") and env.get("SECRET_ACCESS_KEY")):
        advice.append("S3_ENDPOINT_URL is set but ACCESS_KEY_ID and SECRET_ACCESS_KEY are not both set: "
                      "S3 requests go unsigned, as anonymous, which most servers refuse; set both")
    if env.get("HEM_PARAMETERS", "").strip() and not env.get("HEM_NAME", "").strip():
        advice.append("HEM_PARAMETERS is set but HEM_NAME is not: no miner is built from HEM_NAME, so the "
                      "parameters are not used; set HEM_NAME to the miner they are for")
    return advice
