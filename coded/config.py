"""Objects whose constructor parameters are their whole public state (scikit-learn style).

Codes, losses, optimisers and delay models share one protocol. ``get_config()`` returns
``{"type": name, **parameters}`` with tuples as lists (YAML-ready); ``from_config`` rebuilds
the object and rejects unknown or missing parameters by name; ``repr``, equality and
hashing all follow from the same parameters. A family's base class names the family
(``class Loss(Configurable, family="loss")``) and each public subclass registers under its
type name (its ``name`` attribute, or its class name), so every ``*_from_config`` is one
:func:`registered` lookup.

Subclasses list their constructor parameters in ``_params`` (a dataclass's fields serve by
default). The hooks ``_config_value``, ``_repr_args``, ``_from_params`` and ``_key`` are for
the few objects whose parameters are not plain values (a code's field, a composition of
models, a trace given as a file).

>>> from coded.optim import GD
>>> registered({"type": "gd", "lr": 0.5}, "optimizer") is GD
True
>>> GD(0.5).get_config()
{'type': 'gd', 'lr': 0.5}
>>> GD.from_config({"type": "gd", "lr": 0.5, "momentum": 0.9})
Traceback (most recent call last):
...
ValueError: unknown parameter 'momentum' for GD; expected one of ['lr', 'weight_decay']
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

__all__ = ["Configurable", "registered", "registry"]

_REGISTRIES: dict[str, dict[str, type]] = {}


class Configurable:
    """Base class: config round trip, ``repr``, ``==`` and ``hash`` from the parameters.

    Attributes:
        name: the config's ``type`` (default: the class name).
        _params: constructor argument names, in order (default: a dataclass's fields).
    """

    _params: tuple[str, ...] = ()
    _family: ClassVar[str | None] = None
    _type: ClassVar[str] = ""

    def __init_subclass__(cls, family: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._type = cls.__dict__.get("name") or cls.__name__
        if family is not None:  # the family's base class: not itself registered
            cls._family = family
            _REGISTRIES.setdefault(family, {})
        elif cls._family is not None and not cls.__name__.startswith("_"):
            _REGISTRIES[cls._family][cls._type] = cls

    # -- the protocol ------------------------------------------------------------------------
    def get_config(self) -> dict:
        """``{"type": name, **parameters}``; ``from_config`` inverts it."""
        names = self._param_names()
        return {"type": self._type, **{name: self._config_value(name) for name in names}}

    @classmethod
    def from_config(cls, config: Mapping):
        """Rebuild from ``get_config()``'s dict; unknown or missing parameters raise ValueError."""
        params = {k: v for k, v in config.items() if k != "type"}
        known = list(cls._param_names())
        for key in params:
            if key not in known:
                raise ValueError(
                    f"unknown parameter {key!r} for {cls.__name__}; expected one of {known}"
                )
        for key in _required(cls):
            if key not in params:
                raise ValueError(
                    f"missing parameter {key!r} for {cls.__name__}; required: {_required(cls)}"
                )
        return cls._from_params(params)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(self._repr_args())})"

    def __eq__(self, other):
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self):
        return hash(self._key())

    # -- hooks -------------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> tuple[str, ...]:
        if dataclasses.is_dataclass(cls):
            return tuple(f.name for f in dataclasses.fields(cls))
        return cls._params

    def _config_value(self, name: str):
        """The config's value of parameter ``name`` (tuples become lists)."""
        return _plain(getattr(self, name))

    def _key(self):
        """What ``==`` and ``hash`` compare: the config, frozen into tuples."""
        return _frozen(self.get_config())

    def _repr_args(self) -> list[str]:
        config = self.get_config()
        return [f"{k}={v!r}" for k, v in config.items() if k != "type"]

    @classmethod
    def _from_params(cls, params: dict):
        return cls(**params)


def _plain(value):
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _frozen(value):
    if isinstance(value, Mapping):
        return tuple((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


@functools.cache
def _required(cls) -> list[str]:
    """Parameters without a default, by the constructor's signature."""
    signature = inspect.signature(cls)
    names = cls._param_names()
    out = []
    for name, parameter in signature.parameters.items():
        if name in names and parameter.default is inspect.Parameter.empty:
            if parameter.kind is not inspect.Parameter.VAR_KEYWORD:
                out.append(name)
    return out


def registry(family: str) -> Mapping[str, type]:
    """The classes registered in ``family`` (``"code"``, ``"loss"``, ``"optimizer"``,
    ``"delays"``, ``"network"``) by type name: a read-only, live view.

    >>> import coded
    >>> registry("code")["MDSCode"] is coded.MDSCode
    True
    """
    if family not in _REGISTRIES:
        raise ValueError(f"Argument 'family' must be one of {sorted(_REGISTRIES)}, not {family!r}.")
    return MappingProxyType(_REGISTRIES[family])


def registered(config: Any, family: str) -> type:
    """The class of ``family`` a ``{"type": name, ...}`` config names, or a ValueError.

    >>> registered({"type": "least_squares"}, "loss").__name__
    'LeastSquaresLoss'
    """
    types = registry(family)
    if not isinstance(config, Mapping) or "type" not in config:
        raise ValueError(f"a {family} config must be a mapping with a 'type' key, not {config!r}")
    name = config["type"]
    if name not in types:
        raise ValueError(f"Argument '{family}' must be one of {sorted(types)}, not {name!r}.")
    return types[name]
