"""The plain-data codec: what the judge accepts from the code under test, and what it refuses.

A value survives the trip with its exact type; a subclass arrives as its base type's data
read through the base type's own slots (the subclass's overrides are never called); an
object that is not plain data arrives as its type's name only; malformed input is refused.
"""

from __future__ import annotations

import collections
import decimal
import fractions
import json
import math
from typing import Any, NamedTuple

import numpy as np
import pytest

from benchdock.harnesses.pyjudge import codec

BUDGET = 1 << 26


def trip(value: Any) -> tuple[Any, list[str]]:
    return codec.decode(codec.encode(value, BUDGET), np)


VALUES: list[Any] = [
    None, True, False, 0, -7, 2**63, -(2**5000) + 3, 1.5, -0.0, math.inf, -math.inf,
    "", "héllo \udc80 \x00", b"\x00\xff", bytearray(b"ab"), 3 - 4j,
    [1, 2.0, "x", None, True], (1, (2, (3,))), (), [], {"a": 1, (1, 2): [3], 4: {5: 6}},
    {1, 2.5, "s", (1,)}, frozenset({frozenset({1})}),
    collections.Counter("abracadabra"), collections.OrderedDict([(2, "b"), (1, "a")]),
    collections.defaultdict(list, {"k": [1]}), collections.deque([1, 2], maxlen=5),
    fractions.Fraction(3, 7), decimal.Decimal("-1.50"),
    [[1.0] * 3, ["a"] * 2, [2**70, 1]],
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_plain_values_round_trip_with_their_exact_types(value: Any) -> None:
    got, opaque = trip(value)
    assert opaque == []
    assert got == value and type(got) is type(value)
    if isinstance(value, float):
        assert math.copysign(1, got) == math.copysign(1, value)
    if isinstance(value, collections.defaultdict):
        assert got.default_factory is list
    if isinstance(value, collections.deque):
        assert got.maxlen == 5


def test_nan_and_nested_types() -> None:
    got, _ = trip([math.nan, (1, [2, (3.0,)])])
    assert math.isnan(got[0]) and type(got[1]) is tuple and type(got[1][1][1]) is tuple


def test_numpy_values_keep_their_dtypes() -> None:
    for v in (np.int64(-3), np.float32(1.25), np.bool_(True), np.uint8(200), np.complex128(1j),
              np.str_("ab"), np.float64(2.5)):
        got, _ = trip(v)
        assert type(got) is type(v) and got == v
    for arr in (np.arange(6, dtype=np.int32).reshape(2, 3), np.array([[1.5, np.nan]]),
                np.array([True, False]), np.array(["a", "bcd"]), np.zeros((0, 3))):
        got, _ = trip(arr)
        assert type(got) is np.ndarray and got.dtype == arr.dtype and got.shape == arr.shape
        assert np.array_equal(got, arr, equal_nan=arr.dtype.kind == "f")
    obj = np.array([1, "x", None], dtype=object)
    got, _ = trip(obj)
    assert got.dtype == object and list(got) == [1, "x", None]


class Point(NamedTuple):
    x: int
    y: int


def test_subclasses_travel_as_base_data_without_calling_their_overrides() -> None:
    class Boom(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            raise AssertionError("__iter__ called")

        def __len__(self) -> int:
            raise AssertionError("__len__ called")

        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = None  # type: ignore[assignment]

    class LyingInt(int):
        def __int__(self) -> int:
            return 42

        def __index__(self) -> int:
            return 42

        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class LyingStr(str):
        def __str__(self) -> str:
            return "forged"

        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    class LyingFloat(float):
        def __float__(self) -> float:
            return 0.0

    class LyingDict(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise AssertionError("items called")

        def __iter__(self) -> Any:
            raise AssertionError("__iter__ called")

    class LyingComplex(complex):
        @property
        def real(self) -> float:  # type: ignore[override]
            return 99.0

    got, opaque = trip([Boom([1, 2]), LyingInt(7), LyingStr("s"), LyingFloat(2.5),
                        LyingDict(a=1), LyingComplex(1, 2), Point(1, 2)])
    assert opaque == []
    assert got == [[1, 2], 7, "s", 2.5, {"a": 1}, 1 + 2j, (1, 2)]
    assert [type(x) for x in got] == [list, int, str, float, dict, complex, tuple]


def test_objects_that_are_not_plain_data_arrive_as_their_type_name() -> None:
    class AlwaysEqual:
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    got, opaque = trip([1, AlwaysEqual(), (x for x in []), len])
    assert opaque == ["tests.harnesses.pyjudge.test_pyjudge_codec.AlwaysEqual", "generator",
                      "builtin_function_or_method"]
    assert isinstance(got[1], codec.Opaque) and got[1].type_name == opaque[0]
    assert (got[1] == 1) is False and (got[1] == None) is False  # noqa: E711 - equal to nothing but itself
    assert got != [1, got[1], got[1], got[1]]


def test_limits_depth_self_reference_and_size() -> None:
    deep: list[Any] = []
    for _ in range(codec.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(codec.NotPlainData, match="nested deeper"):
        codec.encode(deep, BUDGET)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(codec.NotPlainData):
        codec.encode(loop, BUDGET)
    with pytest.raises(codec.NotPlainData, match="too large"):
        codec.encode("x" * 1000, 100)
    shared: list[Any] = [1]
    for _ in range(60):  # 2**60 leaves if expanded: the budget stops it early
        shared = [shared, shared]
    with pytest.raises(codec.NotPlainData, match="too large"):
        codec.encode(shared, 1 << 20)


@pytest.mark.parametrize("text", [
    '{"t": [1], "s": [2]}', '{"zz": 1}', '{"t": 5}', '{"d": [[1]]}', '{"s": [[1, 2]]}',
    '{"b": "!!!"}', '{"n": ["O", "AA=="]}', '{"n": ["|V8", "AAAAAAAAAAA="]}',
    '{"a": ["<f8", [3], "AAAAAAAAAAA="]}', '{"i": "12g"}', '{"F": [1, 0]}', '{"D": ["eval", []]}',
    "1" * 5000, "[" * 100000 + "]" * 100000, "not json", '{"c": ["1", 2]}', '{"Q": [-1, []]}',
    '{"M": "' + "9" * 20000 + '"}',
])
def test_malformed_encodings_are_refused(text: str) -> None:
    with pytest.raises(codec.Garbled):
        codec.decode(text, np)


def test_numpy_tags_need_numpy_on_the_judges_side() -> None:
    text = codec.encode(np.int64(1), BUDGET)
    with pytest.raises(codec.Garbled, match="numpy"):
        codec.decode(text, None)


def test_encoding_is_json() -> None:
    assert json.loads(codec.encode({"a": (1, 2)}, BUDGET)) == {"d": [["a", {"t": [1, 2]}]]}
