"""Plain data on the wire: how a value crosses from the code under test to the judge.

The judge never unpickles or evaluates anything the worker sends. A value is JSON text in
which JSON's own types carry None, bool, small int, float (with Infinity/NaN), str and
list, and every other plain type is a one-key object naming it: `{"t": [...]}` a tuple,
`{"d": [[k, v], ...]}` a dict, `{"n": [dtype, base64]}` a numpy scalar, and so on. The
judge parses it with the C json parser and a hook that accepts exactly these shapes.

Encoding reads an object's data through its *base type's own slots* (`int.__int__`,
`tuple.__iter__`, `dict.items`, ...), so a subclass is sent as the base type's data and an
overridden `__eq__`, `__iter__` or `__len__` is never called. Anything that is not plain
data (a class of the program's own, a function, a generator) is sent as its type's name
only, `{"x": "AlwaysEqual"}`, and decodes to an `Opaque` that the judge refuses to compare:
an object that defines its own comparison cannot be judged.

Stdlib only (numpy when the program imported it): this module also runs in the sandbox.
"""

from __future__ import annotations

import collections
import json
import re
import sys

TYPE_CHECKING = False  # typing itself is slow to import, and the judge starts per sample
if TYPE_CHECKING:
    from typing import Any

# base64, decimal and fractions are imported when needed: the judge starts for every sample

MAX_DEPTH = 200  # nesting levels a value may have (the datasets' deepest is far less)
BIG_INT_BITS = 4000  # above this an int travels as hex: linear to parse, no digit limit
_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f(2|4|8|12|16)|c(8|16|24|32)|[US][0-9]{1,9})$")
_HEX = re.compile(r"^-?[0-9a-f]+$")
_SCALARS = frozenset({str, int, float, bool, type(None)})
_FACTORIES: dict[str, type] = {t.__name__: t for t in (list, int, set, dict, str, float, tuple)}
_FACTORY_NAME = {v: k for k, v in _FACTORIES.items()}


class NotPlainData(Exception):
    """The value cannot be sent as plain data (too deep, too large, self-referencing)."""


class Garbled(Exception):
    """What arrived is not a well-formed encoding: the sender broke the protocol."""


class Opaque:
    """Stands for an object that is not plain data. Equal to nothing but itself, so no
    comparison can hold by accident; the judge refuses to compare it before that anyway."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object, not plain data>"


def _qualname(x: object) -> str:
    t = type(x)
    mod = type.__dict__["__module__"].__get__(t)
    name = type.__dict__["__name__"].__get__(t)
    return str(name) if mod in ("builtins", "__main__", None) else f"{mod}.{name}"


class Encoder:
    """One value to a JSON-able tree; `budget` bounds the size (about bytes of output)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def _spend(self, n: int) -> None:
        self.budget -= n
        if self.budget < 0:
            raise NotPlainData("too large")

    def enc(self, x: Any, depth: int = 0) -> Any:
        t = type(x)
        if t is str:
            self._spend(len(x) + 2)
            return x
        if t is float or t is bool or x is None:
            self._spend(8)
            return x
        if t is int:
            return self._int(x)
        if depth >= MAX_DEPTH:
            raise NotPlainData(f"nested deeper than {MAX_DEPTH} levels (or refers to itself)")
        d = depth + 1
        if t is list:
            flat = self._flat(x)
            return flat if flat is not None else [self.enc(e, d) for e in x]
        if t is tuple:
            flat = self._flat(x)
            return {"t": flat if flat is not None else [self.enc(e, d) for e in x]}
        if t is dict:
            return {"d": self._items(dict.items(x), d)}
        return self._other(x, t, d)

    def _flat(self, x: list[Any] | tuple[Any, ...]) -> list[Any] | None:
        """A sequence of JSON's own scalars goes as it is (C-speed checks): the common
        case of long lists of numbers or strings."""
        kinds = set(map(type, x))
        if not kinds <= _SCALARS:
            return None
        size = 8 * len(x) + 2
        if str in kinds:
            size += sum(len(e) for e in x if type(e) is str)
        self._spend(size)
        if int in kinds and any(e.bit_length() > BIG_INT_BITS for e in x if type(e) is int):
            return None
        return list(x)

    def _int(self, x: int) -> Any:
        if x.bit_length() > BIG_INT_BITS:
            h = format(x, "x")
            self._spend(len(h) + 8)
            return {"i": h}
        self._spend(8)
        return x

    def _items(self, items: Any, d: int) -> list[list[Any]]:
        out = []
        for k, v in items:
            self._spend(4)
            out.append([self.enc(k, d), self.enc(v, d)])
        return out

    def _seq(self, it: Any, d: int) -> list[Any]:
        out = []
        for e in it:
            self._spend(1)
            out.append(self.enc(e, d))
        return out

    def _bytes(self, b: bytes) -> str:
        import base64

        self._spend(len(b) * 4 // 3 + 8)
        return base64.b64encode(b).decode("ascii")

    def _other(self, x: Any, t: type, d: int) -> Any:
        np = sys.modules.get("numpy")
        if np is not None:
            got = self._numpy(np, x, t, d)
            if got is not None:
                return got
        if t is complex or isinstance(x, complex):
            c = complex.__complex__(x)
            self._spend(24)
            return {"c": [c.real, c.imag]}
        if t is set or t is frozenset:
            return {"s" if t is set else "f": self._seq(t.__iter__(x), d)}
        if t is bytes or t is bytearray:
            return {"b" if t is bytes else "y": self._bytes(bytes(x))}
        if t is collections.Counter:
            return {"C": self._items(dict.items(x), d)}
        if t is collections.OrderedDict:
            return {"O": self._items(dict.items(x), d)}
        if t is collections.defaultdict:
            factory = collections.defaultdict.__dict__["default_factory"].__get__(x)
            name = _FACTORY_NAME.get(factory) if type(factory) is type else None
            return {"D": [name, self._items(dict.items(x), d)]}
        if t is collections.deque:
            maxlen = collections.deque.__dict__["maxlen"].__get__(x)
            return {"Q": [maxlen, self._seq(collections.deque.__iter__(x), d)]}
        fractions: Any = sys.modules.get("fractions")
        decimal: Any = sys.modules.get("decimal")
        if fractions is not None and t is fractions.Fraction:
            return {"F": [self._int(x._numerator), self._int(x._denominator)]}
        if decimal is not None and t is decimal.Decimal:
            text = str(x)  # the exact type: nothing overridden
            self._spend(len(text) + 8)
            return {"M": text}
        if t is type({}.keys()):
            return {"s": self._seq(x, d)}
        return self._subclass(x, d)

    def _subclass(self, x: Any, d: int) -> Any:
        """A subclass of a plain type travels as its base type's data, read through the
        base type's own slots, so nothing the subclass overrides is called."""
        if isinstance(x, int):  # bool cannot be subclassed
            return self._int(int.__int__(x))
        if isinstance(x, float):
            self._spend(8)
            return float.__float__(x)
        if isinstance(x, str):
            s = str.__str__(x)
            self._spend(len(s) + 2)
            return s
        for base in (collections.Counter, collections.OrderedDict, collections.defaultdict,
                     collections.deque):
            if isinstance(x, base):
                return self._other(x, base, d)
        if isinstance(x, list):
            return self._seq(list.__iter__(x), d)
        if isinstance(x, tuple):
            return {"t": self._seq(tuple.__iter__(x), d)}
        if isinstance(x, dict):
            return {"d": self._items(dict.items(x), d)}
        if isinstance(x, frozenset):
            return {"f": self._seq(frozenset.__iter__(x), d)}
        if isinstance(x, set):
            return {"s": self._seq(set.__iter__(x), d)}
        if isinstance(x, bytes):
            return {"b": self._bytes(bytes.__getitem__(x, slice(None)))}
        if isinstance(x, bytearray):
            return {"y": self._bytes(bytes(bytearray.__getitem__(x, slice(None))))}
        fractions: Any = sys.modules.get("fractions")
        decimal: Any = sys.modules.get("decimal")
        if fractions is not None and isinstance(x, fractions.Fraction):
            try:
                num, den = int.__int__(x._numerator), int.__int__(x._denominator)
            except (AttributeError, TypeError):
                return {"x": _qualname(x)}
            return {"F": [self._int(num), self._int(den)]}
        if decimal is not None and isinstance(x, decimal.Decimal):
            return {"M": decimal.Decimal.__str__(x)}
        self._spend(16)
        return {"x": _qualname(x)}

    def _numpy(self, np: Any, x: Any, t: type, d: int) -> Any:
        if t is np.ndarray or (isinstance(x, np.ndarray) and not isinstance(x, np.generic)):
            arr = np.ndarray.view(x, np.ndarray)
            if arr.dtype.kind == "O":
                flat = [self.enc(e, d) for e in arr.ravel(order="C").tolist()]
                return {"A": [list(arr.shape), flat]}
            if not _DTYPE.match(arr.dtype.str):
                return {"x": f"numpy.ndarray[{arr.dtype}]"}
            return {"a": [arr.dtype.str, list(arr.shape),
                          self._bytes(np.ascontiguousarray(arr).tobytes())]}
        if isinstance(x, np.generic) and t.__module__ == "numpy":
            dt = np.generic.__dict__["dtype"].__get__(x)
            if not _DTYPE.match(dt.str):
                return {"x": f"numpy.{t.__name__}"}
            return {"n": [dt.str, self._bytes(np.generic.tobytes(x))]}
        return None


def encode(value: Any, budget: int) -> str:
    """JSON text of `value` (raises NotPlainData when it is too deep or too large)."""
    try:
        tree = Encoder(budget).enc(value)
    except RecursionError:
        raise NotPlainData(f"nested deeper than {MAX_DEPTH} levels") from None
    text = json.dumps(tree, ensure_ascii=True, separators=(",", ":"))
    if len(text) > budget:
        raise NotPlainData("too large")
    return text


def _pairs(v: Any) -> list[tuple[Any, Any]]:
    if type(v) is not list:
        raise Garbled("a mapping's items must be a list")
    out = []
    for kv in v:
        if type(kv) is not list or len(kv) != 2:
            raise Garbled("a mapping item must be a [key, value] pair")
        out.append((kv[0], kv[1]))
    return out


def _b64(v: Any) -> bytes:
    import base64

    if type(v) is not str:
        raise Garbled("bytes must travel as base64 text")
    try:
        return base64.b64decode(v.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise Garbled(f"bad base64: {exc}") from None


def _int_of(v: Any) -> int:
    if type(v) is not int:  # tagged big ints are already ints: tags decode inner first
        raise Garbled("an int was expected")
    return v


def _np_dtype(np: Any, v: Any) -> Any:
    if type(v) is not str or not _DTYPE.match(v):
        raise Garbled(f"numpy dtype {v!r} is not a plain one")
    return np.dtype(v)


class Decoder:
    """Turns one-key objects back into values; refuses anything else."""

    def __init__(self, numpy: Any = None) -> None:
        self.np = numpy
        self.opaque: list[str] = []

    def hook(self, pairs: list[tuple[str, Any]]) -> Any:
        if len(pairs) != 1:
            raise Garbled("a tagged value must have exactly one key")
        tag, v = pairs[0]
        try:
            return self._tag(tag, v)
        except TypeError as exc:  # unhashable set element or dict key, bad arguments
            raise Garbled(f"bad {tag!r} value: {exc}") from None

    def _tag(self, tag: str, v: Any) -> Any:
        if tag in ("t", "s", "f"):
            if type(v) is not list:
                raise Garbled(f"{tag!r} needs a list")
            return tuple(v) if tag == "t" else set(v) if tag == "s" else frozenset(v)
        if tag == "d":
            return dict(_pairs(v))
        if tag == "i":
            if type(v) is not str or not _HEX.match(v):
                raise Garbled("a big int must be hex text")
            return int(v, 16)
        if tag == "c":
            if type(v) is not list or len(v) != 2 or not all(type(p) in (int, float) for p in v):
                raise Garbled("a complex must be [real, imag]")
            return complex(v[0], v[1])
        if tag == "b":
            return _b64(v)
        if tag == "y":
            return bytearray(_b64(v))
        if tag == "C":
            return collections.Counter(dict(_pairs(v)))
        if tag == "O":
            return collections.OrderedDict(_pairs(v))
        if tag == "D":
            if type(v) is not list or len(v) != 2 or not (v[0] is None or v[0] in _FACTORIES):
                raise Garbled("a defaultdict must be [factory name or null, items]")
            return collections.defaultdict(_FACTORIES[v[0]] if v[0] else None, _pairs(v[1]))
        if tag == "Q":
            if type(v) is not list or len(v) != 2 or type(v[1]) is not list or not (
                    v[0] is None or (type(v[0]) is int and v[0] >= 0)):
                raise Garbled("a deque must be [maxlen or null, items]")
            return collections.deque(v[1], v[0])
        if tag == "F":
            if type(v) is not list or len(v) != 2:
                raise Garbled("a Fraction must be [numerator, denominator]")
            num, den = _int_of(v[0]), _int_of(v[1])
            if den == 0:
                raise Garbled("a Fraction's denominator cannot be 0")
            import fractions

            return fractions.Fraction(num, den)
        if tag == "M":
            if type(v) is not str or len(v) > 10000:
                raise Garbled("a Decimal must be short text")
            import decimal

            try:
                return decimal.Decimal(v)
            except decimal.InvalidOperation:
                raise Garbled("bad Decimal text") from None
        if tag == "x":
            if type(v) is not str:
                raise Garbled("an opaque value must name its type")
            self.opaque.append(v[:200])
            return Opaque(v[:200])
        if tag in ("n", "a", "A"):
            return self._numpy(tag, v)
        raise Garbled(f"unknown tag {tag!r}")

    def _numpy(self, tag: str, v: Any) -> Any:
        np = self.np
        if np is None:
            raise Garbled("numpy values are not expected here")
        if tag == "n":
            if type(v) is not list or len(v) != 2:
                raise Garbled("a numpy scalar must be [dtype, base64]")
            dt = _np_dtype(np, v[0])
            raw = _b64(v[1])
            if len(raw) != dt.itemsize:
                raise Garbled("numpy scalar of the wrong size")
            return np.frombuffer(raw, dtype=dt)[0]
        if type(v) is not list or len(v) != (3 if tag == "a" else 2):
            raise Garbled("bad numpy array")
        shape = v[1] if tag == "a" else v[0]
        if type(shape) is not list or len(shape) > 32 or not all(
                type(n) is int and n >= 0 for n in shape):
            raise Garbled("bad numpy shape")
        size = 1
        for n in shape:
            size *= n
        if tag == "A":
            if type(v[1]) is not list or len(v[1]) != size:
                raise Garbled("numpy object array of the wrong size")
            arr = np.empty(len(v[1]), dtype=object)
            for i, e in enumerate(v[1]):
                arr[i] = e
            return arr.reshape(shape)
        dt = _np_dtype(np, v[0])
        raw = _b64(v[2])
        if len(raw) != size * dt.itemsize:
            raise Garbled("numpy array of the wrong size")
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


def decode(text: str | bytes, numpy: Any = None) -> tuple[Any, list[str]]:
    """The value, and the type names of any values in it that were not plain data."""
    dec = Decoder(numpy)
    try:
        value = json.loads(text, object_pairs_hook=dec.hook)
    except Garbled:
        raise
    except RecursionError:
        raise Garbled(f"nested deeper than the decoder allows (max {MAX_DEPTH})") from None
    except (ValueError, TypeError, MemoryError) as exc:
        raise Garbled(f"not a valid encoding: {str(exc)[:200]}") from None
    return value, dec.opaque
