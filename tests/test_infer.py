"""Tests of schema inference (eventbatch._infer, Schema.infer)."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import random

import pyarrow as pa
import pytest

import eventbatch as eb
from eventbatch import DataType, Field, Schema, SchemaError
from eventbatch._infer import infer_schema
from eventbatch._reference import ReferenceEncoder
from eventbatch.gen import generate_dicts, generate_ndjson, write_ndjson


def ndjson(events) -> bytes:
    return b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in events)


def type_of(events, name="x") -> str:
    """The inferred type of field `name`, as rendered by str()."""
    return str(infer_schema(events).field(name).type)


def rejected_reasons(schema: Schema, events=None, data: bytes | None = None) -> list:
    """The reasons the reference encoder and the compiled encoder reject
    events or NDJSON lines for (both empty when all are accepted)."""
    reasons = []
    for enc in (ReferenceEncoder(schema), eb.Encoder(schema)):
        if events is not None:
            enc.extend(events)
        if data is not None:
            enc.extend_ndjson(data, final=True)
        reasons += enc.flush_rejected().column("reason").to_pylist()
    return reasons


# -- the docstring example -----------------------------------------------------

def test_docstring_example():
    s = Schema.infer([{"a": 1, "b": "x"}, {"a": 2.5, "c": [1, 2]}])
    assert str(s) == "a: float64\nb: string\nc: list<int64>"
    assert s.unknown_fields == "ignore"


# -- widening rules ------------------------------------------------------------

def test_null_and_absent():
    assert type_of([{"x": None}, {"x": 3}]) == "int64"
    assert type_of([{"x": 3}, {"x": None}]) == "int64"
    assert type_of([{"x": None}, {"x": None}]) == "json"
    assert type_of([{"x": None}, {"y": 1}]) == "json"
    s = infer_schema([{"x": 1}, {"y": "a"}])
    assert [f.nullable for f in s.fields] == [True, True]


def test_bool():
    assert type_of([{"x": True}, {"x": False}, {"x": None}]) == "bool"
    assert type_of([{"x": True}, {"x": 1}]) == "json"
    assert type_of([{"x": 0}, {"x": False}]) == "json"
    assert type_of([{"x": True}, {"x": 1.5}]) == "json"


@pytest.mark.parametrize("values, expected", [
    ([1, -5, 0], "int64"),
    ([2**63 - 1, -2**63], "int64"),
    ([2**63], "uint64"),
    ([0, 2**64 - 1], "uint64"),
    ([2**63, -1], "json"),
    ([2**64], "json"),
    ([-2**63 - 1], "json"),
    ([10**40], "json"),
])
def test_integers(values, expected):
    assert type_of([{"x": v} for v in values]) == expected
    assert type_of(ndjson([{"x": v} for v in values])) == expected


def test_floats():
    assert type_of([{"x": 1.5}, {"x": -0.0}]) == "float64"
    assert type_of([{"x": 1}, {"x": 2.5}]) == "float64"
    assert type_of([{"x": 2.5}, {"x": 2**63}]) == "float64"
    assert type_of(b'{"x": 1e5}\n{"x": 3}\n') == "float64"
    # integers that float64 cannot hold, and float literals that overflow
    assert type_of([{"x": 2.5}, {"x": 10**400}]) == "json"
    assert type_of(b'{"x": 1e400}\n') == "json"
    assert type_of(b'{"x": 1e400}\n{"x": 1.5}\n') == "json"


def test_strings():
    assert type_of([{"x": "a"}, {"x": None}, {"x": ""}]) == "string"
    assert type_of([{"x": "a"}, {"x": 1}]) == "json"
    assert type_of([{"x": "1"}, {"x": 1}]) == "json"


@pytest.mark.parametrize("values, expected", [
    (["2026-11-01T00:00:00Z"], "timestamp[ms, tz=UTC]"),
    (["2026-11-01T00:00:00.1Z", "2026-11-01T10:20:30.123+02:00"], "timestamp[ms, tz=UTC]"),
    (["2026-11-01T00:00:00Z", "2026-11-01T00:00:00.1234-05:30"], "timestamp[us, tz=UTC]"),
    (["2026-11-01T00:00:00.123456Z"], "timestamp[us, tz=UTC]"),
    (["2026-11-01T00:00:00.1234567Z", "2026-11-01T00:00:00Z"], "timestamp[ns, tz=UTC]"),
    (["2026-11-01T00:00:00.123456789z", "2026-11-01t00:00:00Z"], "timestamp[ns, tz=UTC]"),
    (["2024-02-29T23:59:59Z", None], "timestamp[ms, tz=UTC]"),
    # not all timestamps with an offset
    (["2026-11-01T00:00:00Z", "hello"], "string"),
    (["2026-11-01T00:00:00"], "string"),                 # no offset
    (["2026-11-01 00:00:00Z"], "string"),                # space separator
    (["2026-11-01T00:00:00.Z"], "string"),
    (["2026-11-01T00:00:00.1234567890Z"], "string"),     # 10 digits
    (["2026-02-29T00:00:00Z"], "string"),                # not a leap year
    (["2026-11-01T24:00:00Z"], "string"),
    (["2026-11-01T23:59:60Z"], "string"),                # leap second
    (["2026-11-01T00:00:00+24:00"], "string"),
    (["２０２6-11-01T00:00:00Z"], "string"),             # non-ASCII digits
    (["2026-11-01T00:00:00Z\n"], "string"),
    # ns timestamps outside int64 nanoseconds
    (["2300-01-01T00:00:00.123456789Z"], "string"),
    (["2300-01-01T00:00:00.123456Z"], "timestamp[us, tz=UTC]"),
    # dates
    (["2026-11-01", "1999-12-31", None], "date32"),
    (["2024-02-29"], "date32"),
    (["2026-02-29"], "string"),
    (["2026-13-01"], "string"),
    (["2026-11-01", "2026-11-01T00:00:00Z"], "string"),
    (["2026-11-01", "x"], "string"),
])
def test_temporal_strings(values, expected):
    events = [{"x": v} for v in values]
    assert type_of(events) == expected
    assert type_of(ndjson(events)) == expected
    assert rejected_reasons(infer_schema(events), events=events) == []
    assert rejected_reasons(infer_schema(events), data=ndjson(events)) == []


def test_objects():
    s = infer_schema([
        {"o": {"b": 1, "a": "x"}},
        {"o": None},
        {"o": {"c": {"d": 1.5}, "a": "y", "b": 2.5}},
        {"o": {}},
    ])
    t = s.field("o").type
    assert t.kind == "struct"
    assert [f.name for f in t.fields] == ["b", "a", "c"]       # first-seen order
    assert [str(f.type) for f in t.fields[:2]] == ["float64", "string"]
    assert t.fields[2].type == DataType.struct([Field("d", "float64")])
    assert all(f.nullable for f in t.fields)
    assert type_of([{"x": {}}, {"x": {}}]) == "json"            # no keys ever
    assert type_of([{"x": {"a": 1}}, {"x": [1]}]) == "json"
    assert type_of([{"x": {"a": 1}}, {"x": "s"}]) == "json"


def test_lists():
    assert type_of([{"x": [1, 2]}, {"x": [3.5]}]) == "list<float64>"
    assert type_of([{"x": []}, {"x": []}]) == "list<json>"
    assert type_of([{"x": []}, {"x": [1]}, {"x": None}]) == "list<int64>"
    assert type_of([{"x": [None, "a"]}]) == "list<string>"
    assert type_of([{"x": [None]}]) == "list<json>"
    assert type_of([{"x": [1, "a"]}]) == "list<json>"
    assert type_of([{"x": [[1], [], [2.5]]}]) == "list<list<float64>>"
    assert type_of([{"x": ["2026-11-01T00:00:00.5Z"]}]) == "list<timestamp[ms, tz=UTC]>"
    t = infer_schema([{"x": [{"a": 1}, {"b": True}]}]).field("x").type
    assert t == DataType.list_(DataType.struct([Field("a", "int64"), Field("b", "bool")]))
    assert type_of([{"x": [1]}, {"x": 1}]) == "json"


def test_field_order_and_nullability():
    s = infer_schema([{"b": 1, "a": 2}, {"c": 3, "a": 4}, {"d": None, "b": 5}])
    assert s.names == ["b", "a", "c", "d"]
    assert all(f.nullable for f in s.fields)


def test_python_values_in_dicts():
    utc = dt.timezone.utc
    events = [
        {"ts": dt.datetime(2026, 11, 1, tzinfo=utc), "d": dt.date(2026, 11, 1),
         "b": b"\x00\xff", "t": (1, 2), "mixed_ts": "2026-11-01T00:00:00.123456789Z"},
        {"ts": dt.datetime(2026, 11, 1, 1, 2, 3, 456), "d": "2026-11-02",
         "b": None, "t": (), "mixed_ts": dt.datetime(2026, 1, 1, tzinfo=utc)},
    ]
    s = infer_schema(events)
    assert [str(f.type) for f in s.fields] == [
        "timestamp[us, tz=UTC]", "date32", "binary", "list<int64>", "timestamp[ns, tz=UTC]"]
    assert rejected_reasons(s, events=events) == []
    assert type_of([{"x": dt.date(2026, 1, 1)}, {"x": "abc"}]) == "json"


# -- skipped inputs and errors -------------------------------------------------

def test_unusable_lines_are_skipped():
    data = b"\n".join([
        b"",
        b"   ",
        b'{"a": 1',                       # truncated
        b"[1, 2]",                        # not an object
        b'"text"',
        b'{"a": NaN}',                    # not JSON
        b'{"a": 01}',                     # leading zero
        b'{"a": "\xff"}',                 # invalid UTF-8
        b'{"a": "\\ud800"}',              # lone surrogate
        b'{"a": 1} x',                    # trailing data
        b"[" * 200 + b"]" * 200,
        b'{"a": ' + b"[" * 130 + b"]" * 130 + b"}",    # deeper than 128
        b'{"a": 1, "b": "\\u00e9\\ud83c\\udfb8"}\r',
        b'{"a": 2}',
    ])
    s = infer_schema(data)
    assert str(s) == "a: int64\nb: string"


def test_unusable_dicts_are_skipped():
    np = pytest.importorskip("numpy")
    deep: dict = {"a": 1}
    for _ in range(130):
        deep = {"n": deep}
    cyclic: list = []
    cyclic.append(cyclic)
    events = [
        "not a dict", 5, None, [("a", 1)],
        {1: "non-str key"},
        {"a": np.int64(3)},
        {"a": "\ud800"},
        {"a": 1, "deep": deep},
        {"a": [cyclic]},
        {"a": {1, 2}},
        {"a": 7},
    ]
    assert str(infer_schema(events)) == "a: int64"


@pytest.mark.parametrize("sample", [
    [], [{}], ["x"], b"", b"\n\n", b"[1]\n{bad\n", b"{}\n", iter([]),
])
def test_nothing_usable(sample):
    with pytest.raises(SchemaError, match="cannot infer a schema"):
        infer_schema(sample)


def test_bad_arguments(tmp_path):
    with pytest.raises(SchemaError, match="cannot read sample file"):
        infer_schema(tmp_path / "missing.ndjson")
    with pytest.raises(SchemaError, match="pass NDJSON text as bytes"):
        infer_schema('{"a": 1}')
    with pytest.raises(TypeError, match="single dict"):
        infer_schema({"a": 1})
    with pytest.raises(TypeError, match="got `int`"):
        infer_schema(42)
    with pytest.raises(SchemaError, match="unknown_fields"):
        infer_schema([{"a": 1}], "keep")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_lines"):
            infer_schema([{"a": 1}], max_lines=bad)
    with pytest.raises(SchemaError, match="reserved"):
        infer_schema([{"_extra": 1}], "extra")


# -- sample forms --------------------------------------------------------------

EVENTS = [
    {"id": "e1", "ts": "2026-11-01T00:00:00.123Z", "n": 1, "tags": ["a"],
     "ctx": {"os": "ios", "v": 1}},
    {"id": "e2", "ts": "2026-11-01T00:00:01Z", "n": 2.5, "tags": [], "ctx": None,
     "day": "2026-11-01"},
    {"id": "e3", "n": None, "ctx": {"v": 2, "extra": [1, {"k": True}]}, "mixed": 1},
    {"id": "e4", "mixed": "one", "big": 2**63},
]


def test_forms_agree(tmp_path):
    expected = infer_schema(EVENTS)
    assert str(expected) == (
        "id: string\nts: timestamp[ms, tz=UTC]\nn: float64\ntags: list<string>\n"
        "ctx: struct<\n  os: string\n  v: int64\n  extra: list<json>\n>\n"
        "day: date32\nmixed: json\nbig: uint64")
    data = ndjson(EVENTS)
    plain = tmp_path / "events.ndjson"
    plain.write_bytes(data)
    gz = tmp_path / "events.ndjson.gz"
    gz.write_bytes(gzip.compress(data))
    misnamed = tmp_path / "events.json"          # gzip found by content, not name
    misnamed.write_bytes(gzip.compress(data))
    samples = [data, bytearray(data), memoryview(data), data.replace(b"\n", b"\r\n"),
               data.rstrip(b"\n"), plain, str(plain), gz, str(gz), misnamed,
               iter(EVENTS), tuple(EVENTS), (e for e in EVENTS),
               io.BytesIO(data), io.StringIO(data.decode())]
    for sample in samples:
        assert infer_schema(sample) == expected, repr(sample)[:60]
    assert Schema.infer(gz, "extra") == Schema(expected.fields, "extra")
    assert rejected_reasons(expected, events=EVENTS) == []
    assert rejected_reasons(expected, data=data) == []


@pytest.mark.parametrize("suffix, module", [(".zst", "zstandard"), (".lz4", "lz4.frame")])
def test_compressed_files(tmp_path, suffix, module):
    pytest.importorskip(module)
    path = tmp_path / f"events.ndjson{suffix}"
    write_ndjson(path, 300, seed=5, chunk_events=64)
    assert infer_schema(path) == infer_schema(generate_dicts(300, seed=5))


def test_max_lines(tmp_path):
    lines = [{"a": 1}, "", "garbage", {"a": 2}, {"a": 2.5, "b": "x"}, {"c": True}]
    data = b"".join((json.dumps(x) if isinstance(x, dict) else x).encode() + b"\n"
                    for x in lines)
    for sample in (data, tmp_path / "s.ndjson", tmp_path / "s.ndjson.gz"):
        if not isinstance(sample, bytes):
            sample.write_bytes(gzip.compress(data) if sample.suffix == ".gz" else data)
        # blank and unusable lines count as read
        assert str(infer_schema(sample, max_lines=4)) == "a: int64"
        assert str(infer_schema(sample, max_lines=5)) == "a: float64\nb: string"
        assert str(infer_schema(sample)) == "a: float64\nb: string\nc: bool"
        assert str(infer_schema(sample, max_lines=1)) == "a: int64"
    with pytest.raises(SchemaError, match="1 blank, 1 unusable"):
        infer_schema(data.split(b"\n", 1)[1], max_lines=2)    # "" and "garbage"
    dicts = [x for x in lines if isinstance(x, dict)]
    assert str(infer_schema(dicts, max_lines=2)) == "a: int64"

    def endless():
        i = 0
        while True:
            yield {"i": i}
            i += 1
    assert str(infer_schema(endless(), max_lines=10)) == "i: int64"


def test_max_lines_reads_lazily(tmp_path):
    path = tmp_path / "big.ndjson.gz"
    write_ndjson(path, 5000, seed=2)
    head = infer_schema(generate_dicts(7, seed=2))
    assert infer_schema(path, max_lines=7) == head
    assert infer_schema(generate_ndjson(5000, seed=2), max_lines=7) == head


# -- generated events ----------------------------------------------------------

def test_generated_events_are_accepted(tmp_path):
    dicts = generate_dicts(2000, seed=1)
    inferred = infer_schema(dicts)
    batch = pa.RecordBatch.from_pylist(dicts, schema=inferred.to_arrow())
    assert batch.num_rows == 2000
    assert inferred.names == [f.name for f in eb.gen.event_schema()]
    payload = inferred.field("payload").type
    assert payload.kind == "struct" and all(f.nullable for f in payload.fields)
    assert {f.name for f in payload.fields} <= set(eb.gen.PAYLOAD_FIELD_TYPES)
    assert str(inferred.field("client_ts").type) == "int64"
    data = generate_ndjson(2000, seed=1)
    path = tmp_path / "gen.ndjson.gz"
    write_ndjson(path, 2000, seed=1)
    assert infer_schema(data) == inferred
    assert infer_schema(path) == inferred
    enc = eb.Encoder(inferred)
    enc.extend_ndjson(data, final=True)
    assert enc.stats()["rejected"] == 0 and enc.stats()["accepted"] == 2000
    assert enc.flush().to_pylist() == batch.to_pylist()


def test_generated_malformed_lines_are_accepted():
    data = generate_ndjson(1000, seed=4, malformed_rate=0.2)
    inferred = infer_schema(data)
    # what stays rejected are the lines no schema can take
    assert set(rejected_reasons(inferred, data=data)) <= {
        "invalid_json", "invalid_utf8", "not_an_object"}


# -- round trip ---------------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    s = infer_schema(EVENTS + [{"list_ts": ["2026-11-01T00:00:00.1234567Z"], "nested": [[{}]]}],
                     "error")
    path = tmp_path / "schema.json"
    s.save(path)
    loaded = Schema.load(path)
    assert loaded == s
    assert str(loaded) == str(s)


# -- random samples: the inferred schema accepts every usable event -------------

def _random_value(rng: random.Random, depth: int):
    pick = rng.randrange(12 if depth < 3 else 9)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.choice([0, -1, 7, 2**31, 2**63 - 1, -2**63, 2**63, 2**64 - 1, 2**64, -2**70])
    if pick == 3:
        return rng.choice([0.5, -1e300, 3.0, 1e-310])
    if pick == 4:
        return rng.choice(["", "é🎸", "a\nb", "\x00"])
    if pick == 5:
        digits = rng.randrange(10)
        frac = "." + "".join(str(rng.randrange(10)) for _ in range(digits)) if digits else ""
        year = rng.choice([1970, 2026, 2261, 1000, 9999])
        return f"{year}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T12:34:56{frac}" + \
            rng.choice(["Z", "+05:30", "-12:00", "z"])
    if pick == 6:
        return f"{rng.randrange(1000, 10000)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if pick == 7:
        return rng.choice([1, "a", None])
    if pick == 8:
        return rng.choice(["2026-01-01", "2026-01-01T00:00:00Z"])
    if pick in (9, 10):
        return {rng.choice("abcd"): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


@pytest.mark.parametrize("seed", range(40))
def test_random_samples_are_accepted(seed):
    rng = random.Random(seed)
    # one "shape" per field, so some fields stay uniform and others mix kinds
    templates = [[_random_value(rng, 1) for _ in range(rng.randrange(1, 4))] for _ in range(6)]
    events = []
    for _ in range(30):
        ev = {}
        for i, choices in enumerate(templates):
            if rng.random() < 0.8:
                ev[f"f{i}"] = rng.choice(choices)
        events.append(ev)
    if not any(events):
        events.append({"f0": 1})
    data = ndjson(events)
    inferred = infer_schema(events)
    assert infer_schema(data) == inferred
    assert all(f.nullable for f in inferred.fields)
    assert rejected_reasons(inferred, events=events) == []
    assert rejected_reasons(inferred, data=data) == []
    assert Schema.from_json(inferred.to_json()) == inferred
