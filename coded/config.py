"""Objects whose constructor parameters are their whole public state (scikit-learn style).

``get_config()`` returns ``{"type": obj.name, **parameters}``, ``from_config`` rebuilds the
object, and ``repr``, equality and hashing all follow from the same parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Configurable", "registered"]


class Configurable:
    """Mixin: subclasses set ``name`` and ``_params`` (constructor argument names, in order)."""

    name: str = ""
    _params: tuple[str, ...] = ()

    def get_config(self) -> dict:
        """``{"type": name, **parameters}``; ``from_config`` inverts it."""
        return {"type": self.name, **{p: getattr(self, p) for p in self._params}}

    @classmethod
    def from_config(cls, config: Mapping):
        return cls(**{k: v for k, v in config.items() if k != "type"})

    def __repr__(self):
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._params)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self):
        return hash(repr(self))


def registered(config: Any, registry: Mapping[str, type], kind: str) -> type:
    """The class a ``{"type": name, ...}`` config names, or a ValueError naming ``kind``.

    >>> registered({"type": "a"}, {"a": int}, "thing")
    <class 'int'>
    """
    if not isinstance(config, Mapping) or "type" not in config:
        raise ValueError(f"a {kind} config must be a mapping with a 'type' key, not {config!r}")
    name = config["type"]
    if name not in registry:
        raise ValueError(f"Argument '{kind}' must be one of {sorted(registry)}, not {name!r}.")
    return registry[name]
