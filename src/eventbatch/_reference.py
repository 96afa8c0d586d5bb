"""Slow, readable, pure-Python twin of the compiled encoder: the test oracle.

Everything here follows ``docs/SEMANTICS.md`` line by line; speed is not a
goal.  Only the standard library and pyarrow are used: the JSON scanner is a
small hand-written RFC 8259 parser over bytes (no ``json`` module), so that
it reports the *first* problem in text order, with its byte position.

Model of the scanner ("decode, then parse"): the line is read as a sequence
of UTF-8 characters from left to right.  Every character the grammar looks
at is decoded first, so a malformed UTF-8 sequence is reported as
``INVALID_UTF8`` at its first byte as soon as the scanner reaches it, inside
or outside strings, and a grammar error is reported at the first character
the grammar cannot accept.  Whichever comes first in the text wins.

Public names::

    ReferenceEncoder      the encoder (same API as the compiled Encoder)
    parse_json(line)      bytes -> tree, or raises ScanError
    compact_json_from_tree(tree), compact_json_from_py(obj)
    tree_to_py(tree)      tree -> what json.loads would give (for tests)

The tree: ``None``, ``True``/``False``, :class:`JsonNumber` (literal text and
whether it is an integer literal), ``str``, :class:`JsonArray` (a list) and
:class:`JsonObject` (a list of ``(key, value)`` pairs in text order,
duplicates kept).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import struct
from typing import Any, Iterable

import pyarrow as pa

from .errors import Reason
from .schema import EXTRA_COLUMN, DataType, Field, Schema

__all__ = [
    "ReferenceEncoder",
    "ScanError",
    "JsonNumber",
    "JsonArray",
    "JsonObject",
    "parse_json",
    "compact_json_from_tree",
    "compact_json_from_py",
    "tree_to_py",
    "REJECTED_SCHEMA",
]

MAX_DEPTH_LIMIT = 10_000
RAW_LIMIT_BYTES = 4096          # `raw` of a LINE_TOO_LONG row keeps this many bytes
MESSAGE_VALUE_CHARS = 40        # user values in messages are cut to this length

SOURCE_NDJSON = "<ndjson>"
SOURCE_JSON = "<json>"
SOURCE_DICTS = "<dicts>"

BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\n\r"

INT_RANGES = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "uint8": (0, (1 << 8) - 1),
    "uint16": (0, (1 << 16) - 1),
    "uint32": (0, (1 << 32) - 1),
    "uint64": (0, (1 << 64) - 1),
}
INT64_MIN, INT64_MAX = INT_RANGES["int64"]
INT32_MIN, INT32_MAX = INT_RANGES["int32"]

# count of the column's unit in one second
UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

REJECTED_SCHEMA = pa.schema([
    pa.field("raw", pa.binary()),
    pa.field("source", pa.string()),
    pa.field("line", pa.int64()),
    pa.field("offset", pa.int64()),
    pa.field("reason", pa.string()),
    pa.field("path", pa.string()),
    pa.field("message", pa.string()),
])


# =============================================================================
# The tree
# =============================================================================

class JsonNumber:
    """A JSON number as written.  ``is_int``: no fraction and no exponent."""

    __slots__ = ("text", "is_int")

    def __init__(self, text: str, is_int: bool) -> None:
        self.text = text
        self.is_int = is_int

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"


class JsonArray(list):
    """A JSON array: a list of values."""

    def __repr__(self) -> str:
        return f"JsonArray({list.__repr__(self)})"


class JsonObject(list):
    """A JSON object: ``(key, value)`` pairs in text order, duplicates kept."""

    def __repr__(self) -> str:
        return f"JsonObject({list.__repr__(self)})"


def tree_to_py(tree: Any) -> Any:
    """What ``json.loads`` gives for the same text (last duplicate wins)."""
    if isinstance(tree, JsonNumber):
        if tree.is_int:
            return _digits_to_int(tree.text)
        return float(tree.text)
    if isinstance(tree, JsonObject):
        return {k: tree_to_py(v) for k, v in tree}
    if isinstance(tree, JsonArray):
        return [tree_to_py(v) for v in tree]
    return tree


def _digits_to_int(text: str) -> int:
    """``int(text)`` for a decimal literal of any length (no 4300-digit limit)."""
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    value = 0
    chunk = 1000
    for i in range(0, len(digits), chunk):
        part = digits[i:i + chunk]
        value = value * 10 ** len(part) + int(part)
    return -value if negative else value


# =============================================================================
# Scanner: bytes -> tree
# =============================================================================

class ScanError(Exception):
    """The first problem of a line: ``reason`` is INVALID_UTF8, INVALID_JSON or
    TOO_DEEP; ``pos`` its 0-based byte offset in the line."""

    def __init__(self, reason: Reason, message: str, pos: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.pos = pos


def utf8_sequence_length(data: bytes, pos: int) -> int:
    """Length of the valid UTF-8 sequence starting at ``data[pos]`` (>= 0x80),
    or 0 when it is not valid: a stray continuation byte, an overlong form,
    a UTF-16 surrogate (ED A0..BF), a code point above U+10FFFF, or a
    truncated sequence (RFC 3629, section 4)."""
    lead = data[pos]
    available = len(data) - pos

    def continuation(i: int, lo: int = 0x80, hi: int = 0xBF) -> bool:
        return lo <= data[pos + i] <= hi

    if 0xC2 <= lead <= 0xDF:
        return 2 if available >= 2 and continuation(1) else 0
    if 0xE0 <= lead <= 0xEF:
        lo = 0xA0 if lead == 0xE0 else 0x80
        hi = 0x9F if lead == 0xED else 0xBF
        if available >= 3 and continuation(1, lo, hi) and continuation(2):
            return 3
        return 0
    if 0xF0 <= lead <= 0xF4:
        lo = 0x90 if lead == 0xF0 else 0x80
        hi = 0x8F if lead == 0xF4 else 0xBF
        if available >= 4 and continuation(1, lo, hi) and continuation(2) and continuation(3):
            return 4
        return 0
    return 0  # 0x80..0xC1 and 0xF5..0xFF never start a sequence


def _show_char(ch: str) -> str:
    """A character for a message: control characters as ``\\u00XX``."""
    if ch < " " or ch == "\x7f":
        return f"\\u{ord(ch):04x}"
    return ch


_SIMPLE_ESCAPES = {
    ord('"'): '"', ord("\\"): "\\", ord("/"): "/", ord("b"): "\b",
    ord("f"): "\f", ord("n"): "\n", ord("r"): "\r", ord("t"): "\t",
}
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"


class _Scanner:
    """One left-to-right pass over a line.  Containers are kept on an
    explicit stack, so deep input never recurses in Python."""

    def __init__(self, data: bytes, max_depth: int) -> None:
        self.data = data
        self.n = len(data)
        self.max_depth = max_depth

    # -- characters ------------------------------------------------------------
    def byte(self, pos: int) -> int:
        """The byte at pos, or -1 at the end of the line."""
        return self.data[pos] if pos < self.n else -1

    def char_at(self, pos: int) -> tuple[str, int]:
        """The character starting at pos and its length in bytes (``("", 0)``
        at the end).  A malformed UTF-8 sequence there is INVALID_UTF8."""
        if pos >= self.n:
            return "", 0
        b = self.data[pos]
        if b < 0x80:
            return chr(b), 1
        k = utf8_sequence_length(self.data, pos)
        if k == 0:
            raise ScanError(Reason.INVALID_UTF8, f"invalid UTF-8: byte 0x{b:02x} at byte {pos}", pos)
        return self.data[pos:pos + k].decode("utf-8"), k

    def got(self, pos: int) -> str:
        """What stands at pos, for a message (decoding it first)."""
        ch, _ = self.char_at(pos)
        return "end of line" if ch == "" else f"`{_show_char(ch)}`"

    def syntax_error(self, pos: int, expected: str) -> None:
        """Raise INVALID_JSON for the character at pos (after checking that it
        is well-formed UTF-8, which is found first)."""
        got = self.got(pos)
        raise ScanError(Reason.INVALID_JSON, f"invalid JSON: expected {expected}, got {got} at byte {pos}", pos)

    def fail_at(self, examined: int, message: str, pos: int) -> None:
        """INVALID_JSON with a custom message, once the character at
        ``examined`` (the one the grammar rejected) is known to be valid UTF-8."""
        self.char_at(examined)
        raise ScanError(Reason.INVALID_JSON, f"invalid JSON: {message} at byte {pos}", pos)

    def skip_ws(self, pos: int) -> int:
        while pos < self.n and self.data[pos] in JSON_WHITESPACE:
            pos += 1
        return pos

    # -- the document ------------------------------------------------------------
    def parse(self) -> Any:
        pos = self.skip_ws(0)
        value, pos = self.parse_value(pos)
        pos = self.skip_ws(pos)
        if pos < self.n:
            self.syntax_error(pos, "end of line after the value")
        return value

    def parse_value(self, pos: int) -> tuple[Any, int]:
        """One value (of any nesting) starting at pos; returns it and the
        position after it."""
        # Each frame is [container, key of the member being parsed (objects)].
        stack: list[list] = []
        expected = "a value"
        while True:
            # -- a value starts here
            pos = self.skip_ws(pos)
            c = self.byte(pos)
            if c == ord("{") or c == ord("["):
                depth = len(stack) + 1          # the top-level value is at depth 1
                if depth > self.max_depth:
                    raise ScanError(Reason.TOO_DEEP,
                                    f"nesting deeper than {self.max_depth} at byte {pos}", pos)
                is_object = c == ord("{")
                container: list = JsonObject() if is_object else JsonArray()
                closer = ord("}") if is_object else ord("]")
                pos = self.skip_ws(pos + 1)
                if self.byte(pos) == closer:
                    value = container
                    pos += 1
                else:
                    frame = [container, None]
                    stack.append(frame)
                    if is_object:
                        frame[1], pos = self.parse_key(pos, "`\"` or `}`")
                        expected = "a value"
                    else:
                        expected = "a value or `]`"
                    continue
            else:
                value, pos = self.parse_scalar(pos, expected)

            # -- a value is complete: store it, then close what ends here
            while stack:
                frame = stack[-1]
                container = frame[0]
                is_object = isinstance(container, JsonObject)
                if is_object:
                    container.append((frame[1], value))
                else:
                    container.append(value)
                closer = "}" if is_object else "]"
                pos = self.skip_ws(pos)
                c = self.byte(pos)
                if c == ord(","):
                    pos = self.skip_ws(pos + 1)
                    if is_object:
                        frame[1], pos = self.parse_key(pos, "`\"`")
                    expected = "a value"
                    break
                if c == ord(closer):
                    pos += 1
                    value = stack.pop()[0]
                    continue
                self.syntax_error(pos, f"`,` or `{closer}`")
            else:
                return value, pos

    def parse_key(self, pos: int, expected: str) -> tuple[str, int]:
        """A member name and its colon; returns the key and the position of
        the member's value."""
        if self.byte(pos) != ord('"'):
            self.syntax_error(pos, expected)
        key, pos = self.parse_string(pos)
        pos = self.skip_ws(pos)
        if self.byte(pos) != ord(":"):
            self.syntax_error(pos, "`:`")
        return key, self.skip_ws(pos + 1)

    def parse_scalar(self, pos: int, expected: str) -> tuple[Any, int]:
        c = self.byte(pos)
        if c == ord('"'):
            return self.parse_string(pos)
        if c == ord("t"):
            return True, self.parse_literal(pos, "true")
        if c == ord("f"):
            return False, self.parse_literal(pos, "false")
        if c == ord("n"):
            return None, self.parse_literal(pos, "null")
        if c == ord("-") or (c != -1 and c in _DIGITS):
            return self.parse_number(pos)
        self.syntax_error(pos, expected)
        raise AssertionError("unreachable")

    def parse_literal(self, pos: int, word: str) -> int:
        for k, ch in enumerate(word):
            if self.byte(pos + k) != ord(ch):
                self.syntax_error(pos + k, f"`{word}`")
        return pos + len(word)

    def is_digit(self, pos: int) -> bool:
        c = self.byte(pos)
        return c != -1 and c in _DIGITS

    def parse_number(self, pos: int) -> tuple[JsonNumber, int]:
        """``-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?``"""
        start = pos
        is_int = True
        if self.byte(pos) == ord("-"):
            pos += 1
        if self.byte(pos) == ord("0"):
            pos += 1
            if self.is_digit(pos):
                raise ScanError(Reason.INVALID_JSON, f"invalid JSON: leading zero in a number at byte {pos}", pos)
        elif self.is_digit(pos):
            while self.is_digit(pos):
                pos += 1
        else:
            self.syntax_error(pos, "a digit after `-`")
        if self.byte(pos) == ord("."):
            is_int = False
            pos += 1
            if not self.is_digit(pos):
                self.syntax_error(pos, "a digit after `.`")
            while self.is_digit(pos):
                pos += 1
        if self.byte(pos) in (ord("e"), ord("E")):
            is_int = False
            pos += 1
            if self.byte(pos) in (ord("+"), ord("-")):
                pos += 1
            if not self.is_digit(pos):
                self.syntax_error(pos, "a digit in the exponent")
            while self.is_digit(pos):
                pos += 1
        return JsonNumber(self.data[start:pos].decode("ascii"), is_int), pos

    def parse_string(self, pos: int) -> tuple[str, int]:
        """A string starting at its opening quote; returns the decoded text and
        the position after the closing quote."""
        i = pos + 1
        parts: list[str] = []
        run = i                       # start of the current run of plain bytes
        while True:
            if i >= self.n:
                self.syntax_error(i, "`\"` to close the string")
            b = self.data[i]
            if b == ord('"'):
                parts.append(self.data[run:i].decode("utf-8"))
                return "".join(parts), i + 1
            if b == ord("\\"):
                parts.append(self.data[run:i].decode("utf-8"))
                ch, i = self.parse_escape(i)
                parts.append(ch)
                run = i
            elif b < 0x20:
                raise ScanError(Reason.INVALID_JSON,
                                f"invalid JSON: control character U+{b:04X} in a string at byte {i}", i)
            elif b >= 0x80:
                _, k = self.char_at(i)   # validates the sequence
                i += k
            else:
                i += 1

    def parse_escape(self, i: int) -> tuple[str, int]:
        """The escape starting at the backslash at i; returns the character
        and the position after the escape."""
        j = i + 1
        c = self.byte(j)
        if c in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[c], j + 1
        if c != ord("u"):
            if c == -1:
                self.fail_at(j, "expected an escape after `\\`, got end of line", j)
            ch, _ = self.char_at(j)
            self.fail_at(j, f"invalid escape `\\{_show_char(ch)}`", i)
        cp = self.hex4(j + 1)
        after = j + 5
        lone = f"lone surrogate `\\u{cp:04x}`"
        if 0xDC00 <= cp <= 0xDFFF:
            raise ScanError(Reason.INVALID_JSON, f"invalid JSON: {lone} at byte {i}", i)
        if not 0xD800 <= cp <= 0xDBFF:
            return chr(cp), after
        # a high surrogate must be followed by `\u` and a low surrogate
        if self.byte(after) != ord("\\"):
            self.fail_at(after, lone, i)
        if self.byte(after + 1) != ord("u"):
            self.fail_at(after + 1, lone, i)
        low = self.hex4(after + 2)
        if not 0xDC00 <= low <= 0xDFFF:
            raise ScanError(Reason.INVALID_JSON, f"invalid JSON: {lone} at byte {i}", i)
        return chr(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)), after + 6

    def hex4(self, pos: int) -> int:
        for q in range(pos, pos + 4):
            c = self.byte(q)
            if c == -1 or c not in _HEX_DIGITS:
                self.syntax_error(q, "4 hex digits after `\\u`")
        return int(self.data[pos:pos + 4].decode("ascii"), 16)


def parse_json(line: bytes, max_depth: int = 128) -> Any:
    """Parse one JSON text (RFC 8259, strict UTF-8) into a tree.

    Raises :class:`ScanError` with the first problem in text order.

    >>> parse_json(b'{"a": [1, 2.5, "x"], "a": null}')
    JsonObject([('a', JsonArray([JsonNumber('1'), JsonNumber('2.5'), 'x'])), ('a', None)])
    """
    return _Scanner(bytes(line), max_depth).parse()


# =============================================================================
# Compact JSON text
# =============================================================================

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match) -> str:
    ch = m.group(0)
    return _ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def json_string(s: str) -> str:
    """A JSON string literal with the least escaping: ``"`` ``\\`` and the
    characters below U+0020 only (``\\b \\f \\n \\r \\t`` or ``\\u00xx``)."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, s) + '"'


class _Text(str):
    """Already-rendered output on the serializer's work stack."""


def compact_json_from_tree(tree: Any) -> str:
    """Compact text of a tree: every member (duplicates too) in text order,
    numbers as written, strings minimally escaped."""
    out: list[str] = []
    work: list[Any] = [tree]          # popped from the end
    while work:
        item = work.pop()
        if isinstance(item, _Text):
            out.append(item)
        elif item is None:
            out.append("null")
        elif item is True:
            out.append("true")
        elif item is False:
            out.append("false")
        elif isinstance(item, JsonNumber):
            out.append(item.text)
        elif isinstance(item, str):
            out.append(json_string(item))
        elif isinstance(item, JsonObject):
            work.append(_Text("}"))
            for i in reversed(range(len(item))):
                key, value = item[i]
                work.append(value)
                work.append(_Text(json_string(key) + ":"))
                if i:
                    work.append(_Text(","))
            work.append(_Text("{"))
        elif isinstance(item, JsonArray):
            work.append(_Text("]"))
            for i in reversed(range(len(item))):
                work.append(item[i])
                if i:
                    work.append(_Text(","))
            work.append(_Text("["))
        else:
            raise TypeError(f"expected a JSON tree node, got `{type(item).__name__}`")
    return "".join(out)


class _Reject(Exception):
    """An input is rejected: reason, path (``$`` or a field path) and message."""

    def __init__(self, reason: Reason, path: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.path = path
        self.message = message


def _cut(s: str, n: int = MESSAGE_VALUE_CHARS) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def _mismatch(reason: Reason, path: str, expected: str, got: str) -> _Reject:
    """A conversion error with the one message grammar."""
    return _Reject(reason, path, f"expected `{expected}`, got `{got}` at `{path}`")


def _check_py_str(s: str, path: str) -> None:
    """A Python str must be encodable as UTF-8 (no lone surrogate)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        cp = ord(s[e.start])
        raise _Reject(Reason.INVALID_UTF8, path,
                      f"invalid UTF-8: lone surrogate U+{cp:04X} at `{path}`") from None


# work-stack entry tags for the Python serializer
_VALUE, _KEY, _TEXT, _CLOSE = "value", "key", "text", "close"


def _int_text(v: int) -> str:
    """Decimal text of any int (``int.__repr__`` refuses above 4300 digits)."""
    try:
        return int.__repr__(v)
    except ValueError:
        sign = "-" if v < 0 else ""
        v = abs(v)
        chunks = []
        while v:
            v, r = divmod(v, 10 ** 1000)
            chunks.append(r)
        return sign + str(chunks[-1]) + "".join(f"{c:01000d}" for c in reversed(chunks[:-1]))


def _py_json(obj: Any, path: str = "$", depth: int = 1, max_depth: int | None = None) -> str:
    """Compact JSON of a Python value: dict (str keys), list, tuple, str,
    int, finite float (as ``repr``), bool, None.  Raises :class:`_Reject`:
    TYPE_MISMATCH (expected `json`) for anything else, INVALID_UTF8 for a
    lone surrogate, TOO_DEEP for a dict/list/tuple at a depth above
    max_depth.  ``depth`` is the depth of obj itself.  Iterative; a
    reference cycle is reported as TYPE_MISMATCH when max_depth is None."""
    out: list[str] = []
    open_ids: set[int] = set()
    work: list[tuple] = [(_VALUE, obj, path, depth)]
    while work:
        entry = work.pop()
        tag = entry[0]
        if tag == _CLOSE:
            _, text, ident = entry
            open_ids.discard(ident)
            out.append(text)
            continue
        if tag == _KEY:
            _, key, at, sep = entry
            if not isinstance(key, str):
                raise _Reject(Reason.TYPE_MISMATCH, at,
                              f"expected `json` (str keys), got a `{type(key).__name__}` key at `{at}`")
            _check_py_str(key, f"{at}.{key}")
            out.append(sep + json_string(key) + ":")
            continue
        if tag == _TEXT:
            out.append(entry[1])
            continue
        _, v, p, d = entry
        if v is None:
            out.append("null")
        elif v is True:
            out.append("true")
        elif v is False:
            out.append("false")
        elif isinstance(v, int):
            out.append(_int_text(v))
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise _mismatch(Reason.TYPE_MISMATCH, p, "json", "float")
            out.append(float.__repr__(v))
        elif isinstance(v, str):
            _check_py_str(v, p)
            out.append(json_string(v))
        elif isinstance(v, (dict, list, tuple)):
            if max_depth is not None and d > max_depth:
                raise _Reject(Reason.TOO_DEEP, p, f"nesting deeper than {max_depth} at `{p}`")
            if id(v) in open_ids:
                raise _Reject(Reason.TYPE_MISMATCH, p, f"expected `json`, got a reference cycle at `{p}`")
            open_ids.add(id(v))
            if isinstance(v, dict):
                items = list(v.items())
                work.append((_CLOSE, "}", id(v)))
                for i in reversed(range(len(items))):
                    key, item = items[i]
                    child = f"{p}.{key}" if isinstance(key, str) else p
                    work.append((_VALUE, item, child, d + 1))
                    work.append((_KEY, key, p, "," if i else ""))
                out.append("{")
            else:
                work.append((_CLOSE, "]", id(v)))
                for i in reversed(range(len(v))):
                    work.append((_VALUE, v[i], f"{p}[{i}]", d + 1))
                    if i:
                        work.append((_TEXT, ","))
                out.append("[")
        else:
            raise _mismatch(Reason.TYPE_MISMATCH, p, "json", type(v).__name__)
    return "".join(out)


def compact_json_from_py(obj: Any) -> str:
    """Compact JSON of a JSON-able Python value (floats as ``repr``).

    Raises ValueError when obj is not JSON-able.

    >>> compact_json_from_py({"a": [1, 2.5, None, True], "b": ("x", 1e16)})
    '{"a":[1,2.5,null,true],"b":["x",1e+16]}'
    """
    try:
        return _py_json(obj)
    except _Reject as e:
        raise ValueError(e.message) from None


def _py_raw(obj: Any) -> bytes:
    """``raw`` of a rejected Python input: compact JSON, else ``repr()``."""
    try:
        return _py_json(obj).encode("utf-8")
    except _Reject:
        pass
    try:
        text = repr(obj)
    except Exception:  # e.g. RecursionError on absurdly deep containers
        text = f"<{type(obj).__name__} object>"
    return text.encode("utf-8", "backslashreplace")


def _safe_text(s: str | None) -> str | None:
    """A str Arrow can store: lone surrogates become ``\\udxxx``."""
    if s is None:
        return None
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


# =============================================================================
# Scalar conversions
# =============================================================================

def _json_int(text: str) -> int:
    """Value of an integer literal.  A literal of more than 20 digits is
    outside every column's range, so it is returned as +-10**20 (avoids
    converting megabytes of digits)."""
    digits = text[1:] if text.startswith("-") else text
    if len(digits) > 20:
        return -(10 ** 20) if text.startswith("-") else 10 ** 20
    return int(text)


def _round_ratio(num: int, den: int, mant_bits: int, emin: int, emax: int) -> float:
    """num/den (both > 0) correctly rounded, ties to even, to a binary float
    with mant_bits significand bits (hidden bit included), minimum normal
    exponent emin and maximum exponent emax.  inf when it overflows."""
    e = num.bit_length() - den.bit_length()         # 2**(e-1) < num/den < 2**(e+1)
    if (num << max(-e, 0)) < (den << max(e, 0)):    # num/den < 2**e
        e -= 1
    q = max(e, emin) - (mant_bits - 1)               # exponent of the last significand bit
    n, d = (num, den << q) if q >= 0 else (num << -q, den)
    m, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and m & 1):
        m += 1
    if m.bit_length() + q - 1 > emax:
        return math.inf
    return math.ldexp(m, q)


FLOAT32 = (24, -126, 127)
FLOAT64 = (53, -1022, 1023)
_NUMBER_RE = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?)([0-9]+))?")


def decimal_to_binary_float(text: str, fmt: tuple[int, int, int] = FLOAT32) -> float:
    """A JSON number literal correctly rounded to float32 (or another binary
    format), as a Python float holding that value exactly; +-inf when it
    rounds to infinity."""
    m = _NUMBER_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a JSON number: {text!r}")
    negative = m.group(1) == "-"
    frac = m.group(3) or ""
    digits = (m.group(2) + frac).lstrip("0")
    sign = -1.0 if negative else 1.0
    if not digits:
        return math.copysign(0.0, sign)
    exp_digits = m.group(5).lstrip("0") if m.group(5) else ""
    exp_negative = m.group(4) == "-"
    mant_bits, emin, emax = fmt
    # Magnitude bounds: values >= 10**(limit) overflow, < 10**(-limit) are 0.
    limit = (emax + 2) * 31 // 100 + 2              # ~ log10(2**(emax+1)) + 2
    tiny = (mant_bits - emin + 2) * 31 // 100 + 2   # ~ log10(2**(mant_bits-emin)) + 2
    if len(exp_digits) > 12:                        # |exponent| >= 10**12
        return math.copysign(0.0, sign) if exp_negative else sign * math.inf
    exp10 = int(exp_digits or "0") * (-1 if exp_negative else 1) - len(frac)
    adjusted = len(digits) - 1 + exp10               # value in [10**adjusted, 10**(adjusted+1))
    if adjusted >= limit:
        return sign * math.inf
    if adjusted < -tiny:
        return math.copysign(0.0, sign)
    coefficient = _digits_to_int(digits)
    if exp10 >= 0:
        num, den = coefficient * 10 ** exp10, 1
    else:
        num, den = coefficient, 10 ** -exp10
    return sign * _round_ratio(num, den, mant_bits, emin, emax)


def float32_from_double(x: float) -> float | None:
    """x rounded to float32 (nearest, ties to even); None when a finite x
    rounds to infinity.  NaN and infinities are kept."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return None


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(_B64_ALPHABET)}


def base64_decode(s: str) -> bytes | None:
    """Strict standard base64: alphabet ``A-Z a-z 0-9 + /``, 0..2 ``=`` of
    padding at the end only, length a multiple of 4, no whitespace.  None
    when s is not that.  Unused low bits of the last character are ignored."""
    if len(s) % 4:
        return None
    body = s.rstrip("=")
    if len(s) - len(body) > 2:
        return None
    out = bytearray()
    bits = 0
    nbits = 0
    for ch in body:
        v = _B64_VALUE.get(ch)
        if v is None:
            return None
        bits = (bits << 6) | v
        nbits += 6
        if nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
            bits &= (1 << nbits) - 1
    return bytes(out)


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


# [0-9] (not \d, which matches non-ASCII digits); fullmatch (``$`` would allow a final "\n")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_RFC3339_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?")


def parse_date(s: str) -> int | None:
    """``YYYY-MM-DD`` -> days since the epoch, or None when invalid."""
    m = _DATE_RE.fullmatch(s)
    if m is None:
        return None
    y, mo, d = (int(g) for g in m.groups())
    if not 1 <= mo <= 12 or not 1 <= d <= days_in_month(y, mo):
        return None
    return days_from_civil(y, mo, d)


def parse_rfc3339(s: str, unit: str) -> int | None | str:
    """An RFC 3339 timestamp -> count of ``unit`` since the epoch (UTC; no
    offset means UTC).  None when invalid (syntax, calendar, or non-zero
    digits finer than the unit); "range" when outside int64."""
    m = _RFC3339_RE.fullmatch(s)
    if m is None:
        return None
    y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
    frac, _z, off_sign, off_h, off_m = m.groups()[6:]
    if not 1 <= mo <= 12 or not 1 <= d <= days_in_month(y, mo):
        return None
    if hh > 23 or mi > 59 or ss > 59:
        return None
    offset_s = 0
    if off_sign is not None:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return None
        offset_s = (oh * 3600 + om * 60) * (-1 if off_sign == "-" else 1)
    frac_ns = int((frac or "").ljust(9, "0"))
    ns_per_unit = 1_000_000_000 // UNITS_PER_SECOND[unit]
    if frac_ns % ns_per_unit:
        return None
    seconds = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - offset_s
    value = seconds * UNITS_PER_SECOND[unit] + frac_ns // ns_per_unit
    if not INT64_MIN <= value <= INT64_MAX:
        return "range"
    return value


def datetime_to_units(v: _dt.datetime, unit: str) -> int | None | str:
    """A datetime (naive is UTC, aware is converted) -> count of ``unit``;
    None when it has non-zero digits finer than the unit, "range" outside int64."""
    offset = v.utcoffset()
    offset_us = 0 if offset is None else (offset.days * 86400 + offset.seconds) * 10 ** 6 + offset.microseconds
    days = days_from_civil(v.year, v.month, v.day)
    total_us = ((days * 86400 + v.hour * 3600 + v.minute * 60 + v.second) * 10 ** 6
                + v.microsecond - offset_us)
    if unit == "ns":
        value = total_us * 1000
    else:
        us_per_unit = 10 ** 6 // UNITS_PER_SECOND[unit]
        if total_us % us_per_unit:
            return None
        value = total_us // us_per_unit
    if not INT64_MIN <= value <= INT64_MAX:
        return "range"
    return value


# =============================================================================
# The schema walk
# =============================================================================

def _expected(t: DataType) -> str:
    if t.kind in ("struct", "list"):
        return t.kind
    return t.to_json()


def _json_kind(v: Any) -> str:
    """`got` name of a tree node."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "bool"
    if isinstance(v, JsonNumber):
        return "int" if v.is_int else "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, JsonObject):
        return "object"
    if isinstance(v, JsonArray):
        return "array"
    raise TypeError(type(v).__name__)


def _last_wins(pairs: Iterable[tuple[str, Any]]) -> Iterable[tuple[str, Any]]:
    """Python dict semantics: the last value of a key wins, keys keep the
    order of their first occurrence."""
    d: dict[str, Any] = {}
    for k, v in pairs:
        d[k] = v
    return d.items()


# An `_extra` tree is a list of (key, compact JSON text | nested _extra tree).
Extras = list


def _render_extras(extras: Extras) -> str:
    parts = []
    for key, v in extras:
        parts.append(json_string(key) + ":" + (v if isinstance(v, str) else _render_extras(v)))
    return "{" + ",".join(parts) + "}"


class _Walk:
    """Converts one event to a row: a JSON tree (``from_json``) or a Python dict.

    ``depth`` arguments are the nesting depth a container value would have
    (the event itself is at depth 1)."""

    def __init__(self, schema: Schema, max_depth: int, from_json: bool) -> None:
        self.schema = schema
        self.policy = schema.unknown_fields
        self.max_depth = max_depth
        self.from_json = from_json

    # -- value classification, per input kind ---------------------------------
    def got(self, v: Any) -> str:
        if self.from_json:
            return _json_kind(v)
        return "null" if v is None else type(v).__name__

    def is_object(self, v: Any) -> bool:
        return isinstance(v, JsonObject) if self.from_json else isinstance(v, dict)

    def is_array(self, v: Any) -> bool:
        return isinstance(v, JsonArray) if self.from_json else isinstance(v, (list, tuple))

    def show(self, v: Any) -> str:
        """A value for an OUT_OF_RANGE / INVALID_VALUE message."""
        if isinstance(v, JsonNumber):
            text = v.text
        elif isinstance(v, int) and not isinstance(v, bool):
            text = _int_text(v)
        elif isinstance(v, str):
            text = json_string(v)
        else:
            text = repr(v)
        return _cut(text)

    def json_text(self, v: Any, path: str, depth: int) -> str:
        if self.from_json:
            return compact_json_from_tree(v)
        return _py_json(v, path, depth, self.max_depth)

    # -- structure ----------------------------------------------------------------
    def event(self, obj: Any) -> tuple[dict, str | None, int]:
        """The row values, the `_extra` text (or None) and the count of
        unknown members kept."""
        values, extras = self.struct(obj, self.schema.fields, "$", 1)
        if self.policy != "extra" or not extras:
            return values, None, 0
        return values, _render_extras(extras), _count_leaves(extras)

    def struct(self, obj: Any, fields: tuple[Field, ...], path: str, depth: int) -> tuple[dict, Extras]:
        members = _last_wins(obj) if self.from_json else obj.items()
        by_name = {f.name: f for f in fields}
        values: dict[str, Any] = {}
        extras: Extras = []
        for key, value in members:
            if not isinstance(key, str):    # only possible for Python dicts
                raise _Reject(Reason.TYPE_MISMATCH, path,
                              f"expected `str` keys, got a `{type(key).__name__}` key at `{path}`")
            child = f"{path}.{key}"
            f = by_name.get(key)
            if f is None:
                if self.policy == "ignore":
                    continue
                if self.policy == "error":
                    raise _Reject(Reason.UNKNOWN_FIELD, child,
                                  f"unexpected field `{_cut(key)}` at `{child}`")
                if not self.from_json:
                    _check_py_str(key, child)
                extras.append((key, self.json_text(value, child, depth + 1)))
                continue
            values[key], nested = self.convert(value, f.type, f.nullable, child, depth + 1)
            if nested:
                extras.append((key, nested))
        for f in fields:
            if f.name not in values:
                if not f.nullable:
                    child = f"{path}.{f.name}"
                    raise _Reject(Reason.MISSING_REQUIRED, child,
                                  f"expected `{_expected(f.type)}`, got nothing at `{child}`")
                values[f.name] = None
        return values, extras

    def convert(self, v: Any, t: DataType, nullable: bool, path: str, depth: int) -> tuple[Any, Extras | None]:
        """A value for a column of type t, and the `_extra` members found
        inside it (structs and lists only)."""
        if v is None:
            if nullable:
                return None, None
            raise _mismatch(Reason.MISSING_REQUIRED, path, _expected(t), "null")
        if not self.from_json and isinstance(v, (dict, list, tuple)) and depth > self.max_depth:
            raise _Reject(Reason.TOO_DEEP, path, f"nesting deeper than {self.max_depth} at `{path}`")
        kind = t.kind
        if kind == "struct":
            if not self.is_object(v):
                raise _mismatch(Reason.TYPE_MISMATCH, path, "struct", self.got(v))
            values, extras = self.struct(v, t.fields, path, depth)
            return values, extras or None
        if kind == "list":
            if not self.is_array(v):
                raise _mismatch(Reason.TYPE_MISMATCH, path, "list", self.got(v))
            items = []
            extras = []
            for i, item in enumerate(v):
                value, nested = self.convert(item, t.item, t.item_nullable, f"{path}[{i}]", depth + 1)
                items.append(value)
                if nested:
                    extras.append((str(i), nested))
            return items, extras or None
        if kind == "json":
            return self.json_text(v, path, depth), None
        return self.scalar(v, t, path), None

    def scalar(self, v: Any, t: DataType, path: str) -> Any:
        kind = t.kind
        expected = _expected(t)

        def mismatch() -> _Reject:
            return _mismatch(Reason.TYPE_MISMATCH, path, expected, self.got(v))

        def out_of_range() -> _Reject:
            return _mismatch(Reason.OUT_OF_RANGE, path, expected, self.show(v))

        def invalid() -> _Reject:
            return _mismatch(Reason.INVALID_VALUE, path, expected, self.show(v))

        is_bool = v is True or v is False
        if self.from_json:
            integer = _json_int(v.text) if isinstance(v, JsonNumber) and v.is_int else None
            is_float = isinstance(v, JsonNumber) and not v.is_int
        else:
            integer = v if isinstance(v, int) and not is_bool else None
            is_float = isinstance(v, float)
        is_str = isinstance(v, str)

        if kind == "bool":
            if is_bool:
                return v
            raise mismatch()

        if kind in INT_RANGES:
            if integer is None:
                raise mismatch()
            lo, hi = INT_RANGES[kind]
            if not lo <= integer <= hi:
                raise out_of_range()
            return int(integer)

        if kind in ("float32", "float64"):
            if self.from_json:
                if not isinstance(v, JsonNumber):
                    raise mismatch()
                x = float(v.text) if kind == "float64" else decimal_to_binary_float(v.text, FLOAT32)
                if math.isinf(x):
                    raise out_of_range()
                return x
            if integer is not None:
                if kind == "float64":
                    try:
                        return float(integer)
                    except OverflowError:
                        raise out_of_range() from None
                if integer == 0:
                    return 0.0
                x = math.copysign(_round_ratio(abs(integer), 1, *FLOAT32), -1.0 if integer < 0 else 1.0)
                if math.isinf(x):
                    raise out_of_range()
                return x
            if is_float:
                if kind == "float64":
                    return float(v)
                x = float32_from_double(float(v))
                if x is None:
                    raise out_of_range()
                return x
            raise mismatch()

        if kind == "string":
            if not is_str:
                raise mismatch()
            if not self.from_json:
                _check_py_str(v, path)
            return str(v)

        if is_str and not self.from_json and kind in ("binary", "timestamp", "date32"):
            _check_py_str(v, path)  # a lone surrogate is INVALID_UTF8 in any column

        if kind == "binary":
            if not self.from_json and isinstance(v, (bytes, bytearray, memoryview)):
                return bytes(v)
            if not is_str:
                raise mismatch()
            decoded = base64_decode(v)
            if decoded is None:
                raise invalid()
            return decoded

        if kind == "timestamp":
            if integer is not None:
                if not INT64_MIN <= integer <= INT64_MAX:
                    raise out_of_range()
                return int(integer)
            if is_str:
                result = parse_rfc3339(v, t.unit)
            elif not self.from_json and isinstance(v, _dt.datetime):
                result = datetime_to_units(v, t.unit)
            else:
                raise mismatch()
            if result is None:
                raise invalid()
            if result == "range":
                raise out_of_range()
            return result

        if kind == "date32":
            if integer is not None:
                if not INT32_MIN <= integer <= INT32_MAX:
                    raise out_of_range()
                return int(integer)
            if is_str:
                days = parse_date(v)
                if days is None:
                    raise invalid()
                return days
            if not self.from_json and isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
                return days_from_civil(v.year, v.month, v.day)
            raise mismatch()

        raise AssertionError(f"unhandled type {kind}")


def _count_leaves(extras: Extras) -> int:
    return sum(1 if isinstance(v, str) else _count_leaves(v) for _, v in extras)


# =============================================================================
# Arrow output
# =============================================================================

def _build_array(values: list, t: DataType) -> pa.Array:
    """An Arrow array of type ``t.to_arrow()``.  A null struct has null
    children; a null list has no items."""
    if t.kind == "struct":
        children = [
            _build_array([None if v is None else v[f.name] for v in values], f.type)
            for f in t.fields
        ]
        mask = pa.array([v is None for v in values], pa.bool_())
        return pa.StructArray.from_arrays(children, fields=[f.to_arrow() for f in t.fields], mask=mask)
    if t.kind == "list":
        offsets = [0]
        flat: list = []
        for v in values:
            if v is not None:
                flat.extend(v)
            offsets.append(len(flat))
        items = _build_array(flat, t.item)
        mask = pa.array([v is None for v in values], pa.bool_())
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), items, type=t.to_arrow(), mask=mask)
    return pa.array(values, type=t.to_arrow())


# =============================================================================
# The encoder
# =============================================================================

class ReferenceEncoder:
    """Events -> Arrow record batches, exactly as ``docs/SEMANTICS.md`` says.

    >>> s = Schema([Field("id", "string", nullable=False), Field("n", "int8")])
    >>> enc = ReferenceEncoder(s)
    >>> enc.extend_ndjson(b'{"id": "a", "n": 1}\\n{"id": "b", "n": 300}\\n{"id"', final=False)
    b'{"id"'
    >>> enc.flush().to_pylist()
    [{'id': 'a', 'n': 1}]
    >>> enc.flush_rejected().column("reason").to_pylist()
    ['out_of_range']
    """

    def __init__(self, schema: Schema, *, max_depth: int = 128, max_line_bytes: int = 16 << 20) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"expected `Schema`, got `{type(schema).__name__}`")
        if not isinstance(max_depth, int) or not 1 <= max_depth <= MAX_DEPTH_LIMIT:
            raise ValueError(f"expected max_depth in 1..{MAX_DEPTH_LIMIT}, got `{max_depth!r}`")
        if not isinstance(max_line_bytes, int) or max_line_bytes < 1:
            raise ValueError(f"expected max_line_bytes >= 1, got `{max_line_bytes!r}`")
        self.schema = schema
        self.max_depth = max_depth
        self.max_line_bytes = max_line_bytes
        self._arrow_schema = schema.to_arrow()
        self._rows: list[dict] = []
        self._rejected: list[dict] = []
        self._newlines_seen = 0       # every "\n" consumed by extend_ndjson
        self._bytes_consumed = 0      # bytes consumed by extend_ndjson (tails excluded)
        self._stats = {"inputs": 0, "accepted": 0, "rejected": 0, "blank_lines": 0, "extra_fields": 0}

    # -- inputs -------------------------------------------------------------------
    def append(self, obj: Any) -> None:
        """One Python dict (anything else is NOT_AN_OBJECT)."""
        self._add_py(obj, 0)

    def extend(self, objs: Iterable[Any]) -> None:
        """Python dicts; a rejected item's offset is its index in this call."""
        for i, obj in enumerate(objs):
            self._add_py(obj, i)

    def append_json(self, doc: bytes) -> None:
        """One JSON document (``\\n`` inside it is whitespace)."""
        self._add_line(_as_bytes(doc), SOURCE_JSON, None, 0)

    def extend_ndjson(self, block: bytes, final: bool = False, source: str | None = None) -> bytes:
        """NDJSON lines; returns the tail (bytes after the last ``\\n``), which
        is not consumed, unless final=True makes it the last line."""
        data = _as_bytes(block)
        src = SOURCE_NDJSON if source is None else source
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            self._add_line(data[start:nl], src, self._newlines_seen + 1, self._bytes_consumed + start)
            self._newlines_seen += 1
            start = nl + 1
        tail = data[start:]
        if not final:
            self._bytes_consumed += start
            return tail
        if tail:
            self._add_line(tail, src, self._newlines_seen + 1, self._bytes_consumed + start)
        self._bytes_consumed += len(data)
        return b""

    # -- outputs ------------------------------------------------------------------
    def flush(self) -> pa.RecordBatch:
        """The accepted rows since the last flush."""
        rows, self._rows = self._rows, []
        arrays = [_build_array([r[f.name] for r in rows], f.type) for f in self.schema.fields]
        if self.schema.unknown_fields == "extra":
            arrays.append(pa.array([r[EXTRA_COLUMN] for r in rows], pa.string()))
        return pa.RecordBatch.from_arrays(arrays, schema=self._arrow_schema)

    def flush_rejected(self) -> pa.RecordBatch:
        """The rejected inputs since the last flush_rejected."""
        rows, self._rejected = self._rejected, []
        return pa.RecordBatch.from_pylist(rows, schema=REJECTED_SCHEMA)

    def stats(self) -> dict:
        return dict(self._stats)

    # -- one input ----------------------------------------------------------------
    def _add_line(self, line: bytes, source: str, line_no: int | None, offset: int) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.startswith(BOM):
            line = line[len(BOM):]
        if not line.strip(JSON_WHITESPACE):
            self._stats["blank_lines"] += 1
            return
        self._stats["inputs"] += 1
        where = (source, line_no, offset)
        if len(line) > self.max_line_bytes:
            what = "document" if line_no is None else "line"
            self._reject(line[:RAW_LIMIT_BYTES], where, Reason.LINE_TOO_LONG, "$",
                         f"{what} of {len(line)} bytes is longer than max_line_bytes={self.max_line_bytes}")
            return
        try:
            tree = parse_json(line, self.max_depth)
        except ScanError as e:
            self._reject(line, where, e.reason, "$", e.message)
            return
        if not isinstance(tree, JsonObject):
            self._reject(line, where, Reason.NOT_AN_OBJECT, "$",
                         f"expected `object`, got `{_json_kind(tree)}` at `$`")
            return
        self._walk(tree, True, lambda: line, where)

    def _add_py(self, obj: Any, offset: int) -> None:
        self._stats["inputs"] += 1
        where = (SOURCE_DICTS, None, offset)
        if not isinstance(obj, dict):
            got = "null" if obj is None else type(obj).__name__
            self._reject(_py_raw(obj), where, Reason.NOT_AN_OBJECT, "$",
                         f"expected `object`, got `{got}` at `$`")
            return
        self._walk(obj, False, lambda: _py_raw(obj), where)

    def _walk(self, obj: Any, from_json: bool, raw, where: tuple) -> None:
        try:
            values, extra, n_extra = _Walk(self.schema, self.max_depth, from_json).event(obj)
        except _Reject as e:
            self._reject(raw(), where, e.reason, e.path, e.message)
            return
        if self.schema.unknown_fields == "extra":
            values[EXTRA_COLUMN] = extra
        self._rows.append(values)
        self._stats["accepted"] += 1
        self._stats["extra_fields"] += n_extra

    def _reject(self, raw: bytes, where: tuple, reason: Reason, path: str, message: str) -> None:
        source, line_no, offset = where
        self._rejected.append({
            "raw": raw, "source": _safe_text(source), "line": line_no, "offset": offset,
            "reason": reason.code, "path": _safe_text(path), "message": _safe_text(message),
        })
        self._stats["rejected"] += 1


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"expected `bytes`, got `{type(data).__name__}`")
