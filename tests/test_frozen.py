"""beacon.frozen.quick_init: the same class as the generated ``__init__`` gives, built faster."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from beacon.frozen import quick_init
from beacon.model import BeaconRequest, Found, QueryKind, VariantQuery
from beacon.storage.privacy import AuditEntry


def _twins() -> tuple[type[Any], type[Any]]:
    """The same class twice: as ``@dataclass`` made it, and with :func:`quick_init`."""

    def make() -> type[Any]:
        @dataclass(frozen=True, slots=True)
        class Sample:
            a: int
            b: str = "b"
            c: list[int] = field(default_factory=list)
            d: int | None = None

            def __post_init__(self) -> None:
                if self.a < 0:
                    raise ValueError("a must not be negative")

        return Sample

    return make(), quick_init(make())


def _call(cls: type[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return ("ok", dataclasses.astuple(cls(*args, **kwargs)))
    except (TypeError, ValueError) as exc:
        return (type(exc).__name__, str(exc))


def test_same_signature_values_and_errors_as_the_generated_init() -> None:
    plain, quick = _twins()
    assert str(inspect.signature(quick)) == str(inspect.signature(plain))
    positional: list[tuple[Any, ...]] = [(), (1,), (1, "x"), (1, "x", [2]), (1, "x", [2], 3)]
    positional += [(1, "x", [2], 3, 4), (-1,)]
    keywords: list[dict[str, Any]] = [{}, {"b": "y"}, {"c": [5]}, {"d": 7}, {"a": 2}, {"e": 1}]
    compared = 0
    for args, kwargs in itertools.product(positional, keywords):
        assert _call(quick, args, kwargs) == _call(plain, args, kwargs), (args, kwargs)
        compared += 1
    assert compared == 42
    outcomes = {_call(quick, a, k)[0] for a, k in itertools.product(positional, keywords)}
    assert outcomes == {"ok", "TypeError", "ValueError"}  # every path was taken


def test_instances_stay_frozen_and_factories_give_fresh_objects() -> None:
    _, quick = _twins()
    one, two = quick(1), quick(1)
    assert one == two
    assert hash(one.a) == hash(two.a)
    assert one.c == []
    assert one.c is not two.c
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = 2
    assert dataclasses.replace(one, b="z") == quick(1, "z")
    assert not hasattr(one, "__dict__")


@pytest.mark.parametrize("cls", [VariantQuery, BeaconRequest, Found, AuditEntry])
def test_the_request_path_classes_use_it(cls: type[Any]) -> None:
    assert cls.__init__.__code__.co_filename == "<string>"  # built by quick_init
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"


def test_a_model_class_built_both_ways_is_equal() -> None:
    query = VariantQuery(QueryKind.SEQUENCE, "1", "GRCh38", 5, 6, reference_bases="A")
    assert query == VariantQuery(
        kind=QueryKind.SEQUENCE,
        reference_name="1",
        assembly="GRCh38",
        start=5,
        end=6,
        reference_bases="A",
    )
    assert query.alternate_bases is None
    assert query.vcf_bounds is False
    assert dataclasses.replace(query, start=7).start == 7
    assert BeaconRequest(query=query).received == {}
    assert BeaconRequest(query=query).received is not BeaconRequest(query=query).received
    with pytest.raises(ValueError, match="parallel"):
        AuditEntry("anonymous", "/g_variants", ("a", "b"), (), returned_granularity=None)  # type: ignore[arg-type]


def test_refuses_classes_it_cannot_rebuild() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class Hidden:
        a: int
        b: int = field(init=False, default=0)

    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        a: int

    class NotADataclass:
        pass

    for cls in (NoSlots, NotFrozen, Hidden, KeywordOnly, NotADataclass):
        with pytest.raises(TypeError):
            quick_init(cls)
