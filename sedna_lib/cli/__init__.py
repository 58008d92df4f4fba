"""The ``sedna-lib`` command line: serve a big model, run an aggregation or KB server, the demo, listings."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import pathlib
import re
import sys
from typing import Any, Callable, Sequence

from .._version import __version__
from ..base import check_number
from ..exceptions import ParameterError

__all__ = ["main", "build_parser", "load_object", "load_option", "object_spec", "folder", "UsageError",
           "positive_int", "port_number", "fraction", "non_negative_number", "plain_text",
           "describe_docstring", "serve_until_stopped"]


_OBJECT_FORMS = ("module:Attribute or path/to/file.py:Attribute (for example interface:Estimator or "
                 "./interface.py:Estimator)")


class UsageError(ParameterError):
    """A command-line argument found unusable once the command ran: exit status 2, as argparse's errors.

    Parameters
    ----------
    option : str
        The option (``--estimator``).
    message : str
        What is wrong with its value.
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"argument {option}: {message}")
        self.option = option


def _load(spec: str) -> Any:
    target, sep, attr = spec.partition(":")
    if not sep or not target or not attr:
        raise ParameterError(f"{spec!r} must look like {_OBJECT_FORMS}")
    try:
        if target.endswith(".py"):
            path = pathlib.Path(target).resolve()
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or module_spec.loader is None or not path.is_file():
                raise ParameterError(f"cannot load {target}: no such file; give {_OBJECT_FORMS}")
            sys.path.insert(0, str(path.parent))
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            sys.path.insert(0, str(pathlib.Path.cwd()))
            module = importlib.import_module(target)
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ParameterError(f"cannot load {spec}: {exc}; give {_OBJECT_FORMS}") from exc
    return obj


def load_object(spec: str) -> Any:
    """Import ``module:attribute`` or ``path/to/file.py:attribute``.

    Parameters
    ----------
    spec : str
        What to load, e.g. ``interface:Estimator`` or ``./interface.py:Estimator``.

    Returns
    -------
    object
        The attribute.

    Raises
    ------
    SystemExit
        With a clear message if the spec is malformed or cannot be imported.
    """
    try:
        return _load(spec)
    except ParameterError as exc:
        raise SystemExit(f"error: {exc}") from exc


def load_option(option: str, spec: str) -> Any:
    """Load the object a command-line option names (``--estimator interface:Estimator``).

    Parameters
    ----------
    option : str
        The option, named in the error.
    spec : str
        Its value: ``module:Attribute`` or ``path/to/file.py:Attribute``.

    Returns
    -------
    object
        The attribute.

    Raises
    ------
    UsageError
        If the value is malformed or cannot be imported (:func:`main` exits with status 2).
    """
    try:
        return _load(spec)
    except ParameterError as exc:
        raise UsageError(option, str(exc)) from exc


def object_spec(text: str) -> str:
    """Parse the form of ``module:Attribute`` or ``path/to/file.py:Attribute`` (loaded later).

    Parameters
    ----------
    text : str
        The argument as typed.

    Returns
    -------
    str
        The same text.

    Raises
    ------
    argparse.ArgumentTypeError
        If it lacks the module or the attribute.
    """
    target, sep, attr = text.partition(":")
    if not sep or not target or not attr:
        raise argparse.ArgumentTypeError(f"{text!r} must look like {_OBJECT_FORMS}")
    return text


def folder(text: str) -> str:
    """Parse a folder that exists or can be created (nothing is created here); a URL passes as is.

    Parameters
    ----------
    text : str
        The argument as typed.

    Returns
    -------
    str
        The same text.

    Raises
    ------
    argparse.ArgumentTypeError
        If it names a file, or a folder under a file or under a folder this user cannot write.
    """
    if "://" in text:
        return text  # an s3:// URL: its storage checks it
    path = os.path.abspath(os.path.expanduser(text))
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise argparse.ArgumentTypeError(f"{text!r} is not a folder (it exists and is a file); "
                                             f"name a folder")
        return text
    parent = os.path.dirname(path)
    while not os.path.exists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"cannot create {text!r}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot create {text!r}: no permission to write in {parent}")
    return text


# -- argument types: a bad value is an argparse error naming the option ------------------------------

def positive_int(text: str) -> int:
    """Parse an integer of 1 or more (rounds, participants, ...).

    Parameters
    ----------
    text : str
        The argument as typed.

    Returns
    -------
    int
        The value.

    Raises
    ------
    argparse.ArgumentTypeError
        If it is not an integer of at least 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def port_number(text: str) -> int:
    """Parse a TCP port: 0 (any free port) to 65535.

    Parameters
    ----------
    text : str
        The argument as typed.

    Returns
    -------
    int
        The port.

    Raises
    ------
    argparse.ArgumentTypeError
        If it is not an integer from 0 to 65535.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {value}")
    return value


def _number(text: str, *args: Any, **kwargs: Any) -> float:
    """Read an argument with :func:`~sedna_lib.base.check_number`, refused as argparse expects."""
    try:
        return check_number("the value", text, *args, **kwargs)
    except ParameterError as exc:  # argparse prefixes the option: "argument --budget: the value must be ..."
        raise argparse.ArgumentTypeError(str(exc)) from None


def fraction(text: str) -> float:
    """Parse a share greater than 0 and at most 1.

    Parameters
    ----------
    text : str
        The argument as typed.

    Returns
    -------
    float
        The share.

    Raises
    ------
    argparse.ArgumentTypeError
        If it is not a finite number in (0, 1].
    """
    return _number(text, 0, 1, low_open=True)


def non_negative_number(text: str) -> float:
    """Parse a finite number of 0 or more (a threshold such as ``--min-delta``).

    Parameters
    ----------
    text : str
        The argument as typed.

    Returns
    -------
    float
        The number.

    Raises
    ------
    argparse.ArgumentTypeError
        If it is not a number, is NaN or infinite, or is below 0.
    """
    return _number(text, 0)


# -- docstrings as plain text (``algorithms --details``) --------------------------------------------

_ROLE = re.compile(r":(?:py:)?[a-z]+:`(?P<body>[^`]+)`")
_LITERAL = re.compile(r"``(?P<text>.+?)``|`(?P<single>[^`]+)`")
_CITATION = re.compile(r"\[(?P<label>[^\]\s]+)\]_")
_REFERENCE = re.compile(r"^\.\. \[(?P<label>[^\]]+)\]\s*(?P<text>.*)$")


def _plain_role(match: re.Match) -> str:
    body = match["body"].strip()
    explicit = re.fullmatch(r"(?P<title>.+?)\s*<[^>]+>", body)
    if explicit:
        return explicit["title"]
    if body.startswith("~"):
        return body[1:].rsplit(".", 1)[-1]
    return body.lstrip(".")


def plain_text(text: str) -> str:
    """Turn reStructuredText inline markup into plain text.

    Roles (``:class:`~a.B` `` reads ``B``), literals (double or single backticks) and citations
    (``[1]_`` reads ``[1]``) become the text a reader sees.

    Parameters
    ----------
    text : str
        Docstring text.

    Returns
    -------
    str
        The same text without markup.
    """
    text = _ROLE.sub(_plain_role, text)
    text = _LITERAL.sub(lambda m: m["text"] if m["text"] is not None else m["single"], text)
    return _CITATION.sub(lambda m: f"[{m['label']}]", text)


def describe_docstring(doc: str | None) -> dict[str, Any]:
    """Read a numpydoc docstring's summary paragraph and its references, as plain text.

    Parameters
    ----------
    doc : str or None
        The docstring.

    Returns
    -------
    dict
        ``{"summary": str, "references": [str, ...]}``.
    """
    import inspect

    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip():
            break
        summary.append(line.strip())
    references: list[str] = []
    in_references = False
    for i, line in enumerate(lines):
        if line.strip() == "References" and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            in_references = True
            continue
        if not in_references:
            continue
        if line.strip() and set(line.strip()) == {"-"}:
            continue
        if line and not line[0].isspace() and not line.startswith(".. ") and i + 1 < len(lines) \
                and lines[i + 1].strip() and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section
        entry = _REFERENCE.match(line.strip())
        if entry:
            references.append(f"[{entry['label']}] {entry['text']}".strip())
        elif line.strip() and references:
            references[-1] += " " + line.strip()
    return {"summary": plain_text(" ".join(summary)), "references": [plain_text(r) for r in references]}


# -- subcommands ---------------------------------------------------------------------------------

def _cmd_demo(args: argparse.Namespace) -> int:
    from ..demo.__main__ import main as demo_main

    argv: list[str] = []
    if args.workdir:
        argv += ["--workdir", str(args.workdir)]
    if args.only:
        argv += ["--only", *args.only]
    return demo_main(argv)


def _kind_name(text: str) -> str:
    """Parse ``--kind``: a kind's name, ours or Sedna's spelling."""
    from ..registry import Kind

    try:
        return Kind(text).value
    except ValueError:
        known = ", ".join(kind.label for kind in Kind)
        raise argparse.ArgumentTypeError(f"unknown kind {text!r}; known kinds: {known}") from None


def _cmd_algorithms(args: argparse.Namespace) -> int:
    from ..exceptions import PluginLoadError
    from ..registry import Kind, default_registry

    kinds = [Kind(args.kind)] if args.kind else list(Kind)
    listing: dict[str, Any] = {}
    broken: list[str] = []
    for kind in kinds:
        names = default_registry.names(kind)
        if not names:
            continue
        if args.details:
            entries = {}
            for name in names:
                try:
                    entries[name] = _details(default_registry.get(kind, name))
                except Exception as exc:  # a broken plugin is reported on its line; the others still shown
                    entries[name] = {"error": str(exc) if isinstance(exc, PluginLoadError)
                                     else f"{name} failed to load: {type(exc).__name__}: {exc}"}
                    broken.append(name)
            listing[kind.label] = entries
        else:
            listing[kind.label] = names
    if args.json:
        print(json.dumps(listing, indent=2, default=repr))
    else:
        for kind_name, entries in listing.items():
            print(f"{kind_name}:")
            if isinstance(entries, dict):
                for name, info in entries.items():
                    if "error" in info:
                        print(f"  {name:<28} error: {info['error']}")
                        continue
                    params = ", ".join(f"{k}={v!r}" for k, v in info["parameters"].items())
                    print(f"  {name:<28} {info['summary']}")
                    for reference in info["references"]:
                        print(f"  {'':<28} {reference}")
                    if params:
                        print(f"  {'':<28} ({params})")
            else:
                print("  " + ", ".join(entries))
    if broken:
        print(f"error: {len(broken)} plugin{'s' if len(broken) > 1 else ''} failed to load: "
              f"{', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


def _details(obj: Any) -> dict[str, Any]:
    """Describe a registered class or function: its path, summary, references and default parameters."""
    params = obj().get_params() if hasattr(obj, "get_params") and _no_required_args(obj) else {}
    text = describe_docstring(obj.__doc__)
    return {"class": f"{obj.__module__}.{obj.__qualname__}", "summary": text["summary"],
            "references": text["references"], "parameters": params}


def _no_required_args(obj: Any) -> bool:
    import inspect

    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
               for p in sig.parameters.values())


def _plugin_errors(values: dict[str, Any]) -> list[Any]:
    """Check the variables that name plugins against the registry."""
    from ..backends import BACKEND_TYPES, backend_class
    from ..exceptions import ConfigError, RegistryError, SednaError
    from ..registry import Kind, build_algorithm, default_registry

    errors = []
    backend = str(values.get("BACKEND_TYPE") or "").strip()
    if backend:
        try:
            backend_class(backend)
        except RegistryError:
            known = sorted(set(BACKEND_TYPES) | {n.upper() for n in default_registry.names(Kind.BACKEND)})
            errors.append(ConfigError(f"BACKEND_TYPE: unknown backend {backend!r}; "
                                      f"known: {', '.join(known)}", variable="BACKEND_TYPE"))
    for variable, kind, what in (("HEM_NAME", Kind.HARD_EXAMPLE_MINING, "hard-example miner"),
                                 ("AGGREGATION_ALGORITHM", Kind.AGGREGATION, "aggregation algorithm")):
        name = values.get(variable)
        if name and not default_registry.is_registered(kind, name):
            known = ", ".join(default_registry.names(kind))
            errors.append(ConfigError(f"{variable}: unknown {what} {name!r}; known: {known}",
                                      variable=variable))
    hem_name = values.get("HEM_NAME")
    if hem_name and default_registry.is_registered(Kind.HARD_EXAMPLE_MINING, hem_name):
        # the miner a joint-inference edge or incremental-learning job builds from HEM_NAME/HEM_PARAMETERS
        spec = {"method": hem_name, "param": dict(values.get("HEM_PARAMETERS") or {})}
        try:
            build_algorithm(default_registry, Kind.HARD_EXAMPLE_MINING, spec, default="IBT",
                            label="hard_example_mining")
        except (SednaError, TypeError, ValueError) as exc:
            errors.append(ConfigError(f"HEM_PARAMETERS: {exc}", variable="HEM_PARAMETERS"))
    algorithm = values.get("AGGREGATION_ALGORITHM")
    if algorithm and default_registry.is_registered(Kind.AGGREGATION, algorithm):
        # the aggregator the aggregation server builds from AGGREGATION_ALGORITHM/AGGREGATION_PARAMETERS;
        # its constructor only stores, so a round is started (no model, no update) for its own checks
        params = dict(values.get("AGGREGATION_PARAMETERS") or {})
        try:
            default_registry.create(Kind.AGGREGATION, str(algorithm), **params).begin_round(None)
        except (SednaError, TypeError, ValueError) as exc:
            errors.append(ConfigError(f"AGGREGATION_PARAMETERS: {exc}", variable="AGGREGATION_PARAMETERS"))
    return errors


def _cmd_config(args: argparse.Namespace) -> int:
    import dataclasses

    from ..config import Config, check, check_advice, describe, get_parameter, redact_value

    values, errors = check()
    errors += _plugin_errors(values)
    advice = check_advice()
    bad = {e.variable for e in errors}
    secret = {f.metadata["env"] for f in dataclasses.fields(Config) if not f.repr and "env" in f.metadata}
    # a default computed on this machine (SEDNA_WORK_DIR): show its value here, not the documented rule
    computed = {f.metadata["env"]: f.default_factory() for f in dataclasses.fields(Config)
                if "shown" in f.metadata and f.default_factory is not dataclasses.MISSING}
    groups: dict[str, list[dict[str, Any]]] = {}
    for spec in describe():
        is_set = spec.variable in values or spec.variable in bad
        value = values.get(spec.variable, computed.get(spec.variable, spec.default))
        if spec.variable in bad:  # show what was given, not the default
            value = get_parameter(spec.variable, value)
        if hasattr(value, "value"):
            value = value.value
        if isinstance(value, tuple):
            value = list(value)
        if spec.variable in secret and value:
            value = "<set>"
        elif isinstance(value, str) and ("://" in value or spec.variable in bad):
            value = redact_value(value)  # a URL's password and query values (a refused one's too) hidden
        if args.changed and not is_set and spec.variable not in bad:
            continue
        groups.setdefault(spec.group, []).append(
            {"variable": spec.variable, "value": value, "set": is_set, "help": spec.help,
             "error": next((str(e) for e in errors if e.variable == spec.variable), None)})
    if args.json:
        print(json.dumps({"groups": [{"name": name, "variables": rows} for name, rows in groups.items()],
                          "errors": [{"variable": e.variable, "message": str(e)} for e in errors],
                          "warnings": advice}, indent=2, default=str))
    else:
        for name, rows in groups.items():
            print(f"{name}:")
            for row in rows:
                mark = "!" if row["error"] else "*" if row["set"] else " "
                print(f" {mark} {row['variable']:<30} {row['value']!r:<24} {row['help']}")
            print()
        if any(row["set"] or row["error"] for rows in groups.values() for row in rows):
            print("* set in the environment, ! invalid (see below)")
    for line in advice:
        print(f"warning: {line}", file=sys.stderr)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} invalid variable{'s' if len(errors) > 1 else ''}", file=sys.stderr)
    return 1 if errors else 0


def _server_logging(args: argparse.Namespace) -> None:
    """Print a server's lines (INFO, or SEDNA_LOG_LEVEL/SEDNA_LOG_FORMAT)."""
    from ..config import Config
    from ..observability.logs import configure_from_config

    if not args.verbose:  # -v already configured logging
        configure_from_config(Config.from_env(), default=True)


def serve_until_stopped(server: Any, *, configure_logs: bool = True, **start_options: Any) -> int:
    """Serve until the server is done or the process gets SIGTERM or Ctrl-C, then stop it cleanly.

    The way a serving script (a container's command) runs its server, as the ``sedna-lib`` serving
    commands do: it starts the server in the background, waits until it stops (an aggregation
    server once its rounds are done), and on SIGTERM or Ctrl-C stops it through its own
    ``stop()``, so that it logs its "stopped" line and the process exits 0 (130 after Ctrl-C)
    instead of being killed. The signal handlers are installed here, from the main thread only
    (elsewhere a signal is not this function's to take), and put back on return.

    Parameters
    ----------
    server : object
        A server not yet serving, with ``start(block=False)``, ``wait()`` and ``stop()``: a
        :class:`~sedna_lib.joint_inference.BigModelService`, an
        :class:`~sedna_lib.servers.aggregation.AggregationServer`, a
        :class:`~sedna_lib.servers.knowledge_base.KBServer`.
    configure_logs : bool, default=True
        Print the server's lines first (INFO, or ``SEDNA_LOG_LEVEL``/``SEDNA_LOG_FORMAT``); False
        when the caller configured logging itself.
    **start_options : object
        Passed to ``start`` (a big-model service's ``host`` and ``port``).

    Returns
    -------
    int
        The exit status: 0 once the server stopped or was stopped by SIGTERM, 130 after Ctrl-C.

    Examples
    --------
    >>> from sedna_lib.joint_inference import BigModelService  # doctest: +SKIP
    >>> raise SystemExit(serve_until_stopped(BigModelService(estimator=Estimator)))  # doctest: +SKIP
    """
    if configure_logs:
        from ..config import Config
        from ..observability.logs import configure_from_config

        configure_from_config(Config.from_env(), default=True)
    from ..servers._lifecycle import GracefulStop

    with GracefulStop() as graceful:
        try:
            server.start(block=False, **start_options)
            graceful.arm(server.stop)
            server.wait()  # until it stops serving (an aggregation server: until its job is done)
        finally:
            server.stop()
    return graceful.status


_MODEL_FILES = (".pkl", ".joblib", ".pickle", ".skops", ".pt", ".pth", ".keras", ".h5", ".pb", ".onnx",
                ".ckpt")


def _big_model_spec(text: str) -> str:
    """Parse ``serve-big-model --estimator``: ``module:Class``; a model file is pointed to MODEL_URL."""
    target, sep, attr = text.partition(":")
    if not sep and text.lower().endswith(_MODEL_FILES):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a model file, not an estimator: name the file with MODEL_URL and the estimator "
            f"with --estimator, e.g. MODEL_URL={text} sedna-lib serve-big-model --estimator "
            f"sklearn.neighbors:KNeighborsClassifier")
    return object_spec(text)


def _refuse_unfitted(service: Any, spec: str) -> None:
    """Refuse to serve an estimator that is not fitted when no model file is named to load into it."""
    from ..servers.inference import unfitted_reason

    if service.config.model_url or service.config.get("model_path") or service.context.config.model_path:
        return  # start() loads the named file into the estimator
    reason = unfitted_reason(service)
    if reason is not None:
        raise UsageError("--estimator", f"{reason} and no model file is named, so every request would fail: "
                                        f"set MODEL_URL to its trained model's file (MODEL_URL=model.pkl "
                                        f"sedna-lib serve-big-model --estimator {spec})")


def _cmd_serve_big_model(args: argparse.Namespace) -> int:
    from ..context import Context
    from ..joint_inference import BigModelService

    _server_logging(args)
    estimator = load_option("--estimator", args.estimator)
    service = BigModelService(estimator=estimator, context=Context.from_env())
    _refuse_unfitted(service, args.estimator)
    return serve_until_stopped(service, configure_logs=False, host=args.host, port=args.port)


def _cmd_aggregate(args: argparse.Namespace) -> int:
    from ..context import Context
    from ..servers.aggregation import AggregationServer

    _server_logging(args)
    ctx = Context.from_env()
    cfg = ctx.config
    server = AggregationServer(aggregation=args.aggregation or cfg.aggregation_algorithm or "FedAvg",
                               exit_round=args.exit_round or cfg.exit_round or 1,
                               participants_count=args.participants or cfg.participants_count or 1,
                               host=args.host, http_port=args.port, context=ctx)
    return serve_until_stopped(server, configure_logs=False)  # until the job is done, or a signal


def _cmd_kb(args: argparse.Namespace) -> int:
    from ..config import Config
    from ..servers.knowledge_base import KBServer

    _server_logging(args)
    kb = KBServer.from_config(Config.from_env(), host=args.host, port=args.port, save_dir=args.save_dir)
    return serve_until_stopped(kb, configure_logs=False)


def _add(sub: Any, name: str, handler: Callable[[argparse.Namespace], int],
         help: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The ``sedna-lib`` parser.
    """
    parser = argparse.ArgumentParser(prog="sedna-lib", description="sedna_lib: edge-cloud collaborative AI.")
    parser.add_argument("--version", action="version", version=f"sedna_lib {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from ..demo.__main__ import SECTION_NAMES

    p = _add(sub, "demo", _cmd_demo, "run the demo on embedded defaults (servers on 127.0.0.1)")
    p.add_argument("--workdir", type=pathlib.Path, help="folder for the demo's files")
    p.add_argument("--only", nargs="+", choices=SECTION_NAMES, metavar="SECTION",
                   help=f"run only these sections, of: {', '.join(SECTION_NAMES)}")

    from ..registry import Kind

    kinds = [kind.label for kind in Kind]
    p = _add(sub, "algorithms", _cmd_algorithms, "list the registered algorithms and backends")
    # Sedna's spellings of a kind are accepted too (Kind() maps them), but only ours are shown
    p.add_argument("--kind", type=_kind_name, metavar="KIND", help=f"only this kind, of: {', '.join(kinds)}")
    p.add_argument("--details", action="store_true",
                   help="load each one and show its summary, references and parameters (one that fails to "
                        "load shows its error on its line, and the exit status is 1)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = _add(sub, "config", _cmd_config,
             "show the configuration read from the environment, by feature, and check every value "
             "(secrets hidden; exit 1 if any is invalid)")
    p.add_argument("--changed", action="store_true", help="only the variables set in the environment")
    p.add_argument("--json", action="store_true", help="print JSON (groups, variables, errors)")

    p = _add(sub, "serve-big-model", _cmd_serve_big_model,
             "serve a big model for joint inference (BigModelService; blocks); the trained model's file "
             "is MODEL_URL (or MODEL_PATH), loaded into the estimator at start")
    p.add_argument("--estimator", required=True, type=_big_model_spec,
                   help="module:Class or file.py:Class of the cloud estimator; MODEL_URL names its trained "
                        "model's file (MODEL_URL=knn.pkl ... --estimator "
                        "sklearn.neighbors:KNeighborsClassifier); a scikit-learn estimator not fitted, with "
                        "no model file, is refused")
    p.add_argument("--host", help="bind address (default BIG_MODEL_BIND_IP, 0.0.0.0)")
    p.add_argument("--port", type=port_number, help="bind port (default BIG_MODEL_BIND_PORT, 5000)")

    p = _add(sub, "aggregate", _cmd_aggregate,
             "run a federated-learning aggregation server (blocks until done)")
    p.add_argument("--aggregation", help="registered aggregator (default AGGREGATION_ALGORITHM, FedAvg)")
    p.add_argument("--exit-round", type=positive_int, help="rounds to run, 1 or more (default EXIT_ROUND, 1)")
    p.add_argument("--participants", type=positive_int,
                   help="clients per round, 1 or more (default PARTICIPANTS_COUNT, 1)")
    p.add_argument("--host", help="bind address (default AGG_BIND_IP, 0.0.0.0)")
    p.add_argument("--port", type=port_number, help="bind port (default AGG_BIND_PORT, 7363)")

    p = _add(sub, "kb", _cmd_kb, "run the lifelong-learning knowledge-base server (blocks)")
    p.add_argument("--host", help="bind address (default from KnowledgeBaseServer, 0.0.0.0)")
    p.add_argument("--port", type=port_number, help="bind port (default from KnowledgeBaseServer, 9020)")
    p.add_argument("--save-dir", type=folder, help="folder for uploaded files (default KnowledgeBasePath)")

    for module_name in _PLUGGED_COMMANDS:
        importlib.import_module(module_name).add_parser(sub)
    return parser


# Feature modules that contribute their own subcommands: each has add_parser(subparsers).
_PLUGGED_COMMANDS: list[str] = ["sedna_lib.cli.incremental"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    from ..exceptions import SednaError

    try:
        return int(args.handler(args) or 0)
    except UsageError as exc:  # an argument found unusable once the command ran: as argparse says it
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
    except SednaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file or folder the command could not use: say which, without a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
