"""Tests of the pure-Python reference encoder against docs/SEMANTICS.md,
json.loads and pyarrow."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import math
import pathlib
import random
import struct
import sys
import types
from fractions import Fraction

import pyarrow as pa
import pyarrow.json as pajson
import pytest

# The package under test is the installed one (pip install .), or src/ on
# PYTHONPATH for an in-place build: tests never add src/ themselves.


ref = importlib.import_module("eventbatch._reference")
from eventbatch.errors import Reason  # noqa: E402  (after the loader)
from eventbatch.schema import DataType, Field, Schema  # noqa: E402

ReferenceEncoder = ref.ReferenceEncoder
parse_json = ref.parse_json
ScanError = ref.ScanError

SEED = random.randrange(1 << 30)


@pytest.fixture
def rng():
    print(f"seed={SEED}")
    return random.Random(SEED)


# -- helpers ------------------------------------------------------------------

def enc_for(fields, unknown="ignore", **kw):
    return ReferenceEncoder(Schema(fields, unknown), **kw)


def one(t, value_json: bytes, nullable=True, unknown="ignore", **kw):
    """Encode {"x": <value_json>} for a field x of type t; return
    ("ok", value) or (reason, path, message)."""
    enc = enc_for([Field("x", t, nullable)], unknown, **kw)
    enc.extend_ndjson(b'{"x": ' + value_json + b"}\n")
    return outcome(enc)


def one_py(t, value, nullable=True, **kw):
    enc = enc_for([Field("x", t, nullable)], **kw)
    enc.append({"x": value})
    return outcome(enc)


def _plain(batch):
    """Rows with timestamps and dates as their stored integers."""
    cols = {}
    for name, col in zip(batch.schema.names, batch.columns):
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.int64())
        elif pa.types.is_date32(col.type):
            col = col.cast(pa.int32())
        cols[name] = col
    return pa.RecordBatch.from_pydict(cols).to_pylist()


def outcome(enc):
    rows = _plain(enc.flush())
    rej = enc.flush_rejected().to_pylist()
    assert len(rows) + len(rej) == 1
    if rows:
        return ("ok", rows[0]["x"])
    return (rej[0]["reason"], rej[0]["path"], rej[0]["message"])


def reason_of(line: bytes, max_depth=128):
    try:
        parse_json(line, max_depth)
    except ScanError as e:
        return e.reason, e.pos
    return None


# =============================================================================
# Scanner: valid documents agree with json.loads
# =============================================================================

VALID_DOCS = [
    b"{}", b"[]", b" { } ", b"\t[\r\n]\n", b"0", b"-0", b"1", b"-1", b"123456789012345678901234567890",
    b"0.5", b"-0.0", b"1e5", b"1E5", b"1e+5", b"1e-5", b"1.25E-10", b"2.5e308", b"true", b"false",
    b"null", b'""', b'"abc"', b'"\\"\\\\\\/\\b\\f\\n\\r\\t"', b'"\\u0041\\u00e9\\u2028\\uFFFF"',
    b'"\\ud83d\\ude00"', b'"\\uD83D\\uDE00 mixed"', '"é中😀"'.encode(), b'"\x7f"',
    b'{"a": 1, "b": [true, false, null], "c": {"d": "e"}}', b'{"a":1,"a":2}',
    b'[1, [2, [3, [4]]], {"x": []}]', b'{"":""}', b'[1.0, 10, 1e1, -1.5e-3]',
    b'{"k\\u0000": "v\\u001f"}', b'"\xef\xbb\xbf"',
]


@pytest.mark.parametrize("doc", VALID_DOCS)
def test_valid_documents_match_json_loads(doc):
    assert ref.tree_to_py(parse_json(doc)) == json.loads(doc)


def _random_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randrange(-10 ** rng.randrange(1, 25), 10 ** rng.randrange(1, 25))
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.5, 1e-300, 5e-324, 1.7976931348623157e308,
                           rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randrange(-20, 20)])
    if kind in (4, 5):
        alphabet = "ab \"\\/\n\t\x00\x1f\x7fé中😀\u2028\ufeff"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if kind in (6, 7):
        return {rng.choice(["a", "b", "é", "", "k\n", "\x01"]): _random_value(rng, depth + 1)
                for _ in range(rng.randrange(4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_random_valid_documents_match_json_loads(rng):
    for _ in range(400):
        value = _random_value(rng)
        sep = rng.choice([(",", ":"), (", ", ": "), (" ,\t", "\r:\n")])
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, separators=sep).encode()
        tree = parse_json(text)
        assert ref.tree_to_py(tree) == json.loads(text)
        # json.dumps writes numbers as repr (so "as written" here) and uses the same
        # least escaping as SEMANTICS.md when ensure_ascii=False
        expected = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
        assert ref.compact_json_from_tree(tree) == expected


def _python_accepts(doc: bytes) -> bool:
    """Strict RFC 8259 + UTF-8 verdict built from Python's own tools."""
    try:
        text = doc.decode("utf-8")          # strict: overlongs, surrogates, > U+10FFFF rejected
    except UnicodeDecodeError:
        return False
    if text.startswith("\ufeff"):
        return False

    def no_constant(name):
        raise ValueError(name)

    try:
        value = json.loads(text, parse_constant=no_constant)
    except (ValueError, RecursionError):
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")   # lone surrogates from escapes
    except UnicodeEncodeError:
        return False
    return True


def test_mutated_documents_verdict_matches_python(rng):
    seeds = [json.dumps(_random_value(rng), ensure_ascii=rng.random() < 0.5).encode() for _ in range(60)]
    seeds += [b'{"a": "\\ud83d\\ude00", "b": [1.5e3, -0, 0.25]}', '{"é": "中"}'.encode()]
    pieces = [b"\\", b'"', b"\\u", b"d800", b"\\udc00", b"0", b"-", b".", b"e", b"+", b"\xff", b"\xc3",
              b"\xed\xa0\x80", b"\xe0\x80\x80", b"\xf4\x90\x80\x80", b"\x00", b"\x1f", b"\t", b",", b":",
              b"]", b"}", b"[", b"{", b"NaN", b"tru", b"\xef\xbb\xbf", b" "]
    for _ in range(3000):
        doc = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 3)):
            i = rng.randrange(len(doc) + 1)
            op = rng.randrange(3)
            if op == 0 and doc:
                del doc[min(i, len(doc) - 1)]
            elif op == 1:
                doc[i:i] = rng.choice(pieces)
            elif doc:
                doc[min(i, len(doc) - 1)] = rng.randrange(256)
        doc = bytes(doc)
        verdict = reason_of(doc)
        assert (verdict is None) == _python_accepts(doc), (doc, verdict)
        if verdict is not None:
            reason, pos = verdict
            assert reason in (Reason.INVALID_JSON, Reason.INVALID_UTF8, Reason.TOO_DEEP)
            # everything before the reported position is valid UTF-8 (text order)
            doc[:pos].decode("utf-8")
            if reason is Reason.INVALID_UTF8:
                with pytest.raises(UnicodeDecodeError):
                    doc[pos:pos + 4].decode("utf-8")


# =============================================================================
# Scanner: invalid documents
# =============================================================================

J, U, D = Reason.INVALID_JSON, Reason.INVALID_UTF8, Reason.TOO_DEEP
INVALID_DOCS = [
    # syntax
    (b"{", J, 1), (b"[", J, 1), (b'{"a"', J, 4), (b'{"a":', J, 5), (b'{"a":1', J, 6),
    (b'{"a" 1}', J, 5), (b'{"a":1 "b":2}', J, 7), (b"[1 2]", J, 3), (b"[1,]", J, 3),
    (b'{"a":1,}', J, 7), (b"{,}", J, 1), (b"{1:2}", J, 1), (b"{'a':1}", J, 1),
    (b'{"a":1}}', J, 7), (b'{"a":1} x', J, 8), (b"1 2", J, 2), (b'"abc', J, 4),
    (b"tru", J, 3), (b"trUe", J, 2), (b"nul", J, 3), (b"True", J, 0), (b"fals", J, 4),
    # numbers
    (b"01", J, 1), (b"-01", J, 2), (b"00", J, 1), (b"-", J, 1), (b"-a", J, 1), (b"1.", J, 2),
    (b"1.e5", J, 2), (b".5", J, 0), (b"1e", J, 2), (b"1e+", J, 3), (b"+1", J, 0), (b"NaN", J, 0),
    (b"Infinity", J, 0), (b"-Infinity", J, 1), (b"0x10", J, 1), (b"1_000", J, 1),
    # strings
    (b'"\\x"', J, 1), (b'"\\U0041"', J, 1), (b'"\\u12G4"', J, 5), (b'"\\u12"', J, 5), (b'"\\', J, 2),
    (b'"\\ud800"', J, 1), (b'"\\udc00"', J, 1), (b'"a\\ud800b"', J, 2), (b'"\\ud800\\u0041"', J, 1),
    (b'"\\ud800\\ud800"', J, 1), (b'"\\ud800\\n"', J, 1), (b'"\\udbff', J, 1), (b'"\\ud800\\', J, 1),
    (b'"\x00"', J, 1), (b'"a\x1f"', J, 2), (b'"\t"', J, 1), (b'"\n"', J, 1), (b'"\r"', J, 1),
    # UTF-8, inside and outside strings
    (b'"\xff"', U, 1), (b'"\x80"', U, 1), (b'"\xc0\x80"', U, 1), (b'"\xc1\xbf"', U, 1),
    (b'"\xe0\x80\x80"', U, 1), (b'"\xe0\x9f\xbf"', U, 1), (b'"\xf0\x80\x80\x80"', U, 1),
    (b'"\xf0\x8f\xbf\xbf"', U, 1), (b'"\xed\xa0\x80"', U, 1), (b'"\xed\xbf\xbf"', U, 1),
    (b'"\xf4\x90\x80\x80"', U, 1), (b'"\xf5\x80\x80\x80"', U, 1), (b'"\xc3"', U, 1),
    (b'"ab\xe2\x82', U, 3), (b'"\xe2\x82"', U, 1), (b'"\xf0\x9f\x98"', U, 1),
    (b'{"a":1} \xff', U, 8), (b"\xff", U, 0), (b'{"a":\xff}', U, 5), (b'{\xff}', U, 1),
    (b'[1,\xc3]', U, 3), (b"tr\xff", U, 2), (b'"\\\xff"', U, 2), (b'"\\ud800\xff"', U, 7),
    (b'"\\u00\xff"', U, 5),
    # the first problem in text order wins
    (b'{"a":1}} \xff', J, 7), (b'"\xff\x00"', U, 1), (b'"\x00\xff"', J, 1), (b'[01, "\xff"]', J, 2),
    (b'["\xff", 01]', U, 2), (b'[[[1]]] \xff', D, 2),
    # valid UTF-8 where the grammar has no place for it
    ("{\"a\":1} é".encode(), J, 8), (b"\xef\xbb\xbf{}", J, 0), ("«1»".encode(), J, 0),
]


@pytest.mark.parametrize("doc,reason,pos", INVALID_DOCS)
def test_invalid_documents(doc, reason, pos):
    assert reason_of(doc, max_depth=2) == (reason, pos)


def test_scan_messages():
    with pytest.raises(ScanError) as e:
        parse_json(b'{"a": [1, 2}')
    assert e.value.message == "invalid JSON: expected `,` or `]`, got `}` at byte 11"
    with pytest.raises(ScanError) as e:
        parse_json(b'{"a": 1]')
    assert e.value.message == "invalid JSON: expected `,` or `}`, got `]` at byte 7"
    with pytest.raises(ScanError) as e:
        parse_json(b'{"a": "\xff"}')
    assert e.value.message == "invalid UTF-8: byte 0xff at byte 7"
    with pytest.raises(ScanError) as e:
        parse_json(b'[[["x"]]]', max_depth=2)
    assert e.value.message == "nesting deeper than 2 at byte 2"
    with pytest.raises(ScanError) as e:
        parse_json(b'["\x01"]')
    assert e.value.reason is Reason.INVALID_JSON and "byte 2" in e.value.message


def test_depth_limit_exact():
    for max_depth in (1, 2, 5, 128):
        ok = b"[" * max_depth + b"]" * max_depth
        assert reason_of(ok, max_depth) is None
        deep = b"[" * (max_depth + 1) + b"]" * (max_depth + 1)
        assert reason_of(deep, max_depth) == (D, max_depth)
        obj = b'{"a":' * (max_depth + 1) + b"1" + b"}" * (max_depth + 1)
        assert reason_of(obj, max_depth) == (D, 5 * max_depth)
    # scalars do not count
    assert reason_of(b'[["x"]]', 2) is None


def test_very_deep_is_iterative():
    n = 10_000
    doc = b"[" * n + b"]" * n
    tree = parse_json(doc, max_depth=n)
    assert ref.compact_json_from_tree(tree) == doc.decode()
    assert reason_of(b"[" * 50_000, max_depth=n) == (D, n)


# =============================================================================
# Compact JSON
# =============================================================================

def test_compact_json_escaping_and_verbatim():
    doc = rb'{ "b" : [1.0e+2, -0, 1E5], "a":"\u0001\u001F\"\\\/\b\f\n\r\t\u007f\u2028\u00e9\ud83d\ude00", "b": null }'
    out = ref.compact_json_from_tree(parse_json(doc))
    assert out == ('{"b":[1.0e+2,-0,1E5],"a":"\\u0001\\u001f\\"\\\\/\\b\\f\\n\\r\\t\x7f\u2028é😀","b":null}')


def test_compact_json_from_py():
    assert ref.compact_json_from_py({"a": (1, 2.5, 1e16, -0.0), "b": "\x00\u2028", "c": [True, None]}) == \
        '{"a":[1,2.5,1e+16,-0.0],"b":"\\u0000\u2028","c":[true,null]}'
    for bad in (float("nan"), float("inf"), {1: 2}, {"a": {1, 2}}, "\ud800", b"x"):
        with pytest.raises(ValueError):
            ref.compact_json_from_py(bad)
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError):
        ref.compact_json_from_py(loop)


# =============================================================================
# NDJSON input handling
# =============================================================================

S1 = [Field("a", "int64")]


def rejected(enc):
    return enc.flush_rejected().to_pylist()


def test_lines_blank_bom_crlf_tail_and_offsets():
    enc = enc_for(S1)
    block1 = b'{"a":1}\r\n\n  \t\r\n\xef\xbb\xbf{"a":2}\n{"a":"x"}\r\n{"a"'
    tail = enc.extend_ndjson(block1)
    assert tail == b'{"a"'
    consumed = len(block1) - len(tail)
    block2 = tail + b':3}\n\xef\xbb\xbf\r\n{"a":"y"}'
    tail2 = enc.extend_ndjson(block2)
    assert tail2 == b'{"a":"y"}'
    assert enc.extend_ndjson(tail2, final=True) == b""
    assert enc.flush().column("a").to_pylist() == [1, 2, 3]
    rej = rejected(enc)
    assert [(r["line"], r["offset"], r["raw"], r["source"]) for r in rej] == [
        (5, block1.index(b'{"a":"x"}'), b'{"a":"x"}', "<ndjson>"),
        (8, consumed + len(block2) - len(tail2), b'{"a":"y"}', "<ndjson>"),
    ]
    st = enc.stats()
    assert st == {"inputs": 5, "accepted": 3, "rejected": 2, "blank_lines": 3, "extra_fields": 0}
    assert st["inputs"] == st["accepted"] + st["rejected"]


def test_tail_not_counted_twice_and_final():
    enc = enc_for(S1)
    assert enc.extend_ndjson(b'{"a":') == b'{"a":'
    assert enc.extend_ndjson(b'{"a":"z"') == b'{"a":"z"'          # caller may drop the old tail
    assert enc.extend_ndjson(b'{"a":"q"}', final=True) == b""
    rej = rejected(enc)
    assert [(r["line"], r["offset"]) for r in rej] == [(1, 0)]
    assert enc.extend_ndjson(b"", final=True) == b""
    assert enc.extend_ndjson(b"\n", final=True) == b""
    assert enc.stats()["blank_lines"] == 1


def test_final_line_keeps_newline_count():
    # SEMANTICS: line numbers count every "\n"; a final line without "\n" adds none.
    enc = enc_for(S1)
    enc.extend_ndjson(b'{"a":"x"}', final=True)
    enc.extend_ndjson(b'{"a":"y"}\n')
    rej = rejected(enc)
    assert [(r["line"], r["offset"]) for r in rej] == [(1, 0), (1, 9)]


def test_source_argument():
    enc = enc_for(S1)
    enc.extend_ndjson(b'[]\n', source="file.ndjson")
    assert rejected(enc)[0]["source"] == "file.ndjson"


def test_line_too_long():
    enc = enc_for(S1, max_line_bytes=10)
    line = b'{"a":' + b" " * 6000 + b"1}"
    enc.extend_ndjson(line + b"\n" + b'{"a": 123}\r\n' + b'\xef\xbb\xbf{"a": 1234}\n' + b'{"a":1}    \xff\n')
    assert enc.flush().column("a").to_pylist() == [123]       # 10 bytes, CR not counted
    rej = rejected(enc)
    assert [r["reason"] for r in rej] == ["line_too_long", "line_too_long", "line_too_long"]
    assert rej[0]["raw"] == line[:4096] and rej[0]["path"] == "$"
    assert rej[0]["message"] == f"line of {len(line)} bytes is longer than max_line_bytes=10"
    assert rej[1]["raw"] == b'{"a": 1234}' and rej[1]["line"] == 3
    # blank lines are never inputs, however long
    enc2 = enc_for(S1, max_line_bytes=4)
    enc2.extend_ndjson(b" " * 100 + b"\n")
    assert enc2.stats()["blank_lines"] == 1 and enc2.stats()["inputs"] == 0


def test_order_of_checks():
    enc = enc_for([Field("a", "int64", nullable=False)], "error", max_depth=2)
    enc.extend_ndjson(b"\n".join([
        b'[1, 2',                       # scan: invalid JSON
        b'[[[1]]]',                     # scan: too deep, although not an object
        b'[1]',                         # not an object
        b'"s"', b'1', b'null',
        b'{"b": 1, "a": "x"}',          # walk: unknown field first
        b'{"a": "x", "b": 1}',          # walk: type mismatch first
        b'{"b": [[[1]]], "a": 1}',      # scan beats the walk, even for an unknown field
    ]) + b"\n")
    rej = rejected(enc)
    assert [(r["reason"], r["path"]) for r in rej] == [
        ("invalid_json", "$"), ("too_deep", "$"), ("not_an_object", "$"), ("not_an_object", "$"),
        ("not_an_object", "$"), ("not_an_object", "$"), ("unknown_field", "$.b"),
        ("type_mismatch", "$.a"), ("too_deep", "$"),
    ]
    assert rej[2]["message"] == "expected `object`, got `array` at `$`"
    assert rej[6]["message"] == "unexpected field `b` at `$.b`"


def test_append_json():
    enc = enc_for(S1)
    enc.append_json(b'\xef\xbb\xbf{\n"a"\n:\n5\n}\n')
    enc.append_json(b"  \n\t ")
    enc.append_json(b'{"a": true}')
    assert enc.flush().column("a").to_pylist() == [5]
    rej = rejected(enc)
    assert [(r["source"], r["line"], r["offset"], r["reason"]) for r in rej] == [
        ("<json>", None, 0, "type_mismatch")]
    assert enc.stats()["blank_lines"] == 1


def test_depth_limit_in_encoder_default_128():
    enc = enc_for([Field("j", "json")])
    ok = b'{"j":' + b"[" * 127 + b"]" * 127 + b"}"
    deep = b'{"j":' + b"[" * 128 + b"]" * 128 + b"}"
    enc.extend_ndjson(ok + b"\n" + deep + b"\n")
    assert enc.flush().column("j").to_pylist() == ["[" * 127 + "]" * 127]
    rej = rejected(enc)
    assert rej[0]["reason"] == "too_deep"
    assert rej[0]["message"] == f"nesting deeper than 128 at byte {5 + 127}"


# =============================================================================
# The walk: duplicates, unknown fields, order
# =============================================================================

def test_duplicate_keys_last_wins_first_position():
    enc = enc_for([Field("a", "int64"), Field("b", "int64")])
    enc.extend_ndjson(b'{"a": "bad", "a": 1, "b": 2}\n'
                      b'{"a": "x", "b": "y", "a": 1}\n'
                      b'{"b": "y", "a": "x", "b": 1}\n')
    assert enc.flush().to_pylist() == [{"a": 1, "b": 2}]
    assert [r["path"] for r in rejected(enc)] == ["$.b", "$.a"]


def test_missing_fields_after_members_in_schema_order():
    fields = [Field("x", "int64", nullable=False), Field("y", "int64", nullable=False),
              Field("p", {"type": "struct", "fields": [{"name": "q", "type": "int64", "nullable": False}]})]
    enc = enc_for(fields)
    enc.extend_ndjson(b'{"p": {}}\n{}\n{"x": 1}\n{"x": 1, "y": null}\n{"y": 1, "x": "a"}\n')
    rej = rejected(enc)
    assert [(r["reason"], r["path"]) for r in rej] == [
        ("missing_required", "$.p.q"), ("missing_required", "$.x"), ("missing_required", "$.y"),
        ("missing_required", "$.y"), ("type_mismatch", "$.x")]
    assert rej[1]["message"] == "expected `int64`, got nothing at `$.x`"
    assert rej[3]["message"] == "expected `int64`, got `null` at `$.y`"


def test_unknown_fields_ignore_and_error():
    enc = enc_for(S1, "ignore")
    enc.extend_ndjson(b'{"zz": {"deep": [1, 2]}, "a": 1}\n')
    assert enc.flush().to_pylist() == [{"a": 1}]
    enc = enc_for([Field("p", {"type": "struct", "fields": [{"name": "a", "type": "int64"}]})], "error")
    enc.extend_ndjson(b'{"p": {"a": 1, "foo": 2}}\n')
    rej = rejected(enc)
    assert (rej[0]["reason"], rej[0]["path"], rej[0]["message"]) == (
        "unknown_field", "$.p.foo", "unexpected field `foo` at `$.p.foo`")
    long = "k" * 100
    enc.extend_ndjson(b'{"' + long.encode() + b'": 1}\n')
    msg = rejected(enc)[0]["message"]
    assert msg == f"unexpected field `{'k' * 37}...` at `$.{long}`"


EXTRA_FIELDS = [
    Field("id", "string"),
    Field("payload", {"type": "struct", "fields": [{"name": "ms", "type": "int64"}]}),
    Field("items", {"type": "list", "item": {"type": "struct", "fields": [{"name": "n", "type": "int64"}]}}),
    Field("grid", {"type": "list", "item": {"type": "list", "item": {"type": "struct", "fields": [
        {"name": "v", "type": "int64"}]}}}),
    Field("ctx", "json"),
]


def test_extra_column():
    enc = enc_for(EXTRA_FIELDS, "extra")
    assert enc.flush().schema.names[-1] == "_extra"
    enc.extend_ndjson(b"\n".join([
        b'{"id": "a"}',
        b'{"z": [1, {"q": 2, "q": 3}], "id": "b", "payload": {"k": "v", "ms": 1, "k2": null},'
        b' "items": [{"n": 1}, {"n": 2, "x": true}], "ctx": {"u": 1, "u": 2}, "a": 1.50, "z": 0}',
        b'{"grid": [[{"v": 1}], [{"v": 2}, {"v": 3, "w": "\\u00e9"}]], "payload": null, "items": null}',
    ]) + b"\n")
    rows = enc.flush().to_pylist()
    assert rows[0]["_extra"] is None
    assert rows[1]["_extra"] == ('{"z":0,"payload":{"k":"v","k2":null},"items":{"1":{"x":true}},"a":1.50}')
    assert rows[1]["ctx"] == '{"u":1,"u":2}'
    assert rows[2]["_extra"] == '{"grid":{"1":{"1":{"w":"é"}}}}'
    assert enc.stats()["extra_fields"] == 6


def test_extra_not_counted_for_rejected_rows():
    enc = enc_for([Field("a", "int64")], "extra")
    enc.extend_ndjson(b'{"z": 1, "a": "x"}\n')
    assert enc.stats()["extra_fields"] == 0


# =============================================================================
# Conversions (JSON)
# =============================================================================

INT_EDGES = [
    ("int8", b"-128", -128), ("int8", b"127", 127), ("int8", b"128", None), ("int8", b"-129", None),
    ("int16", b"-32768", -32768), ("int16", b"32767", 32767), ("int16", b"32768", None),
    ("int32", b"-2147483648", -2 ** 31), ("int32", b"2147483647", 2 ** 31 - 1), ("int32", b"2147483648", None),
    ("int64", b"-9223372036854775808", -2 ** 63), ("int64", b"9223372036854775807", 2 ** 63 - 1),
    ("int64", b"9223372036854775808", None), ("int64", b"-9223372036854775809", None),
    ("uint8", b"0", 0), ("uint8", b"255", 255), ("uint8", b"256", None), ("uint8", b"-1", None),
    ("uint8", b"-0", 0), ("int8", b"-0", 0),
    ("uint16", b"65535", 65535), ("uint16", b"65536", None),
    ("uint32", b"4294967295", 2 ** 32 - 1), ("uint32", b"4294967296", None),
    ("uint64", b"18446744073709551615", 2 ** 64 - 1), ("uint64", b"18446744073709551616", None),
    ("uint64", b"-1", None), ("int64", b"1" + b"0" * 5000, None), ("int64", b"-" + b"9" * 30, None),
]


@pytest.mark.parametrize("kind,text,value", INT_EDGES)
def test_int_ranges(kind, text, value):
    res = one(kind, text)
    if value is None:
        assert res == ("out_of_range", "$.x", f"expected `{kind}`, got `{text.decode()[:37] + '...' if len(text) > 40 else text.decode()}` at `$.x`")
    else:
        assert res == ("ok", value)


@pytest.mark.parametrize("text,got", [(b"1.0", "float"), (b"1e2", "float"), (b"-0.0", "float"),
                                      (b'"1"', "string"), (b"true", "bool"), (b"{}", "object"),
                                      (b"[]", "array")])
def test_int_type_mismatch(text, got):
    assert one("int32", text) == ("type_mismatch", "$.x", f"expected `int32`, got `{got}` at `$.x`")


def test_floats():
    assert one("float64", b"1") == ("ok", 1.0)
    assert one("float64", b"-0")[1] == 0.0 and math.copysign(1, one("float64", b"-0")[1]) == -1
    assert one("float64", b"0.1") == ("ok", 0.1)
    assert one("float64", b"1.7976931348623157e308") == ("ok", 1.7976931348623157e308)
    assert one("float64", b"1.7976931348623158e308") == ("ok", 1.7976931348623157e308)
    assert one("float64", b"1.7976931348623159e308")[0] == "out_of_range"
    assert one("float64", b"1e400")[0] == "out_of_range"
    assert one("float64", b"-1e400")[0] == "out_of_range"
    assert one("float64", b"1e-400") == ("ok", 0.0)
    assert one("float64", b"4.9e-324") == ("ok", 5e-324)
    assert one("float64", b"123456789012345678901234567890") == ("ok", 1.2345678901234568e29)
    assert one("float64", b'"1"')[0] == "type_mismatch"
    assert one("float64", b"true")[0] == "type_mismatch"
    flt_max = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
    assert one("float32", b"0.1") == ("ok", struct.unpack("<f", struct.pack("<f", 0.1))[0])
    assert one("float32", b"3.4028234663852886e38") == ("ok", flt_max)
    # 3.4028235677973366e38 is just below the midpoint FLT_MAX..2**128: float32 is FLT_MAX,
    # although via float64 (which rounds it to the midpoint itself) it would become inf
    assert one("float32", b"3.4028235677973366e38") == ("ok", flt_max)
    assert one("float32", b"3.4028235677973367e38")[0] == "out_of_range"
    midpoint = 2 ** 128 - 2 ** 103
    assert one("float32", str(midpoint).encode())[0] == "out_of_range"          # tie goes to even = 2**128
    assert one("float32", str(midpoint - 1).encode()) == ("ok", flt_max)
    assert one("float32", b"1e39")[0] == "out_of_range"
    assert one("float32", b"-1e39")[0] == "out_of_range"
    assert one("float32", b"1e400")[0] == "out_of_range"
    assert one("float32", b"1e-50") == ("ok", 0.0)
    assert one("float32", b"1e-45") == ("ok", 2.0 ** -149)
    assert one("float32", b"16777217") == ("ok", 16777216.0)


def test_float32_is_correctly_rounded_not_double_rounded():
    # 1 + 2**-24 + 2**-60: double rounding (to float64, then float32) gives 1.0
    value = Fraction(1) + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 60)
    text = _exact_decimal(value)
    assert struct.unpack("<f", struct.pack("<f", float(text)))[0] == 1.0
    assert one("float32", text.encode()) == ("ok", 1.0 + 2.0 ** -23)


def _exact_decimal(fr: Fraction) -> str:
    """Finite decimal expansion of a dyadic rational."""
    k = fr.denominator.bit_length() - 1
    digits = str(fr.numerator * 5 ** k)
    return digits[:-k] + "." + digits[-k:] if k else digits


def _float32_neighbours(x: float):
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    out = []
    for b in (bits - 1, bits + 1):
        if 0 <= b < 0x7F800000:
            out.append(struct.unpack("<f", struct.pack("<I", b))[0])
    return out


def test_float_rounding_against_exact_arithmetic(rng):
    for _ in range(300):
        mant = str(rng.randrange(1, 10 ** rng.randrange(1, 30)))
        exp = rng.randrange(-60, 40)
        text = f"{mant}e{exp}" if rng.random() < 0.5 else f"{mant[:1]}.{mant[1:] or '0'}e{exp}"
        # float64 path agrees with Python's correctly rounded float()
        assert ref.decimal_to_binary_float(text, ref.FLOAT64) == float(text)
        x = ref.decimal_to_binary_float(text, ref.FLOAT32)
        exact = Fraction(text)
        if math.isinf(x):
            assert exact >= Fraction(2 ** 128 - 2 ** 103)
            continue
        assert struct.unpack("<f", struct.pack("<f", x))[0] == x
        err = abs(Fraction(x) - exact)
        for n in _float32_neighbours(x) + ([0.0] if x == 0 else []):
            assert err <= abs(Fraction(n) - exact)


def test_bool_and_string():
    assert one("bool", b"true") == ("ok", True)
    assert one("bool", b"false") == ("ok", False)
    assert one("bool", b"1") == ("type_mismatch", "$.x", "expected `bool`, got `int` at `$.x`")
    assert one("string", b'"a\\u00e9\\n"') == ("ok", "aé\n")
    assert one("string", b"1") == ("type_mismatch", "$.x", "expected `string`, got `int` at `$.x`")
    assert one("string", b"null", nullable=False) == (
        "missing_required", "$.x", "expected `string`, got `null` at `$.x`")


@pytest.mark.parametrize("text,value", [
    (b'"aGVsbG8="', b"hello"), (b'"aGVsbG8h"', b"hello!"), (b'"aGVsbA=="', b"hell"), (b'""', b""),
    (b'"+/+/"', b"\xfb\xff\xbf"), (b'"QR=="', b"A"),
    (b'"aGVsbG8"', None), (b'"aGVs bG8="', None), (b'"===="', None), (b'"A==="', None),
    (b'"AB=C"', None), (b'"A=B="', None), (b'"aGVsbG8-"', None), (b'"aGVs\\nbG8="', None),
    (b'"aGVsbG8=\\n"', None), (b'"=AAA"', None),
])
def test_binary_base64(text, value):
    res = one("binary", text)
    assert res == (("ok", value) if value is not None else ("invalid_value", "$.x", res[2]))
    if value is None:
        assert res[2].startswith("expected `binary`, got `\"")
    assert one("binary", b"1")[0] == "type_mismatch"


def _epoch(y, mo, d, h=0, mi=0, s=0, us=0):
    return (dt.datetime(y, mo, d, h, mi, s, us, tzinfo=dt.timezone.utc)
            - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)


TS_CASES = [
    ("ms", b"0", 0), ("ms", b"-1", -1), ("s", b"9223372036854775807", 2 ** 63 - 1),
    ("s", b"9223372036854775808", "out_of_range"), ("ms", b"1.5", "type_mismatch"),
    ("ms", b"1e3", "type_mismatch"), ("ms", b"true", "type_mismatch"), ("ms", b"{}", "type_mismatch"),
    ("ms", b'"1970-01-01T00:00:00Z"', 0), ("ms", b'"1970-01-01t00:00:00z"', 0),
    ("ms", b'"1970-01-01 00:00:01"', 1000), ("ms", b'"1970-01-01T01:00:00+01:00"', 0),
    ("ms", b'"1970-01-01T00:00:00-00:30"', 1_800_000), ("ms", b'"1969-12-31T23:00:00-01:00"', 0),
    ("ms", b'"1970-01-01T00:00:00.1Z"', 100), ("ms", b'"1970-01-01T00:00:00.123Z"', 123),
    ("ms", b'"1970-01-01T00:00:00.1230Z"', 123), ("ms", b'"1970-01-01T00:00:00.123000000Z"', 123),
    ("ms", b'"1970-01-01T00:00:00.1234Z"', "invalid_value"),
    ("ms", b'"1970-01-01T00:00:00.1234567890Z"', "invalid_value"),
    ("ms", b'"1970-01-01T00:00:00.Z"', "invalid_value"),
    ("s", b'"1970-01-01T00:00:00.000Z"', 0), ("s", b'"1970-01-01T00:00:00.5Z"', "invalid_value"),
    ("us", b'"1970-01-01T00:00:00.000001Z"', 1), ("us", b'"1970-01-01T00:00:00.0000001Z"', "invalid_value"),
    ("ns", b'"1970-01-01T00:00:00.000000001Z"', 1), ("ns", b'"1969-12-31T23:59:59.999999999Z"', -1),
    ("s", b'"2000-02-29T00:00:00Z"', _epoch(2000, 2, 29) // 10 ** 6),
    ("s", b'"2024-02-29T12:00:00Z"', _epoch(2024, 2, 29, 12) // 10 ** 6),
    ("s", b'"1900-02-29T00:00:00Z"', "invalid_value"), ("s", b'"2023-02-29T00:00:00Z"', "invalid_value"),
    ("s", b'"2023-04-31T00:00:00Z"', "invalid_value"), ("s", b'"2023-13-01T00:00:00Z"', "invalid_value"),
    ("s", b'"2023-00-01T00:00:00Z"', "invalid_value"), ("s", b'"2023-01-00T00:00:00Z"', "invalid_value"),
    ("s", b'"2023-01-01T24:00:00Z"', "invalid_value"), ("s", b'"2023-01-01T23:60:00Z"', "invalid_value"),
    ("s", b'"2023-01-01T23:59:60Z"', "invalid_value"), ("s", b'"2023-01-01T00:00:00+24:00"', "invalid_value"),
    ("s", b'"2023-01-01T00:00:00+01:60"', "invalid_value"), ("s", b'"2023-01-01T00:00:00+0100"', "invalid_value"),
    ("s", b'"2023-01-01T00:00:00+01"', "invalid_value"), ("s", b'"2023-01-01"', "invalid_value"),
    ("s", b'"2023-01-01T00:00Z"', "invalid_value"), ("s", b'"2023-1-01T00:00:00Z"', "invalid_value"),
    ("s", b'"2023-01-01T00:00:00ZZ"', "invalid_value"), ("s", b'"2023-01-01T00:00:00Z\\n"', "invalid_value"),
    ("s", b'" 2023-01-01T00:00:00Z"', "invalid_value"), ("s", b'"2023-01-01X00:00:00Z"', "invalid_value"),
    ("s", '"２０２３-01-01T00:00:00Z"'.encode(), "invalid_value"), ("s", b'"+2023-01-01T00:00:00Z"', "invalid_value"),
    ("s", b'"12023-01-01T00:00:00Z"', "invalid_value"), ("s", b'""', "invalid_value"),
    ("s", b'"0000-01-01T00:00:00Z"', -62167219200), ("s", b'"0000-02-29T00:00:00Z"', -62167219200 + 59 * 86400),
    ("s", b'"9999-12-31T23:59:59Z"', 253402300799), ("s", b'"9999-12-31T23:59:59-23:59"', 253402300799 + 86340),
    ("s", b'"0000-01-01T00:00:00+23:59"', -62167219200 - 86340),
    ("ns", b'"2262-04-11T23:47:16.854775807Z"', 2 ** 63 - 1),
    ("ns", b'"2262-04-11T23:47:16.854775808Z"', "out_of_range"),
    ("ns", b'"1677-09-21T00:12:43.145224192Z"', -2 ** 63),
    ("ns", b'"1677-09-21T00:12:43.145224191Z"', "out_of_range"),
    ("ns", b'"1677-09-21T00:12:43.145224191Z"', "out_of_range"),
    ("ns", b'"9999-12-31T23:59:59Z"', "out_of_range"), ("us", b'"9999-12-31T23:59:59Z"', 253402300799 * 10 ** 6),
]


@pytest.mark.parametrize("unit,text,expect", TS_CASES)
def test_timestamps(unit, text, expect):
    t = DataType.timestamp(unit, "UTC")
    res = one(t, text)
    if isinstance(expect, str):
        assert res[0] == expect and res[1] == "$.x"
        assert res[2].startswith(f"expected `timestamp[{unit}, tz=UTC]`, got `")
    else:
        assert res == ("ok", expect)


def test_timestamps_random_against_datetime(rng):
    for _ in range(300):
        y, mo = rng.randrange(1, 10000), rng.randrange(1, 13)
        d = rng.randrange(1, 29)
        h, mi, s, us = rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.randrange(10 ** 6)
        oh, om = rng.randrange(24), rng.randrange(60)
        sign = rng.choice("+-")
        text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{us:06d}{sign}{oh:02d}:{om:02d}"
        off = (oh * 3600 + om * 60) * (1 if sign == "+" else -1)
        expected = _epoch(y, mo, d, h, mi, s, us) - off * 10 ** 6
        assert ref.parse_rfc3339(text, "us") == expected
        assert ref.parse_rfc3339(text, "ns") == (expected * 1000 if -2 ** 63 <= expected * 1000 < 2 ** 63 else "range")
        assert ref.parse_rfc3339(text, "ms") == (expected // 1000 if us % 1000 == 0 else None)


@pytest.mark.parametrize("text,expect", [
    (b"0", 0), (b"-1", -1), (b"2147483647", 2 ** 31 - 1), (b"-2147483648", -2 ** 31),
    (b"2147483648", "out_of_range"), (b"-2147483649", "out_of_range"), (b"1.0", "type_mismatch"),
    (b"true", "type_mismatch"), (b'"2020-02-29"', 18321), (b'"1970-01-01"', 0),
    (b'"2021-02-29"', "invalid_value"), (b'"2020-2-29"', "invalid_value"),
    (b'"2020-02-29T00:00:00Z"', "invalid_value"), (b'"0000-01-01"', -719528), (b'"9999-12-31"', 2932896),
])
def test_date32(text, expect):
    res = one("date32", text)
    if isinstance(expect, str):
        assert res[:2] == (expect, "$.x")
    else:
        assert res == ("ok", expect)


def test_date_days_against_datetime(rng):
    for _ in range(200):
        d = dt.date.fromordinal(rng.randrange(1, dt.date.max.toordinal()))
        assert ref.parse_date(d.isoformat()) == (d - dt.date(1970, 1, 1)).days


def test_struct_list_json():
    fields = [
        Field("p", {"type": "struct", "fields": [{"name": "a", "type": "int8"}, {"name": "b", "type": "string"}]}),
        Field("tags", {"type": "list", "item": "string", "item_nullable": False}),
        Field("opt", {"type": "list", "item": "int8"}),
        Field("j", "json"),
        Field("jr", "json", nullable=False),
    ]
    enc = enc_for(fields)
    enc.extend_ndjson(b"\n".join([
        b'{"p": {"b": "x", "a": 1}, "tags": ["a", "b"], "opt": [1, null], "j": {"k": [1, 2.50]}, "jr": "s"}',
        b'{"p": null, "jr": 0}',
        b'{"p": [], "jr": 0}',
        b'{"p": {"a": 300}, "jr": 0}',
        b'{"tags": "a", "jr": 0}',
        b'{"tags": ["a", null], "jr": 0}',
        b'{"tags": ["a", "b", 3], "jr": 0}',
        b'{"opt": [1, 2, 3, 400], "jr": 0}',
        b'{"jr": null}',
        b'{"j": null, "jr": false}',
    ]) + b"\n")
    batch = enc.flush()
    rows = batch.to_pylist()
    assert rows[0] == {"p": {"a": 1, "b": "x"}, "tags": ["a", "b"], "opt": [1, None],
                       "j": '{"k":[1,2.50]}', "jr": '"s"'}
    assert rows[1] == {"p": None, "tags": None, "opt": None, "j": None, "jr": "0"}
    assert rows[2] == {"p": None, "tags": None, "opt": None, "j": None, "jr": "false"}
    # a null struct has null children
    p = batch.column(0)
    assert p.is_null().to_pylist() == [False, True, True]
    assert p.field(0).is_null().to_pylist() == [False, True, True]
    rej = rejected(enc)
    assert [(r["reason"], r["path"]) for r in rej] == [
        ("type_mismatch", "$.p"), ("out_of_range", "$.p.a"), ("type_mismatch", "$.tags"),
        ("missing_required", "$.tags[1]"), ("type_mismatch", "$.tags[2]"), ("out_of_range", "$.opt[3]"),
        ("missing_required", "$.jr"),
    ]
    assert [r["message"] for r in rej[:5]] == [
        "expected `struct`, got `array` at `$.p`",
        "expected `int8`, got `300` at `$.p.a`",
        "expected `list`, got `string` at `$.tags`",
        "expected `string`, got `null` at `$.tags[1]`",
        "expected `string`, got `int` at `$.tags[2]`",
    ]
    assert rej[6]["message"] == "expected `json`, got `null` at `$.jr`"


def test_message_values_are_cut():
    res = one(DataType.timestamp("s"), b'"' + b"x" * 100 + b'"')
    assert res == ("invalid_value", "$.x", f"expected `timestamp[s]`, got `\"{'x' * 36}...` at `$.x`")


# =============================================================================
# Arrow output matches pyarrow
# =============================================================================

NESTED = Schema([
    Field("id", "string", nullable=False),
    Field("n", "int64"),
    Field("u", "uint64"),
    Field("f", "float64"),
    Field("g", "float32"),
    Field("ok", "bool"),
    Field("bin", "binary"),
    Field("ts", "timestamp[ms, tz=UTC]"),
    Field("tsn", "timestamp[ns]"),
    Field("day", "date32"),
    Field("p", {"type": "struct", "fields": [
        {"name": "ms", "type": "int64"},
        {"name": "at", "type": "timestamp[us]"},
        {"name": "inner", "type": {"type": "struct", "fields": [{"name": "s", "type": "string"}]}}]}),
    Field("tags", {"type": "list", "item": "string"}),
    Field("pts", {"type": "list", "item": {"type": "struct", "fields": [{"name": "x", "type": "int8"}]}}),
])


def _random_nested_dict(rng, i):
    d = {"id": f"e{i}"}
    if rng.random() < 0.8:
        d["n"] = rng.randrange(-2 ** 63, 2 ** 63)
    if rng.random() < 0.8:
        d["u"] = rng.randrange(2 ** 64)
    if rng.random() < 0.8:
        d["f"] = rng.uniform(-1e300, 1e300)
    if rng.random() < 0.8:
        d["g"] = struct.unpack("<f", struct.pack("<f", rng.uniform(-1e30, 1e30)))[0]
    if rng.random() < 0.8:
        d["ok"] = rng.random() < 0.5
    if rng.random() < 0.8:
        d["bin"] = bytes(rng.randrange(256) for _ in range(rng.randrange(5)))
    if rng.random() < 0.8:
        d["ts"] = rng.randrange(-2 ** 50, 2 ** 50)
    if rng.random() < 0.8:
        d["tsn"] = rng.randrange(-2 ** 63, 2 ** 63)
    if rng.random() < 0.8:
        d["day"] = rng.randrange(-2 ** 31, 2 ** 31)
    if rng.random() < 0.8:
        d["p"] = {"ms": rng.randrange(100), "at": rng.randrange(2 ** 40),
                  "inner": {"s": rng.choice(["", "é", "x\n"])}}
    if rng.random() < 0.8:
        d["tags"] = [rng.choice(["a", "b", None]) for _ in range(rng.randrange(4))]
    if rng.random() < 0.8:
        d["pts"] = [{"x": rng.randrange(-128, 128)} for _ in range(rng.randrange(3))]
    return d


def test_flush_matches_from_pylist_for_dicts(rng):
    dicts = [_random_nested_dict(rng, i) for i in range(200)]
    enc = ReferenceEncoder(NESTED)
    enc.extend(dicts)
    got = enc.flush()
    assert enc.flush_rejected().num_rows == 0
    expected = pa.RecordBatch.from_pylist(dicts, schema=NESTED.to_arrow())
    assert got.schema == expected.schema
    assert got.equals(expected)
    assert enc.flush().num_rows == 0
    assert enc.stats() == {"inputs": 200, "accepted": 200, "rejected": 0, "blank_lines": 0, "extra_fields": 0}


PLAIN = pa.schema([
    ("s", pa.string()), ("i", pa.int64()), ("f", pa.float64()), ("b", pa.bool_()),
    ("st", pa.struct([("x", pa.int64()), ("y", pa.string()), ("z", pa.struct([("w", pa.float64())]))])),
    ("l", pa.list_(pa.int64())), ("ls", pa.list_(pa.struct([("k", pa.string())]))),
])


def test_ndjson_matches_pyarrow_json(rng):
    lines = []
    for i in range(300):
        d = {}
        for name, gen in [
            ("s", lambda: rng.choice(["", "abc", "é\u2028\t\"\\", "😀", "\x00"])),
            ("i", lambda: rng.randrange(-2 ** 63, 2 ** 63)),
            ("f", lambda: rng.choice([rng.uniform(-1e10, 1e10), 0.1, -0.0, 1e-300, rng.randrange(1000)])),
            ("b", lambda: rng.random() < 0.5),
            ("st", lambda: {"y": "q", "x": rng.randrange(10), "z": {"w": 0.5}} if rng.random() < 0.8 else {}),
            ("l", lambda: [rng.randrange(-5, 5) for _ in range(rng.randrange(4))]),
            ("ls", lambda: [{"k": str(j)} for j in range(rng.randrange(3))]),
            ("junk", lambda: {"nested": [1, {"a": None}]}),
        ]:
            r = rng.random()
            if r < 0.75:
                d[name] = gen()
            elif r < 0.85:
                d[name] = None
        text = json.dumps(d, ensure_ascii=rng.random() < 0.5, separators=rng.choice([(",", ":"), (", ", ": ")]))
        lines.append(text.encode())
    data = b"\n".join(lines) + b"\n"
    enc = ReferenceEncoder(Schema.from_arrow(PLAIN))
    assert enc.extend_ndjson(data) == b""
    got = pa.Table.from_batches([enc.flush()])
    expected = pajson.read_json(io.BytesIO(data), parse_options=pajson.ParseOptions(
        explicit_schema=PLAIN, unexpected_field_behavior="ignore"))
    assert got.schema == expected.schema
    assert got.to_pylist() == expected.to_pylist()
    assert enc.stats()["accepted"] == 300


# =============================================================================
# Dicts (Python objects)
# =============================================================================

def test_dicts_not_an_object_raw_offset():
    enc = enc_for(S1)
    enc.extend([{"a": 1}, [1, 2], None, {"a": "x", "b": (1, 2.5)}, {"a": "x", "s": {1, 2}}, 5])
    enc.append("str")
    rej = rejected(enc)
    assert [(r["reason"], r["offset"], r["line"], r["source"], r["raw"]) for r in rej] == [
        ("not_an_object", 1, None, "<dicts>", b"[1,2]"),
        ("not_an_object", 2, None, "<dicts>", b"null"),
        ("type_mismatch", 3, None, "<dicts>", b'{"a":"x","b":[1,2.5]}'),
        ("type_mismatch", 4, None, "<dicts>", repr({"a": "x", "s": {1, 2}}).encode()),
        ("not_an_object", 5, None, "<dicts>", b"5"),
        ("not_an_object", 0, None, "<dicts>", b'"str"'),
    ]
    assert rej[0]["message"] == "expected `object`, got `list` at `$`"
    assert rej[2]["message"] == "expected `int64`, got `str` at `$.a`"
    st = enc.stats()
    assert st["inputs"] == 7 and st["accepted"] == 1 and st["rejected"] == 6


def test_dicts_scalars():
    assert one_py("int8", True) == ("type_mismatch", "$.x", "expected `int8`, got `bool` at `$.x`")
    assert one_py("bool", 1)[0] == "type_mismatch"
    assert one_py("bool", False) == ("ok", False)
    assert one_py("int8", 1.0)[0] == "type_mismatch"
    assert one_py("int8", -129)[0] == "out_of_range"
    assert one_py("uint64", 2 ** 64 - 1) == ("ok", 2 ** 64 - 1)
    assert one_py("uint64", 2 ** 64)[0] == "out_of_range"
    assert one_py("int64", -10 ** 5000) == (
        "out_of_range", "$.x", f"expected `int64`, got `-1{'0' * 35}...` at `$.x`")
    assert one_py("json", [10 ** 5000]) == ("ok", "[1" + "0" * 5000 + "]")
    assert one_py("float64", 3) == ("ok", 3.0)
    assert one_py("float64", 2 ** 1024)[0] == "out_of_range"
    assert one_py("float64", 2 ** 1023) == ("ok", 2.0 ** 1023)
    assert one_py("float32", 2 ** 128)[0] == "out_of_range"
    assert one_py("float32", 2 ** 128 - 2 ** 103)[0] == "out_of_range"
    assert one_py("float32", 2 ** 128 - 2 ** 103 - 1) == ("ok", struct.unpack("<f", b"\xff\xff\x7f\x7f")[0])
    assert one_py("float32", 1e39)[0] == "out_of_range"
    assert one_py("float32", 0.1) == ("ok", struct.unpack("<f", struct.pack("<f", 0.1))[0])
    assert math.isnan(one_py("float64", float("nan"))[1])
    assert one_py("float32", float("inf")) == ("ok", math.inf)
    assert one_py("float64", float("-inf")) == ("ok", -math.inf)
    assert one_py("float64", True)[0] == "type_mismatch"
    assert one_py("float64", "1")[0] == "type_mismatch"
    assert one_py("string", "é") == ("ok", "é")
    assert one_py("string", "a\ud800") == ("invalid_utf8", "$.x", "invalid UTF-8: lone surrogate U+D800 at `$.x`")
    assert one_py("string", b"a") == ("type_mismatch", "$.x", "expected `string`, got `bytes` at `$.x`")
    assert one_py("binary", b"a") == ("ok", b"a")
    assert one_py("binary", bytearray(b"ab")) == ("ok", b"ab")
    assert one_py("binary", memoryview(b"abc")) == ("ok", b"abc")
    assert one_py("binary", "aGk=") == ("ok", b"hi")
    assert one_py("binary", "aGk")[0] == "invalid_value"
    assert one_py("binary", 5)[0] == "type_mismatch"
    assert one_py("string", {1, 2}) == ("type_mismatch", "$.x", "expected `string`, got `set` at `$.x`")
    assert one_py("int64", None, nullable=False) == ("missing_required", "$.x", "expected `int64`, got `null` at `$.x`")


def test_dicts_temporal():
    ts = DataType.timestamp("ms", "UTC")
    assert one_py(ts, 5) == ("ok", 5)
    naive = dt.datetime(2020, 1, 2, 3, 4, 5, 6000)
    enc = enc_for([Field("x", ts), Field("y", "timestamp[s]"), Field("z", "timestamp[ns]")])
    aware = dt.datetime(2020, 1, 2, 4, 4, 5, 6000, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    enc.extend([{"x": naive, "y": "2020-01-02T03:04:05Z", "z": naive}, {"x": aware},
                {"y": naive}, {"z": dt.datetime(2300, 1, 1)}, {"x": dt.date(2020, 1, 1)}, {"x": 1.5}])
    rows = enc.flush()
    assert rows.column("x").cast(pa.int64()).to_pylist() == [_epoch(2020, 1, 2, 3, 4, 5, 6000) // 1000] * 2
    assert rows.column("z").cast(pa.int64()).to_pylist()[0] == _epoch(2020, 1, 2, 3, 4, 5, 6000) * 1000
    rej = rejected(enc)
    assert [(r["reason"], r["path"]) for r in rej] == [
        ("invalid_value", "$.y"), ("out_of_range", "$.z"), ("type_mismatch", "$.x"), ("type_mismatch", "$.x")]
    assert rej[2]["message"] == "expected `timestamp[ms, tz=UTC]`, got `date` at `$.x`"
    assert one_py("date32", dt.date(2020, 2, 29)) == ("ok", 18321)
    assert one_py("date32", "2020-02-29") == ("ok", 18321)
    assert one_py("date32", 1) == ("ok", 1)
    assert one_py("date32", 2 ** 31)[0] == "out_of_range"
    assert one_py("date32", dt.datetime(2020, 1, 1))[:2] == ("type_mismatch", "$.x")


def test_dicts_struct_list_json_extra_depth():
    fields = [
        Field("p", {"type": "struct", "fields": [{"name": "a", "type": "int8"}]}),
        Field("l", {"type": "list", "item": "int8"}),
        Field("j", "json"),
    ]
    enc = enc_for(fields, "extra", max_depth=4)
    enc.extend([
        {"p": {"a": 1, "k": (1, "x")}, "l": (1, 2), "j": {"b": [1.5, None, True, "é"]}, "zz": 1e16},
        {"p": {1: 2}},
        {"l": [1, "2"]},
        {"j": float("nan")},
        {"j": {"a": [{1}]}},
        {"j": [[[[1]]]]},           # lists at depths 2..5: 5 > 4
        {"j": [[[1]]]},             # lists at depths 2..4: fine
        {"p": []},
        {"zz": "\udc00"},
        {"\udc00": 1},
        {"zz": object()},
    ])
    rows = enc.flush().to_pylist()
    assert rows[0] == {"p": {"a": 1}, "l": [1, 2], "j": '{"b":[1.5,null,true,"é"]}',
                       "_extra": '{"p":{"k":[1,"x"]},"zz":1e+16}'}
    assert rows[1]["j"] == "[[[1]]]" and rows[1]["_extra"] is None
    rej = rejected(enc)
    assert [(r["reason"], r["path"]) for r in rej] == [
        ("type_mismatch", "$.p"), ("type_mismatch", "$.l[1]"), ("type_mismatch", "$.j"),
        ("type_mismatch", "$.j.a[0]"), ("too_deep", "$.j[0][0][0]"), ("type_mismatch", "$.p"),
        ("invalid_utf8", "$.zz"), ("invalid_utf8", "$.\\udc00"), ("type_mismatch", "$.zz"),
    ]
    assert rej[0]["message"] == "expected `str` keys, got a `int` key at `$.p`"
    assert rej[2]["message"] == "expected `json`, got `float` at `$.j`"
    assert enc.stats()["extra_fields"] == 2


def test_dicts_too_deep_struct_and_list():
    inner = {"type": "struct", "fields": [{"name": "a", "type": {"type": "list", "item": "int8"}}]}
    enc = enc_for([Field("p", inner)], max_depth=2)
    enc.extend([{"p": {"a": None}}, {"p": {"a": [1]}}, {"p": {"zz": [1]}}])
    assert enc.flush().num_rows == 2            # ignored unknown members are not looked at
    rej = rejected(enc)
    assert (rej[0]["reason"], rej[0]["path"]) == ("too_deep", "$.p.a")


def test_unknown_error_policy_for_dicts():
    enc = enc_for(S1, "error")
    enc.append({"a": 1, "b": 2})
    rej = rejected(enc)
    assert (rej[0]["reason"], rej[0]["path"], rej[0]["message"]) == (
        "unknown_field", "$.b", "unexpected field `b` at `$.b`")


def test_constructor_checks():
    with pytest.raises(TypeError):
        ReferenceEncoder(PLAIN)
    with pytest.raises(ValueError):
        ReferenceEncoder(Schema(S1), max_depth=0)
    with pytest.raises(ValueError):
        ReferenceEncoder(Schema(S1), max_depth=10_001)
    ReferenceEncoder(Schema(S1), max_depth=10_000)
    with pytest.raises(TypeError):
        ReferenceEncoder(Schema(S1)).extend_ndjson("text")
