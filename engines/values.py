"""Immutable inputs: media, reservoirs and engines are values, changed only by `replace`.

An `Engine` caches its generator, and a `Batch` or a cycle caches what it derives from its parts; if
a part could change after construction (``bath.T = 2.0``), those caches would silently describe the
old physics.  So every input is a value: attribute assignment after construction raises
`dataclasses.FrozenInstanceError` (an `AttributeError`) naming the class and pointing to `replace`,
held arrays are read-only, held mappings are read-only views, and ``replace(**changes)`` returns a
changed copy made through the constructor, so every check runs again on the new value.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError

from engines.checks import known_names

__all__ = ["Value", "frozen_setattr"]


def _message(obj, name: str) -> str:
    cls = type(obj).__name__
    if dataclasses.is_dataclass(obj):
        arguments = [f.name for f in dataclasses.fields(obj)]
    else:
        try:
            arguments = list(obj._arguments())
        except NotImplementedError:
            arguments = []
    if name in arguments:
        how = f"`.replace({name}=...)`"
    else:
        how = "`.replace(...)` with any of " + ", ".join(arguments) if arguments else "its constructor"
    return (
        f"{cls} is immutable: cannot set or delete `{name}` after construction; make a changed copy "
        f"with {how} instead (the original keeps its value)."
    )


def frozen_setattr(self, name, value):
    """`__setattr__` of a value: always refused, with the message pointing to `replace`."""
    raise FrozenInstanceError(_message(self, name))


def frozen_delattr(self, name):
    """`__delattr__` of a value: always refused."""
    raise FrozenInstanceError(_message(self, name))


def _construct(cls, arguments):
    return cls(**arguments)


class _Frozen(type):
    """Metaclass that freezes an instance once its (outermost) constructor has returned."""

    def __init__(cls, name, bases, namespace):
        super().__init__(name, bases, namespace)
        # inspect.signature(cls) would otherwise report this metaclass's (*args, **kwargs).
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        cls.__signature__ = inspect.Signature(params)

    def __call__(cls, *args, **kwargs):
        obj = super().__call__(*args, **kwargs)
        object.__setattr__(obj, "_frozen", True)
        return obj


class Value(metaclass=_Frozen):
    """Base of the workbench's immutable inputs (media, reservoirs, engines).

    Subclasses set their attributes in ``__init__`` as usual and implement `_arguments`, the
    validated constructor arguments that rebuild an equal value; after ``__init__`` returns the
    instance is frozen.  Caches of derived data (``functools.cached_property``) still work: they write
    to the instance dictionary directly, and a value's derived data never goes stale.
    """

    _frozen = False

    def __setattr__(self, name, value):
        if self._frozen:
            frozen_setattr(self, name, value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if self._frozen:
            frozen_delattr(self, name)
        object.__delattr__(self, name)

    def _arguments(self) -> dict:
        """The constructor arguments (by keyword) of an equal value."""
        raise NotImplementedError

    def __reduce__(self):
        # Pickling and deep copies go through the constructor too (read-only views are not picklable,
        # and a rebuilt value is checked like any other).
        return (_construct, (type(self), self._arguments()))

    def _replace_owner(self) -> str:
        return f"{type(self).__name__}.replace"

    def replace(self, **changes):
        """A copy with `changes` (constructor arguments by name) applied, built and checked anew.

        Raises
        ------
        WorkbenchError
            For a name that is not a constructor argument (the message lists the allowed names), and
            for any value the constructor refuses.
        """
        try:
            arguments = self._arguments()
        except NotImplementedError:
            raise TypeError(
                f"{type(self).__name__} does not implement `_arguments`, so it cannot be replaced."
            ) from None
        known_names(self._replace_owner(), "field", changes, arguments)
        return type(self)(**{**arguments, **changes})
