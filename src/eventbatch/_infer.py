"""Schema inference from a sample of events.

:func:`infer_schema` (exposed as :meth:`eventbatch.Schema.infer`) reads a
sample, classifies every value and widens the classes seen for each field
into one column type, so that the inferred schema accepts every usable event
of the sample without rounding or truncating a value.

Widening rules
--------------
Every field, at every depth, is nullable (a later event may lack it), and
fields are ordered as first seen in the sample.  For the non-null values
seen for a field:

===============================  ==============================================
values seen                      inferred type
===============================  ==============================================
only ``null`` (or nothing)       ``json``
``bool``                         ``bool``
integers, all in int64           ``int64``
integers, some > 2**63-1,        ``uint64``
none negative, all < 2**64
integers beyond int64 and        ``json`` (no integer type holds them, and
uint64 (or both negative and     float64 would round them)
> 2**63-1)
integers and floats, floats      ``float64`` (integers too large for float64
                                 give ``json``)
strings, all RFC 3339            ``timestamp[unit, tz=UTC]``; ``unit`` is
timestamps with an offset        ``ms``, ``us`` or ``ns`` for at most 3, 6 or
                                 9 fraction digits (``ns`` values outside
                                 1677..2262 give ``string``)
strings, all ``YYYY-MM-DD``      ``date32``
other strings                    ``string``
objects                          ``struct`` of the union of their keys, each
                                 widened recursively (objects that are always
                                 empty give ``json``)
arrays                           ``list`` of the widened type of all their
                                 items (only empty arrays: ``list<json>``)
any other mix (string and int,   ``json``
bool and int, object and array)
===============================  ==============================================

A timestamp is ``YYYY-MM-DDTHH:MM:SS[.f{1,9}]`` followed by ``Z`` or
``+hh:mm`` / ``-hh:mm`` (``T`` and ``Z`` may be lower case), with a valid
calendar date and time (no leap second).  Strings without an offset, or with
a space instead of ``T``, stay ``string``.

Python-only values in a sample of dicts are classified too: ``datetime`` as
a timestamp with 6 fraction digits, ``date`` as a date, ``bytes`` as
``binary`` and a ``tuple`` as an array.  Mixed with other kinds they give
``json``, which holds JSON values only, so events holding them would be
rejected by the encoder: keep such fields uniform.

Usable events
-------------
NDJSON lines are parsed with the standard :mod:`json` module.  Blank lines
are skipped, and so is any line or item the encoder would reject whatever
the schema: a line that is not valid UTF-8 or not a JSON object (including
``NaN`` / ``Infinity`` literals and lone surrogate escapes), a dict with a
non-``str`` key, a lone surrogate or a value that is not a JSON value (nor
one of the Python values above), and an event nested deeper than 128 levels
(the encoder's default ``max_depth``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gzip
import io
import json
import math
import os
import re
from typing import Any, Iterable, Iterator

from .errors import SchemaError
from .schema import UNKNOWN_POLICIES, DataType, Field, Schema, _cut

__all__ = ["infer_schema"]

MAX_DEPTH = 128                  # the encoder's default max_depth
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
_FLOAT_MAX_INT = int(1.7976931348623157e308)   # larger integers overflow float64

# [0-9] (not \d, which matches non-ASCII digits), used with fullmatch.
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TS_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))")
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_LZ4_MAGIC = b"\x04\x22\x4d\x18"


class _Raw:
    """A JSON number no typed column can hold (an integer literal too long
    for Python's ``int``, or a float literal that overflows float64); only
    a ``json`` column keeps it."""

    __slots__ = ()


_RAW = _Raw()


class _Unusable(Exception):
    """The event cannot be encoded under any schema; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# =============================================================================
# Value classification and widening
# =============================================================================

def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _parse_timestamp(s: str) -> tuple[int, int] | None:
    """``(fraction digits, nanoseconds since the epoch)`` of an RFC 3339
    timestamp with an offset, or None."""
    m = _TS_RE.fullmatch(s)
    if m is None:
        return None
    y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
    frac, sign, oh, om = m.groups()[6:]
    if not 1 <= mo <= 12 or not 1 <= d <= _days_in_month(y, mo):
        return None
    if hh > 23 or mi > 59 or ss > 59:
        return None
    offset = 0
    if sign is not None:
        if int(oh) > 23 or int(om) > 59:
            return None
        offset = (int(oh) * 3600 + int(om) * 60) * (-1 if sign == "-" else 1)
    seconds = _days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - offset
    digits = len(frac) if frac else 0
    return digits, seconds * 10 ** 9 + int((frac or "").ljust(9, "0"))


def _is_date(s: str) -> bool:
    m = _DATE_RE.fullmatch(s)
    if m is None:
        return False
    y, mo, d = (int(g) for g in m.groups())
    return 1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo)


def _datetime_ns(v: _dt.datetime) -> int:
    off = v.utcoffset()
    off_us = 0 if off is None else (off.days * 86400 + off.seconds) * 10 ** 6 + off.microseconds
    days = _days_from_civil(v.year, v.month, v.day)
    us = (days * 86400 + v.hour * 3600 + v.minute * 60 + v.second) * 10 ** 6 + v.microsecond
    return (us - off_us) * 1000


class _Acc:
    """What has been seen of one field (or of the items of arrays)."""

    __slots__ = ("kinds", "int_min", "int_max", "n_text", "ts_ok", "ts_digits",
                 "ts_min", "ts_max", "date_ok", "n_pytime", "children", "item")

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.int_min = self.int_max = 0
        # strings, and Python datetime / date objects
        self.n_text = 0
        self.ts_ok = self.date_ok = True
        self.ts_digits = 0
        self.ts_min = self.ts_max = 0
        self.n_pytime = 0
        self.children: dict[str, _Acc] | None = None   # objects: keys in first-seen order
        self.item: _Acc | None = None                   # arrays: all their items

    def add(self, v: Any) -> None:
        if v is None:
            self.kinds.add("null")
        elif v is True or v is False:
            self.kinds.add("bool")
        elif isinstance(v, int):
            if "int" in self.kinds:
                if v < self.int_min:
                    self.int_min = v
                elif v > self.int_max:
                    self.int_max = v
            else:
                self.kinds.add("int")
                self.int_min = self.int_max = v
        elif isinstance(v, float):
            self.kinds.add("float")
        elif isinstance(v, str):
            self.kinds.add("text")
            self._text(_parse_timestamp(v) if self.ts_ok else None, self.date_ok and _is_date(v))
        elif isinstance(v, dict):
            self.kinds.add("object")
            if self.children is None:
                self.children = {}
            for key, value in v.items():
                child = self.children.get(key)
                if child is None:
                    child = self.children[key] = _Acc()
                child.add(value)
        elif isinstance(v, (list, tuple)):
            self.kinds.add("array")
            if self.item is None:
                self.item = _Acc()
            for x in v:
                self.item.add(x)
        elif isinstance(v, _dt.datetime):
            self.kinds.add("text")
            self.n_pytime += 1
            self._text((6, _datetime_ns(v)), False)
        elif isinstance(v, _dt.date):
            self.kinds.add("text")
            self.n_pytime += 1
            self._text(None, True)
        elif isinstance(v, (bytes, bytearray, memoryview)):
            self.kinds.add("bytes")
        else:                       # _RAW
            self.kinds.add("raw")

    def _text(self, ts: tuple[int, int] | None, is_date: bool) -> None:
        if ts is None:
            self.ts_ok = False
        elif self.ts_ok:
            digits, ns = ts
            if self.n_text == 0:
                self.ts_min = self.ts_max = ns
            else:
                self.ts_min = min(self.ts_min, ns)
                self.ts_max = max(self.ts_max, ns)
            self.ts_digits = max(self.ts_digits, digits)
        if not is_date:
            self.date_ok = False
        self.n_text += 1

    def to_type(self) -> DataType:
        kinds = self.kinds - {"null"}
        if kinds == {"bool"}:
            return DataType.primitive("bool")
        if kinds == {"int"}:
            if INT64_MIN <= self.int_min and self.int_max <= INT64_MAX:
                return DataType.primitive("int64")
            if self.int_min >= 0 and self.int_max <= UINT64_MAX:
                return DataType.primitive("uint64")
            return DataType("json")
        if kinds == {"float"}:
            return DataType.primitive("float64")
        if kinds == {"int", "float"}:
            if -_FLOAT_MAX_INT <= self.int_min and self.int_max <= _FLOAT_MAX_INT:
                return DataType.primitive("float64")
            return DataType("json")
        if kinds == {"text"}:
            if self.ts_ok:
                unit = "ms" if self.ts_digits <= 3 else "us" if self.ts_digits <= 6 else "ns"
                if unit != "ns" or INT64_MIN <= self.ts_min and self.ts_max <= INT64_MAX:
                    return DataType.timestamp(unit, "UTC")
            elif self.date_ok:
                return DataType.primitive("date32")
            if self.n_pytime == 0:
                return DataType.primitive("string")
            return DataType("json")
        if kinds == {"bytes"}:
            return DataType.primitive("binary")
        if kinds == {"object"}:
            if not self.children:
                return DataType("json")
            return DataType.struct(Field(k, a.to_type()) for k, a in self.children.items())
        if kinds == {"array"}:
            return DataType.list_(self.item.to_type() if self.item is not None else DataType("json"))
        return DataType("json")   # only null, or a mix of kinds


# =============================================================================
# Validation of one event
# =============================================================================

def _check_str(s: str) -> None:
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise _Unusable("a lone surrogate") from None


def _check_value(v: Any, depth: int) -> None:
    """Raise _Unusable when the encoder rejects v under every schema.
    ``depth`` is the depth v has if it is a container."""
    if v is None or v is True or v is False or isinstance(v, (int, float, _Raw)):
        return
    if isinstance(v, str):
        _check_str(v)
        return
    if isinstance(v, (dict, list, tuple)):
        if depth > MAX_DEPTH:
            raise _Unusable(f"nesting deeper than {MAX_DEPTH}")
        if isinstance(v, dict):
            for key, value in v.items():
                if not isinstance(key, str):
                    raise _Unusable(f"a key of type `{type(key).__name__}`")
                _check_str(key)
                _check_value(value, depth + 1)
        else:
            for x in v:
                _check_value(x, depth + 1)
        return
    if isinstance(v, (_dt.date, bytes, bytearray, memoryview)):
        return
    raise _Unusable(f"a value of type `{type(v).__module__}.{type(v).__qualname__}`"
                    if type(v).__module__ != "builtins" else f"a value of type `{type(v).__name__}`")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_float(text: str) -> Any:
    x = float(text)
    return _RAW if math.isinf(x) else x


def _parse_int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:          # longer than sys.get_int_max_str_digits()
        return _RAW


_decoder = json.JSONDecoder(parse_float=_parse_float, parse_int=_parse_int,
                            parse_constant=_reject_constant)


def _parse_line(line: bytes | str) -> Any:
    """The event of an NDJSON line; None for a blank line; raises _Unusable."""
    if isinstance(line, (bytes, bytearray, memoryview)):
        try:
            text = bytes(line).decode("utf-8")
        except UnicodeDecodeError:
            raise _Unusable("not valid UTF-8") from None
    else:
        text = line
    text = text.strip(" \t\r\n")
    if not text:
        return None
    try:
        obj = _decoder.decode(text)
    except (ValueError, RecursionError):
        raise _Unusable("not valid JSON") from None
    if not isinstance(obj, dict):
        raise _Unusable("not a JSON object")
    if _SURROGATE_ESCAPE_RE.search(text) is None:
        # Only escapes can make a lone surrogate: check just the depth.
        _check_depth(obj, 1)
    else:
        _check_value(obj, 1)
    return obj


def _check_depth(v: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Unusable(f"nesting deeper than {MAX_DEPTH}")
    for x in (v.values() if isinstance(v, dict) else v):
        if isinstance(x, (dict, list)):
            _check_depth(x, depth + 1)


# =============================================================================
# Reading the sample
# =============================================================================

def _read_errors() -> tuple:
    from .readers import read_errors
    return read_errors()


@contextlib.contextmanager
def _open_path(path: "str | os.PathLike") -> Iterator[Any]:
    """A binary stream of the decompressed content (compression found by the
    leading magic bytes: gzip, zstd or lz4 frame)."""
    try:
        raw = open(path, "rb")
    except OSError as e:
        hint = ""
        if isinstance(path, str) and path.lstrip()[:1] in ("{", "["):
            hint = " (a str sample is a path: pass NDJSON text as bytes)"
        raise SchemaError(f"cannot read sample file `{_cut(os.fspath(path), 80)}`: "
                          f"{e.strerror or e}{hint}") from e
    with contextlib.ExitStack() as stack:
        stack.enter_context(raw)
        magic = raw.peek(4)[:4]
        if magic.startswith(_GZIP_MAGIC):
            yield stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        elif magic == _ZSTD_MAGIC:
            try:
                import zstandard
            except ImportError as e:
                raise ImportError(f"reading the zstd file `{os.fspath(path)}` requires the "
                                  "'zstandard' package: pip install zstandard") from e
            dctx = zstandard.ZstdDecompressor()
            try:
                reader = dctx.stream_reader(raw, read_across_frames=True, closefd=False)
            except TypeError:     # older zstandard
                reader = dctx.stream_reader(raw)
            yield stack.enter_context(io.BufferedReader(reader))
        elif magic == _LZ4_MAGIC:
            try:
                import lz4.frame
            except ImportError as e:
                raise ImportError(f"reading the lz4 file `{os.fspath(path)}` requires the "
                                  "'lz4' package: pip install lz4") from e
            from .readers import lz4_reader
            yield stack.enter_context(lz4_reader(lz4.frame.LZ4FrameFile(raw, mode="rb")))
        else:
            yield raw


def _stream_lines(stream: Any) -> Iterator[bytes | str]:
    while True:
        line = stream.readline()
        if not line:
            return
        yield line


def _bytes_lines(data: bytes) -> Iterator[bytes]:
    start = 0
    n = len(data)
    while start < n:
        end = data.find(b"\n", start)
        if end < 0:
            end = n
        yield data[start:end]
        start = end + 1


class _Stats:
    __slots__ = ("read", "blank", "used", "unusable", "first_reason")

    def __init__(self) -> None:
        self.read = self.blank = self.used = self.unusable = 0
        self.first_reason = ""

    def skip(self, reason: str) -> None:
        if not self.unusable:
            self.first_reason = reason
        self.unusable += 1


def _accumulate(items: Iterable[Any], as_lines: bool, max_lines: int, acc: _Acc,
                stats: _Stats) -> None:
    for item in items:
        if stats.read >= max_lines:
            return
        stats.read += 1
        try:
            if as_lines:
                event = _parse_line(item)
                if event is None:
                    stats.blank += 1
                    continue
            else:
                if not isinstance(item, dict):
                    raise _Unusable(f"not a dict but `{type(item).__name__}`")
                try:
                    _check_value(item, 1)
                except RecursionError:
                    raise _Unusable("nesting too deep") from None
                event = item
        except _Unusable as e:
            stats.skip(e.reason)
            continue
        acc.add(event)
        stats.used += 1


def infer_schema(sample: Any, unknown_fields: str = "ignore", *,
                 max_lines: int = 100_000) -> Schema:
    """Infer a schema that accepts every usable event of a sample.

    Parameters
    ----------
    sample : iterable of dict, bytes, str or os.PathLike, or binary file object
        Events as dicts; NDJSON as ``bytes`` (or ``bytearray`` /
        ``memoryview``); or the path of an NDJSON file, plain or compressed
        with gzip, zstd (requires ``zstandard``) or lz4 (frame format), found
        by the file's leading bytes.  A ``str`` is always a path.
    unknown_fields : {"ignore", "error", "extra"}
        Policy of the returned schema.
    max_lines : int, default 100_000
        Read at most this many lines (or dicts) of the sample, blank and
        unusable ones included.

    Returns
    -------
    Schema
        Fields in first-seen order, all nullable, typed by the widening
        rules of this module's docstring.

    Raises
    ------
    SchemaError
        When the sample holds no usable event, or a path cannot be read.
    TypeError
        When ``sample`` is none of the accepted kinds.

    Examples
    --------
    >>> print(infer_schema(b'{"ts": "2026-11-01T00:00:00.5Z", "n": null}\\n{"n": [1]}\\n'))
    ts: timestamp[ms, tz=UTC]
    n: list<int64>
    """
    if unknown_fields not in UNKNOWN_POLICIES:
        raise SchemaError(f"expected unknown_fields in {UNKNOWN_POLICIES}, got `{_cut(str(unknown_fields))}`")
    if not isinstance(max_lines, int) or isinstance(max_lines, bool) or max_lines < 1:
        raise ValueError(f"expected max_lines >= 1, got {max_lines!r}")

    acc = _Acc()
    stats = _Stats()
    if isinstance(sample, (bytes, bytearray, memoryview)):
        what = "NDJSON bytes"
        _accumulate(_bytes_lines(bytes(sample)), True, max_lines, acc, stats)
    elif isinstance(sample, (str, os.PathLike)):
        what = f"file `{_cut(os.fspath(sample), 80)}`"
        with _open_path(sample) as stream:
            try:
                _accumulate(_stream_lines(stream), True, max_lines, acc, stats)
            except _read_errors() as e:
                if stats.used == 0:
                    raise SchemaError(f"cannot read sample {what}: {e}") from e
                # A corrupt or truncated compressed tail: keep what was read.
    elif hasattr(sample, "readline"):
        what = "file object"
        _accumulate(_stream_lines(sample), True, max_lines, acc, stats)
    elif isinstance(sample, dict):
        raise TypeError("expected an iterable of dicts, got a single dict (wrap it in a list)")
    elif isinstance(sample, Iterable):
        what = "iterable"
        _accumulate(sample, False, max_lines, acc, stats)
    else:
        raise TypeError("expected dicts, NDJSON bytes or a path as the sample, "
                        f"got `{type(sample).__name__}`")

    if stats.used == 0 or not acc.children:
        detail = f"read {stats.read} {'line' if what != 'iterable' else 'item'}" \
                 f"{'' if stats.read == 1 else 's'}"
        if stats.blank:
            detail += f", {stats.blank} blank"
        if stats.unusable:
            detail += f", {stats.unusable} unusable (first: {stats.first_reason})"
        if stats.used:
            detail += f", {stats.used} empty object{'' if stats.used == 1 else 's'}"
        raise SchemaError(f"cannot infer a schema: the sample ({what}) holds no event "
                          f"with a field ({detail})")
    fields = [Field(name, child.to_type()) for name, child in acc.children.items()]
    return Schema(fields, unknown_fields)
