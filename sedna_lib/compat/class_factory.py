"""Sedna's ``sedna.common.class_factory``: ``ClassType`` and ``ClassFactory`` over sedna_lib's registry."""

from __future__ import annotations

import inspect
import warnings
from types import ModuleType
from typing import Any, Callable

from ..exceptions import ClassNotFoundError, PluginLoadError, SednaWarning
from ..registry import Registry, default_registry, get_class

__all__ = ["ClassType", "ClassFactory", "ClassNotFoundError"]


class ClassType:
    """Registry kinds under Sedna's names; the values are the registry keys (typo included)."""

    GENERAL = "general"
    HEM = "hard_example_mining"
    FL_AGG = "aggregation"
    MTL = "multi_task_learening"  # Sedna's spelling: it is the key scripts and CRDs use
    UTD = "unseen_task_detect"
    OF = "optical_flow"
    ALGORITHM = "algorithm"
    DATASET = "data_process"
    CALLBACK = "post_process_callback"
    UTP = "unseen_task_processing"
    KM = "knowledge_management"
    STP = "seen_task_processing"


def _kind(type_name: Any) -> str:
    return getattr(type_name, "value", type_name)


class ClassFactory:
    """Sedna's class registry, backed by :data:`sedna_lib.registry.default_registry`.

    Registrations made here and through :func:`sedna_lib.registry.register` are the same ones,
    and built-ins found through entry points are visible to :meth:`get_cls`. As in Sedna, the
    last registration of a name wins; replacing a different class warns with :class:`SednaWarning`.

    Examples
    --------
    >>> @ClassFactory.register(ClassType.GENERAL, alias="doctest.Echo")
    ... class Echo:
    ...     pass
    >>> ClassFactory.get_cls(ClassType.GENERAL, "doctest.Echo") is Echo
    True
    """

    registry: Registry = default_registry

    @classmethod
    def register(cls, type_name: str = ClassType.GENERAL, alias: str | None = None) -> Callable[[Any], Any]:
        """Return a decorator that registers a class (or function) and returns it unchanged.

        Parameters
        ----------
        type_name : str, default=ClassType.GENERAL
            The kind.
        alias : str, default=None
            The registered name; the object's ``__name__`` if omitted.

        Returns
        -------
        callable
            The decorator.
        """
        def decorator(t_cls: Any) -> Any:
            return cls.register_cls(t_cls, type_name=type_name, alias=alias)
        return decorator

    @classmethod
    def register_cls(cls, t_cls: Any, type_name: str = ClassType.GENERAL, alias: str | None = None) -> Any:
        """Register ``t_cls`` under ``alias`` (or its name); the last registration wins.

        Parameters
        ----------
        t_cls : class or callable
            What to register.
        type_name : str, default=ClassType.GENERAL
            The kind.
        alias : str, default=None
            The registered name.

        Returns
        -------
        class or callable
            ``t_cls`` unchanged.
        """
        kind = _kind(type_name)
        name = alias or t_cls.__name__
        if cls.registry.is_registered(kind, name):
            try:
                previous = cls.registry.get(kind, name)
            except PluginLoadError:
                previous = None
            if previous is not t_cls:
                warnings.warn(f"{kind} name {name!r} was already registered; {t_cls!r} replaces it",
                              SednaWarning, stacklevel=3)
        return cls.registry.register(kind, name, t_cls, override=True)

    @classmethod
    def register_from_package(cls, package: ModuleType, type_name: str = ClassType.GENERAL) -> None:
        """Register every public class and function of a module or package under its own name.

        Parameters
        ----------
        package : module
            The module whose public names are registered.
        type_name : str, default=ClassType.GENERAL
            The kind.
        """
        for name in dir(package):
            if name.startswith("_"):
                continue
            obj = getattr(package, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                cls.register_cls(obj, type_name=type_name, alias=name)

    @classmethod
    def is_exists(cls, type_name: str, cls_name: str | None = None) -> bool:
        """Tell whether a kind has registrations, or whether ``cls_name`` is registered for it.

        Parameters
        ----------
        type_name : str
            The kind.
        cls_name : str, default=None
            The name; omitted, the question is whether the kind has any name.

        Returns
        -------
        bool
            The answer.
        """
        kind = _kind(type_name)
        if cls_name is None:
            return bool(cls.registry.names(kind))
        return cls.registry.is_registered(kind, cls_name)

    @classmethod
    def get_cls(cls, type_name: str, t_cls_name: str | None = None) -> Any:
        """Return the registered class (not an instance).

        Parameters
        ----------
        type_name : str
            The kind.
        t_cls_name : str
            The registered name.

        Returns
        -------
        class or callable
            What was registered.

        Raises
        ------
        ClassNotFoundError
            If the name is missing or unknown (also a ``ValueError`` and a ``LookupError``); the
            message lists the known names.
        PluginLoadError
            If the built-in or plugin that provides the name fails to import.
        """
        return get_class(_kind(type_name), t_cls_name, registry=cls.registry)
