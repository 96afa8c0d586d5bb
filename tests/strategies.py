"""Input generators for the encoder tests, and the comparison harness.

Generation is written as plain functions of a ``random.Random``-like ``r``
(``gen_*``); the Hypothesis strategies at the bottom of each section call
them with ``st.randoms(use_true_random=False)``, whose every call is a
Hypothesis draw (so examples replay and shrink), and the explicit tests can
call the same functions with the session's seeded ``random.Random``.

Sections:

1. a small JSON model (``Obj`` keeps duplicate keys, ``Num`` keeps the
   literal as written, ``RawStr``/``RawTok`` inject invalid text) and its
   rendering with random whitespace and random escaping;
2. schemas covering every type, nullability and unknown-field policy;
3. events that mostly match a schema, with controlled deviations;
4. NDJSON lines and blocks, byte-level corruptions, and random splits;
5. Python values for the dict path;
6. the harness: run the compiled ``Encoder`` and the ``ReferenceEncoder`` and
   compare what the contract says must be equal.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import decimal
import enum
import json
import pathlib
import sys
from typing import Any, Callable

# The package under test is the installed one (pip install .), or src/ on
# PYTHONPATH for an in-place build: tests never add src/ themselves.

import pyarrow as pa  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from eventbatch.schema import TIME_UNITS, DataType, Field, Schema  # noqa: E402

from eventbatch._reference import (INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN,  # noqa: E402
                                   INT_RANGES, UNITS_PER_SECOND)
SCALAR_KINDS = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float32", "float64", "string", "binary", "date32", "json")
BOM = b"\xef\xbb\xbf"

randoms = st.randoms(use_true_random=False)


# =============================================================================
# 1. JSON model and rendering
# =============================================================================

class Num:
    """A number literal exactly as it will be written."""
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Num({self.text!r})"


class Obj:
    """An object: (key, value) pairs in text order, duplicates allowed."""
    __slots__ = ("pairs",)

    def __init__(self, pairs: list) -> None:
        self.pairs = list(pairs)

    def __repr__(self) -> str:
        return f"Obj({self.pairs!r})"


class Arr:
    __slots__ = ("items",)

    def __init__(self, items: list) -> None:
        self.items = list(items)

    def __repr__(self) -> str:
        return f"Arr({self.items!r})"


class RawStr:
    """A string literal whose inner bytes are written verbatim (may be invalid)."""
    __slots__ = ("inner",)

    def __init__(self, inner: bytes) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"RawStr({self.inner!r})"


class RawTok:
    """Bytes written verbatim in a value position (may be invalid JSON)."""
    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawTok({self.text!r})"


def is_valid_tree(tree: Any) -> bool:
    """No RawStr/RawTok inside (the rendering is then valid JSON)."""
    if isinstance(tree, (RawStr, RawTok)):
        return False
    if isinstance(tree, Obj):
        return all(is_valid_tree(v) for _, v in tree.pairs) and not any(_has_surrogate(k) for k, _ in tree.pairs)
    if isinstance(tree, Arr):
        return all(is_valid_tree(v) for v in tree.items)
    if isinstance(tree, str):
        return not _has_surrogate(tree)
    return True


def _has_surrogate(s: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in s)


def tree_to_py(tree: Any) -> Any:
    """What json.loads gives for the rendering of a valid tree."""
    if isinstance(tree, Num):
        return json.loads(tree.text)
    if isinstance(tree, Obj):
        return {k: tree_to_py(v) for k, v in tree.pairs}
    if isinstance(tree, Arr):
        return [tree_to_py(v) for v in tree.items]
    return tree


_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _hex4(r, cp: int) -> str:
    h = f"{cp:04x}"
    mode = r.random() if r is not None else 0.0
    if mode < 0.4:
        return h
    if mode < 0.8:
        return h.upper()
    return "".join(c.upper() if r.random() < 0.5 else c for c in h)


def render_string(s: str, r=None, p_escape: float = 0.0) -> bytes:
    """A JSON string literal.  Characters that must be escaped are; others
    are escaped with probability p_escape (``\\uXXXX`` in random case,
    surrogate pairs for astral characters, ``\\/``).  A lone surrogate in s
    is written as ``\\udXXX`` (invalid JSON on purpose)."""
    out = ['"']
    for ch in s:
        cp = ord(ch)
        esc = r is not None and p_escape > 0 and r.random() < p_escape
        if 0xD800 <= cp <= 0xDFFF:
            out.append("\\u" + _hex4(r, cp))
        elif ch in ('"', "\\") or cp < 0x20:
            if esc or (ch not in _SHORT):
                out.append("\\u" + _hex4(r, cp))
            else:
                out.append(_SHORT[ch])
        elif esc:
            if cp > 0xFFFF:
                v = cp - 0x10000
                out.append("\\u" + _hex4(r, 0xD800 + (v >> 10)) + "\\u" + _hex4(r, 0xDC00 + (v & 0x3FF)))
            elif ch == "/" and r.random() < 0.5:
                out.append("\\/")
            else:
                out.append("\\u" + _hex4(r, cp))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out).encode("utf-8", "surrogatepass")


def render(tree: Any, r=None, *, p_ws: float = 0.0, p_escape: float = 0.0,
           newlines: bool = False) -> bytes:
    """JSON text of a tree.  With r: random insignificant whitespace (space,
    tab, CR; LF too when ``newlines``) and random escaping of strings."""
    ws_chars = " \t\r\n" if newlines else " \t\r"
    parts: list[bytes] = []

    def ws() -> None:
        if r is not None and p_ws > 0 and r.random() < p_ws:
            parts.append("".join(r.choice(ws_chars) for _ in range(r.randint(1, 3))).encode())

    def go(v: Any) -> None:
        if v is None:
            parts.append(b"null")
        elif v is True:
            parts.append(b"true")
        elif v is False:
            parts.append(b"false")
        elif isinstance(v, Num):
            parts.append(v.text.encode("ascii"))
        elif isinstance(v, str):
            parts.append(render_string(v, r, p_escape))
        elif isinstance(v, RawStr):
            parts.append(b'"' + v.inner + b'"')
        elif isinstance(v, RawTok):
            parts.append(v.text)
        elif isinstance(v, Obj):
            parts.append(b"{")
            for i, (k, x) in enumerate(v.pairs):
                if i:
                    parts.append(b",")
                ws()
                parts.append(render_string(k, r, p_escape))
                ws()
                parts.append(b":")
                ws()
                go(x)
                ws()
            if not v.pairs:
                ws()
            parts.append(b"}")
        elif isinstance(v, Arr):
            parts.append(b"[")
            for i, x in enumerate(v.items):
                if i:
                    parts.append(b",")
                ws()
                go(x)
                ws()
            if not v.items:
                ws()
            parts.append(b"]")
        else:
            raise TypeError(f"not a tree node: {v!r}")

    ws()
    go(tree)
    ws()
    return b"".join(parts)


# =============================================================================
# 2. Schemas
# =============================================================================

NAME_POOL = ["a", "b", "c", "id", "n", "ts", "x_1", "payload", "items", "é", "𝄞k",
             "a.b", "with space", '"q"', "back\\slash", "tab\there", "_extra", "0", "ключ"]
TZ_POOL = [None, None, "UTC", "+05:30", "-08:00", "America/New_York"]


def gen_name(r) -> str:
    if r.random() < 0.9:
        return r.choice(NAME_POOL)
    return gen_text(r, 4, controls=False) or "k"


def gen_type(r, depth: int = 0, *, kinds=None, max_depth: int = 3) -> DataType:
    """A random DataType.  ``kinds``: allowed leaf kinds (names, plus
    "timestamp"); containers are allowed unless max_depth is reached."""
    leaf_kinds = list(kinds) if kinds is not None else list(SCALAR_KINDS) + ["timestamp"] * 3
    c = r.random()
    if depth < max_depth and c < 0.12:
        return DataType.list_(gen_type(r, depth + 1, kinds=kinds, max_depth=max_depth), r.random() < 0.8)
    if depth < max_depth and c < 0.24:
        return DataType.struct(gen_fields(r, depth + 1, kinds=kinds, max_depth=max_depth, top=False))
    k = r.choice(leaf_kinds)
    if k == "timestamp":
        return DataType.timestamp(r.choice(TIME_UNITS), r.choice(TZ_POOL))
    return DataType.primitive(k)


def gen_fields(r, depth: int = 0, *, kinds=None, max_depth: int = 3, top: bool = True,
               extra: bool = False, p_required: float = 0.25, min_size: int = 1,
               max_size: int = 5) -> list[Field]:
    n = r.randint(min_size, max_size)
    fields: list[Field] = []
    names: set[str] = set()
    for _ in range(n):
        name = gen_name(r)
        if name in names or (top and extra and name == "_extra"):
            continue
        names.add(name)
        fields.append(Field(name, gen_type(r, depth, kinds=kinds, max_depth=max_depth),
                            nullable=r.random() >= p_required))
    if not fields:
        fields.append(Field("a", gen_type(r, depth, kinds=kinds, max_depth=max_depth)))
    return fields


def gen_schema(r, *, kinds=None, policies=("ignore", "error", "extra"), max_depth: int = 3,
               p_required: float = 0.25) -> Schema:
    policy = r.choice(list(policies))
    return Schema(gen_fields(r, kinds=kinds, max_depth=max_depth, extra=policy == "extra",
                             p_required=p_required), policy)


def schemas(**kw) -> st.SearchStrategy[Schema]:
    """Random schemas: every type (bool, int8..uint64, float32/64, string,
    binary, timestamp s/ms/us/ns with and without tz, date32, struct, list,
    json), nullable and required fields, every unknown_fields policy."""
    return randoms.map(lambda r: gen_schema(r, **kw))


def walk_types(t: DataType):
    yield t
    if t.kind == "struct":
        for f in t.fields:
            yield from walk_types(f.type)
    elif t.kind == "list":
        yield from walk_types(t.item)


def schema_kinds(schema: Schema) -> set[str]:
    return {t.kind for f in schema.fields for t in walk_types(f.type)}


# =============================================================================
# 3. Events for a schema
# =============================================================================

@dataclasses.dataclass
class Cfg:
    """How far generated events stray from the schema."""
    dev: float = 0.08           # a value is replaced by a deviant one
    p_null: float = 0.08        # a nullable value is null
    p_missing: float = 0.08     # a field is absent
    p_unknown: float = 0.12     # an object gets unknown members
    p_dup: float = 0.08         # a member is written twice (different values)
    p_not_object: float = 0.03  # the event is not an object
    p_deep: float = 0.04        # a json value / unknown member is a deep chain
    clean: bool = False         # no deviation at all (overrides the above)
    required_present: bool = False  # never drop a required field (even if not clean)
    pyarrow_json: bool = False  # only forms pyarrow.json.read_json accepts
    esc: float = 0.15           # per-character escaping probability
    ws: float = 0.3             # whitespace probability at each place


CLEAN = Cfg(dev=0, p_null=0.1, p_missing=0.1, p_unknown=0, p_dup=0, p_not_object=0,
            p_deep=0, clean=True, required_present=True)

# text pieces: ASCII, quotes and backslashes, controls, Latin-1, BMP (incl.
# U+2028, BOM, U+FFFF, U+FFFD), astral plane (incl. U+10000 and U+10FFFF)
_TEXT_POOLS = [
    "abcxyzABC019 _-.:/",
    '"\\/',
    "".join(chr(c) for c in range(0x20)) + "\x7f",
    "éÿ\u00a0\u00ad",
    "€中\u2028\u2029\ufeff\uffff\ufffd\ud7ff\ue000",
    "😀𝄞\U00010000\U0010ffff\U0001f9d1",
]


def gen_text(r, max_len: int = 8, *, controls: bool = True) -> str:
    n = r.randint(0, max_len)
    pools = _TEXT_POOLS if controls else [p for i, p in enumerate(_TEXT_POOLS) if i != 2]
    out = []
    for _ in range(n):
        pool = pools[0] if r.random() < 0.5 else r.choice(pools)
        out.append(r.choice(pool))
    return "".join(out)


def int_text(r, kind: str, clean: bool) -> str:
    lo, hi = INT_RANGES[kind]
    c = r.random()
    if c < 0.3:
        v = r.choice([lo, hi, 0, 1, -1 if lo < 0 else 1, lo + 1, hi - 1] +
                     ([] if clean else [lo - 1, hi + 1]))
    elif c < 0.75 or clean:
        v = r.randint(lo, hi)
        if clean and r.random() < 0.05 and lo < 0:
            return "-0"
    elif c < 0.9:
        v = r.choice([-1, 1]) * r.randint(0, 10 ** r.randint(1, 30))
    else:
        return r.choice(["-0", "1.0", "1e2", "0.0", "-0.0", "1E0", "2e-1", "0e0",
                         "100000000000000000000000000000000000000",
                         "-18446744073709551616", "18446744073709551616",
                         "-9223372036854775809", "9223372036854775808"])
    return str(v)


FLOAT_EDGES = [
    "0", "-0", "0.0", "-0.0", "1", "-1", "1.5", "1e0", "1E+2", "1e-2", "2.5E-3",
    "1.7976931348623157e308", "1.7976931348623158e308", "-1.7976931348623157e308",
    "4.9e-324", "5e-324", "2.4703282292062328e-324", "2.4703282292062327e-324", "1e-400",
    "3.4028234663852886e38", "3.4028235e38", "3.40282356e38", "-3.4028235e38",
    "1.4e-45", "1e-46", "1.17549435e-38",
    "1.000000059604644775390625001", "1.000000059604644775390624999",
    "0.1", "0.30000000000000004", "9007199254740993", "123456789012345678901234567890",
    "1" + "0" * 40 + ".5e-30", "0." + "0" * 50 + "1e50", "1e0000000000000000001",
]
FLOAT_OUT = ["1e309", "-1e309", "1e400", "1.7976931348623159e308", "3.4028235677973366e38",
             "1e39", "-1e39", "1e99999999999999"]


def float_text(r, kind: str, clean: bool) -> str:
    c = r.random()
    if c < 0.35:
        t = r.choice(FLOAT_EDGES)
        if kind == "float32" and clean and t.lstrip("-").startswith(("3.40282356", "1e39")):
            t = "1.5"
        return t
    if c < 0.45 and not clean:
        t = r.choice(FLOAT_OUT)
        if kind == "float64" and t.lstrip("-").startswith(("3.40282356", "1e39")):
            return "1e400"
        return t
    if c < 0.6:
        return str(r.randint(-10 ** 6, 10 ** 6))
    x = r.random() * 10 ** r.randint(-5, 30 if kind == "float32" else 300)
    if r.random() < 0.5:
        x = -x
    if kind == "float32" and abs(x) > 3e38:
        x = 1.0
    t = repr(x)
    if r.random() < 0.3:
        # rewrite with an explicit exponent
        m, e = f"{x:.{r.randint(0, 17)}e}".split("e")
        t = m + r.choice(["e", "E"]) + r.choice(["", "+", "-"] if not e.startswith("-") else [""]) + \
            (e.lstrip("+") if r.random() < 0.7 else e.lstrip("+").replace("-", "-0"))
        if t.endswith(("e", "E", "+", "-")):
            t += "0"
    return t


def b64_text(r, clean: bool) -> str:
    data = bytes(r.randrange(256) for _ in range(r.randint(0, 7)))
    s = base64.b64encode(data).decode()
    if clean or r.random() < 0.6:
        return s
    return r.choice([
        s.rstrip("="), s + "=", " " + s, s[:-1] if s else "A", s.replace("A", "-").replace("/", "_"),
        "QR==", "QQ==", "QUI=", "QUJ=", "====", "A===", "ab=c", "YWJj\n", "YW Jj", "é" * 4,
        "YWJjZA", "YW==Jj==", "",
    ])


def ts_int(r, unit: str, clean: bool) -> int:
    c = r.random()
    if c < 0.2 and not clean:
        return r.choice([INT64_MIN - 1, INT64_MAX + 1, -(10 ** 25), 10 ** 25])
    if c < 0.35:
        return r.choice([INT64_MIN, INT64_MAX, 0, -1, 1])
    return r.randint(-(10 ** 9), 4 * 10 ** 9) * UNITS_PER_SECOND[unit] // max(1, r.choice([1, 1, 10, 1000]))


def ts_string(r, unit: str, clean: bool, pyarrow_json: bool = False) -> str:
    """RFC 3339 text.  clean: valid for the unit and in range."""
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    if unit == "ns" or pyarrow_json:
        y = r.randint(1678, 2261) if unit == "ns" else r.randint(1, 9999)
    else:
        y = r.choice([0, 1, 1969, 1970, 2000, 2024, 9999, r.randint(0, 9999)])
    mo = r.randint(1, 12)
    dim = [31, 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28, 31, 30, 31, 30,
           31, 31, 30, 31, 30, 31][mo - 1]
    d = r.choice([1, dim, r.randint(1, dim)])
    hh, mi, ss = r.randint(0, 23), r.randint(0, 59), r.choice([0, 59, r.randint(0, 59)])
    sep = "T" if pyarrow_json else r.choice(["T", "t", " "])
    frac = ""
    if r.random() < 0.5:
        n = r.randint(1, 9)
        if pyarrow_json:
            n = min(n, digits)
            if n:
                frac = "." + "".join(str(r.randrange(10)) for _ in range(n))
        else:
            body = [str(r.randrange(10)) for _ in range(n)]
            for i in range(digits, n):
                body[i] = "0"           # digits finer than the unit must be zero
            frac = "." + "".join(body)
    zone = r.choice(["", "Z", "+00:00", "-00:00", "+05:30", "-08:00", "+23:59"] +
                    ([] if pyarrow_json else ["z"]))
    if y in (0, 9999) or (unit == "ns" and y in (1678, 2261)):
        zone = ""          # keep in range
    s = f"{y:04d}-{mo:02d}-{d:02d}{sep}{hh:02d}:{mi:02d}:{ss:02d}{frac}{zone}"
    if clean:
        return s
    c = r.random()
    if c < 0.4:
        return s
    bad = [
        f"{y:04d}-02-30T00:00:00Z", f"{y:04d}-13-01T00:00:00", f"{y:04d}-00-10T00:00:00",
        "2023-02-29T00:00:00", "2024-02-29T00:00:00", "1900-02-29T00:00:00", "2000-02-29T00:00:00",
        "2020-01-01T24:00:00", "2020-01-01T23:60:00", "2020-12-31T23:59:60Z",
        "2020-01-01T00:00:00.1234567890", "2020-01-01T00:00:00.", "2020-01-01T00:00:00,5",
        "2020-01-01T00:00:00.000000001", "2020-01-01T00:00:00.001", "2020-01-01T00:00:00.5",
        "2020-01-01T00:00:00+24:00", "2020-01-01T00:00:00+05:60", "2020-01-01T00:00:00+0530",
        "2020-01-01T00:00:00Z ", " 2020-01-01T00:00:00", "2020-01-01", "2020-01-01T00:00",
        "2020-1-01T00:00:00", "20200101T000000Z", "２０２０-01-01T00:00:00", "2020-01-01x00:00:00",
        "0000-01-01T00:00:00", "9999-12-31T23:59:59.999999999", "0000-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-00:01", "1677-09-21T00:12:43.145224191Z", "1677-09-21T00:12:43.145224192Z",
        "2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:16.854775808Z",
        "2020-01-01T00:00:00Z\n", "", "now",
    ]
    return r.choice(bad)


def date_string(r, clean: bool) -> str:
    y = r.choice([0, 1, 1969, 1970, 2000, 2024, 9999, r.randint(0, 9999)])
    mo = r.randint(1, 12)
    dim = [31, 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28, 31, 30, 31, 30,
           31, 31, 30, 31, 30, 31][mo - 1]
    s = f"{y:04d}-{mo:02d}-{r.choice([1, dim, r.randint(1, dim)]):02d}"
    if clean or r.random() < 0.5:
        return s
    return r.choice(["2023-02-29", "2024-02-29", "1900-02-29", "2020-13-01", "2020-00-01",
                     "2020-01-00", "2020-01-32", "2020-1-1", "20200101", "2020-01-01T00:00:00",
                     "2020-01-01 ", "-001-01-01", "10000-01-01", "２０２０-01-01", "", "x"])


def gen_any(r, depth: int = 0, max_depth: int = 3, *, clean: bool = False, deep: float = 0.0) -> Any:
    """Any JSON value (duplicates and unusual numbers unless clean)."""
    if deep and r.random() < deep:
        n = r.randint(1, 12)
        v: Any = r.choice([Num("1"), None, "x", Arr([]), Obj([])])
        for _ in range(n):
            v = Arr([v]) if r.random() < 0.5 else Obj([(gen_name(r), v)])
        return v
    c = r.random()
    if depth < max_depth and c < 0.15:
        return Arr([gen_any(r, depth + 1, max_depth, clean=clean) for _ in range(r.randint(0, 3))])
    if depth < max_depth and c < 0.3:
        pairs = [(gen_name(r), gen_any(r, depth + 1, max_depth, clean=clean)) for _ in range(r.randint(0, 3))]
        if not clean and pairs and r.random() < 0.2:
            pairs.append((pairs[0][0], gen_any(r, depth + 1, max_depth, clean=clean)))
        return Obj(pairs)
    c = r.random()
    if c < 0.15:
        return None
    if c < 0.3:
        return r.random() < 0.5
    if c < 0.5:
        return Num(int_text(r, r.choice(list(INT_RANGES)), True) if r.random() < 0.7
                   else r.choice(["12345678901234567890123", "-0", "1e5", "0.000"]))
    if c < 0.7:
        return Num(float_text(r, "float64", True))
    return gen_text(r)


def gen_wrong(r, t: DataType) -> Any:
    """A value of the wrong JSON type (or a near miss) for t."""
    k = t.kind
    options: list[Any] = [None, True, Num("1"), Num("1.5"), "x", Arr([]), Obj([]),
                          Arr([Num("1")]), Obj([("a", Num("1"))])]
    if k in INT_RANGES:
        options += [Num("1.0"), Num("1e2"), Num("-0.0"), "1", Num(str(INT_RANGES[k][1] + 1)),
                    Num(str(INT_RANGES[k][0] - 1)), Num("1" + "0" * 25), Num("-" + "9" * 30)]
    elif k in ("float32", "float64"):
        options += [Num(r.choice(FLOAT_OUT)), "1.5", "NaN"]
    elif k == "timestamp":
        options += [Num("1.5"), Num("1e3"), ts_string(r, t.unit, False), Num(str(INT64_MAX + 1)),
                    Num(str(INT64_MIN - 1)), "2020-01-01T00:00:00.1234567891"]
    elif k == "date32":
        options += [Num("1.0"), date_string(r, False), Num(str(INT32_MAX + 1)), Num(str(INT32_MIN - 1)),
                    Num(str(INT32_MAX)), Num(str(INT32_MIN))]
    elif k == "binary":
        options += [b64_text(r, False), Num("0")]
    elif k == "bool":
        options += [Num("0"), "true", Num("1")]
    elif k == "string":
        options += [Num("0"), False]
    return r.choice(options)


def gen_invalid_string(r) -> RawStr:
    """A string literal with broken content: lone surrogates, bad escapes,
    raw controls, invalid UTF-8."""
    pre = render_string(gen_text(r, 3, controls=False))[1:-1]
    bad = r.choice([
        b"\\ud800", b"\\udc00", b"\\uDBFF", b"\\ud800\\u0041", b"\\udc00\\ud800", b"\\ud800x",
        b"\\ud800\\", b"\\ud800\\u", b"\\ud800\\udbff", b"\\u12", b"\\u12G4", b"\\x41", b"\\a",
        b"\\U0001F600", b"\\'", b"\\", b"\x00", b"\x1f", b"\t", b"\n"[:0] + b"\x0b",
        b"\xff", b"\xc0\x80", b"\xc3", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
        b"\x80", b"\xf8\x88\x80\x80\x80", b"\xef\xbf", b"\xf0\x9f\x98",
    ])
    post = render_string(gen_text(r, 3, controls=False))[1:-1]
    return RawStr(pre + bad + post)


BAD_TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"01", b"-01", b"00", b"-", b"1.", b".5", b"1e",
              b"1e+", b"+1", b"0x10", b"tru", b"nul", b"True", b"None", b"'x'", b"1 2", b"--1",
              b"1.e5", b"-.5", b"\xff", b"\xc3\xa9", b"\x00", b"\\u0041", b"\"a\" \"b\"", b"[1,]",
              b"{\"a\":1,}", b"{\"a\"}", b"{1:2}", b"[", b"{", b"\"unterminated", b"1]", b"}"]


def gen_value(r, t: DataType, nullable: bool, cfg: Cfg, depth: int = 1) -> Any:
    """A value for a column of type t; ``depth`` is the nesting depth a
    container here would have (the event is 1)."""
    if not cfg.clean:
        c = r.random()
        if c < cfg.dev:
            return gen_wrong(r, t)
        if c < cfg.dev * 1.15:
            return gen_invalid_string(r) if r.random() < 0.6 else RawTok(r.choice(BAD_TOKENS))
    if cfg.p_null and r.random() < cfg.p_null and (nullable or not cfg.clean):
        return None
    k = t.kind
    if k == "bool":
        return r.random() < 0.5
    if k in INT_RANGES:
        return Num(int_text(r, k, cfg.clean))
    if k in ("float32", "float64"):
        return Num(float_text(r, k, cfg.clean))
    if k == "string":
        return gen_text(r)
    if k == "binary":
        return b64_text(r, cfg.clean)
    if k == "timestamp":
        if cfg.pyarrow_json or r.random() < 0.6:
            return ts_string(r, t.unit, cfg.clean, cfg.pyarrow_json)
        return Num(str(ts_int(r, t.unit, cfg.clean)))
    if k == "date32":
        if cfg.pyarrow_json or r.random() < 0.4:
            v = r.choice([INT32_MIN, INT32_MAX, 0, -1, r.randint(-800000, 3000000)])
            return Num(str(v))
        return date_string(r, cfg.clean)
    if k == "json":
        return gen_any(r, 0, 3, clean=cfg.clean, deep=cfg.p_deep)
    if k == "list":
        items = [gen_value(r, t.item, t.item_nullable, cfg, depth + 1) for _ in range(r.randint(0, 4))]
        return Arr(items)
    if k == "struct":
        return gen_object(r, t.fields, cfg, depth)
    raise AssertionError(k)


def gen_object(r, fields, cfg: Cfg, depth: int = 1) -> Obj:
    pairs = []
    for f in fields:
        if cfg.p_missing and r.random() < cfg.p_missing and (f.nullable or not cfg.required_present):
            continue
        pairs.append((f.name, gen_value(r, f.type, f.nullable, cfg, depth + 1)))
    r.shuffle(pairs)
    if not cfg.clean:
        if r.random() < cfg.p_unknown:
            for _ in range(r.randint(1, 3)):
                key = r.choice(["zz", "extra", "ü", "_extra", "A", "𝄞", "", "a b"] +
                               [gen_text(r, 3, controls=True)])
                if any(key == f.name for f in fields):
                    continue
                pairs.insert(r.randint(0, len(pairs)), (key, gen_any(r, 0, 2, deep=cfg.p_deep)))
        if pairs and r.random() < cfg.p_dup:
            i = r.randrange(len(pairs))
            key = pairs[i][0]
            f = next((f for f in fields if f.name == key), None)
            other = gen_any(r, 0, 2) if f is None else gen_value(r, f.type, f.nullable, cfg, depth + 1)
            if r.random() < 0.5:
                pairs.insert(r.randint(i + 1, len(pairs)), (key, other))
            else:
                # the first value has the wrong type, the last one is fine
                first = gen_any(r, 0, 1) if f is None else gen_wrong(r, f.type)
                pairs.insert(r.randint(0, i), (key, first))
    return Obj(pairs)


def gen_event(r, schema: Schema, cfg: Cfg = Cfg()) -> Any:
    if not cfg.clean and r.random() < cfg.p_not_object:
        return r.choice([Arr([]), Arr([Obj([])]), Num("1"), "s", None, True])
    return gen_object(r, schema.fields, cfg, 1)


def events(schema: Schema, cfg: Cfg = Cfg()) -> st.SearchStrategy:
    """Event trees that mostly match the schema."""
    return randoms.map(lambda r: gen_event(r, schema, cfg))


# =============================================================================
# 4. NDJSON lines and blocks, corruptions, splits
# =============================================================================

INVALID_UTF8_SEQS = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xc3",
                     b"\xe2\x82", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x8f\xbf\xbf",
                     b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf0\x9f\x98"]


def corrupt(r, line: bytes) -> bytes:
    """One random byte-level corruption of a line."""
    if not line:
        return bytes([r.randrange(256)])
    n = len(line)
    quotes = [i + 1 for i, b in enumerate(line) if b == 0x22]
    pos = r.choice(quotes) if quotes and r.random() < 0.5 else r.randint(0, n)
    op = r.randrange(10)
    if op == 0:                                     # truncate
        return line[:r.randrange(n)]
    if op == 1:                                     # insert a random byte
        return line[:pos] + bytes([r.randrange(256)]) + line[pos:]
    if op == 2:                                     # insert invalid UTF-8
        return line[:pos] + r.choice(INVALID_UTF8_SEQS) + line[pos:]
    if op == 3:                                     # flip a bit
        i = r.randrange(n)
        return line[:i] + bytes([line[i] ^ (1 << r.randrange(8))]) + line[i + 1:]
    if op == 4:                                     # control character
        c = r.choice([0, 1, 8, 9, 11, 12, 13, 27, 31, 127])
        return line[:pos] + bytes([c]) + line[pos:]
    if op == 5:                                     # lone surrogate escape
        return line[:pos] + r.choice([b"\\ud800", b"\\udc00", b"\\udbff\\u0041", b"\\udfff"]) + line[pos:]
    if op == 6:                                     # bad number / literal after a colon
        colons = [i + 1 for i, b in enumerate(line) if b == 0x3A]
        if colons:
            i = r.choice(colons)
            j = i
            while j < n and line[j] not in b",}]":
                j += 1
            return line[:i] + r.choice(BAD_TOKENS[:17]) + line[j:]
        return line[:pos] + r.choice(BAD_TOKENS) + line[pos:]
    if op == 7:                                     # delete a byte
        i = r.randrange(n)
        return line[:i] + line[i + 1:]
    if op == 8:                                     # a BOM or CR in the wrong place
        return line[:pos] + r.choice([BOM, b"\r", b"\xef\xbb"]) + line[pos:]
    return line + r.choice([b"}", b"]", b",", b" x", b"{}", b"\xff", b" \x00"])   # trailing garbage


def corruptions(line: bytes) -> st.SearchStrategy[bytes]:
    return randoms.map(lambda r: corrupt(r, line))


BLANKS = [b"", b" ", b"\t", b"\r", b" \t \r", BOM, BOM + b"  ", b"\t\t\t"]


def gen_line(r, schema: Schema, cfg: Cfg, p_corrupt: float = 0.12, p_blank: float = 0.06) -> bytes:
    """One line, without its terminating newline."""
    if r.random() < p_blank:
        return r.choice(BLANKS)
    tree = gen_event(r, schema, cfg)
    line = render(tree, r, p_ws=cfg.ws, p_escape=cfg.esc)
    if not cfg.clean and r.random() < p_corrupt:
        line = corrupt(r, line)
        if r.random() < 0.2:
            line = corrupt(r, line)
    if r.random() < 0.05:
        line = BOM + line
    return line


def gen_block(r, schema: Schema, cfg: Cfg = Cfg(), max_lines: int = 6, **kw) -> bytes:
    lines = [gen_line(r, schema, cfg, **kw) for _ in range(r.randint(0, max_lines))]
    out = b""
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if last and r.random() < 0.3:
            out += line                 # the final line has no newline
        else:
            out += line + (b"\r\n" if r.random() < 0.2 else b"\n")
    return out


def gen_splits(r, data: bytes, max_pieces: int = 6) -> list[bytes]:
    """data cut at random places (empty pieces included)."""
    cuts = sorted(r.randint(0, len(data)) for _ in range(r.randint(0, max_pieces - 1)))
    pieces, prev = [], 0
    for c in cuts:
        pieces.append(data[prev:c])
        prev = c
    pieces.append(data[prev:])
    return pieces


def ndjson_blocks(schema: Schema, cfg: Cfg = Cfg(), **kw) -> st.SearchStrategy[bytes]:
    return randoms.map(lambda r: gen_block(r, schema, cfg, **kw))


# =============================================================================
# 5. Python values for the dict path
# =============================================================================

class Color(enum.IntEnum):
    RED = 1


class StrSub(str):
    pass


FIXED_TZS = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)),
             dt.timezone(dt.timedelta(hours=-8)), dt.timezone(dt.timedelta(hours=23, minutes=59)),
             dt.timezone(dt.timedelta(seconds=-1))]


def gen_datetime(r, unit: str, clean: bool) -> dt.datetime:
    if unit == "ns":
        y = r.randint(1678, 2261)
    else:
        y = r.choice([1, 1969, 1970, 2000, 2024, 9999, r.randint(1, 9999)])
    v = dt.datetime(y, r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59),
                    r.randint(0, 59))
    if r.random() < 0.5:
        us = r.randrange(10 ** 6)
        if clean:
            us -= us % (10 ** 6 // min(UNITS_PER_SECOND[unit], 10 ** 6))
        v = v.replace(microsecond=us)
    if r.random() < 0.4 and not (clean and y in (1, 9999, 1678, 2261)):
        v = v.replace(tzinfo=r.choice(FIXED_TZS if clean else FIXED_TZS + [dt.timezone(dt.timedelta(microseconds=1))]))
    return v


def gen_py_any(r, depth: int = 0, clean: bool = False) -> Any:
    """A JSON-able Python value (or, unless clean, sometimes not)."""
    c = r.random()
    if depth < 3 and c < 0.12:
        return [gen_py_any(r, depth + 1, clean) for _ in range(r.randint(0, 3))]
    if depth < 3 and c < 0.18:
        return tuple(gen_py_any(r, depth + 1, clean) for _ in range(r.randint(0, 2)))
    if depth < 3 and c < 0.32:
        return {gen_name(r): gen_py_any(r, depth + 1, clean) for _ in range(r.randint(0, 3))}
    c = r.random()
    if not clean and c < 0.08:
        return r.choice([float("nan"), float("inf"), {1: 2}, {"a", "b"}, b"x", object(),
                         decimal.Decimal("1.5"), 1j, "\ud800", {"k\udc00": 1}, dt.date(2020, 1, 1)])
    if c < 0.2:
        return None
    if c < 0.3:
        return r.random() < 0.5
    if c < 0.5:
        return r.choice([0, -1, 2 ** 63, -(2 ** 64) - 1, 10 ** 30, r.randint(-1000, 1000), Color.RED])
    if c < 0.7:
        return r.choice([0.0, -0.0, 1.5, 1e16, 1e-7, 1e300, 5e-324, 0.1, 2.0 ** 70, r.random()])
    return gen_text(r, 6)


def gen_py_value(r, t: DataType, nullable: bool, cfg: Cfg, depth: int = 1) -> Any:
    if not cfg.clean and r.random() < cfg.dev:
        return r.choice([None, True, 1, 1.5, "x", b"x", [], {}, (), {1}, object(),
                         decimal.Decimal(1), dt.date(2020, 1, 1), dt.datetime(2020, 1, 1),
                         dt.time(1), 1j, "\ud800", float("nan")])
    if cfg.p_null and r.random() < cfg.p_null and (nullable or not cfg.clean):
        return None
    k = t.kind
    clean = cfg.clean
    if k == "bool":
        return r.random() < 0.5
    if k in INT_RANGES:
        lo, hi = INT_RANGES[k]
        c = r.random()
        if c < 0.3:
            return r.choice([lo, hi, 0, 1] + ([] if clean else [lo - 1, hi + 1, 10 ** 40, -(10 ** 40)]))
        if not clean and c < 0.35:
            return r.choice([1.0, True, "1", Color.RED, 2 ** 64])
        return r.randint(lo, hi)
    if k in ("float32", "float64"):
        c = r.random()
        if c < 0.3:
            edges = [0.0, -0.0, 1.5, -2.5, 1e300, 5e-324, 3.4028234663852886e38, 1e-46,
                     float(2 ** 53 + 2), 0.1]
            if not clean:
                edges += [float("nan"), float("inf"), float("-inf"), 3.4028235677973366e38,
                          1e39, 3.4028235e38]
            v = r.choice(edges)
            if k == "float32" and clean and abs(v) > 3.5e38:
                v = 1.0
            return v
        if c < 0.45:
            ints = [0, -1, 2 ** 53 + 1, 2 ** 63, -(2 ** 63)]
            if not clean:
                ints += [2 ** 1024, -(2 ** 1024), 2 ** 1024 - 2 ** 970, 2 ** 1024 - 2 ** 971 + 1,
                         2 ** 128, 2 ** 128 - 2 ** 103, 2 ** 128 - 2 ** 104, 10 ** 400]
            return r.choice(ints)
        if not clean and c < 0.5:
            return r.choice(["1.5", True, Color.RED])
        x = r.random() * 10 ** r.randint(-5, 30 if k == "float32" else 300)
        return -x if r.random() < 0.5 else x
    if k == "string":
        s = gen_text(r)
        if not clean and r.random() < 0.1:
            s = r.choice(["\ud800", "a\udfff", "\udc00\ud800", StrSub("sub")])
        return s
    if k == "binary":
        c = r.random()
        data = bytes(r.randrange(256) for _ in range(r.randint(0, 6)))
        if c < 0.3:
            return data
        if c < 0.45:
            return bytearray(data)
        if c < 0.6:
            return memoryview(data)
        return b64_text(r, clean)
    if k == "timestamp":
        c = r.random()
        if c < 0.5:
            return gen_datetime(r, t.unit, clean)
        if c < 0.75:
            return ts_int(r, t.unit, clean)
        return ts_string(r, t.unit, clean)
    if k == "date32":
        c = r.random()
        if c < 0.4:
            return dt.date(r.choice([1, 1970, 2024, 9999, r.randint(1, 9999)]), r.randint(1, 12), r.randint(1, 28))
        if c < 0.7:
            return r.choice([INT32_MIN, INT32_MAX, 0, -1, r.randint(-800000, 3000000)] +
                            ([] if clean else [INT32_MAX + 1, INT32_MIN - 1]))
        if not clean and c < 0.75:
            return dt.datetime(2020, 1, 1)
        return date_string(r, clean)
    if k == "json":
        return gen_py_any(r, 0, clean)
    if k == "list":
        items = [gen_py_value(r, t.item, t.item_nullable, cfg, depth + 1) for _ in range(r.randint(0, 4))]
        return tuple(items) if r.random() < 0.2 else items
    if k == "struct":
        return gen_py_dict(r, t.fields, cfg, depth + 1)
    raise AssertionError(k)


def gen_py_dict(r, fields, cfg: Cfg, depth: int = 1) -> dict:
    d: dict = {}
    items = list(fields)
    r.shuffle(items)
    for f in items:
        if cfg.p_missing and r.random() < cfg.p_missing and (f.nullable or not cfg.required_present):
            continue
        d[f.name] = gen_py_value(r, f.type, f.nullable, cfg, depth)
    if not cfg.clean and r.random() < cfg.p_unknown:
        for _ in range(r.randint(1, 2)):
            key = r.choice(["zz", "ü", "_extra", 1, None, "\ud800", ("t",)] if r.random() < 0.3
                           else ["zz", "ü", "_extra", "𝄞"])
            if any(key == f.name for f in fields):
                continue
            d[key] = gen_py_any(r, 1)
    if not cfg.clean and r.random() < 0.05:
        d = collections.OrderedDict(d)
    return d


def gen_py_event(r, schema: Schema, cfg: Cfg = Cfg()) -> Any:
    if not cfg.clean and r.random() < cfg.p_not_object:
        return r.choice([None, [], [{}], 1, "x", ({},), b"{}"])
    return gen_py_dict(r, schema.fields, cfg, 1)


def py_events(schema: Schema, cfg: Cfg = Cfg()) -> st.SearchStrategy:
    return randoms.map(lambda r: gen_py_event(r, schema, cfg))


# =============================================================================
# 6. Harness
# =============================================================================

STAT_KEYS = ("inputs", "accepted", "rejected", "blank_lines", "extra_fields")
SCAN_REASONS = {"invalid_json", "invalid_utf8", "too_deep", "line_too_long"}
SCHEMA_REASONS = {"type_mismatch", "out_of_range", "invalid_value", "missing_required", "unknown_field"}


def encoders(schema: Schema, **kw):
    """(compiled Encoder, ReferenceEncoder) with the same options."""
    from eventbatch import Encoder
    from eventbatch._reference import ReferenceEncoder
    return Encoder(schema, **kw), ReferenceEncoder(schema, **kw)


def check_balance(enc) -> None:
    s = enc.stats()
    assert s["inputs"] == s["accepted"] + s["rejected"], s


def feed_ndjson(enc, pieces: list[bytes], final: bool = True, source=None,
                max_tail: int | None = None, after_call=None) -> bytes:
    """Feed pieces the way a reader does: each call gets the previous tail in
    front of the next piece.  Checks counters after every call.  Returns the
    last tail (b"" when final)."""
    tail = b""
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        data = tail + piece
        if source is None:
            tail = enc.extend_ndjson(data, final=final and last)
        else:
            tail = enc.extend_ndjson(data, final=final and last, source=source)
        assert isinstance(tail, bytes)
        assert data.endswith(tail), (data, tail)
        assert b"\n" not in tail
        if max_tail is not None:
            assert len(tail) <= max_tail, len(tail)
        check_balance(enc)
        if after_call is not None:
            after_call(i)
    return tail


def plain_type(t: pa.DataType) -> pa.DataType:
    """t with timestamps as int64 and dates as int32 (everything converts
    to Python without range limits)."""
    if pa.types.is_timestamp(t):
        return pa.int64()
    if pa.types.is_date32(t):
        return pa.int32()
    if pa.types.is_struct(t):
        # all nullable: a child of a null struct may hold nulls even when `not null`
        return pa.struct([pa.field(t.field(i).name, plain_type(t.field(i).type))
                          for i in range(t.num_fields)])
    if pa.types.is_list(t):
        vf = t.value_field
        return pa.list_(pa.field(vf.name, plain_type(vf.type)))
    return t


def nullable_type(t: pa.DataType) -> pa.DataType:
    """t with every nested field nullable."""
    if pa.types.is_struct(t):
        return pa.struct([pa.field(t.field(i).name, nullable_type(t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, nullable_type(t.value_field.type)))
    return t


def _canon(v: Any) -> Any:
    if isinstance(v, float):
        return ("float", repr(v))          # tells -0.0 from 0.0; every NaN is 'nan'
    if isinstance(v, dict):
        return {k: _canon(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_canon(x) for x in v]
    return v


def plain_rows(batch: pa.RecordBatch) -> list[dict]:
    cols = {}
    for name, col in zip(batch.schema.names, batch.columns):
        cols[name] = _canon(col.cast(plain_type(col.type)).to_pylist())
    n = batch.num_rows
    return [{k: cols[k][i] for k in cols} for i in range(n)]


def assert_batches_equal(core: pa.RecordBatch, ref: pa.RecordBatch, what: str = "") -> None:
    assert core.schema == ref.schema, f"{what} schema:\n{core.schema}\n!=\n{ref.schema}"
    rc, rr = plain_rows(core), plain_rows(ref)
    if rc != rr:
        for i, (a, b) in enumerate(zip(rc, rr)):
            if a != b:
                raise AssertionError(f"{what} row {i} differs:\ncore: {a!r}\nref:  {b!r}\n"
                                     f"(core {len(rc)} rows, ref {len(rr)} rows)")
        raise AssertionError(f"{what} row count: core {len(rc)}, ref {len(rr)}\ncore: {rc!r}\nref: {rr!r}")
    has_nan = "'nan'" in repr(rr)
    if not has_nan:
        assert core.equals(ref), f"{what} core.equals(ref) is False although the rows agree"


@dataclasses.dataclass
class Outcome:
    batch: pa.RecordBatch
    rejected: list[dict]
    stats: dict

    def key_rows(self) -> list[tuple]:
        return [(r["reason"], r["path"], r["line"], r["offset"], r["raw"], r["source"])
                for r in self.rejected]


def outcome(enc) -> Outcome:
    batch = enc.flush()
    rej = enc.flush_rejected()
    return Outcome(batch, rej.to_pylist(), {k: enc.stats()[k] for k in STAT_KEYS})


def check_core_outcome(o: Outcome, dict_input: bool = False) -> None:
    """What must hold of the compiled encoder's output on its own."""
    o.batch.validate(full=True)
    for row in o.rejected:
        msg, reason, path = row["message"], row["reason"], row["path"]
        assert isinstance(msg, str) and msg, row
        if reason in SCHEMA_REASONS or (dict_input and reason in ("invalid_utf8", "too_deep")):
            assert f"`{path}`" in msg, f"message does not name the path: {row}"
        elif reason in ("invalid_json", "invalid_utf8", "too_deep") and not dict_input:
            assert "byte" in msg, f"scan error message has no byte position: {row}"
    assert o.stats["inputs"] == o.stats["accepted"] + o.stats["rejected"], o.stats


def fmt_rejected(rows: list[dict]) -> str:
    return "\n".join(f"  {r['reason']:16} path={r['path']!r} line={r['line']} off={r['offset']} "
                     f"src={r['source']!r} raw={r['raw'][:600]!r}{'...' if len(r['raw']) > 600 else ''}\n    msg={r['message']!r}" for r in rows)


def assert_same_outcome(core: Outcome, ref: Outcome, what: str = "", messages: bool = False) -> None:
    """core vs ref (or core vs core with messages=True)."""
    if core.key_rows() != ref.key_rows():
        raise AssertionError(f"{what} rejected rows differ\ncore:\n{fmt_rejected(core.rejected)}\n"
                             f"ref:\n{fmt_rejected(ref.rejected)}")
    if messages:
        assert [r["message"] for r in core.rejected] == [r["message"] for r in ref.rejected], what
    assert_batches_equal(core.batch, ref.batch, what)
    assert core.stats == ref.stats, f"{what} stats: core {core.stats} != ref {ref.stats}"


def run_both(schema: Schema, feed: Callable[[Any], None], enc_kw: dict | None = None):
    """Run ``feed(enc)`` on a fresh core and a fresh reference encoder."""
    core, ref = encoders(schema, **(enc_kw or {}))
    feed(core)
    feed(ref)
    return outcome(core), outcome(ref)
