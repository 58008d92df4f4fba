"""Framework-neutral named objects (losses, metrics, optimizers) resolved lazily to torch or Keras ones."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Named"]


class Named:
    """A loss, metric or optimizer by name and options, turned into the framework's object on use.

    Parameters
    ----------
    kind : {'loss', 'metric', 'optimizer'}
        What it is.
    torch_name, keras_name : str or None
        ``module:attribute`` of the framework class (None: not available there).
    options : dict
        Keyword options, in Keras spelling (``learning_rate``, ``from_logits``).
    """

    sedna_lib_kind = True

    def __init__(self, kind: str, torch_name: str | None, keras_name: str | None, **options: Any) -> None:
        self.kind = kind
        self.torch_name = torch_name
        self.keras_name = keras_name
        self.options = options

    def __repr__(self) -> str:
        """Show the class name and the options."""
        name = (self.keras_name or self.torch_name or "?").rsplit(".", 1)[-1]
        args = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{name}({args})"

    @staticmethod
    def _load(path: str) -> Any:
        module, _, attr = path.rpartition(".")
        return getattr(importlib.import_module(module), attr)

    def resolve(self, framework: str) -> Any:
        """Return the framework's object (torch: a module, or an optimizer factory).

        Parameters
        ----------
        framework : {'torch', 'keras'}
            The target framework.

        Returns
        -------
        object
            The loss module/function, metric, or optimizer (a ``factory(params)`` for torch).

        Raises
        ------
        ValueError
            If the object has no counterpart in that framework.
        """
        path = self.torch_name if framework == "torch" else self.keras_name if framework == "keras" else None
        if path is None:
            raise ValueError(f"{self!r} has no {framework or 'unknown-framework'} counterpart; "
                             f"use torch or keras")
        cls = self._load(path)
        opts = dict(self.options)
        if framework == "torch":
            if self.kind == "optimizer":
                lr = opts.pop("learning_rate", None)
                if lr is not None:
                    opts["lr"] = lr
                return lambda params: cls(params, **opts)
            opts.pop("from_logits", None)
            return cls(**opts) if isinstance(cls, type) else cls
        return cls(**opts)

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """Compute a metric with numpy (framework-free): accuracy-style metrics only.

        Parameters
        ----------
        y_true, y_pred : array-like
            Labels (ints or one-hot) and predictions (labels, scores or probabilities).

        Returns
        -------
        float
            The metric value.
        """
        import numpy as np

        t, p = np.asarray(y_true), np.asarray(y_pred)
        if t.ndim > 1:
            t = t.argmax(axis=1)
        if p.ndim > 1:
            p = p.argmax(axis=1)
        return float(np.mean(t == p))
