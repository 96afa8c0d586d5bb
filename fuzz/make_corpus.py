#!/usr/bin/env python3
"""Write the seed corpus fuzz/corpus/*: a 6-byte header + an NDJSON payload.

Header (see fuzz_ndjson.c): policy/mode/flags, max_depth, max_line index,
pieces, split points.  Run from anywhere: python3 fuzz/make_corpus.py
"""
from __future__ import annotations

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "corpus"

POLICY = {"ignore": 0, "error": 1, "extra": 2}
LINE_IDX = {1 << 20: 0, 4096: 1, 300: 2, 100: 3, 64: 4, 40: 5, 16: 6, 1: 7}


def hdr(policy="ignore", doc=False, final_call=False, id_required=False, flush=0,
        depth=128, max_line=1 << 20, pieces=1, s1=0, s2=0, max_rows=None, gen_wrap=0) -> bytes:
    """gen_wrap=k: e->gen starts at 2^32 - k (wraps within k objects)."""
    b0 = POLICY[policy] | (doc << 2) | (final_call << 3) | (id_required << 4) | (flush << 5)
    b3 = pieces - 1
    if max_rows is not None:
        assert 1 <= max_rows <= 8
        b0 |= 0x80
        b3 |= (max_rows - 1) << 2
    b1 = 0xF0 if depth == 128 else (depth - 1)
    assert 1 <= depth <= 24 or depth == 128
    assert 0 <= gen_wrap < 32
    return bytes([b0, b1, LINE_IDX[max_line] | gen_wrap << 3, b3, s1, s2])


def nd(*docs) -> bytes:
    out = []
    for d in docs:
        out.append(d if isinstance(d, (bytes, bytearray)) else json.dumps(d, ensure_ascii=False).encode())
    return b"\n".join(out) + b"\n"


FULL = {
    "id": 1, "b": True, "i8": -128, "i16": 32767, "i32": -2147483648, "i64": 9223372036854775807,
    "u8": 255, "u16": 65535, "u32": 4294967295, "u64": 18446744073709551615,
    "f32": 1.5, "f64": -2.25e-3, "s": "h\u00e9llo \u2603 \U0001F600", "bin": "aGVsbG8=",
    "ts": "2024-02-29T12:34:56.789Z", "d": "2024-02-29",
    "st": {"req": 7, "opt": "x", "in": {"x": False, "l": [1.0, None, 2.5]}},
    "li": [1, 2, 3], "ls": [{"k": "a", "v": 1.0, "t": "1970-01-01T00:00:00.000001Z"}, {"k": "b"}],
    "j": {"a": [1, "two", None, True, {"b": {}}], "c": 1e5},
    "w\u00e9\"ird": {"q": 5},
    "event_ts": 1700000000000, "a_much_longer_field_name": "long",
}

SEEDS: dict[str, bytes] = {}


def seed(name: str, header: bytes, payload: bytes) -> None:
    assert name not in SEEDS, name
    SEEDS[name] = header + payload


seed("full_event", hdr(), nd(FULL))
seed("full_event_extra", hdr("extra"), nd(FULL, {**FULL, "zz": 1, "st": {"req": 1, "zz": [1]}}))
seed("full_event_error", hdr("error", id_required=True), nd(FULL, {"id": 2, "nope": 1}))
seed("empty_objects", hdr(), nd({}, {"st": None, "li": [], "ls": [], "j": {}}, b"{ }", b"{\"j\":[]}"))
seed("escapes", hdr(), nd(
    b'{"s":"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u2028\\u0000"}',
    b'{"\\u0073":"key with escape","j":"\\u001f\\u007f\\ud83d\\ude00"}',
    b'{"s":"bad \\x"}', b'{"s":"bad \\u12"}', b'{"s":"bad \\u12G4"}'))
seed("surrogates", hdr("extra"), nd(
    b'{"s":"\\ud83d\\ude00","j":"\\uD834\\uDD1E"}',
    b'{"s":"\\ud800"}', b'{"s":"\\udc00"}', b'{"s":"\\ud800\\u0041"}', b'{"s":"\\ud800\\"}',
    b'{"zz":"\\udbff\\udfff"}'))
seed("utf8_raw", hdr(), nd(
    '{"s":"\u00e9\u4e2d\U0010FFFF"}'.encode(),
    b'{"s":"\xc3\x28"}', b'{"s":"\xed\xa0\x80"}', b'{"s":"\xf4\x90\x80\x80"}', b'{"s":"\xe0\x80\xaf"}',
    b'{"s":"x"}\xff', b'\xef\xbb\xbf{"s":"bom"}', b'{"\xc3\xa9":1}'))
seed("deep_json", hdr(depth=128), nd(
    b'{"j":' + b"[" * 126 + b"]" * 126 + b"}",
    b'{"j":' + b"[" * 127 + b"]" * 127 + b"}",
    b'{"j":' + b'{"a":' * 130 + b"1" + b"}" * 130 + b"}"))
seed("deep_small_limit", hdr(depth=3), nd(
    {"st": {"req": 1, "in": {"x": True}}}, {"ls": [{"k": "a"}]}, {"j": [[1]]}, {"j": [[[1]]]}, {"zz": [[[]]]}))
seed("deep_extra", hdr("extra", depth=5), nd({"zz": [[[1]]]}, {"st": {"req": 1, "in": {"zz": {"a": [1]}}}}))
seed("numbers_int_edges", hdr(), nd(
    b'{"i8":127,"i16":-32768,"i32":2147483647,"i64":-9223372036854775808,"u8":0,"u16":0,"u32":0,"u64":0}',
    b'{"i8":128}', b'{"i8":-129}', b'{"u8":-1}', b'{"u64":18446744073709551616}',
    b'{"i64":9223372036854775808}', b'{"i64":-9223372036854775809}', b'{"i32":1.0}', b'{"i32":1e2}',
    b'{"i16":-0}', b'{"u32":123456789012345678901234567890}', b'{"i8":01}', b'{"i8":-}', b'{"i8":+1}'))
seed("numbers_float_edges", hdr(), nd(
    b'{"f64":1.7976931348623157e308,"f32":3.4028234663852886e38}',
    b'{"f64":1e309}', b'{"f32":3.5e38}', b'{"f64":5e-324,"f32":1e-46}', b'{"f64":-0.0,"f32":-0}',
    b'{"f64":0.1,"f32":0.1}', b'{"f64":123456789012345678901234567890}', b'{"f32":16777217}',
    b'{"f64":9007199254740993}', b'{"f64":1E+2,"f32":1e-2}', b'{"f64":2.2250738585072011e-308}',
    b'{"f64":1.}', b'{"f64":.5}', b'{"f64":1e}', b'{"f64":NaN}', b'{"f64":Infinity}',
    b'{"f64":0.000000000000000000000000000001}', b'{"f32":1234567.0e-10}'))
seed("timestamps", hdr(), nd(
    {"ts": "2024-02-29T12:34:56Z"}, {"ts": "2024-02-29t12:34:56.1+05:30"}, {"ts": "2024-02-29 12:34:56.123-00:00"},
    {"ts": "0000-01-01T00:00:00Z"}, {"ts": "9999-12-31T23:59:59.999Z"}, {"ts": 1700000000000},
    {"ts": -1}, {"ts": 1.5}, {"ts": "2023-02-29T00:00:00Z"}, {"ts": "2024-13-01T00:00:00Z"},
    {"ts": "2024-01-01T24:00:00Z"}, {"ts": "2024-01-01T00:00:60Z"}, {"ts": "2024-01-01T00:00:00.0001Z"},
    {"ts": "2024-01-01T00:00:00.Z"}, {"ts": "2024-01-01T00:00:00+24:00"}, {"ts": "2024-01-01"},
    {"ls": [{"k": "a", "t": "2024-01-01T00:00:00.123456Z"}, {"k": "b", "t": "2024-01-01T00:00:00.1234567Z"}]}))
seed("dates", hdr(), nd(
    {"d": "2024-02-29"}, {"d": "2023-02-29"}, {"d": "0000-01-01"}, {"d": "9999-12-31"}, {"d": 19000},
    {"d": -2147483648}, {"d": 2147483648}, {"d": "2024-1-01"}, {"d": "2024-01-01T00:00:00Z"}, {"d": True}))
seed("base64", hdr(), nd(
    {"bin": ""}, {"bin": "AA=="}, {"bin": "AAA="}, {"bin": "AAAA"}, {"bin": "QUJD"}, {"bin": "A==="},
    {"bin": "AB=="}, {"bin": "A"}, {"bin": "AAAA===="}, {"bin": "AA=A"}, {"bin": "YW Jj"}, {"bin": "+/+/"},
    {"bin": "-_-_"}, {"bin": "\u00e9\u00e9\u00e9\u00e9"}, {"bin": 1}))
seed("duplicates_known", hdr(), nd(
    b'{"i32":1,"i32":2}', b'{"st":{"req":1},"st":{"req":2,"opt":"x"}}',
    b'{"ls":[{"k":"a","k":"b"}]}', b'{"j":{"a":1,"a":2}}'))
seed("unknown_fields", hdr(), nd(
    {"zz": 1, "yy": {"a": [1, {"b": None}]}, "i8": 1}, {"st": {"req": 1, "zz": "x"}},
    {"ls": [{"k": "a", "zz": 1}, {"k": "b"}, {"k": "c", "yy": [True]}]}, {"w\u00e9\"ird": {"q": 1, "r": 2}}))
seed("unknown_fields_extra", hdr("extra"), nd(
    {"zz": 1, "yy": {"a": [1, {"b": None}]}, "i8": 1}, {"st": {"req": 1, "zz": "x", "in": {"yy": 2}}},
    {"ls": [{"k": "a", "zz": 1}, {"k": "b"}, {"k": "c", "yy": [True]}]}, {"w\u00e9\"ird": {"q": 1, "r": 2}},
    b'{"z\\u0000z":"\\u0001\\"\\\\","\\u00e9":"\\ud83d\\ude00"}'))
seed("unknown_fields_error", hdr("error"), nd(
    {"zz": 1}, {"st": {"req": 1, "zz": "x"}}, {"ls": [{"k": "a"}, {"k": "b", "zz": 1}]},
    b'{"\\u00e9\\n":1}'))
seed("crlf_bom_blank", hdr(), b'{"i8":1}\r\n\r\n   \n\t\r\n\xef\xbb\xbf{"i8":2}\r\n\xef\xbb\xbf\n{"i8":3}\r')
seed("crlf_no_final_newline", hdr(final_call=True), b'{"i8":1}\r\n{"i8":2}\r')
seed("not_objects", hdr(), nd(b"[1]", b'"x"', b"1", b"null", b"true", b"[", b"}", b'{"a"', b'{"a":}',
                             b'{"a":1,}', b'{,}', b'{"a":1 "b":2}', b"{}}", b"{} x", b"nul", b"tru"))
seed("missing_required", hdr(id_required=True), nd(
    {"id": 1, "st": {"opt": "x"}}, {"id": 1, "st": {"req": None}}, {"id": 1, "li": [1, None]},
    {"id": 1, "ls": [{"v": 1.0}]}, {"id": None}, {}, {"id": 1, "st": None}))
seed("type_mismatch", hdr(), nd(
    {"b": 1}, {"i8": "1"}, {"s": 1}, {"st": []}, {"li": {}}, {"ls": [1]}, {"li": [1.5]}, {"f64": "1"},
    {"bin": None}, {"st": {"req": "x"}}, {"st": {"in": {"x": "y"}, "req": 1}}))
seed("json_column", hdr(), nd(
    {"j": 1}, {"j": "s"}, {"j": None}, {"j": True}, {"j": [1, 2.5e-3, -0, "x\ny"]},
    b'{"j": { "a" : [ 1 , 2 ] , "b" : { } } }', b'{"j":"\\u00e9\\u0000\\/"}', b'{"j":-1.5E+10}'))
seed("line_too_long", hdr(max_line=16, pieces=2, s1=40), nd(
    {"s": "short"}, {"s": "this is definitely longer than sixteen"}, {"i8": 1}, b"   " * 10, {"s": "x" * 50}))
seed("line_too_long_split3", hdr(max_line=40, pieces=3, s1=50, s2=120, final_call=True),
     nd({"s": "a" * 100}, {"s": "b"}, {"s": "c" * 60}) + b'{"s":"unterminated tail')
seed("max_line_1", hdr(max_line=1), b'{}\n1\n \n\n{"a":1}')
seed("split_pieces", hdr(pieces=3, s1=30, s2=200, flush=1), nd(*[{"i32": i, "s": "v%d" % i, "li": [i]} for i in range(20)]))
seed("split_mid_bom_crlf", hdr(pieces=3, s1=12, s2=13, final_call=True),
     b'{"i8":1}\r\n\xef\xbb\xbf{"i8":2}\r\n\xef\xbb\xbf{"i8":3}')
seed("many_lines_flush", hdr("extra", flush=2, pieces=2, s1=128),
     nd(*[{**FULL, "zz%d" % (i % 3): i} for i in range(30)]))
seed("doc_mode", hdr(doc=True), b'\xef\xbb\xbf{\n  "i8": 1,\n  "st": {"req": 1}\n}\n')
seed("doc_mode_blank", hdr(doc=True), b" \n\t\r\n")
seed("doc_mode_bad", hdr("error", doc=True), b'{"i8": 1,\n "zz": 2}')
seed("doc_mode_long", hdr(doc=True, max_line=16), b'{"s": "longer than sixteen bytes"}')
seed("list_of_structs", hdr(), nd(
    {"ls": [{"k": "a", "v": 1}, None, {"k": "c", "v": None, "t": 5}]}, {"ls": None}, {"ls": [None]},
    {"ls": [{"k": "a"}, {"k": None}]}, {"st": {"req": 1, "in": {"l": [1, 2, None, 1e300]}}}))
seed("weird_name", hdr("extra"), nd(b'{"w\xc3\xa9\\"ird":{"q":1,"zz":2}}', b'{"w\\u00e9\\"ird":{"q":2}}'))
seed("long_names", hdr("extra"), nd(
    {"event_ts": 1, "a_much_longer_field_name": "x"}, {"event_tz": 1, "a_much_longer_field_namf": 2},
    {"event_ts": 1, "event_ts": 2}, {"a_much_longer_field_name": 1}))
seed("whitespace", hdr(), b' \t { \t "i8" \t : \t 1 \t , "s" : "x" } \t \r\n{"i8":1}\t\t\n')
seed("control_chars", hdr(), nd(b'{"s":"a\tb"}', b'{"s":"a\x01b"}', b'{"s":"\x7f"}', b'{"\x00":1}'))
seed("max_rows_1", hdr(max_rows=1, pieces=2, s1=100, s2=100), nd(*[{"i32": i} for i in range(6)]) + b'{"i32":')
seed("max_rows_3_extra", hdr("extra", max_rows=3, final_call=True),
     nd(*[{"i32": i, "zz": i, "st": {"req": i, "yy": 1}} for i in range(7)], b"", b"[1]"))
seed("max_rows_long_lines", hdr(max_rows=2, max_line=16, pieces=3, s1=20, s2=90),
     nd({"i8": 1}, {"s": "x" * 40}, {"i8": 2}, {"i8": 3}, {"s": "y" * 30}))
seed("gen_wrap", hdr(gen_wrap=3, id_required=True), nd(
    {"id": 1, "st": {"req": 1, "in": {"x": True}}, "ls": [{"k": "a"}, {"k": "b"}], "wé\"ird": {"q": 1}},
    {"id": 2, "st": {"req": 2}}, {"id": 3}))
seed("empty", hdr(), b"")
seed("only_newlines", hdr(pieces=2, s1=128), b"\n\n\n\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    for name, data in SEEDS.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
