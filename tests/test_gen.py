"""Tests for eventbatch.gen, the deterministic client-event generator."""

from __future__ import annotations

import collections
import doctest
import gzip
import importlib.util
import json
import math
import re
import statistics
import sys
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")

from eventbatch import gen


SCHEMA = gen.event_schema()
_PAYLOAD_TYPE = SCHEMA.field("payload").type
PAYLOAD_FIELDS = {_PAYLOAD_TYPE.field(i).name for i in range(_PAYLOAD_TYPE.num_fields)}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
T0_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z
DAY_MS = 86_400_000


def _lines(data: bytes) -> list[bytes]:
    assert data == b"" or data.endswith(b"\n")
    return data.split(b"\n")[:-1]


def _dumps(d) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _checked_object(line: bytes):
    """Strict JSON parse + simple schema check (without Arrow); the object, or None."""
    try:
        obj = json.loads(line, parse_constant=_reject_constant)  # rejects NaN / Infinity
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    if not isinstance(obj, dict) or list(obj) != SCHEMA.names:
        return None
    if not (isinstance(obj["event_id"], str) and UUID4.match(obj["event_id"])):
        return None
    if obj["event_type"] not in gen.EVENT_TYPES:
        return None
    for key in ("user_id", "client_ts"):
        if type(obj[key]) is not int:
            return None
    payload = obj["payload"]
    if payload is not None:
        if not isinstance(payload, dict):
            return None
        if set(payload) != set(gen.EVENT_PAYLOAD_FIELDS[obj["event_type"]]):
            return None
    try:
        for s in _strings(obj):
            s.encode("utf-8")  # lone surrogates
    except UnicodeEncodeError:
        return None
    return obj


def _arrow_ok(objs) -> bool:
    try:
        pa.RecordBatch.from_pylist(objs, schema=SCHEMA)
    except (ValueError, TypeError, pa.ArrowException):
        return False
    return True


def _is_valid_line(line: bytes) -> bool:
    """Strict JSON parse + a simple schema check of one NDJSON line."""
    obj = _checked_object(line)
    return obj is not None and _arrow_ok([obj])


# ---------------------------------------------------------------------------


def test_event_types_and_payload_fields():
    types = gen.EVENT_TYPES
    assert 18 <= len(types) <= 25
    assert math.isclose(sum(types.values()), 1.0)
    probs = list(types.values())
    assert probs == sorted(probs, reverse=True)
    assert list(types)[:2] == ["play", "skip"]
    assert types["play"] > 0.2 and types["play"] > 2 * types["pause"]
    assert set(gen.EVENT_PAYLOAD_FIELDS) == set(types)
    for etype, fields in gen.EVENT_PAYLOAD_FIELDS.items():
        assert 3 <= len(fields) <= 6, etype
        assert len(set(fields)) == len(fields)
        assert set(fields) <= set(gen.PAYLOAD_FIELD_TYPES)
    union = set().union(*gen.EVENT_PAYLOAD_FIELDS.values())
    assert union == set(gen.PAYLOAD_FIELD_TYPES) == PAYLOAD_FIELDS
    assert len(union) <= 20


def test_schema():
    assert SCHEMA.names == ["event_id", "event_type", "user_id", "device_id", "client_ts",
                            "country", "platform", "app_version", "payload"]
    for name in ("event_id", "event_type", "user_id", "client_ts"):
        assert not SCHEMA.field(name).nullable
    for name in ("device_id", "country", "platform", "app_version", "payload"):
        assert SCHEMA.field(name).nullable
    assert SCHEMA.field("user_id").type == pa.int64()
    payload = SCHEMA.field("payload").type
    assert pa.types.is_struct(payload)
    assert payload.field("results").type == pa.int32()
    assert payload.field("latency_ms").type == pa.float64()
    assert payload.field("shuffle").type == pa.bool_()


def test_determinism():
    a = gen.generate_ndjson(3000, seed=11, dup_rate=0.05, malformed_rate=0.02)
    b = gen.generate_ndjson(3000, seed=11, dup_rate=0.05, malformed_rate=0.02)
    c = gen.generate_ndjson(3000, seed=12, dup_rate=0.05, malformed_rate=0.02)
    assert a == b
    assert a != c
    assert not set(_lines(a)) & set(_lines(c))
    assert gen.generate_dicts(500, seed=4) == gen.generate_dicts(500, seed=4)
    assert gen.generate_dicts(500, seed=4) != gen.generate_dicts(500, seed=5)


def test_dicts_match_ndjson():
    kw = dict(seed=3, dup_rate=0.05, dup_window=200)
    dicts = gen.generate_dicts(5000, **kw)
    lines = _lines(gen.generate_ndjson(5000, **kw))
    assert len(lines) == len(dicts) == 5000
    for line, d in zip(lines, dicts):
        assert json.loads(line) == d
        assert line == _dumps(d).encode("utf-8")  # byte-exact json.dumps rendering


def test_payload_absent_vs_null_and_schema_validation():
    dicts = gen.generate_dicts(20_000, seed=5)
    nulls = present = 0
    for d in dicts:
        assert UUID4.match(d["event_id"])
        assert d["device_id"] is None or re.fullmatch(r"d-[0-9a-f]{16}", d["device_id"])
        assert d["country"] is None or re.fullmatch(r"[A-Z]{2}", d["country"])
        assert d["platform"] in {"ios", "android", "web", "desktop", "tv", None}
        assert d["app_version"] is None or re.fullmatch(r"\d+\.\d+\.\d+", d["app_version"])
        assert T0_MS - 5 * DAY_MS < d["client_ts"] < T0_MS + 10 * DAY_MS
        if d["payload"] is None:
            continue
        assert list(d["payload"]) == list(gen.EVENT_PAYLOAD_FIELDS[d["event_type"]])
        present += len(d["payload"])
        nulls += sum(v is None for v in d["payload"].values())
    assert 0.035 < nulls / present < 0.065
    assert sum(d["payload"] is None for d in dicts) < 0.02 * len(dicts)

    batch = pa.RecordBatch.from_pylist(dicts, schema=SCHEMA)
    batch.validate(full=True)
    assert batch.num_rows == len(dicts)
    for name in ("event_id", "event_type", "user_id", "client_ts"):
        assert batch.column(name).null_count == 0
    assert len(set(batch.column("event_type").to_pylist())) == len(gen.EVENT_TYPES)


def test_event_type_distribution_is_skewed():
    counts = collections.Counter(d["event_type"] for d in gen.generate_dicts(20_000, seed=8))
    assert counts.most_common(2)[0][0] == "play"
    assert counts.most_common(2)[1][0] == "skip"
    for etype, p in gen.EVENT_TYPES.items():
        assert abs(counts[etype] / 20_000 - p) < 0.02, etype


def test_client_ts_monotone_ish():
    ts = [d["client_ts"] for d in gen.generate_dicts(20_000, seed=9)]
    assert statistics.median(ts[:2000]) < statistics.median(ts[9000:11000]) < statistics.median(ts[-2000:])
    assert abs(statistics.median(ts) - T0_MS) < DAY_MS
    assert max(ts) - min(ts) > DAY_MS  # late (offline) events and skewed clocks spread it out


@pytest.mark.parametrize("dup_window", [50, 6000])
def test_duplicates_are_exact_copies_within_window(dup_window):
    n, rate = 20_000, 0.05
    dicts = gen.generate_dicts(n, seed=6, dup_rate=rate, dup_window=dup_window)
    last_seen: dict[str, int] = {}
    first: dict[str, dict] = {}
    dups = 0
    for i, d in enumerate(dicts):
        eid = d["event_id"]
        if eid in first:
            dups += 1
            assert d == first[eid]
            assert d is not first[eid]
            assert i - last_seen[eid] <= dup_window
        else:
            first[eid] = d
        last_seen[eid] = i
    assert abs(dups / n - rate) < 0.01
    # duplicates do not change the other events
    plain = gen.generate_dicts(n, seed=6)
    same = sum(a == b for a, b in zip(dicts, plain))
    assert same == n - dups


def test_no_duplicates_by_default():
    dicts = gen.generate_dicts(20_000, seed=1)
    assert len({d["event_id"] for d in dicts}) == len(dicts)


def test_malformed_lines():
    n, rate = 20_000, 0.05
    clean = _lines(gen.generate_ndjson(n, seed=2, dup_rate=0.02))
    dirty = _lines(gen.generate_ndjson(n, seed=2, dup_rate=0.02, malformed_rate=rate))
    assert len(clean) == len(dirty) == n  # malformed lines never contain a newline
    bad = [i for i in range(n) if clean[i] != dirty[i]]
    assert abs(len(bad) / n - rate) < 0.01
    for i in bad:
        assert not _is_valid_line(dirty[i]), dirty[i]
    bad_set = set(bad)
    good = [_checked_object(dirty[i]) for i in range(n) if i not in bad_set]
    assert all(obj is not None for obj in good)
    assert _arrow_ok(good)
    # a good share of the bad lines are not even decodable / parseable
    unparseable = 0
    for i in bad:
        try:
            json.loads(dirty[i], parse_constant=_reject_constant)
        except ValueError:
            unparseable += 1
    assert 0.3 < unparseable / len(bad) < 0.95


@pytest.mark.parametrize("kind", range(len(gen.MALFORMED_KINDS)), ids=gen.MALFORMED_KINDS)
def test_each_malformed_kind_is_invalid(kind):
    lines = _lines(gen.generate_ndjson(150, seed=21))
    assert all(_is_valid_line(x) for x in lines)
    for aux in (0.0, 0.999):
        for line in lines:
            bad = gen._malform(line, kind, aux)
            assert b"\n" not in bad
            assert not _is_valid_line(bad), (gen.MALFORMED_KINDS[kind], bad)


def test_malformed_catalogue_examples():
    lines = _lines(gen.generate_ndjson(2000, seed=2, malformed_rate=0.5))
    joined = b"\n".join(lines)
    assert b"NaN" in joined
    assert b"\\ud8" in joined or b"\\udc" in joined or b"\\udf" in joined
    assert any(x.startswith(b"[") for x in lines)
    assert any(not x.startswith(b'{"event_id"') and x.startswith(b"{") for x in lines)
    assert re.search(rb'"(ms_played|position_ms|duration_ms|results|user_id)":"\d+"', joined)
    assert re.search(rb'"(ms_played|position_ms|duration_ms|results|user_id)":0\d', joined)
    undecodable = 0
    for x in lines:
        try:
            x.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > 0


@pytest.mark.parametrize("chunk_events", [1, 333, 4096, 5000, 100_000])
def test_chunked_equals_whole(chunk_events):
    n = 9000 if chunk_events > 1 else 1500
    kw = dict(dup_rate=0.05, dup_window=2000, malformed_rate=0.03)
    whole = gen.generate_ndjson(n, seed=13, **kw)
    chunks = list(gen.iter_ndjson_chunks(n, seed=13, chunk_events=chunk_events, **kw))
    assert b"".join(chunks) == whole
    assert all(c.endswith(b"\n") for c in chunks)
    counts = [c.count(b"\n") for c in chunks]
    assert all(c == chunk_events for c in counts[:-1])
    assert 0 < counts[-1] <= chunk_events
    assert sum(counts) == n


def test_start_selects_a_window_of_the_same_stream():
    kw = dict(seed=14, dup_rate=0.1, dup_window=3000)
    full = gen.generate_dicts(12_000, **kw)
    assert gen.generate_dicts(5000, start=7000, **kw) == full[7000:]
    assert gen.generate_dicts(10, start=4090, **kw) == full[4090:4100]
    whole = _lines(gen.generate_ndjson(12_000, malformed_rate=0.05, **kw))
    part = _lines(gen.generate_ndjson(2500, malformed_rate=0.05, start=5000, **kw))
    assert part == whole[5000:7500]


def test_edge_sizes():
    assert gen.generate_ndjson(0) == b""
    assert gen.generate_dicts(0) == []
    assert list(gen.iter_ndjson_chunks(0)) == []
    assert len(_lines(gen.generate_ndjson(1, dup_rate=0.9))) == 1


def test_mean_event_size():
    dicts = gen.generate_dicts(20_000, seed=0)
    sizes = [len(_dumps(d).encode("utf-8")) for d in dicts]
    mean = statistics.fmean(sizes)
    assert 300 <= mean <= 400, mean
    data = gen.generate_ndjson(20_000, seed=0)
    assert len(data) == sum(sizes) + len(sizes)


def test_unicode_and_escapes_present():
    dicts = gen.generate_dicts(20_000, seed=7)
    data = gen.generate_ndjson(20_000, seed=7)
    queries = [d["payload"]["query"] for d in dicts
               if d["event_type"] == "search" and d["payload"] and d["payload"]["query"]]
    assert len(queries) > 300
    assert any(re.search("[À-ɏ]", q) for q in queries)                  # accents
    assert any(re.search("[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]", q) for q in queries)  # CJK / Hangul
    assert any(any(ord(c) > 0xFFFF for c in q) for q in queries)          # emoji (astral)
    assert any('"' in q for q in queries)
    assert any("\\" in q for q in queries)
    assert any("\n" in q for q in queries)
    assert any("\t" in q for q in queries)
    non_ascii = sum(1 for x in _lines(data) if max(x) > 0x7F)
    assert non_ascii > 100
    assert b'\\"' in data and b"\\\\" in data and b"\\n" in data and b"\\t" in data
    data.decode("utf-8")  # valid lines are valid UTF-8, and no lone surrogates


@pytest.mark.parametrize("suffix", [".ndjson", ".gz", ".zst", ".lz4"])
def test_write_ndjson(tmp_path, suffix):
    path = tmp_path / f"events{suffix}"
    if suffix == ".zst":
        zstandard = pytest.importorskip("zstandard")
        read = lambda p: zstandard.ZstdDecompressor().stream_reader(open(p, "rb")).read()
    elif suffix == ".lz4":
        lz4_frame = pytest.importorskip("lz4.frame")
        read = lambda p: lz4_frame.open(p, "rb").read()
    elif suffix == ".gz":
        read = lambda p: gzip.open(p, "rb").read()
    else:
        read = lambda p: Path(p).read_bytes()
    kw = dict(dup_rate=0.02, malformed_rate=0.01)
    assert gen.write_ndjson(path, 5000, seed=17, chunk_events=700, **kw) == 5000
    assert read(path) == gen.generate_ndjson(5000, seed=17, **kw)


def test_write_zst_without_zstandard(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes `import zstandard` fail
    with pytest.raises(ImportError, match="pip install zstandard"):
        gen.write_ndjson(tmp_path / "x.ndjson.zst", 10)


def test_argument_validation():
    with pytest.raises(ValueError):
        gen.generate_ndjson(-1)
    with pytest.raises(ValueError):
        gen.generate_dicts(10, dup_rate=1.5)
    with pytest.raises(ValueError):
        gen.generate_ndjson(10, malformed_rate=-0.1)
    with pytest.raises(ValueError):
        gen.generate_dicts(10, dup_window=0)
    with pytest.raises(TypeError):
        list(gen.iter_ndjson_chunks(10, bogus=1))
    with pytest.raises(ValueError):
        list(gen.iter_ndjson_chunks(10, chunk_events=0))


def test_docstring_examples():
    result = doctest.testmod(gen, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0
