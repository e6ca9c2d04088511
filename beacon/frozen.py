"""Quicker construction of the frozen, slotted dataclasses built on every request.

A frozen dataclass's generated ``__init__`` stores each field with
``object.__setattr__(self, name, value)``: a global look-up, an attribute look-up and a
three-argument call per field, about 0.1 µs each on CPython 3.11. A query builds a
:class:`beacon.model.VariantQuery` (17 fields), a :class:`beacon.model.BeaconRequest` and an
audit entry, so this is a few µs of every answer. :func:`quick_init` gives such a class an
``__init__`` that stores each field through its slot's own descriptor instead, about twice as
fast, and otherwise the same.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Replace the ``__init__`` of ``cls``, a ``@dataclass(frozen=True, slots=True)`` class,
    with one that stores each field through its slot descriptor (class decorator; put it
    above ``@dataclass``).

    The new ``__init__`` has the same signature (names, order, defaults), calls default
    factories and ``__post_init__`` as the generated one does, and instances stay frozen:
    assigning to a field still raises ``dataclasses.FrozenInstanceError``. Raises
    ``TypeError`` for a class that is not a frozen, slotted dataclass, or whose ``__init__``
    is not exactly its fields (``init=False`` fields, ``InitVar`` or keyword-only fields).
    """
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} is not a frozen dataclass")
    if "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} has no __slots__")
    fields = dataclasses.fields(cls)
    before = inspect.signature(cls.__init__)
    if [p for p in before.parameters if p != "self"] != [f.name for f in fields] or any(
        p.kind is not p.POSITIONAL_OR_KEYWORD for p in before.parameters.values()
    ):
        raise TypeError(f"{cls.__name__}.__init__ is not exactly its fields")
    namespace: dict[str, Any] = {}
    params, lines = [], []
    for f in fields:
        setter = f"_set_{f.name}"
        namespace[setter] = cls.__dict__[f.name].__set__
        default = before.parameters[f.name].default
        if default is inspect.Parameter.empty:
            params.append(f.name)
            lines.append(f"    {setter}(self, {f.name})")
            continue
        namespace[f"_default_{f.name}"] = default  # a factory field's is dataclasses' marker
        params.append(f"{f.name}=_default_{f.name}")
        if f.default_factory is dataclasses.MISSING:
            lines.append(f"    {setter}(self, {f.name})")
        else:
            namespace[f"_factory_{f.name}"] = f.default_factory
            value = f"_factory_{f.name}() if {f.name} is _default_{f.name} else {f.name}"
            lines.append(f"    {setter}(self, {value})")
    if hasattr(cls, "__post_init__"):
        lines.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(lines or ["    pass"])
    exec(source, namespace)  # noqa: S102 - source built above from the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    if [(p.name, p.default) for p in inspect.signature(init).parameters.values()] != [
        (p.name, p.default) for p in before.parameters.values()
    ]:
        raise TypeError(f"{cls.__name__}.__init__ could not be rebuilt with its signature")
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
