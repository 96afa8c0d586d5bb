"""The frame wire format (src/eventbatch/frames.py, docs/FORMAT.md).

* XXH64: the pure-Python twin against the xxhash package, known answers;
* round trips over many schemas, codecs and time columns;
* corruption: every header bit flipped, random body bytes, every truncation,
  trailing garbage, foreign payloads, forged frames (valid checksums over bad
  contents); every failure is a FrameError, nothing else;
* sequence continuity (FrameReader) against a simple model;
* files of frames;
* docs/FORMAT.md: the generated worked example is current, and its layout
  table is enough to read a header.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import doctest
import importlib.util
import io
import pathlib
import re
import struct
import uuid

import pyarrow as pa
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

import eventbatch
from eventbatch import FrameError, _core, frames
from eventbatch._xxh64_py import xxh64 as xxh64_py
from eventbatch.frames import (Frame, FrameHeader, FrameReader, decode_frame, encode_frame,
                               iter_frames, peek_header, schema_fingerprint, write_frames)

import strategies as S

ROOT = pathlib.Path(__file__).resolve().parents[1]
FORMAT_MD = ROOT / "docs" / "FORMAT.md"
PID = uuid.UUID("12345678-9abc-4def-8123-456789abcdef")
CODECS = ["lz4", "zstd", "none"]


def h64(data: bytes) -> int:
    return xxhash.xxh64_intdigest(data)


# --- an independent header packer, written from the layout table in FORMAT.md

HEADER = struct.Struct("<4sHHHHBBHII16sQQQqqQQ")
NAMES = ("magic", "version_major", "version_minor", "header_length", "flags", "codec",
         "time_unit", "reserved14", "stream_id", "reserved20", "producer_id", "seq",
         "schema_fingerprint", "row_count", "min_time", "max_time", "body_length", "body_checksum")


def unpack(payload: bytes) -> tuple[dict, bytes, bytes]:
    """(fields, extra header bytes between 96 and the checksum, body)."""
    fields = dict(zip(NAMES, HEADER.unpack_from(payload)))
    hl = fields["header_length"]
    return fields, payload[96:hl - 8], payload[hl:]


def forge(payload: bytes, *, body: bytes | None = None, extra: bytes | None = None,
          fix_fingerprint: bool = True, **changes) -> bytes:
    """Rewrite a frame's fields and/or body, with consistent lengths and checksums."""
    fields, old_extra, old_body = unpack(payload)
    body = old_body if body is None else body
    extra = old_extra if extra is None else extra
    fields["header_length"] = 104 + len(extra)
    fields["body_length"] = len(body)
    fields["body_checksum"] = h64(body)
    if fix_fingerprint and len(body) >= 8:
        (length,) = struct.unpack_from("<i", body, 4)
        if 0 < length <= len(body) - 8:
            fields["schema_fingerprint"] = h64(body[:8 + length])
    fields.update(changes)
    covered = HEADER.pack(*(fields[n] for n in NAMES)) + extra
    return covered + struct.pack("<Q", h64(covered)) + body


def ipc_stream(schema: pa.Schema, batches, codec=None) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema, options=pa.ipc.IpcWriteOptions(compression=codec)) as w:
        for b in batches:
            w.write_batch(b)
    return sink.getvalue().to_pybytes()


def small_batch() -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array(["a", None, "ccc"]),
                            "ts": pa.array([3, None, 1], pa.timestamp("us", tz="UTC")),
                            "n": pa.array([1, 2, None], pa.int32())})


@pytest.fixture(scope="module")
def small_frame() -> bytes:
    return encode_frame(small_batch(), producer_id=PID, stream_id=9, seq=5, codec="none",
                        time_column="ts")


def assert_frame_error(payload, match: str | None = None) -> FrameError:
    with pytest.raises(FrameError, match=match) as info:
        decode_frame(payload)
    return info.value


# ---------------------------------------------------------------------------
# XXH64

KNOWN_XXH64 = [  # (data, seed, digest): pinned; a change must be deliberate
    (b"", 0, 0xEF46DB3751D8E999),
    (b"a", 0, 0xD24EC4F1A98C6E5B),
    (b"abc", 0, 0x44BC2CF5AD770999),
    (b"", 1, 0xD5AFBA1336A3BE4B),
    (bytes(range(100)), 0, 0x6AC1E58032166597),
]


@pytest.mark.parametrize("data,seed,digest", KNOWN_XXH64)
def test_xxh64_known_answers(data, seed, digest):
    assert xxhash.xxh64_intdigest(data, seed) == digest
    assert xxh64_py(data, seed) == digest


def test_xxh64_py_matches_xxhash_for_lengths_0_to_200(rng):
    for n in range(201):
        data = rng.randbytes(n)
        for seed in (0, 1, rng.randrange(1 << 64), (1 << 64) - 1):
            assert xxh64_py(data, seed) == xxhash.xxh64_intdigest(data, seed), (n, seed, data.hex())


def test_xxh64_py_takes_any_buffer_and_long_inputs(rng):
    data = rng.randbytes(5000)
    assert xxh64_py(bytearray(data)) == xxh64_py(memoryview(data)) == h64(data)
    assert xxh64_py(memoryview(data)[7:4000]) == h64(data[7:4000])
    with pytest.raises(TypeError):
        xxh64_py("text")


def test_frames_hashes_with_the_core_when_it_has_hash64():
    core = getattr(_core, "hash64", None)
    assert frames._xxh64 is (core if core is not None else xxh64_py)
    assert frames._xxh64(b"abc") == 0x44BC2CF5AD770999


def test_frames_hash_bytes_or_memoryviews(monkeypatch, small_frame):
    """frames.py hashes ``bytes`` or a ``memoryview`` of them (the body is
    hashed in place, not copied into a bytes object first), never another
    type that a hash function may take for an array of values (a pyarrow
    Buffer, a str); both hash implementations give the same answer."""
    calls = []

    def strict(data, seed=0):
        assert type(data) in (bytes, memoryview), type(data)
        h = h64(data)
        assert h == xxh64_py(data)
        calls.append(len(data))
        return h

    monkeypatch.setattr(frames, "_xxh64", strict)
    batch = small_batch()
    payload = encode_frame(batch, producer_id=PID, seq=5, stream_id=9, codec="none", time_column="ts")
    assert payload == small_frame
    assert decode_frame(memoryview(payload)).batch.equals(batch)
    assert decode_frame(bytearray(payload)).header == peek_header(memoryview(payload))
    assert schema_fingerprint(batch.schema) == peek_header(payload).schema_fingerprint
    f = io.BytesIO()
    write_frames(f, [bytearray(payload)])
    f.seek(0)
    assert len(list(iter_frames(f))) == 1
    assert calls


# ---------------------------------------------------------------------------
# round trips

def ts(unit, tz=None):
    return pa.timestamp(unit, tz=tz)


CASES = {
    "ints_floats_bools_with_nulls": pa.record_batch({
        "i8": pa.array([1, None, -128], pa.int8()), "u64": pa.array([0, (1 << 64) - 1, None], pa.uint64()),
        "f32": pa.array([1.5, float("nan"), None], pa.float32()), "f64": [float("inf"), -0.0, None],
        "b": [True, None, False]}),
    "strings_and_binary": pa.record_batch({
        "s": ["", "é𝄞ключ", None], "ls": pa.array(["x" * 300, None, "y"], pa.large_string()),
        "bin": pa.array([b"\x00\xff", None, b""], pa.binary()),
        "fsb": pa.array([b"abcd", b"efgh", None], pa.binary(4))}),
    "timestamps_every_unit": pa.record_batch({
        "s": pa.array([1, 2, None], ts("s")), "ms": pa.array([-5, None, 7], ts("ms", "UTC")),
        "us": pa.array([None, None, 3], ts("us", "+05:30")),
        "ns": pa.array([(1 << 63) - 1, -(1 << 63), 0], ts("ns", "America/New_York"))}),
    "dates_decimal_time": pa.record_batch({
        "d32": pa.array([dt.date(2026, 11, 1), None, dt.date(1969, 12, 31)], pa.date32()),
        "d64": pa.array([dt.date(2000, 1, 1), dt.date(1970, 1, 1), None], pa.date64()),
        "dec": pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-3.50")], pa.decimal128(10, 2)),
        "t": pa.array([1, None, 3], pa.time64("us"))}),
    "nested_struct_list_map": pa.record_batch({
        "st": pa.array([{"a": 1, "b": {"c": "x"}}, None, {"a": None, "b": None}],
                       pa.struct([("a", pa.int64()), ("b", pa.struct([("c", pa.string())]))])),
        "li": pa.array([[1, None], None, []], pa.list_(pa.int32())),
        "lls": pa.array([[{"k": "v"}], [None], None], pa.list_(pa.struct([("k", pa.string())]))),
        "m": pa.array([[("a", 1)], None, []], pa.map_(pa.string(), pa.int64()))}),
    "dictionary_column": pa.record_batch({
        "cat": pa.array(["x", "y", None]).dictionary_encode(), "n": [1, 2, 3]}),
    "schema_metadata": pa.RecordBatch.from_arrays(
        [pa.array([1, 2, 3])], schema=pa.schema([pa.field("x", pa.int64(), nullable=False,
                                                          metadata={b"unit": b"ms"})],
                                                metadata={b"owner": b"events"})),
    "all_null_column": pa.record_batch({"n": pa.nulls(3), "ts": pa.array([None] * 3, ts("ms"))}),
    "empty_batch": pa.record_batch({"ts": pa.array([], ts("ms")), "s": pa.array([], pa.string())}),
    "no_columns": pa.RecordBatch.from_arrays([], schema=pa.schema([])),
    "sliced": pa.record_batch({"ts": pa.array(range(100), ts("ms")),
                               "s": [str(i) for i in range(100)]}).slice(37, 11),
    "wide": pa.record_batch({f"c{i}": pa.array([i, None, -i]) for i in range(60)}),
}
TIME_COLUMNS = {"timestamps_every_unit": ["s", "ms", "us", "ns"],
                "dates_decimal_time": ["d32", "d64"], "all_null_column": ["ts"],
                "empty_batch": ["ts"], "sliced": ["ts"]}


def expected_time(batch: pa.RecordBatch, name: str):
    """(unit, min, max) from the column's values, independently of frames.py."""
    column = batch.column(name)
    t = column.type
    unit = t.unit if pa.types.is_timestamp(t) else "day" if pa.types.is_date32(t) else "ms"
    raw = column.cast(pa.int32() if pa.types.is_date32(t) else pa.int64()).to_pylist()
    values = [v for v in raw if v is not None]
    return unit, (min(values) if values else None), (max(values) if values else None)


def same_batch(a: pa.RecordBatch, b: pa.RecordBatch) -> bool:
    """Equal schemas (metadata included) and values; NaN equals NaN."""
    if not a.schema.equals(b.schema, check_metadata=True):
        return False
    return a.equals(b) or repr(a.to_pylist()) == repr(b.to_pylist())


def check_round_trip(batch: pa.RecordBatch, payload: bytes, *, seq: int, stream_id: int,
                     codec: str, time_column: str | None = None) -> Frame:
    frame = decode_frame(payload)
    header = frame.header
    assert isinstance(header, FrameHeader)
    assert peek_header(payload) == header
    assert same_batch(frame.batch, batch)
    assert (header.version_major, header.version_minor, header.header_length) == (1, 0, 104)
    assert (header.producer_id, header.stream_id, header.seq) == (PID, stream_id, seq)
    assert header.stream_key == (PID, stream_id)
    assert header.codec == codec
    assert header.row_count == batch.num_rows
    assert header.schema_fingerprint == schema_fingerprint(batch.schema)
    assert header.frame_length == len(payload) == 104 + header.body_length
    assert header.body_checksum == h64(payload[104:])
    assert header.header_checksum == h64(payload[:96])
    if time_column is None:
        assert (header.time_unit, header.min_time, header.max_time, header.has_time) == (None, None, None, False)
    else:
        unit, low, high = expected_time(batch, time_column)
        assert header.time_unit == unit
        assert (header.min_time, header.max_time) == (low, high)
        assert header.has_time == (low is not None)
    return frame


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip(case, codec):
    batch = CASES[case]
    for time_column in [None] + TIME_COLUMNS.get(case, []):
        payload = encode_frame(batch, producer_id=PID, stream_id=7, seq=11, codec=codec,
                               time_column=time_column)
        check_round_trip(batch, payload, seq=11, stream_id=7, codec=codec, time_column=time_column)


def test_codec_changes_the_body_not_the_batch():
    batch = pa.record_batch({"s": ["same text, many times"] * 200, "n": list(range(200))})
    sizes = {}
    for codec in CODECS + [None]:
        payload = encode_frame(batch, producer_id=PID, seq=0, codec=codec)
        assert decode_frame(payload).batch.equals(batch)
        sizes[codec] = len(payload)
        assert payload[12] == {"none": 0, "lz4": 1, "zstd": 2, None: 0}[codec]
    assert sizes["lz4"] < sizes["none"] and sizes["zstd"] < sizes["none"]
    assert sizes[None] == sizes["none"]


def test_producer_id_forms_and_limits():
    batch = CASES["no_columns"]
    forms = [PID, PID.bytes, bytearray(PID.bytes), memoryview(PID.bytes), str(PID), PID.hex,
             "{" + str(PID).upper() + "}"]
    payloads = {encode_frame(batch, producer_id=p, seq=1) for p in forms}
    assert len(payloads) == 1
    assert peek_header(payloads.pop()).producer_id == PID
    top = encode_frame(batch, producer_id=PID, stream_id=(1 << 32) - 1, seq=(1 << 64) - 1)
    h = peek_header(top)
    assert (h.stream_id, h.seq) == ((1 << 32) - 1, (1 << 64) - 1)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"producer_id": b"short"}, ValueError, "16-byte producer_id, got 5"),
    ({"producer_id": "not-a-uuid"}, ValueError, "UUID string"),
    ({"producer_id": 12}, TypeError, "producer_id"),
    ({"seq": -1}, ValueError, r"seq in 0..2\*\*64-1, got -1"),
    ({"seq": 1 << 64}, ValueError, "seq"),
    ({"seq": True}, TypeError, "bool"),
    ({"seq": 1.0}, TypeError, "float"),
    ({"stream_id": 1 << 32}, ValueError, "stream_id"),
    ({"codec": "gzip"}, ValueError, "codec"),
    ({"time_column": "nope"}, ValueError, "not at all"),
    ({"time_column": "n"}, TypeError, "timestamp, date32 or date64"),
    ({"time_column": 1}, TypeError, "time_column"),
    ({"schema_fingerprint": 123}, ValueError, "schema fingerprint"),
])
def test_encode_rejects_bad_arguments(kwargs, error, match):
    args = {"producer_id": PID, "seq": 0, **kwargs}
    with pytest.raises(error, match=match):
        encode_frame(small_batch(), **args)


def test_encode_rejects_non_batches_and_duplicate_time_columns():
    with pytest.raises(TypeError, match="RecordBatch"):
        encode_frame(pa.table({"x": [1]}), producer_id=PID, seq=0)
    dup = pa.RecordBatch.from_arrays([pa.array([1], ts("s")), pa.array([2], ts("s"))], names=["t", "t"])
    with pytest.raises(ValueError, match="twice"):
        encode_frame(dup, producer_id=PID, seq=0, time_column="t")


def test_schema_fingerprint_is_the_hash_of_the_serialized_schema():
    batch = small_batch()
    fp = schema_fingerprint(batch.schema)
    assert fp == h64(batch.schema.serialize().to_pybytes())
    payload = encode_frame(batch, producer_id=PID, seq=0, schema_fingerprint=fp)
    assert peek_header(payload).schema_fingerprint == fp
    # the body starts with exactly those bytes
    assert payload[104:].startswith(batch.schema.serialize().to_pybytes())
    # names, types, nullability, metadata all count
    variants = [pa.schema([batch.schema.field(0), batch.schema.field(1), pa.field("m", pa.int32())]),
                batch.schema.set(2, pa.field("n", pa.int64())),
                batch.schema.set(2, pa.field("n", pa.int32(), nullable=False)),
                batch.schema.with_metadata({b"k": b"v"})]
    assert len({fp, *(schema_fingerprint(v) for v in variants)}) == 5
    with pytest.raises(TypeError):
        schema_fingerprint(batch)


# ---------------------------------------------------------------------------
# corruption and foreign payloads

def test_every_header_bit_flip_is_detected(small_frame):
    for at in range(104):
        for bit in range(8):
            bad = bytearray(small_frame)
            bad[at] ^= 1 << bit
            with pytest.raises(FrameError):
                decode_frame(bytes(bad))
            with pytest.raises(FrameError):
                peek_header(bad)


def test_every_header_byte_replaced_is_detected(small_frame, rng):
    for at in range(104):
        for value in {0x00, 0xFF, rng.randrange(256)} - {small_frame[at]}:
            bad = bytearray(small_frame)
            bad[at] = value
            assert_frame_error(bad)


def test_random_body_corruption_is_detected(small_frame, rng):
    body_start = 104
    for trial in range(400):
        bad = bytearray(small_frame)
        for _ in range(rng.choice([1, 1, 2, 5])):
            at = rng.randrange(body_start, len(bad))
            bad[at] ^= rng.randrange(1, 256)
        if bad == small_frame:
            continue
        assert_frame_error(bytes(bad), "body checksum mismatch")


def test_every_truncation_is_detected(small_frame):
    for n in range(len(small_frame)):
        err = assert_frame_error(small_frame[:n])
        assert "empty" in str(err) if n == 0 else "truncated" in str(err), (n, str(err))
        if n < 104:
            with pytest.raises(FrameError):
                peek_header(small_frame[:n])
        else:
            assert peek_header(small_frame[:n]).seq == 5   # the header alone is enough


@pytest.mark.parametrize("garbage", [b"\x00", b"EBF\x01", b"x" * 1000, "second frame"])
def test_trailing_bytes_are_detected(small_frame, garbage):
    if garbage == "second frame":
        garbage = small_frame
    err = assert_frame_error(small_frame + garbage, "trailing bytes")
    assert f"at byte {len(small_frame)}" in str(err)


FOREIGN = [
    (b"", "empty payload"),
    (b'{"a": 1, "b": [true, null]}', r"""expected magic b'EBF\\x01', got b'\{"a"' at byte 0"""),
    (b"[1]\n", "expected magic"),
    (b"PAR1" + b"\x00" * 200, "expected magic"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 200, "expected magic"),
    (b"EBF", "truncated"),
    (b"EBF\x01", "truncated"),
    (b"EBF\x01\x01\x00\x00\x00", "truncated"),
    (b"EBF\x01\x02\x00\x00\x00" + b"\x00" * 200, r"major version 1, got version 2.0 at byte 4"),
    (b"EBF\x01\x00\x00\x00\x00" + b"\x00" * 200, "major version 1, got version 0.0"),
    (b"EBF\x01\x01\x00\x00\x00" + b"\x00" * 200, "header length"),
    (b"EBF\x01\x01\x00\x00\x00\x68\x00" + b"\x00" * 200, "header checksum mismatch"),
    (b"EBF\x01\x01\x00\x00\x00\xff\xff" + b"\x00" * 200, "header length"),
    (b"EBF\x01\x01\x00\x00\x00\x00\x01" + b"\x00" * 200, "truncated"),
]


@pytest.mark.parametrize("payload,match", FOREIGN)
def test_foreign_payloads(payload, match):
    assert_frame_error(payload, match)
    assert_frame_error(bytearray(payload), match)


def test_an_arrow_ipc_stream_is_not_a_frame():
    batch = small_batch()
    assert_frame_error(ipc_stream(batch.schema, [batch]), "expected magic")


def test_random_bytes_raise_frame_error_only(rng):
    for n in list(range(120)) + [rng.randrange(120, 5000) for _ in range(50)]:
        data = rng.randbytes(n)
        for payload in (data, b"EBF\x01" + data, b"EBF\x01\x01\x00" + data):
            with pytest.raises(FrameError):
                decode_frame(payload)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_frame_error_only(data):
    for payload in (data, b"EBF\x01\x01\x00\x00\x00\x68\x00" + data):
        with pytest.raises(FrameError):
            decode_frame(payload)


def test_non_bytes_payloads_are_a_type_error(small_frame):
    for bad in ("EBF\x01", None, 12, [1, 2]):
        with pytest.raises(TypeError, match="bytes-like"):
            decode_frame(bad)
    assert decode_frame(memoryview(small_frame)).header.seq == 5
    assert decode_frame(bytearray(small_frame)).header.seq == 5


def test_error_messages_say_expected_got_where(small_frame):
    bad = bytearray(small_frame)
    bad[40] ^= 1
    msg = str(assert_frame_error(bytes(bad)))
    stored = struct.unpack_from("<Q", small_frame, 96)[0]
    assert f"header checksum mismatch: expected 0x{stored:016x} (at byte 96)" in msg
    assert f"got 0x{h64(bytes(bad[:96])):016x} over bytes 0..96" in msg
    bad = bytearray(small_frame)
    bad[-1] ^= 1
    msg = str(assert_frame_error(bytes(bad)))
    assert "body checksum mismatch: expected" in msg and f"over bytes 104..{len(small_frame)}" in msg
    msg = str(assert_frame_error(small_frame[:-3]))
    assert f"expected {len(small_frame)} bytes" in msg and f"got {len(small_frame) - 3}" in msg


# forged frames: checksums valid, contents wrong

def test_forge_helper_reproduces_real_frames(small_frame):
    assert forge(small_frame) == small_frame


@pytest.mark.parametrize("changes,match", [
    ({"row_count": 4}, "row count mismatch: expected 4 .at byte 56., got 3"),
    ({"row_count": 0}, "row count mismatch"),
    ({"schema_fingerprint": 1}, "schema fingerprint mismatch"),
    ({"codec": 3}, "codec id in 0..2, got 3 at byte 12"),
    ({"time_unit": 6}, "time unit id in 0..5, got 6 at byte 13"),
    ({"time_unit": 0}, "time unit at byte 13"),
    ({"min_time": 10, "max_time": 9}, "min_time <= max_time"),
    ({"flags": 0x0100}, "must-understand flags .bits 8-15., got 0x0100 at byte 10"),
    ({"flags": 0x8001}, "0x8000"),
    ({"version_major": 2}, "got version 2.0"),
    ({"header_length": 100}, "header length"),
    ({"header_length": 108}, "header length"),
    ({"magic": b"EBF\x02"}, "expected magic"),
])
def test_forged_headers_are_rejected(small_frame, changes, match):
    assert_frame_error(forge(small_frame, **changes), match)


def test_body_length_beyond_the_payload(small_frame):
    bad = forge(small_frame, body_length=(1 << 64) - 1)
    assert peek_header(bad).body_length == (1 << 64) - 1
    assert_frame_error(bad, "truncated frame: expected 18446744073709551719 bytes")


def test_forward_compatible_changes_are_accepted(small_frame):
    """What FORMAT.md promises a 1.0 reader ignores: a later minor version,
    ignorable flags, reserved bytes, a longer header."""
    batch = decode_frame(small_frame).batch
    for changes in [{"version_minor": 7}, {"flags": 0x00FF}, {"reserved14": 0xBEEF},
                    {"reserved20": 0xFFFFFFFF}, {"extra": b"new field"[:8]},
                    {"extra": bytes(range(64)), "version_minor": 3}]:
        payload = forge(small_frame, **changes)
        frame = decode_frame(payload)
        assert frame.batch.equals(batch)
        assert frame.header.body_length == len(small_frame) - 104
        assert frame.header.header_length == 104 + len(changes.get("extra", b""))
    assert decode_frame(forge(small_frame, flags=0x00FE)).header.min_time is None


def test_forged_bodies_are_rejected(small_frame):
    batch = small_batch()
    two = ipc_stream(batch.schema, [batch, batch])
    zero = ipc_stream(batch.schema, [])
    one = ipc_stream(batch.schema, [batch])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, batch.schema) as w:
        w.write_batch(batch)
    ipc_file = sink.getvalue().to_pybytes()
    cases = [
        (two, "one record batch"),
        (zero, "one record batch"),
        (one + b"\x00" * 8, "end-of-stream"),
        (one[:-8] + b"\x00" * 8 + one[-8:], "fill the body"),
        (one[:-24] + one[-8:], "valid Arrow IPC stream"),
        (ipc_file, "continuation marker"),
        (b"", "at least 8 bytes"),
        (b"\xff\xff\xff\xff\x00\x01\x00\x00", "schema message length"),
        (b"\xff\xff\xff\xff\x00\x00\x00\x00", "schema message length"),
        (one[:len(batch.schema.serialize())] + b"\xff\xff\xff\xff\x00\x00\x00\x00", "one record batch"),
    ]
    for body, match in cases:
        assert_frame_error(forge(small_frame, body=body, row_count=3), match)
    # a pyarrow error is chained as the cause
    err = assert_frame_error(forge(small_frame, body=one[:-24] + one[-8:]))
    assert isinstance(err.__cause__, (pa.ArrowException, OSError))   # pyarrow's IO errors are OSError
    # a consistent frame with a different batch decodes: checksums are not signatures
    other = pa.record_batch({"x": [1, 2]})
    assert decode_frame(forge(small_frame, body=ipc_stream(other.schema, [other]), row_count=2,
                              flags=0, time_unit=0)).batch.equals(other)


def test_forged_random_bodies_never_crash(small_frame, rng):
    """Bodies mutated with the checksums and the fingerprint fixed up, so the
    damage reaches the IPC parser: a FrameError or a batch that validates."""
    frame = encode_frame(CASES["nested_struct_list_map"], producer_id=PID, seq=0, codec="lz4")
    outcomes = {"error": 0, "decoded": 0}
    for source in (small_frame, frame):
        body = unpack(source)[2]
        for _ in range(500):
            bad = bytearray(body)
            for _ in range(rng.choice([1, 2, 4])):
                bad[rng.randrange(len(bad))] = rng.randrange(256)
            try:
                decoded = decode_frame(forge(source, body=bytes(bad)))
            except FrameError:
                outcomes["error"] += 1
            else:
                decoded.batch.validate(full=True)
                outcomes["decoded"] += 1
    assert outcomes["error"] > 0


# ---------------------------------------------------------------------------
# Hypothesis round trips

@st.composite
def arrow_batches(draw):
    r = draw(S.randoms)
    n = r.randint(0, 12)
    columns, names = [], []
    for i in range(r.randint(1, 5)):
        kind = r.choice(["int", "float", "str", "bool", "ts", "date", "list", "struct", "dict", "bin"])
        null = lambda v: None if r.random() < 0.2 else v  # noqa: E731
        if kind == "int":
            arr = pa.array([null(r.randint(-(1 << 63), (1 << 63) - 1)) for _ in range(n)], pa.int64())
        elif kind == "float":
            arr = pa.array([null(r.uniform(-1e300, 1e300)) for _ in range(n)], pa.float64())
        elif kind == "str":
            arr = pa.array([null(S.gen_text(r, 6, controls=True)) for _ in range(n)], pa.string())
        elif kind == "bool":
            arr = pa.array([null(r.random() < 0.5) for _ in range(n)], pa.bool_())
        elif kind == "ts":
            unit = r.choice(["s", "ms", "us", "ns"])
            arr = pa.array([null(r.randint(-(1 << 62), 1 << 62)) for _ in range(n)],
                           pa.timestamp(unit, tz=r.choice([None, "UTC"])))
        elif kind == "date":
            arr = pa.array([null(r.randint(-(1 << 30), 1 << 30)) for _ in range(n)], pa.date32())
        elif kind == "list":
            arr = pa.array([null([null(r.randint(0, 9)) for _ in range(r.randint(0, 3))]) for _ in range(n)],
                           pa.list_(pa.int16()))
        elif kind == "struct":
            arr = pa.array([null({"a": null(r.random()), "b": null(S.gen_text(r, 3))}) for _ in range(n)],
                           pa.struct([("a", pa.float64()), ("b", pa.string())]))
        elif kind == "dict":
            arr = pa.array([null(r.choice("xyz")) for _ in range(n)], pa.string()).dictionary_encode()
        else:
            arr = pa.array([null(r.randbytes(r.randint(0, 5))) for _ in range(n)], pa.binary())
        columns.append(arr)
        names.append(f"{kind}_{i}")
    batch = pa.RecordBatch.from_arrays(columns, names=names)
    if n and r.random() < 0.3:
        start = r.randrange(n)
        batch = batch.slice(start, r.randint(0, n - start))
    return batch


def time_columns(batch):
    return [f.name for f in batch.schema
            if pa.types.is_timestamp(f.type) or pa.types.is_date32(f.type)]


@given(batch=arrow_batches(), codec=st.sampled_from(CODECS),
       seq=st.integers(0, (1 << 64) - 1), stream_id=st.integers(0, (1 << 32) - 1), data=st.data())
def test_hypothesis_round_trip(batch, codec, seq, stream_id, data):
    time_column = data.draw(st.sampled_from([None] + time_columns(batch)))
    payload = encode_frame(batch, producer_id=PID, stream_id=stream_id, seq=seq, codec=codec,
                           time_column=time_column)
    check_round_trip(batch, payload, seq=seq, stream_id=stream_id, codec=codec, time_column=time_column)


@settings(max_examples=60)
@given(schema=S.schemas(policies=("ignore",)), r=S.randoms, codec=st.sampled_from(CODECS))
def test_hypothesis_round_trip_of_encoder_batches(schema, r, codec):
    """Batches as the Encoder builds them (its own buffers, every type it has)."""
    enc = eventbatch.Encoder(schema)
    enc.extend([S.gen_py_event(r, schema, S.CLEAN) for _ in range(r.randint(0, 8))])
    batch = enc.flush()
    names = [f.name for f in batch.schema if pa.types.is_timestamp(f.type)]
    time_column = r.choice([None] + names) if len(set(names)) == len(names) else None
    payload = encode_frame(batch, producer_id=PID, seq=r.randrange(1 << 64), codec=codec,
                           time_column=time_column)
    check_round_trip(batch, payload, seq=peek_header(payload).seq, stream_id=0, codec=codec,
                     time_column=time_column)


# ---------------------------------------------------------------------------
# sequence continuity

def header(seq: int, producer: uuid.UUID = PID, stream_id: int = 0) -> FrameHeader:
    return peek_header(encode_frame(CASES["no_columns"], producer_id=producer, stream_id=stream_id, seq=seq))


def statuses(reader: FrameReader, seqs, **kw) -> list[str]:
    return [reader.check(header(s, **kw)) for s in seqs]


def test_in_order_stream_is_ok():
    reader = FrameReader()
    assert statuses(reader, range(100, 110)) == ["ok"] * 10
    assert reader.report() == {(PID, 0): frames.StreamReport(expected_next=110, gaps=(),
                                                            duplicates=0, reordered=0, frames=10)}


def test_gaps_duplicates_and_reordering():
    reader = FrameReader()
    got = statuses(reader, [0, 1, 5, 6, 3, 3, 6, 0, 10, 2, 4, 8])
    assert got == ["ok", "ok", "gap", "ok", "reordered", "duplicate", "duplicate", "duplicate",
                   "gap", "reordered", "reordered", "reordered"]
    r = reader.report()[(PID, 0)]
    assert r.expected_next == 11
    assert r.gaps == ((7, 7), (9, 9))
    assert (r.duplicates, r.reordered, r.frames, r.missing) == (3, 4, 12, 2)


def test_a_late_frame_splits_a_gap():
    reader = FrameReader(first_seq=0)
    assert statuses(reader, [10, 5, 0, 9]) == ["gap", "reordered", "reordered", "reordered"]
    assert reader.report()[(PID, 0)].gaps == ((1, 4), (6, 8))


def test_first_seq_counts_older_frames_as_duplicates():
    reader = FrameReader(first_seq=100)
    assert statuses(reader, [99, 100, 50, 102]) == ["duplicate", "ok", "duplicate", "gap"]
    r = reader.report()[(PID, 0)]
    assert (r.expected_next, r.gaps, r.duplicates) == (103, ((101, 101),), 2)


def test_without_first_seq_an_older_frame_is_reordered_and_opens_a_gap():
    reader = FrameReader()
    assert statuses(reader, [10, 7, 8, 7, 9, 6]) == ["ok", "reordered", "reordered", "duplicate",
                                                     "reordered", "reordered"]
    r = reader.report()[(PID, 0)]
    assert (r.expected_next, r.gaps, r.duplicates, r.reordered) == (11, (), 1, 4)


def test_streams_are_independent():
    other = uuid.UUID(int=7)
    reader = FrameReader()
    plan = [(0, PID, 0), (0, PID, 1), (0, other, 0), (1, PID, 0), (2, PID, 1), (0, other, 0),
            (1, other, 0), (1, PID, 1)]
    got = [reader.check(header(s, producer, sid)) for s, producer, sid in plan]
    assert got == ["ok", "ok", "ok", "ok", "gap", "duplicate", "ok", "reordered"]
    rep = reader.report()
    assert set(rep) == {(PID, 0), (PID, 1), (other, 0)}
    assert (rep[(PID, 0)].expected_next, rep[(PID, 0)].gaps) == (2, ())
    assert (rep[(PID, 1)].expected_next, rep[(PID, 1)].gaps, rep[(PID, 1)].reordered) == (3, (), 1)
    assert (rep[(other, 0)].expected_next, rep[(other, 0)].duplicates) == (2, 1)


def test_reader_takes_frames_too():
    reader = FrameReader()
    frame = decode_frame(encode_frame(CASES["no_columns"], producer_id=PID, seq=3))
    assert [reader.check(frame), reader.check(frame.header)] == ["ok", "duplicate"]


def test_reader_report_is_a_snapshot():
    reader = FrameReader()
    reader.check(header(0))
    before = reader.report()
    reader.check(header(5))
    assert before[(PID, 0)].expected_next == 1
    assert reader.report()[(PID, 0)].gaps == ((1, 4),)


def model_statuses(seqs, first_seq):
    """The reader's contract restated with a set of seen numbers."""
    seen, out = set(), []
    low = first_seq
    for s in seqs:
        if low is None:
            low = s
        top = max(seen) + 1 if seen else low
        if s in seen or (first_seq is not None and s < first_seq):
            out.append("duplicate")
        elif s == top:
            out.append("ok")
        elif s > top:
            out.append("gap")
        else:
            out.append("reordered")
        if not (first_seq is not None and s < first_seq):
            seen.add(s)
            low = min(low, s)
    if low is None:
        return out, None, ()
    top = max(seen) + 1 if seen else low
    gaps, start = [], None
    for s in range(low, top + 1):
        if s not in seen and s < top:
            start = s if start is None else start
        elif start is not None:
            gaps.append((start, s - 1))
            start = None
    return out, top, tuple(gaps)


@given(st.lists(st.integers(0, 40), max_size=60), st.sampled_from([None, 0, 5]))
def test_reader_matches_a_model(seqs, first_seq):
    reader = FrameReader(first_seq=first_seq)
    got = [reader.check(header(s)) for s in seqs]
    want, top, gaps = model_statuses(seqs, first_seq)
    assert got == want
    if seqs:
        r = reader.report()[(PID, 0)]
        assert (r.expected_next, r.gaps) == (top, gaps)
        assert r.duplicates == want.count("duplicate") and r.reordered == want.count("reordered")
        assert r.frames == len(seqs)


# ---------------------------------------------------------------------------
# files of frames

def frame_file(n: int = 3) -> tuple[bytes, list[bytes]]:
    payloads = [encode_frame(pa.record_batch({"x": list(range(i + 1))}), producer_id=PID, seq=i,
                             codec=CODECS[i % 3]) for i in range(n)]
    f = io.BytesIO()
    assert write_frames(f, payloads) == sum(map(len, payloads))
    return f.getvalue(), payloads


def test_file_round_trip():
    data, payloads = frame_file(4)
    assert data == b"".join(payloads)
    got = list(iter_frames(io.BytesIO(data)))
    assert [f.header.seq for f in got] == [0, 1, 2, 3]
    assert [f.batch.num_rows for f in got] == [1, 2, 3, 4]
    assert list(iter_frames(io.BytesIO(data), decode=False)) == payloads
    assert list(iter_frames(io.BytesIO(b""))) == []


def test_file_with_extended_header():
    _, payloads = frame_file(2)
    longer = forge(payloads[1], extra=bytes(16), version_minor=1)
    f = io.BytesIO()
    write_frames(f, [payloads[0], longer, payloads[0]])
    f.seek(0)
    assert [fr.header.header_length for fr in iter_frames(f)] == [104, 120, 104]


def test_file_truncated_anywhere():
    data, payloads = frame_file(3)
    ends = {0, len(payloads[0]), len(payloads[0]) + len(payloads[1]), len(data)}
    for cut in range(len(data)):
        stream = iter_frames(io.BytesIO(data[:cut]))
        if cut in ends:
            assert len(list(stream)) == sorted(ends).index(cut)
            continue
        with pytest.raises(FrameError, match=r"frame \d at file offset \d+: .*truncated"):
            list(stream)


def test_file_garbage_between_frames():
    data, payloads = frame_file(2)
    bad = payloads[0] + b"\n" + payloads[1]
    frames_read = []
    with pytest.raises(FrameError, match=f"frame 1 at file offset {len(payloads[0])}: expected magic"):
        for fr in iter_frames(io.BytesIO(bad)):
            frames_read.append(fr)
    assert len(frames_read) == 1
    corrupt = bytearray(data)
    corrupt[len(payloads[0]) + 120] ^= 0x40
    with pytest.raises(FrameError, match="frame 1 .*body checksum"):
        list(iter_frames(io.BytesIO(bytes(corrupt))))
    # without decode the body is not checked, but the header still is
    assert len(list(iter_frames(io.BytesIO(bytes(corrupt)), decode=False))) == 2
    corrupt[len(payloads[0]) + 50] ^= 0x40
    with pytest.raises(FrameError, match="frame 1 .*header checksum"):
        list(iter_frames(io.BytesIO(bytes(corrupt)), decode=False))


def test_a_corrupt_length_does_not_allocate_it():
    _, payloads = frame_file(1)
    huge = forge(payloads[0], body_length=1 << 62)[:104]
    with pytest.raises(FrameError, match="expected a body of 4611686018427387904 bytes"):
        list(iter_frames(io.BytesIO(huge + b"x" * 100)))


def test_write_frames_refuses_what_would_break_the_file():
    _, payloads = frame_file(1)
    for bad, match in [(b"not a frame", "frame 0 .to write.: expected magic"),
                       (payloads[0] + b"x", "expected .* bytes"),
                       (payloads[0][:-1], "expected .* bytes")]:
        f = io.BytesIO()
        with pytest.raises(FrameError, match=match):
            write_frames(f, [bad])
        assert f.getvalue() == b""


# ---------------------------------------------------------------------------
# docs/FORMAT.md and the public names

def load_example_module():
    spec = importlib.util.spec_from_file_location("format_example", ROOT / "docs" / "format_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return load_example_module()


@pytest.fixture(scope="module")
def doc_frame_bytes() -> bytes:
    """The worked example's hex dump, read back from FORMAT.md."""
    text = FORMAT_MD.read_text()
    section = text.split("<!-- BEGIN GENERATED EXAMPLE")[1].split("<!-- END GENERATED EXAMPLE -->")[0]
    dump = [line for line in section.splitlines() if re.match(r"[0-9a-f]{8}  ", line)]
    assert dump
    data = bytearray()
    for line in dump:
        offset, _, rest = line.partition("  ")
        assert int(offset, 16) == len(data)
        data += bytes.fromhex(rest.split("|")[0])
    return bytes(data)


def test_format_md_example_is_current(example):
    """Regenerate with `python docs/format_example.py --write` if this fails
    after a deliberate change (a pyarrow upgrade can change the IPC bytes)."""
    text = FORMAT_MD.read_text()
    assert example.render() in text


def test_format_md_hex_dump_is_what_encode_frame_writes(example, doc_frame_bytes):
    batch = example.example_batch()
    payload = encode_frame(batch, producer_id=uuid.UUID("6f1c2b0e-7d4a-4c3b-9e21-5a8d0f3c4b71"),
                           stream_id=3, seq=42, codec="none", time_column="ts")
    assert payload.hex() == doc_frame_bytes.hex()
    frame = decode_frame(doc_frame_bytes)
    assert frame.batch.equals(batch)
    assert (frame.header.seq, frame.header.stream_id, frame.header.row_count) == (42, 3, 2)


TYPE_CODES = {"bytes": "s", "u8": "B", "u16": "H", "u32": "I", "u64": "Q", "i64": "q"}


def test_format_md_layout_table_reads_a_header(doc_frame_bytes):
    """Read the example header with nothing but the layout table of FORMAT.md."""
    text = FORMAT_MD.read_text()
    table = text.split("## Header layout")[1].split("\n\n")[1]
    rows = [r.split("|")[1:6] for r in table.splitlines()[2:]]
    fields, offset = {}, 0
    for off, size, kind, name, _ in rows:
        off, size, kind, name = int(off), int(size), kind.strip(), name.strip().strip("`")
        assert off == offset, f"the table has a hole or an overlap at {name}"
        code = f"{size}s" if kind == "bytes" else TYPE_CODES[kind]
        assert struct.calcsize("<" + code) == size
        (fields[name if name != "reserved" else f"reserved{off}"],) = struct.unpack_from("<" + code, doc_frame_bytes, off)
        offset += size
    assert offset == 104
    h = peek_header(doc_frame_bytes)
    assert fields["magic"] == b"EBF\x01"
    for name in ("version_major", "version_minor", "header_length", "flags", "stream_id", "seq",
                 "schema_fingerprint", "row_count", "min_time", "max_time", "body_length",
                 "body_checksum", "header_checksum"):
        assert fields[name] == getattr(h, name), name
    assert uuid.UUID(bytes=fields["producer_id"]) == h.producer_id
    assert fields["header_checksum"] == h64(doc_frame_bytes[:96])
    assert fields["body_checksum"] == h64(doc_frame_bytes[104:])
    (length,) = struct.unpack_from("<i", doc_frame_bytes, 108)
    assert fields["schema_fingerprint"] == h64(doc_frame_bytes[104:104 + 8 + length])


@pytest.mark.parametrize("module", [frames, importlib.import_module("eventbatch._xxh64_py")])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_public_names():
    for name in ("encode_frame", "decode_frame", "peek_header", "Frame", "FrameHeader",
                 "FrameReader", "schema_fingerprint", "iter_frames", "write_frames", "FrameError"):
        assert getattr(eventbatch, name) is getattr(frames, name, getattr(eventbatch, name))
    assert issubclass(FrameError, ValueError)
    with pytest.raises(dataclasses.FrozenInstanceError):
        header(0).seq = 1
