"""Explicit tests of the compiled Encoder, one per rule of docs/SEMANTICS.md.

Expected values come from the contract, not from either implementation.
Each test names the rule it checks.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import math
import struct
import subprocess
import os
import sys
import textwrap
import threading

import pyarrow as pa
import pytest

import strategies as S
import eventbatch
from eventbatch import Encoder, REJECTED_SCHEMA, Reason, SchemaError
from eventbatch.schema import DataType, Field, Schema

INT_RANGES = S.INT_RANGES
INT64_MIN, INT64_MAX = S.INT64_MIN, S.INT64_MAX
INT32_MIN, INT32_MAX = S.INT32_MIN, S.INT32_MAX
FLT_MAX = 3.4028234663852886e38
BOM = b"\xef\xbb\xbf"


# -- helpers ------------------------------------------------------------------

def make(fields, unknown="ignore", **kw) -> Encoder:
    fields = [f if isinstance(f, Field) else Field(*f) for f in fields]
    return Encoder(Schema(fields, unknown), **kw)


def rows(enc) -> list[dict]:
    """Accepted rows, timestamps and dates as integers, floats as floats."""
    b = enc.flush()
    b.validate(full=True)
    out = {}
    for name, col in zip(b.schema.names, b.columns):
        out[name] = col.cast(S.plain_type(col.type)).to_pylist()
    return [{k: out[k][i] for k in out} for i in range(b.num_rows)]


def rejected(enc) -> list[dict]:
    r = enc.flush_rejected()
    assert r.schema.names == REJECTED_SCHEMA.names
    return r.to_pylist()


def balanced(enc) -> dict:
    s = enc.stats()
    assert s["inputs"] == s["accepted"] + s["rejected"], s
    return s


def outcome1(enc):
    """("ok", row) for one accepted input, or (reason, path, message)."""
    balanced(enc)
    acc, rej = rows(enc), rejected(enc)
    assert len(acc) + len(rej) == 1, (acc, rej)
    if acc:
        return ("ok", acc[0])
    return (rej[0]["reason"], rej[0]["path"], rej[0]["message"])


def one(t, value_json: bytes, nullable=True, unknown="ignore", **kw):
    """Encode {"x": <value_json>} for a column x of type t."""
    enc = make([Field("x", t, nullable)], unknown, **kw)
    tail = enc.extend_ndjson(b'{"x": ' + value_json + b"}\n")
    assert tail == b""
    r = outcome1(enc)
    return ("ok", r[1]["x"]) if r[0] == "ok" else r[:2]


def one_py(t, value, nullable=True, **kw):
    enc = make([Field("x", t, nullable)], **kw)
    enc.append({"x": value})
    r = outcome1(enc)
    return ("ok", r[1]["x"]) if r[0] == "ok" else r[:2]


def line_outcome(fields, line: bytes, unknown="ignore", **kw):
    enc = make(fields, unknown, **kw)
    enc.extend_ndjson(line + b"\n")
    return outcome1(enc)


def same_float(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


# =============================================================================
# The compiled core is what is tested
# =============================================================================

def test_compiled_core_is_in_use():
    core = eventbatch.encoder._core
    assert core.__file__.endswith(".so"), core.__file__
    assert core.CoreEncoder in Encoder.__mro__
    assert isinstance(make([("a", "int8")]), core.CoreEncoder)


# =============================================================================
# Misuse raises (bad data never does)
# =============================================================================

@pytest.mark.parametrize("bad", [None, "a: int8", {"fields": []}, [Field("a", "int8")], 42, pa.int8()])
def test_wrong_schema_type_raises_schema_error(bad):
    with pytest.raises(SchemaError) as info:
        Encoder(bad)
    assert isinstance(info.value, ValueError)


def test_pyarrow_schema_is_accepted():
    enc = Encoder(pa.schema([("a", pa.int8())]))
    enc.extend_ndjson(b'{"a": 1}\n')
    assert rows(enc) == [{"a": 1}]


@pytest.mark.parametrize("md", [0, -1, 4097, 10 ** 9, 1.5, "8", None])
def test_max_depth_out_of_range_raises_value_error(md):
    with pytest.raises(ValueError):
        make([("a", "int8")], max_depth=md)


@pytest.mark.parametrize("md", [1, 4096])
def test_max_depth_limits_accepted(md):
    make([("a", "int8")], max_depth=md)


@pytest.mark.parametrize("mlb", [0, -1, 1.5, "10"])
def test_max_line_bytes_out_of_range_raises_value_error(mlb):
    with pytest.raises(ValueError):
        make([("a", "int8")], max_line_bytes=mlb)


@pytest.mark.parametrize("call", [
    lambda e: e.extend_ndjson("not bytes"),
    lambda e: e.append_json("not bytes"),
    lambda e: e.extend_ndjson(12),
    lambda e: e.extend(5),
])
def test_wrong_argument_type_raises_and_changes_nothing(call):
    enc = make([("a", "int8")])
    with pytest.raises((TypeError, ValueError)):
        call(enc)
    s = balanced(enc)
    assert s["inputs"] == 0
    enc.extend_ndjson(b'{"a":1}\n')          # still usable
    assert rows(enc) == [{"a": 1}]


# =============================================================================
# Inputs: BOM, CRLF, blank lines, final line, tail
# =============================================================================

def test_bom_at_line_start_is_removed_on_every_line():
    enc = make([("a", "int8")])
    enc.extend_ndjson(BOM + b'{"a":1}\n' + BOM + b'{"a":2}\n' + BOM + b'{"a":300}\n', final=True)
    assert rows(enc) == [{"a": 1}, {"a": 2}]
    rej = rejected(enc)
    assert [(r["reason"], r["raw"], r["offset"], r["line"]) for r in rej] == \
        [("out_of_range", b'{"a":300}', 22, 3)]           # raw without the BOM, offset of the BOM


@pytest.mark.parametrize("line", [BOM + BOM + b'{"a":1}', b" " + BOM + b'{"a":1}', b'{"a":1}' + BOM,
                                  b'{"a":' + BOM + b"1}"])
def test_bom_elsewhere_is_invalid_json(line):
    r = line_outcome([("a", "int8")], line)
    assert r[:2] == ("invalid_json", "$"), r


def test_crlf_one_trailing_cr_removed():
    enc = make([("a", "int8")])
    enc.extend_ndjson(b'{"a":1}\r\n{"a":1000}\r\n{"a":2}\r\r\n{"a":1000}\r\r\n', final=True)
    assert rows(enc) == [{"a": 1}, {"a": 2}]        # "\r\r": one removed, one is whitespace
    assert [r["raw"] for r in rejected(enc)] == [b'{"a":1000}', b'{"a":1000}\r']


@pytest.mark.parametrize("blank", [b"", b" ", b"\t", b"\r", b" \t\r ", b"\r\r", BOM, BOM + b" \t", BOM + b"\r"])
def test_blank_lines_are_counted_not_inputs(blank):
    enc = make([("a", "int8")])
    enc.extend_ndjson(blank + b'\n{"a":"x"}\n' + blank + b"\n", final=True)
    s = balanced(enc)
    assert (s["inputs"], s["blank_lines"]) == (1, 2)
    rej = rejected(enc)
    assert [(r["line"], r["offset"]) for r in rej] == [(2, len(blank) + 1)]


@pytest.mark.parametrize("notblank", [b"\x0c", b"\x0b", b"\xc2\xa0", b"\x00"])
def test_other_whitespace_is_not_blank(notblank):
    enc = make([("a", "int8")])
    enc.extend_ndjson(notblank + b"\n")
    s = balanced(enc)
    assert (s["inputs"], s["rejected"], s["blank_lines"]) == (1, 1, 0)
    assert rejected(enc)[0]["reason"] == "invalid_json"


def test_final_line_without_newline():
    enc = make([("a", "int8")])
    assert enc.extend_ndjson(b'{"a":1}\n{"a":2}', final=True) == b""
    assert rows(enc) == [{"a": 1}, {"a": 2}]
    assert balanced(enc)["inputs"] == 2


def test_final_blank_tail_is_blank():
    enc = make([("a", "int8")])
    assert enc.extend_ndjson(b'{"a":1}\n  ', final=True) == b""
    s = balanced(enc)
    assert (s["inputs"], s["blank_lines"]) == (1, 1)


def test_without_final_the_tail_is_returned_and_not_parsed():
    enc = make([("a", "int8")])
    assert enc.extend_ndjson(b'{"a":1}\n{"a":2}') == b'{"a":2}'
    assert balanced(enc)["inputs"] == 1
    assert enc.extend_ndjson(b'{"a":2}' + b"\n") == b""
    assert rows(enc) == [{"a": 1}, {"a": 2}]
    assert enc.extend_ndjson(b"no newline at all") == b"no newline at all"
    assert enc.extend_ndjson(b"") == b""
    assert balanced(enc)["inputs"] == 2


def test_tail_carried_over_gives_whole_block_result(rng):
    schema = S.gen_schema(rng)
    for _ in range(30):
        block = S.gen_block(rng, schema, S.Cfg(), max_lines=8)
        whole = Encoder(schema)
        whole.extend_ndjson(block, final=True)
        for _ in range(3):
            split = Encoder(schema)
            S.feed_ndjson(split, S.gen_splits(rng, block, 8), final=True)
            S.assert_same_outcome(S.outcome(split), S.outcome(whole), f"block={block!r}", messages=True)
            whole = Encoder(schema)
            whole.extend_ndjson(block, final=True)


def test_line_numbers_and_offsets_across_calls():
    enc = make([("a", "int8")])
    block1 = b'{"a":1}\n' + b"\n" + b'{"a":"x"}\r\n' + b"  \n" + BOM + b'{"a":"y"}\n' + b'{"a":'
    t = enc.extend_ndjson(block1)
    assert t == b'{"a":'
    t = enc.extend_ndjson(t + b'"z"}\n{"a":2}', source="second")
    assert t == b'{"a":2}'
    t = enc.extend_ndjson(t + b'\n{"a":"w"}', final=True)
    assert t == b""
    assert rows(enc) == [{"a": 1}, {"a": 2}]
    got = [(r["line"], r["offset"], r["raw"], r["source"]) for r in rejected(enc)]
    assert got == [
        (3, 9, b'{"a":"x"}', "<ndjson>"),
        (5, 23, b'{"a":"y"}', "<ndjson>"),
        (6, 36, b'{"a":"z"}', "second"),
        (8, 54, b'{"a":"w"}', "<ndjson>"),
    ]
    s = balanced(enc)
    assert (s["inputs"], s["accepted"], s["rejected"], s["blank_lines"]) == (6, 2, 4, 2)


def test_line_numbers_count_newlines_only_after_a_final_call():
    # "count every \n seen": a final line without \n does not advance the count
    enc = make([("a", "int8")])
    enc.extend_ndjson(b'{"a":"p"}', final=True)
    enc.extend_ndjson(b'{"a":"q"}\n{"a":"r"}\n')
    got = [(r["line"], r["offset"]) for r in rejected(enc)]
    assert got == [(1, 0), (1, 9), (2, 19)]


def test_append_json_newlines_are_whitespace_and_source():
    enc = make([("a", "int8"), ("b", "string")])
    enc.append_json(b'{\n  "a": 1,\n  "b": "x"\n}\n')
    enc.append_json(b'{"a":\n 1000}')
    enc.append_json(BOM + b'{"a":2}')
    assert rows(enc) == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    rej = rejected(enc)
    assert [(r["reason"], r["source"], r["line"], r["offset"], r["raw"]) for r in rej] == \
        [("out_of_range", "<json>", None, 0, b'{"a":\n 1000}')]


def test_append_json_trailing_cr_removed_like_a_one_line_block():
    enc = make([("a", "int8")])
    enc.append_json(b'{"a":1000}\r')
    assert [r["raw"] for r in rejected(enc)] == [b'{"a":1000}']


def test_append_json_length_is_after_cr_and_bom_removal():
    enc = make([("a", "int8")], max_line_bytes=7)
    enc.append_json(BOM + b'{"a":1}\r')
    assert rows(enc) == [{"a": 1}]


@pytest.mark.parametrize("doc", [b"", b" ", b"\n", b"\r\n\t ", BOM])
def test_append_json_blank_document_is_blank(doc):
    enc = make([("a", "int8")])
    enc.append_json(doc)
    s = balanced(enc)
    assert (s["inputs"], s["blank_lines"]) == (0, 1)


# =============================================================================
# max_line_bytes
# =============================================================================

def test_line_at_max_accepted_and_one_more_rejected():
    enc = make([("a", "int32")], max_line_bytes=10)
    ok = b'{"a":1234}'
    assert len(ok) == 10
    enc.extend_ndjson(ok + b"\n" + BOM + ok + b"\r\n" + b'{"a":12345}\n' + ok + b" \n", final=True)
    assert rows(enc) == [{"a": 1234}, {"a": 1234}]
    rej = rejected(enc)
    assert [(r["reason"], r["line"], r["raw"]) for r in rej] == \
        [("line_too_long", 3, b'{"a":12345}'), ("line_too_long", 4, ok + b" ")]
    assert all(r["path"] == "$" for r in rej)


def test_line_too_long_wins_over_invalid_json_and_raw_is_cut_to_4096():
    enc = make([("a", "string")], max_line_bytes=5000)
    line = b'{"a":"' + b"\xff" * 100 + b"x" * 6000 + b'"'       # invalid and too long
    enc.extend_ndjson(line + b"\n")
    rej = rejected(enc)
    assert [(r["reason"], r["line"], r["offset"]) for r in rej] == [("line_too_long", 1, 0)]
    assert rej[0]["raw"] == line[:4096]


def test_long_line_over_several_blocks_rejected_once_never_buffered():
    max_line = 100
    enc = make([("a", "string")], max_line_bytes=max_line)
    line = b'{"a":"' + bytes(range(0x41, 0x5b)) * 400 + b'"}'   # 10408 bytes
    block = line + b'\n{"a":"ok"}\n'
    tail = b""
    for i in range(0, len(block), 64):
        tail = enc.extend_ndjson(tail + block[i:i + 64])
        assert len(tail) <= max_line + 4, len(tail)           # + a BOM and a CR still to be removed
        balanced(enc)
    assert enc.extend_ndjson(tail, final=True) == b""
    assert rows(enc) == [{"a": "ok"}]
    rej = rejected(enc)
    assert len(rej) == 1
    r = rej[0]
    assert (r["reason"], r["line"], r["offset"], r["path"]) == ("line_too_long", 1, 0, "$")
    assert r["raw"] == line[:4096]
    assert str(len(line)) in r["message"]
    s = balanced(enc)
    assert (s["inputs"], s["rejected"]) == (2, 1)


def test_long_line_over_blocks_then_offsets_of_next_lines():
    enc = make([("a", "int8")], max_line_bytes=20)
    line = b'{"a":' + b" " * 100 + b"1}"
    tail = enc.extend_ndjson(line[:50])
    tail = enc.extend_ndjson(tail + line[50:] + b'\n{"a":"x"}\n')
    assert tail == b""
    rej = rejected(enc)
    assert [(r["reason"], r["line"], r["offset"]) for r in rej] == \
        [("line_too_long", 1, 0), ("type_mismatch", 2, len(line) + 1)]
    assert rej[0]["raw"] == line


def test_long_blank_line_is_blank():
    enc = make([("a", "int8")], max_line_bytes=8)
    tail = enc.extend_ndjson(b" " * 50)
    enc.extend_ndjson(tail + b" " * 50 + b"\n" + b"\t" * 30 + b"\n", final=True)
    s = balanced(enc)
    assert (s["inputs"], s["blank_lines"]) == (0, 2)


def test_append_json_too_long():
    enc = make([("a", "string")], max_line_bytes=10)
    doc = b'{"a":"' + b"y" * 5000 + b'"}'
    enc.append_json(doc)
    rej = rejected(enc)
    assert [(r["reason"], r["source"], r["raw"]) for r in rej] == [("line_too_long", "<json>", doc[:4096])]


# =============================================================================
# max_depth
# =============================================================================

@pytest.mark.parametrize("md", [1, 2, 3, 7])
@pytest.mark.parametrize("kind", ["object", "array", "json", "unknown", "unknown_extra"])
def test_max_depth_exactly_at_and_over_the_limit(md, kind):
    """The event is depth 1; every opened array/object adds one."""
    def nest(n):                      # a value with n levels of containers
        v = b"1"
        for i in range(n):
            v = (b"[" + v + b"]") if (kind == "array" or (kind != "object" and i % 2)) else (b'{"k":' + v + b"}")
        return v

    if kind in ("object", "array", "json"):
        field = Field("x", "json")
        key = b"x"
    else:
        field = Field("a", "int8")
        key = b"zz"
    unknown = "extra" if kind == "unknown_extra" else "ignore"
    for levels, ok in ((md - 1, True), (md, False)):
        line = b'{"' + key + b'":' + nest(levels) + b"}"
        r = line_outcome([field], line, unknown, max_depth=md)
        if ok:
            assert r[0] == "ok", (line, r)
        else:
            assert r[:2] == ("too_deep", "$"), (line, r)
            assert "byte" in r[2]


def test_max_depth_one_accepts_flat_objects_only():
    assert line_outcome([("a", "int8")], b'{"a":1}', max_depth=1)[0] == "ok"
    assert line_outcome([("a", "int8")], b'{}', max_depth=1)[0] == "ok"
    assert line_outcome([("a", "int8")], b'{"b":[]}', max_depth=1)[:2] == ("too_deep", "$")
    assert line_outcome([("a", "int8")], b'[]', max_depth=1)[:2] == ("not_an_object", "$")
    assert line_outcome([("a", "int8")], b'[[]]', max_depth=1)[:2] == ("too_deep", "$")   # scan before shape


def test_max_depth_4096_deep_line():
    enc = make([("x", "json")], max_depth=4096)
    ok = b'{"x":' + b"[" * 4095 + b"]" * 4095 + b"}"
    bad = b'{"x":' + b"[" * 4096 + b"]" * 4096 + b"}"
    huge = b'{"x":' + b"[" * 200000
    enc.extend_ndjson(ok + b"\n" + bad + b"\n" + huge + b"\n")
    acc = rows(enc)
    assert len(acc) == 1 and acc[0]["x"] == "[" * 4095 + "]" * 4095
    assert [r["reason"] for r in rejected(enc)] == ["too_deep", "too_deep"]


def test_too_deep_reported_at_the_first_problem_in_text_order():
    f = [Field("x", "json")]
    assert line_outcome(f, b'{"x":[[[1]]],"y":01}', max_depth=3)[0] == "too_deep"
    assert line_outcome(f, b'{"y":01,"x":[[[1]]]}', max_depth=3)[0] == "invalid_json"
    assert line_outcome(f, b'{"x":[[[01]]]}', max_depth=3)[0] == "too_deep"
    assert line_outcome(f, b'{"y":"\xff","x":[[[1]]]}', max_depth=3)[0] == "invalid_utf8"
    assert line_outcome(f, b'{"x":[[[1]]],"y":"\xff"}', max_depth=3)[0] == "too_deep"


def test_dict_max_depth_at_and_over():
    enc = make([("x", "json"), ("l", DataType.list_(DataType.list_("int8")))], max_depth=3)
    enc.append({"x": [[1]]})                       # list depth 2, inner 3
    enc.append({"l": [[1]]})
    enc.append({"x": {"a": {"b": 1}}})
    enc.append({"x": [[[1]]]})
    enc.append({"x": {"a": {"b": {}}}})
    enc.append({"x": [{"a": []}]})
    assert len(rows(enc)) == 3
    assert [r["reason"] for r in rejected(enc)] == ["too_deep"] * 3


def test_dict_deeper_than_max_depth_is_too_deep_not_a_type_error():
    # the nesting rule applies to the value found, before its type is checked
    # (as on the JSON path, where the scan rejects it first)
    r = one_py(DataType.struct([Field("b", "int8")]), [], max_depth=1)
    assert r == ("too_deep", "$.x")


def test_dict_nested_very_deep_does_not_crash():
    v: list = []
    for _ in range(100000):
        v = [v]
    enc = make([("x", "json")], max_depth=4096)
    enc.append({"x": v})
    assert [r["reason"] for r in rejected(enc)] == ["too_deep"]


# =============================================================================
# Scan errors: first problem in text order
# =============================================================================

INVALID_JSON_LINES = [
    b'{"a":01}', b'{"a":-01}', b'{"a":00}', b'{"a":-}', b'{"a":1.}', b'{"a":.5}', b'{"a":1e}',
    b'{"a":1e+}', b'{"a":+1}', b'{"a":NaN}', b'{"a":Infinity}', b'{"a":-Infinity}', b'{"a":tru}',
    b'{"a":True}', b'{"a":nul}', b'{"a" 1}', b'{"a":1 "b":2}', b'{"a":1', b'{"a":"x', b'{"a":1}}',
    b'{"a":1} x', b'{"a":1}{}', b'{"a":"\\x"}', b'{"a":"\\u12"}', b'{"a":"\\u12G4"}', b'{"a":"\\U0001F600"}',
    b'{"a":"\\ud800"}', b'{"a":"\\udc00"}', b'{"a":"\\ud800\\u0041"}', b'{"a":"\\udc00\\ud800"}',
    b'{"a":"\\ud800x"}', b'{"a":"\\udbff\\udbff"}', b'{"a":"\x01"}', b'{"a":"\t"}', b'{"a":"\x1f"}',
    b"{'a':1}", b'{"a":1,}', b'{"a":[1,]}', b'{,}', b'{"a"}', b'{1:2}', b'{"a":1e5.5}', b'{"a":--1}',
    b'{"a":0x10}', b'{"\\ud800":1}', b'{"a":"\\', b'{"a":\'x\'}',
    # a well-formed but unexpected character outside a string is INVALID_JSON
    b'{"a":1}\xc3\xa9', b'{\xc3\xa9:1}',
]


@pytest.mark.parametrize("line", INVALID_JSON_LINES)
def test_invalid_json(line):
    r = line_outcome([("a", "json")], line)
    assert r[:2] == ("invalid_json", "$"), r
    assert "byte" in r[2], r


INVALID_UTF8_LINES = [
    # a byte that starts no valid UTF-8 sequence is INVALID_UTF8 wherever the scan stops at it
    b'{"a":\xff}', b"\xff", b'{"a":1} \xff', b'{"a":1,\x80}', b"\xef\xbb", b'{"a":\xc0\x80}',
    b'{"a":"\xff"}', b'{"a":"\x80"}', b'{"a":"\xc0\x80"}', b'{"a":"\xc1\xbf"}', b'{"a":"\xc3"}',
    b'{"a":"\xc3("}', b'{"a":"\xe2\x82"}', b'{"a":"\xed\xa0\x80"}', b'{"a":"\xed\xbf\xbf"}',
    b'{"a":"\xf0\x8f\xbf\xbf"}', b'{"a":"\xf4\x90\x80\x80"}', b'{"a":"\xf5\x80\x80\x80"}',
    b'{"\xff":1}', b'{"a":["ok","\xfe"]}', b'{"a":"\xff\x01"}', b'{"a":"x","b":"\xff","c":01}',
]


@pytest.mark.parametrize("line", INVALID_UTF8_LINES)
def test_invalid_utf8_inside_strings(line):
    r = line_outcome([("a", "json")], line)
    assert r[:2] == ("invalid_utf8", "$"), r
    assert "byte" in r[2], r


@pytest.mark.parametrize("line,reason", [
    (b'{"a":"\x01\xff"}', "invalid_json"),
    (b'{"a":01,"b":"\xff"}', "invalid_json"),
    (b'{"b":"\xff","a":01}', "invalid_utf8"),
    (b'{"a":"wrong type","b":01}', "invalid_json"),     # the scan of the whole line comes first
])
def test_first_problem_in_text_order(line, reason):
    r = line_outcome([("a", "int8")], line)
    assert r[0] == reason, r


def test_scan_message_names_byte_position():
    r = line_outcome([("a", "int8")], b'{"a":1} x')
    assert r[0] == "invalid_json" and "byte 8" in r[2], r


VALID_STRINGS = [
    (b'"\\u00e9"', "é"), (b'"\\u00E9"', "é"), (b'"\\ud83d\\ude00"', "😀"), (b'"\\uD83D\\uDE00"', "😀"),
    (b'"\\/"', "/"), (b'"\\b\\f\\n\\r\\t\\"\\\\"', '\b\f\n\r\t"\\'), (b'"\xf0\x9f\x98\x80"', "😀"),
    (b'"\xf4\x8f\xbf\xbf"', "\U0010ffff"), (b'"\\udbff\\udfff"', "\U0010ffff"), (b'"\\u0000"', "\x00"),
    (b'"\xe2\x80\xa8\x7f"', "\u2028\x7f"), (b'""', ""), (b'"\xef\xbb\xbf"', "\ufeff"),
]


@pytest.mark.parametrize("lit,value", VALID_STRINGS)
def test_string_decoding(lit, value):
    assert one("string", lit) == ("ok", value)


@pytest.mark.parametrize("line,got", [(b"[]", "array"), (b"[{}]", "array"), (b"1", "int"), (b'"x"', "string"),
                                      (b"null", "null"), (b"true", "bool"), (b"  3.5  ", "float")])
def test_not_an_object(line, got):
    r = line_outcome([("a", "int8")], line)
    assert r == ("not_an_object", "$", f"expected `object`, got `{got}` at `$`"), r


# =============================================================================
# Type conversions
# =============================================================================

def test_bool():
    assert one("bool", b"true") == ("ok", True)
    assert one("bool", b"false") == ("ok", False)
    for lit in (b"1", b"0", b'"true"', b"[]", b"{}", b"1.0"):
        assert one("bool", lit) == ("type_mismatch", "$.x"), lit


INT_CASES = []
for _k, (_lo, _hi) in INT_RANGES.items():
    INT_CASES += [
        (_k, str(_lo).encode(), ("ok", _lo)), (_k, str(_hi).encode(), ("ok", _hi)),
        (_k, str(_lo - 1).encode(), ("out_of_range", "$.x")), (_k, str(_hi + 1).encode(), ("out_of_range", "$.x")),
        (_k, b"-0", ("ok", 0)), (_k, b"0", ("ok", 0)),
        (_k, b"1.0", ("type_mismatch", "$.x")), (_k, b"1e2", ("type_mismatch", "$.x")),
        (_k, b"-0.0", ("type_mismatch", "$.x")), (_k, b"0E0", ("type_mismatch", "$.x")),
        (_k, b"1" + b"0" * 30, ("out_of_range", "$.x")), (_k, b"-" + b"9" * 400, ("out_of_range", "$.x")),
        (_k, b'"1"', ("type_mismatch", "$.x")), (_k, b"true", ("type_mismatch", "$.x")),
        (_k, b"[1]", ("type_mismatch", "$.x")),
    ]


@pytest.mark.parametrize("kind,lit,expected", INT_CASES)
def test_integer_columns(kind, lit, expected):
    assert one(kind, lit) == expected


FLOAT64_CASES = [
    (b"1", 1.0), (b"-0", -0.0), (b"-0.0", -0.0), (b"0e5", 0.0), (b"-0E-2", -0.0), (b"1.5E3", 1500.0),
    (b"1e-2", 0.01), (b"0.1", 0.1), (b"9007199254740993", 9007199254740992.0),
    (b"9007199254740995", 9007199254740996.0),
    (b"123456789012345678901234567890", 1.2345678901234568e29),
    (b"1.7976931348623157e308", 1.7976931348623157e308), (b"1.7976931348623158e308", 1.7976931348623157e308),
    (b"4.9e-324", 5e-324), (b"2.4703282292062328e-324", 5e-324), (b"2.4703282292062327e-324", 0.0),
    (b"1e-400", 0.0), (b"-1e-400", -0.0), (b"1e0000000000000000001", 10.0),
    (b"0." + b"0" * 50 + b"1e50", 0.1), (b"1" + b"0" * 40 + b".5e-30", 1e10),
    (b"2.2250738585072011e-308", 2.225073858507201e-308),
]


@pytest.mark.parametrize("lit,value", FLOAT64_CASES)
def test_float64_correctly_rounded(lit, value):
    r = one("float64", lit)
    assert r[0] == "ok" and same_float(r[1], value), (lit, r, value)


FLOAT32_CASES = [
    (b"1", 1.0), (b"-0", -0.0), (b"0.1", 0.10000000149011612), (b"3.4028234663852886e38", FLT_MAX),
    (b"3.4028235e38", FLT_MAX), (b"3.4028235677973366e38", FLT_MAX),      # just below the halfway point
    (b"1.000000059604644775390625", 1.0),                                  # exact tie -> even
    (b"1.000000059604644775390625001", 1.0000001192092896),                # above the tie (double rounding gets 1.0)
    (b"1.4e-45", 1.401298464324817e-45), (b"7.006492321624085354618647916449580656401e-46", 0.0),
    (b"7.0064923216240854e-46", 1.401298464324817e-45), (b"1e-46", 0.0), (b"-1e-46", -0.0),
    (b"16777217", 16777216.0), (b"16777219", 16777220.0), (b"1.17549435e-38", 1.1754943508222875e-38),
]


@pytest.mark.parametrize("lit,value", FLOAT32_CASES)
def test_float32_correctly_rounded(lit, value):
    r = one("float32", lit)
    assert r[0] == "ok" and same_float(r[1], value), (lit, r, value)


@pytest.mark.parametrize("kind,lit", [
    ("float64", b"1e309"), ("float64", b"-1e309"), ("float64", b"1.7976931348623159e308"),
    ("float64", b"1" + b"0" * 400), ("float64", b"1e99999999999999999999"),
    ("float32", b"3.40282356779733661637539395458142568448e38"),   # exact halfway to 2**128: ties to even = inf
    ("float32", b"3.4028235677973367e38"), ("float32", b"1e39"), ("float32", b"-1e39"),
    ("float32", b"340282366920938463463374607431768211456"),
])
def test_float_rounding_to_infinity_is_out_of_range(kind, lit):
    assert one(kind, lit) == ("out_of_range", "$.x")


@pytest.mark.parametrize("kind", ["float32", "float64"])
def test_float_type_mismatch(kind):
    for lit in (b'"1.5"', b"true", b"[]", b"{}"):
        assert one(kind, lit) == ("type_mismatch", "$.x")


def test_string_type_mismatch():
    for lit in (b"1", b"true", b"[]", b"{}", b"1.5"):
        assert one("string", lit) == ("type_mismatch", "$.x")


@pytest.mark.parametrize("text,value", [
    ("", b""), ("AA==", b"\x00"), ("QQ==", b"A"), ("QR==", b"A"), ("AB==", b"\x00"), ("QUI=", b"AB"),
    ("QUJ=", b"AB"), ("QUJD", b"ABC"), ("+/+/", b"\xfb\xff\xbf"),
    (base64.b64encode(bytes(range(256))).decode(), bytes(range(256))),
])
def test_binary_base64_valid(text, value):
    assert one("binary", json.dumps(text).encode()) == ("ok", value)


@pytest.mark.parametrize("text", ["QUJ", "QUJD=", "A===", "====", "QQ=A", "-_8=", "QU JD", "QUJD\n",
                                  " QUJD", "QUJD ", "Q===", "é===", "QUJD\x00", "=QUJ"])
def test_binary_base64_invalid(text):
    assert one("binary", json.dumps(text).encode()) == ("invalid_value", "$.x")


def test_binary_type_mismatch():
    assert one("binary", b"1") == ("type_mismatch", "$.x")
    assert one("binary", b"[]") == ("type_mismatch", "$.x")


TS_OK = [
    ("ms", b"0", 0), ("ms", b"-1", -1), ("ms", str(INT64_MAX).encode(), INT64_MAX),
    ("ms", str(INT64_MIN).encode(), INT64_MIN), ("ns", b"-0", 0),
    ("ms", b'"1970-01-01T00:00:00Z"', 0), ("ms", b'"1970-01-01t00:00:00z"', 0),
    ("ms", b'"1970-01-01 00:00:00"', 0), ("ms", b'"1970-01-01T00:00:00.001Z"', 1),
    ("ms", b'"1970-01-01T00:00:00.0010Z"', 1), ("ms", b'"1970-01-01T00:00:00.001000000Z"', 1),
    ("s", b'"1970-01-01T00:00:01.000Z"', 1), ("us", b'"1970-01-01T00:00:00.000001"', 1),
    ("ns", b'"1970-01-01T00:00:00.123456789Z"', 123456789), ("ns", b'"1970-01-01T00:00:00.5Z"', 500000000),
    ("ms", b'"1970-01-01T01:00:00+01:00"', 0), ("ms", b'"1969-12-31T23:00:00-01:00"', 0),
    ("s", b'"1970-01-02T00:00:00+23:59"', 60), ("s", b'"1970-01-01T00:00:00-00:00"', 0),
    ("s", b'"2024-02-29T00:00:00Z"', 1709164800), ("s", b'"2000-02-29T12:00:00Z"', 951825600),
    ("s", b'"0000-01-01T00:00:00Z"', -62167219200), ("s", b'"9999-12-31T23:59:59Z"', 253402300799),
    ("ms", b'"9999-12-31T23:59:59.999Z"', 253402300799999),
    ("s", b'"1970-01-01T00:00:00\\u005a"', 0), ("s", b'"1970\\u002d01-01T00:00:00Z"', 0),
    ("ns", b'"2262-04-11T23:47:16.854775807Z"', INT64_MAX),
    ("ns", b'"1677-09-21T00:12:43.145224192Z"', INT64_MIN),
    ("ns", b'"1677-09-21T00:12:43.2Z"', -9223372036800000000),
    ("ns", b'"1677-09-21T00:12:44Z"', -9223372036000000000),
    ("s", b'"9999-12-31T23:59:59-00:01"', 253402300859),
]


@pytest.mark.parametrize("unit,lit,value", TS_OK)
@pytest.mark.parametrize("tz", [None, "UTC", "+05:30"])
def test_timestamp_accepted(unit, lit, value, tz):
    assert one(DataType.timestamp(unit, tz), lit) == ("ok", value)


TS_BAD = [
    ("ms", str(INT64_MAX + 1).encode(), "out_of_range"), ("ms", str(INT64_MIN - 1).encode(), "out_of_range"),
    ("ms", b"1" + b"0" * 30, "out_of_range"),
    ("ms", b"1.5", "type_mismatch"), ("ms", b"1e3", "type_mismatch"), ("ms", b"1.0", "type_mismatch"),
    ("ms", b"true", "type_mismatch"), ("ms", b"[]", "type_mismatch"), ("ms", b"{}", "type_mismatch"),
    ("ms", b'"1970-01-01T00:00:00.0001Z"', "invalid_value"), ("s", b'"1970-01-01T00:00:00.5Z"', "invalid_value"),
    ("ns", b'"1970-01-01T00:00:00.1234567890Z"', "invalid_value"), ("ms", b'"1970-01-01T00:00:00.Z"', "invalid_value"),
    ("ms", b'"1970-01-01T00:00:00,5Z"', "invalid_value"), ("ms", b'"1970-01-01T00:00:60Z"', "invalid_value"),
    ("ms", b'"1970-01-01T24:00:00Z"', "invalid_value"), ("ms", b'"1970-01-01T23:60:00Z"', "invalid_value"),
    ("ms", b'"2023-02-29T00:00:00Z"', "invalid_value"), ("ms", b'"1900-02-29T00:00:00Z"', "invalid_value"),
    ("ms", b'"2020-04-31T00:00:00Z"', "invalid_value"), ("ms", b'"2020-13-01T00:00:00Z"', "invalid_value"),
    ("ms", b'"2020-00-01T00:00:00Z"', "invalid_value"), ("ms", b'"2020-01-00T00:00:00Z"', "invalid_value"),
    ("ms", b'"2020-01-01T00:00:00+24:00"', "invalid_value"), ("ms", b'"2020-01-01T00:00:00+05:60"', "invalid_value"),
    ("ms", b'"2020-01-01T00:00:00+0530"', "invalid_value"), ("ms", b'"2020-01-01T00:00:00+05"', "invalid_value"),
    ("ms", b'"2020-01-01"', "invalid_value"), ("ms", b'"2020-01-01T00:00"', "invalid_value"),
    ("ms", b'" 2020-01-01T00:00:00"', "invalid_value"), ("ms", b'"2020-01-01T00:00:00Z "', "invalid_value"),
    ("ms", b'"2020-01-01T00:00:00Z\\n"', "invalid_value"), ("ms", b'"2020-1-01T00:00:00"', "invalid_value"),
    ("ms", b'"20200101T000000Z"', "invalid_value"), ("ms", b'"2020-01-01x00:00:00"', "invalid_value"),
    ("ms", b'"\xef\xbc\x92020-01-01T00:00:00"', "invalid_value"), ("ms", b'""', "invalid_value"),
    ("ms", b'"now"', "invalid_value"), ("ms", b'"+2020-01-01T00:00:00"', "invalid_value"),
    ("ms", b'"10000-01-01T00:00:00"', "invalid_value"), ("ms", b'"2020-01-01T00:00:00UTC"', "invalid_value"),
    ("ns", b'"2262-04-11T23:47:16.854775808Z"', "out_of_range"),
    ("ns", b'"1677-09-21T00:12:43.145224191Z"', "out_of_range"),
    ("ns", b'"0000-01-01T00:00:00Z"', "out_of_range"), ("ns", b'"9999-12-31T23:59:59Z"', "out_of_range"),
]


@pytest.mark.parametrize("unit,lit,reason", TS_BAD)
def test_timestamp_rejected(unit, lit, reason):
    assert one(DataType.timestamp(unit), lit) == (reason, "$.x")


@pytest.mark.parametrize("lit,value", [
    (b"0", 0), (b"-1", -1), (str(INT32_MAX).encode(), INT32_MAX), (str(INT32_MIN).encode(), INT32_MIN),
    (b'"1970-01-01"', 0), (b'"1969-12-31"', -1), (b'"0000-01-01"', -719528), (b'"9999-12-31"', 2932896),
    (b'"2024-02-29"', 19782), (b'"2000-02-29"', 11016),
])
def test_date32_accepted(lit, value):
    assert one("date32", lit) == ("ok", value)


@pytest.mark.parametrize("lit,reason", [
    (str(INT32_MAX + 1).encode(), "out_of_range"), (str(INT32_MIN - 1).encode(), "out_of_range"),
    (b"1" + b"0" * 25, "out_of_range"),
    (b'"2023-02-29"', "invalid_value"), (b'"1900-02-29"', "invalid_value"), (b'"2020-13-01"', "invalid_value"),
    (b'"2020-01-32"', "invalid_value"), (b'"2020-01-00"', "invalid_value"), (b'"2020-1-1"', "invalid_value"),
    (b'"20200101"', "invalid_value"), (b'"2020-01-01T00:00:00"', "invalid_value"), (b'"2020-01-01 "', "invalid_value"),
    (b'"-001-01-01"', "invalid_value"), (b'"10000-01-01"', "invalid_value"), (b'""', "invalid_value"),
    (b"true", "type_mismatch"), (b"[]", "type_mismatch"), (b"{}", "type_mismatch"),
])
def test_date32_rejected(lit, reason):
    assert one("date32", lit) == (reason, "$.x")


@pytest.mark.parametrize("t", ["bool", "int8", "uint64", "float32", "string", "binary", "date32", "json",
                               "timestamp[ns, tz=UTC]", {"type": "list", "item": "int8"},
                               {"type": "struct", "fields": [{"name": "a", "type": "int8"}]}])
def test_null_is_null_if_nullable_else_missing_required(t):
    assert one(DataType.parse(t), b"null") == ("ok", None)
    assert one(DataType.parse(t), b"null", nullable=False) == ("missing_required", "$.x")


# -- json columns: compact JSON text ---------------------------------------------

@pytest.mark.parametrize("lit,text", [
    (b'{ "a" : [ 1 , 2.50 , -0 , 1E5 , true , null , "x" ] , "a" : { } }',
     '{"a":[1,2.50,-0,1E5,true,null,"x"],"a":{}}'),
    (b'"x"', '"x"'), (b"1.0e+5", "1.0e+5"), (b"-0", "-0"), (b"true", "true"), (b"[ ]", "[]"),
    (b"123456789012345678901234567890", "123456789012345678901234567890"),
    (b'"\\u0041\\/\\u00e9\\ud83d\\ude00\\u007f\\u2028"', '"A/é😀\x7f\u2028"'),
    (b'"\\u0000\\u001F\\u000b\\b\\f\\n\\r\\t\\"\\\\"', '"\\u0000\\u001f\\u000b\\b\\f\\n\\r\\t\\"\\\\"'),
    (b'{"k\\u00e9\\"":"\xc3\xa9"}', '{"ké\\"":"é"}'),
    (b'[{"z":1,"a":2,"z":3}]', '[{"z":1,"a":2,"z":3}]'),
])
def test_json_column_compact_text(lit, text):
    assert one("json", lit) == ("ok", text)


def test_json_column_type_and_metadata():
    enc = make([("j", "json")])
    enc.extend_ndjson(b'{"j":{"a":1}}\n')
    b = enc.flush()
    f = b.schema.field("j")
    assert f.type == pa.string() and f.metadata == {b"eventbatch.type": b"json"}


# -- struct and list -------------------------------------------------------------------

STRUCT = DataType.struct([Field("a", "int8", nullable=False), Field("b", "string")])


def test_struct_ok_absent_and_null():
    enc = make([Field("s", STRUCT), Field("n", "int8")])
    enc.extend_ndjson(b'{"s":{"a":1,"b":"x"}}\n{"s":null,"n":1}\n{"n":2}\n{"s":{"a":2}}\n')
    assert rows(enc) == [{"s": {"a": 1, "b": "x"}, "n": None}, {"s": None, "n": 1},
                         {"s": None, "n": 2}, {"s": {"a": 2, "b": None}, "n": None}]


def test_null_struct_children_and_validity():
    enc = make([Field("s", STRUCT)])
    enc.extend_ndjson(b'{"s":null}\n{"s":{"a":5}}\n')
    b = enc.flush()
    b.validate(full=True)
    col = b.column(0)
    assert col.null_count == 1 and not col.is_valid()[0].as_py()
    assert col.field("a")[1].as_py() == 5


def test_struct_errors():
    assert line_outcome([Field("s", STRUCT)], b'{"s":[]}')[:2] == ("type_mismatch", "$.s")
    assert line_outcome([Field("s", STRUCT)], b'{"s":{}}')[:2] == ("missing_required", "$.s.a")
    assert line_outcome([Field("s", STRUCT)], b'{"s":{"a":null}}')[:2] == ("missing_required", "$.s.a")
    assert line_outcome([Field("s", STRUCT)], b'{"s":{"a":1,"b":2}}')[:2] == ("type_mismatch", "$.s.b")
    assert line_outcome([Field("s", STRUCT, nullable=False)], b'{}')[:2] == ("missing_required", "$.s")
    assert line_outcome([Field("s", STRUCT, nullable=False)], b'{"s":null}')[:2] == ("missing_required", "$.s")


def test_list_items_and_paths():
    lst = DataType.list_("int8")
    strict = DataType.list_("int8", item_nullable=False)
    assert line_outcome([Field("l", lst)], b'{"l":[1,null,-3]}') == ("ok", {"l": [1, None, -3]})
    assert line_outcome([Field("l", lst)], b'{"l":[]}') == ("ok", {"l": []})
    assert line_outcome([Field("l", strict)], b'{"l":[1,null]}')[:2] == ("missing_required", "$.l[1]")
    assert line_outcome([Field("l", lst)], b'{"l":[1,2,300]}')[:2] == ("out_of_range", "$.l[2]")
    assert line_outcome([Field("l", lst)], b'{"l":{"0":1}}')[:2] == ("type_mismatch", "$.l")
    assert line_outcome([Field("l", lst)], b'{"l":"1"}')[:2] == ("type_mismatch", "$.l")


def test_list_of_structs_and_nested_lists():
    t = DataType.list_(STRUCT)
    ll = DataType.list_(DataType.list_("string"))
    enc = make([Field("l", t), Field("ll", ll)])
    enc.extend_ndjson(b'{"l":[{"a":1},null,{"a":2,"b":"y"}],"ll":[["a"],[],null,[null,"b"]]}\n'
                      b'{"l":[{"a":1},{"b":"x"}]}\n{"l":[{"a":1},{"a":"1"}]}\n')
    assert rows(enc) == [{"l": [{"a": 1, "b": None}, None, {"a": 2, "b": "y"}],
                          "ll": [["a"], [], None, [None, "b"]]}]
    assert [(r["reason"], r["path"]) for r in rejected(enc)] == \
        [("missing_required", "$.l[1].a"), ("type_mismatch", "$.l[1].a")]


# =============================================================================
# The walk: duplicates, unknown fields, required fields, order
# =============================================================================

def test_duplicate_keys_last_value_wins():
    f = [("a", "int8")]
    assert line_outcome(f, b'{"a":"x","a":1}') == ("ok", {"a": 1})          # first has the wrong type
    assert line_outcome(f, b'{"a":1,"a":"x"}')[:2] == ("type_mismatch", "$.a")
    assert line_outcome(f, b'{"a":1000,"a":null}') == ("ok", {"a": None})
    assert line_outcome([Field("a", "int8", False)], b'{"a":1,"a":null}')[:2] == ("missing_required", "$.a")
    assert line_outcome([Field("s", STRUCT)], b'{"s":{"a":1,"b":"x"},"s":{"a":2}}') == \
        ("ok", {"s": {"a": 2, "b": None}})
    assert line_outcome([Field("s", STRUCT)], b'{"s":{"a":1,"a":2,"a":3}}') == ("ok", {"s": {"a": 3, "b": None}})


def test_duplicate_keys_keep_first_position_in_walk_order():
    f = [("a", "int8"), ("b", "int8")]
    # mapping {"b": "bad", "a": "bad"}: b is walked first
    assert line_outcome(f, b'{"b":1,"a":"x","b":"y"}')[:2] == ("type_mismatch", "$.b")
    assert line_outcome(f, b'{"a":"x","b":"y","a":2}')[:2] == ("type_mismatch", "$.b")


def test_unknown_ignore():
    assert line_outcome([("a", "int8")], b'{"z":[1,{"q":"\\u00e9"}],"a":1,"y":null}') == ("ok", {"a": 1})


def test_unknown_error_paths_and_walk_order():
    f = [Field("a", "int8", False), Field("s", STRUCT), Field("l", DataType.list_(STRUCT))]
    assert line_outcome(f, b'{"a":1,"z":1}', "error")[:2] == ("unknown_field", "$.z")
    assert line_outcome(f, b'{"a":1,"s":{"a":1,"k":1}}', "error")[:2] == ("unknown_field", "$.s.k")
    assert line_outcome(f, b'{"a":1,"l":[{"a":1},{"a":1,"k":2}]}', "error")[:2] == ("unknown_field", "$.l[1].k")
    assert line_outcome(f, b'{"z":1,"a":"bad"}', "error")[:2] == ("unknown_field", "$.z")
    assert line_outcome(f, b'{"a":"bad","z":1}', "error")[:2] == ("type_mismatch", "$.a")
    assert line_outcome(f, b'{"z":1}', "error")[:2] == ("unknown_field", "$.z")      # members before missing
    r = line_outcome(f, b'{"a":1,"z":1}', "error")
    assert r[2] == "unexpected field `z` at `$.z`" or ("`$.z`" in r[2])


def test_required_fields_checked_in_schema_order_after_members():
    f = [Field("a", "int8", False), Field("b", "int8", False)]
    assert line_outcome(f, b'{}')[:2] == ("missing_required", "$.a")
    assert line_outcome(f, b'{"a":1}')[:2] == ("missing_required", "$.b")
    assert line_outcome(f, b'{"b":1}')[:2] == ("missing_required", "$.a")
    r = line_outcome(f, b'{"b":1}')
    assert r[2].startswith("expected `int8`, got ") and r[2].endswith(" at `$.a`"), r


# -- _extra -------------------------------------------------------------------------

EXTRA_FIELDS = [Field("a", "int8"), Field("payload", DataType.struct([Field("x", "int8")])),
                Field("items", DataType.list_(DataType.struct([Field("x", "int8")]))),
                Field("ll", DataType.list_(DataType.list_(DataType.struct([Field("x", "int8")])))),
                Field("j", "json")]


@pytest.mark.parametrize("line,extra,count", [
    (b'{"a":1}', None, 0),
    (b'{"a":1,"k":{"b" : [1, 2.50]}}', '{"k":{"b":[1,2.50]}}', 1),
    (b'{"payload":{"x":1,"k":"v"}}', '{"payload":{"k":"v"}}', 1),
    (b'{"items":[{"x":1},{"x":2,"k":true}]}', '{"items":{"1":{"k":true}}}', 1),
    (b'{"ll":[[{"x":1}],[{"x":1},{"k":null,"k2":1}]]}', '{"ll":{"1":{"1":{"k":null,"k2":1}}}}', 2),
    (b'{"z":1,"payload":{"k":2},"a":1,"y":"\\u00e9\\n"}', '{"z":1,"payload":{"k":2},"y":"\u00e9\\n"}', 3),
    (b'{"j":{"unknown":"inside json is not unknown"}}', None, 0),
    (b'{"payload":null,"items":[null,{"x":1}]}', None, 0),
    (b'{"_extra":1}', '{"_extra":1}', 1),
    (b'{"payload":{"_extra":{"a":1}}}', '{"payload":{"_extra":{"a":1}}}', 1),
    (b'{"items":[{"k":1},{"x":1},{"k":2}],"z":[]}', '{"items":{"0":{"k":1},"2":{"k":2}},"z":[]}', 3),
])
def test_extra_shape(line, extra, count):
    enc = make(EXTRA_FIELDS, "extra")
    enc.extend_ndjson(line + b"\n")
    got = rows(enc)
    assert len(got) == 1, rejected(enc)
    assert got[0]["_extra"] == extra
    assert balanced(enc)["extra_fields"] == count


def test_extra_duplicate_unknown_key_last_wins():
    enc = make([Field("a", "int8")], "extra")
    enc.extend_ndjson(b'{"z":1,"a":1,"y":2,"z":[3]}\n')
    assert rows(enc)[0]["_extra"] == '{"z":[3],"y":2}'
    assert balanced(enc)["extra_fields"] == 2


def test_extra_column_is_last_string_nullable_and_null_without_unknowns():
    enc = make([Field("a", "int8")], "extra")
    enc.extend_ndjson(b'{"a":1}\n')
    b = enc.flush()
    assert b.schema.names == ["a", "_extra"]
    assert b.schema.field("_extra").type == pa.string() and b.schema.field("_extra").nullable
    assert b.column(1).to_pylist() == [None]


def test_extra_fields_not_counted_for_rejected_events():
    enc = make([Field("a", "int8")], "extra")
    enc.extend_ndjson(b'{"z":1,"a":1000}\n')
    s = balanced(enc)
    assert (s["rejected"], s["extra_fields"]) == (1, 0)


# =============================================================================
# Dicts
# =============================================================================

def test_dict_python_types():
    utc5 = dt.timezone(dt.timedelta(hours=5))
    t = [Field("ts", DataType.timestamp("us", "UTC")), Field("d", "date32"), Field("b", "binary"),
         Field("l", DataType.list_("int8")), Field("f", "float64"), Field("f32", "float32"), Field("j", "json")]
    enc = make(t)
    enc.extend([
        {"ts": dt.datetime(1970, 1, 1, 0, 0, 1), "d": dt.date(1970, 1, 2), "b": b"\x00\xff",
         "l": (1, 2), "f": 1, "f32": 2 ** 24 + 1, "j": {"k": (1, 2.5, None, True, "x")}},
        {"ts": dt.datetime(1970, 1, 1, 5, 0, 0, 7, tzinfo=utc5), "d": 3, "b": bytearray(b"ab"),
         "l": [], "f": 2 ** 53 + 1, "f32": 0.1, "j": [1e16, -0.0, 10 ** 30]},
        {"ts": 5, "d": "1970-01-05", "b": memoryview(b"cd"), "f": float("nan"), "f32": float("-inf"),
         "j": "\u2028\x7f\x01"},
        {"ts": "1970-01-01T00:00:01.5Z", "b": "QUJD", "f": float("inf"), "f32": float("nan"), "j": None},
    ])
    got = rows(enc)
    assert [r["ts"] for r in got] == [1_000_000, 7, 5, 1_500_000]
    assert [r["d"] for r in got] == [1, 3, 4, None]
    assert [r["b"] for r in got] == [b"\x00\xff", b"ab", b"cd", b"ABC"]
    assert [r["l"] for r in got] == [[1, 2], [], None, None]
    assert got[0]["f"] == 1.0 and got[1]["f"] == 9007199254740992.0
    assert math.isnan(got[2]["f"]) and got[3]["f"] == math.inf
    assert got[0]["f32"] == 16777216.0 and got[1]["f32"] == 0.10000000149011612
    assert got[2]["f32"] == -math.inf and math.isnan(got[3]["f32"])
    assert [r["j"] for r in got] == ['{"k":[1,2.5,null,true,"x"]}', '[1e+16,-0.0,1000000000000000000000000000000]',
                                     '"\u2028\x7f\\u0001"', None]


@pytest.mark.parametrize("t,value,reason,got", [
    ("int8", True, "type_mismatch", "bool"), ("int8", 1.0, "type_mismatch", "float"),
    ("int8", "1", "type_mismatch", "str"), ("int8", 128, "out_of_range", None),
    ("uint64", 2 ** 64, "out_of_range", None), ("uint64", -1, "out_of_range", None),
    ("bool", 1, "type_mismatch", "int"), ("string", b"x", "type_mismatch", "bytes"),
    ("string", "\ud800", "invalid_utf8", None), ("string", "a\udfffb", "invalid_utf8", None),
    ("float64", 2 ** 1024, "out_of_range", None), ("float32", 2 ** 128, "out_of_range", None),
    ("float32", 1e39, "out_of_range", None), ("float32", 2 ** 1024, "out_of_range", None),
    ("float32", 2 ** 1024 - 2 ** 970, "out_of_range", None), ("float64", "1.5", "type_mismatch", "str"),
    ("date32", dt.datetime(2020, 1, 1), "type_mismatch", "datetime"),
    ("timestamp[s]", dt.date(2020, 1, 1), "type_mismatch", "date"),
    ("timestamp[s]", 1.5, "type_mismatch", "float"),
    ("timestamp[s]", dt.datetime(2020, 1, 1, 0, 0, 0, 1), "invalid_value", None),
    ("timestamp[ms]", dt.datetime(2020, 1, 1, 0, 0, 0, 1500), "invalid_value", None),
    ("timestamp[ns]", dt.datetime(1, 1, 1), "out_of_range", None),
    ("timestamp[s]", "2020-02-30T00:00:00", "invalid_value", None),
    ("date32", INT32_MAX + 1, "out_of_range", None), ("date32", "2020-02-30", "invalid_value", None),
    ("binary", "QUJ", "invalid_value", None), ("binary", 5, "type_mismatch", "int"),
    ("json", float("nan"), "type_mismatch", "float"), ("json", float("inf"), "type_mismatch", "float"),
    ("json", {1, 2}, "type_mismatch", "set"), ("json", b"x", "type_mismatch", "bytes"),
    ("json", 1j, "type_mismatch", "complex"),
    ({"type": "list", "item": "int8"}, {1: 2}, "type_mismatch", "dict"),
    ({"type": "list", "item": "int8"}, "12", "type_mismatch", "str"),
    ({"type": "struct", "fields": [{"name": "a", "type": "int8"}]}, [1], "type_mismatch", "list"),
    ("string", object(), "type_mismatch", "object"),
])
def test_dict_conversion_errors(t, value, reason, got):
    enc = make([Field("x", DataType.parse(t))])
    enc.append({"x": value})
    r = outcome1(enc)
    assert r[:2] == (reason, "$.x"), r
    assert r[2].endswith(" at `$.x`"), r
    if got is not None:
        assert r[2] == f"expected `{DataType.parse(t).to_json() if isinstance(t, str) else DataType.parse(t).kind}`, got `{got}` at `$.x`", r


def test_dict_datetime_conversion():
    tz = dt.timezone(dt.timedelta(hours=-8))
    assert one_py("timestamp[s]", dt.datetime(2020, 1, 1)) == ("ok", 1577836800)
    assert one_py("timestamp[s]", dt.datetime(2020, 1, 1, tzinfo=tz)) == ("ok", 1577836800 + 8 * 3600)
    assert one_py("timestamp[ns, tz=UTC]", dt.datetime(2020, 1, 1, 0, 0, 0, 1)) == ("ok", 1577836800000001000)
    assert one_py("timestamp[ms]", dt.datetime(1, 1, 1)) == ("ok", -62135596800000)
    assert one_py("timestamp[ms]", dt.datetime(2020, 1, 1, 0, 0, 0, 1000)) == ("ok", 1577836800001)
    assert one_py("date32", dt.date(1, 1, 1)) == ("ok", -719162)


def test_dict_keys_must_be_str():
    for unknown in ("ignore", "error", "extra"):
        for value in ({"a": 1, 1: 2}, {"a": 1, None: 2}, {"a": 1, ("t",): 2}, {"a": 1, b"k": 2}):
            enc = make([Field("a", "int8")], unknown)
            enc.append(value)
            r = outcome1(enc)
            assert r[0] == "type_mismatch", (unknown, value, r)
    enc = make([Field("s", DataType.struct([Field("a", "int8")]))])
    enc.append({"s": {1: 2}})
    assert outcome1(enc)[0] == "type_mismatch"


def test_dict_non_dict_items_are_not_an_object():
    enc = make([Field("a", "int8")])
    enc.extend([{"a": 1}, None, [1, 2], "x", {"a": 2}, (1,), {1, 2}])
    enc.append(7)
    rej = rejected(enc)
    assert [(r["reason"], r["path"], r["offset"], r["line"], r["source"], r["raw"]) for r in rej] == [
        ("not_an_object", "$", 1, None, "<dicts>", b"null"),
        ("not_an_object", "$", 2, None, "<dicts>", b"[1,2]"),
        ("not_an_object", "$", 3, None, "<dicts>", b'"x"'),
        ("not_an_object", "$", 5, None, "<dicts>", b"[1]"),
        ("not_an_object", "$", 6, None, "<dicts>", b"{1, 2}"),
        ("not_an_object", "$", 0, None, "<dicts>", b"7"),
    ]
    assert rows(enc) == [{"a": 1}, {"a": 2}]


def test_dict_raw_is_compact_json_or_repr():
    enc = make([Field("a", "int8")], max_depth=2)
    enc.append({"a": 1.0, "b": "é\n", "c": [1e16, None, True], "d": (1,)})
    enc.append({"a": 1.0, "c": {1, 2}})
    enc.append({"a": 1.0, "c": [[1]]})               # JSON-able, deeper than max_depth (ignored field)
    enc.append(collections.OrderedDict(a=1.0))
    raws = [r["raw"] for r in rejected(enc)]
    assert raws == ['{"a":1.0,"b":"é\\n","c":[1e+16,null,true],"d":[1]}'.encode(),
                    b"{'a': 1.0, 'c': {1, 2}}",
                    b'{"a":1.0,"c":[[1]]}',
                    b'{"a":1.0}']


def test_dict_json_column_non_json_values():
    enc = make([Field("j", "json")])
    enc.append({"j": [1, float("inf")]})
    enc.append({"j": {"k": {1: 2}}})
    enc.append({"j": ["\ud800"]})
    enc.append({"j": float("nan")})
    assert [r["reason"] for r in rejected(enc)] == \
        ["type_mismatch", "type_mismatch", "invalid_utf8", "type_mismatch"]


def test_dict_json_column_errors_name_the_nested_path():
    # SEMANTICS.md does not spell out the path inside a json value; the
    # reference names the offending element (as the struct/list walk does)
    enc = make([Field("j", "json")])
    enc.append({"j": [1, float("inf")]})
    enc.append({"j": {"k": {1: 2}}})
    enc.append({"j": ["\ud800"]})
    assert [(r["reason"], r["path"]) for r in rejected(enc)] == \
        [("type_mismatch", "$.j[1]"), ("type_mismatch", "$.j.k"), ("invalid_utf8", "$.j[0]")]


def test_dict_extra_shape():
    enc = make(EXTRA_FIELDS, "extra")
    enc.append({"a": 1, "z": (1, "x"), "payload": {"x": 1, "k": {"n": None}},
                "items": [{"x": 1}, {"k": 1.5}], "y": "\x01"})
    got = rows(enc)
    assert got[0]["_extra"] == '{"z":[1,"x"],"payload":{"k":{"n":null}},"items":{"1":{"k":1.5}},"y":"\\u0001"}'
    assert balanced(enc)["extra_fields"] == 4


# =============================================================================
# Rejected batch, messages, counters
# =============================================================================

def test_rejected_batch_schema():
    enc = make([Field("a", "int8")])
    empty = enc.flush_rejected()
    enc.extend_ndjson(b'{"a":"x"}\n')
    batch = enc.flush_rejected()
    for b in (empty, batch):
        assert b.schema.names == ["raw", "source", "line", "offset", "reason", "path", "message"]
        assert [f.type for f in b.schema] == [pa.binary(), pa.string(), pa.int64(), pa.int64(),
                                             pa.string(), pa.string(), pa.string()]
        assert b.schema.equals(REJECTED_SCHEMA)
    batch.validate(full=True)
    assert batch.num_rows == 1 and empty.num_rows == 0
    assert enc.flush_rejected().num_rows == 0                     # taken once
    assert {r.code for r in Reason} == {"invalid_json", "invalid_utf8", "not_an_object", "type_mismatch",
                                        "out_of_range", "invalid_value", "missing_required",
                                        "unknown_field", "too_deep", "line_too_long"}


def test_conversion_message_grammar():
    r = line_outcome([("n", "int64")], b'{"n":"oops"}')
    assert r == ("type_mismatch", "$.n", "expected `int64`, got `string` at `$.n`")
    r = line_outcome([("n", "int64")], b'{"n":1.5}')
    assert r == ("type_mismatch", "$.n", "expected `int64`, got `float` at `$.n`")
    r = line_outcome([("n", DataType.list_("int8"))], b'{"n":{}}')
    assert r == ("type_mismatch", "$.n", "expected `list`, got `object` at `$.n`")
    r = line_outcome([("n", "timestamp[ms, tz=UTC]")], b'{"n":true}')
    assert r == ("type_mismatch", "$.n", "expected `timestamp[ms, tz=UTC]`, got `bool` at `$.n`")


def test_counters_balance_after_every_call(rng):
    schema = S.gen_schema(rng)
    enc = Encoder(schema)
    acc_rows = rej_rows = 0
    tail = b""
    for _ in range(60):
        op = rng.randrange(7)
        if op == 0:
            tail = enc.extend_ndjson(tail + S.gen_block(rng, schema, S.Cfg(), max_lines=4))
        elif op == 1:
            enc.extend([S.gen_py_event(rng, schema, S.Cfg()) for _ in range(rng.randint(0, 3))])
        elif op == 2:
            enc.append(S.gen_py_event(rng, schema, S.Cfg()))
        elif op == 3:
            enc.append_json(S.render(S.gen_event(rng, schema, S.Cfg()), rng, p_ws=0.3, newlines=True))
        elif op == 4:
            acc_rows += enc.flush().num_rows
        elif op == 5:
            rej_rows += enc.flush_rejected().num_rows
        else:
            tail = enc.extend_ndjson(tail, final=True)
        s = balanced(enc)
    enc.extend_ndjson(tail, final=True)
    acc_rows += enc.flush().num_rows
    rej_rows += enc.flush_rejected().num_rows
    s = balanced(enc)
    assert (s["accepted"], s["rejected"]) == (acc_rows, rej_rows)


# =============================================================================
# Threads
# =============================================================================

def _thread_block(rng, schema, n=300):
    return b"".join(S.gen_block(rng, schema, S.Cfg(), max_lines=6) + b"\n" for _ in range(n))


def test_two_threads_with_own_encoders_match_one(rng):
    schema = S.gen_schema(rng)
    blocks = [_thread_block(rng, schema) for _ in range(2)]
    single = []
    for b in blocks:
        e = Encoder(schema)
        e.extend_ndjson(b, final=True)
        single.append(S.outcome(e))
    results = [None, None]
    errors = []
    barrier = threading.Barrier(2)

    def work(i):
        try:
            e = Encoder(schema)
            barrier.wait()
            for _ in range(3):
                e.extend_ndjson(blocks[i], final=True)
                results[i] = S.outcome(e)
        except BaseException as ex:  # noqa: BLE001 - reported below
            errors.append(ex)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(2):
        # counters accumulate over the 3 calls; batches and rejected rows are per flush
        S.assert_batches_equal(results[i].batch, single[i].batch, f"thread {i}")
        assert [(r["reason"], r["path"], r["raw"], r["message"]) for r in results[i].rejected] == \
            [(r["reason"], r["path"], r["raw"], r["message"]) for r in single[i].rejected]
        assert results[i].stats["inputs"] == 3 * single[i].stats["inputs"]


SHARED_ENCODER_SCRIPT = textwrap.dedent(r"""
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    import eventbatch as eb
    schema = eb.Schema([eb.Field("a", "int64"), eb.Field("s", "string")])
    enc = eb.Encoder(schema)
    block = b"".join(b'{"a":%d,"s":"%s"}\n' % (i, b"x" * (i % 50)) for i in range(20000))
    ok = [0, 0]; busy = [0, 0]; other = []
    start = threading.Barrier(2)
    def work(i):
        start.wait()
        for _ in range(15):
            try:
                if i == 0 or _ % 3:
                    enc.extend_ndjson(block, final=True)
                    ok[i] += 1
                else:
                    enc.append({"a": 1})
                    enc.flush_rejected()
            except RuntimeError:
                busy[i] += 1
            except BaseException as e:
                other.append(repr(e))
    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    [t.start() for t in ts]; [t.join() for t in ts]
    assert not other, other
    s = enc.stats()
    assert s["inputs"] == s["accepted"] + s["rejected"], s
    rows = sum(b.num_rows for b in enc.flush_batches())
    assert rows == s["accepted"], (rows, s)
    assert s["accepted"] >= 20000 * sum(ok), (s, ok)
    print("ok", ok, "busy", busy)
""")


def test_one_encoder_shared_by_two_threads_raises_or_serialises(tmp_path):
    """Run in a child process: a crash there is a failed test, not a dead run."""
    import eventbatch
    src = os.path.dirname(os.path.dirname(eventbatch.__file__))   # the package under test
    proc = subprocess.run([sys.executable, "-c", SHARED_ENCODER_SCRIPT, src], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout={proc.stdout}\nstderr={proc.stderr}"
    assert "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.stdout.startswith("ok"), proc.stdout


def test_released_buffers_are_reused_within_a_bound():
    """Blocks Arrow lets go of go to a bounded pool and back into the next
    batches; a batch built from reused blocks is still exactly right."""
    import gc

    from eventbatch import _core, gen
    schema = Schema.from_arrow(gen.event_schema())
    data = gen.generate_ndjson(5000, seed=3)
    enc = Encoder(schema)
    enc.extend_ndjson(data, final=True)
    want = enc.flush()
    del want
    gc.collect()
    blocks, nbytes = _core._buffer_pool_stats()
    assert blocks > 0 and 0 < nbytes <= 64 << 20
    enc.extend_ndjson(data, final=True)
    again = enc.flush()
    again.validate(full=True)
    assert _core._buffer_pool_stats()[0] < blocks          # taken back out
    fresh = Encoder(schema)
    fresh.extend_ndjson(data, final=True)
    assert again.equals(fresh.flush())
    # the bound holds however many batches are released at once
    batches = []
    for _ in range(40):
        enc.extend_ndjson(data, final=True)
        batches.append(enc.flush())
    del batches
    gc.collect()
    blocks, nbytes = _core._buffer_pool_stats()
    assert blocks <= 256 and nbytes <= 64 << 20
