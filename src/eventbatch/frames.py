"""The wire format: one Arrow record batch per self-delimiting, checksummed frame.

A frame is a fixed-layout little-endian header followed by a body that is an
Arrow IPC stream (schema message, optional dictionary batches, exactly one
record batch, end-of-stream marker).  The header carries the producer, stream
and sequence number, the row count, the event-time range, the schema
fingerprint and XXH64 checksums of the header and of the body, so a consumer
can route, deduplicate and check continuity without decoding the body, and
detects corruption before trusting any length.  The byte layout and the
versioning rules are in ``docs/FORMAT.md``.

>>> import uuid, pyarrow as pa
>>> from eventbatch.frames import encode_frame, decode_frame, peek_header
>>> batch = pa.record_batch({"x": [1, 2, 3]})
>>> payload = encode_frame(batch, producer_id=uuid.UUID(int=1), seq=7)
>>> peek_header(payload).seq, peek_header(payload).row_count
(7, 3)
>>> decode_frame(payload).batch.equals(batch)
True
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
import struct
import uuid
from typing import IO, Any, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from .errors import FrameError

try:
    from ._core import hash64 as _xxh64
except ImportError:  # the compiled core predates hash64: use the slow, readable twin
    from ._xxh64_py import xxh64 as _xxh64

__all__ = [
    "encode_frame",
    "decode_frame",
    "restamp",
    "peek_header",
    "schema_fingerprint",
    "iter_frames",
    "write_frames",
    "Frame",
    "FrameHeader",
    "FrameReader",
    "StreamReport",
    "MAGIC",
    "VERSION_MAJOR",
    "VERSION_MINOR",
    "HEADER_LENGTH",
]

MAGIC = b"EBF\x01"          # fixed for every version; the version is in the header
VERSION_MAJOR = 1           # a reader rejects any other major version
VERSION_MINOR = 0           # a reader accepts any minor version of its major

# Header layout, version 1.0 (offsets in bytes, all little-endian):
#   0 magic 4s | 4 version_major u16 | 6 version_minor u16 | 8 header_length u16
#  10 flags u16 | 12 codec u8 | 13 time_unit u8 | 14 reserved u16 | 16 stream_id u32
#  20 reserved u32 | 24 producer_id 16s | 40 seq u64 | 48 schema_fingerprint u64
#  56 row_count u64 | 64 min_time i64 | 72 max_time i64 | 80 body_length u64
#  88 body_checksum u64 | header_length-8: header_checksum u64
_FIELDS = struct.Struct("<4sHHHHBBHII16sQQQqqQQ")
_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
HEADER_LENGTH = _FIELDS.size + 8                     # 104 in version 1.0

# Flags.  Bits 0-7 may be ignored by a reader that does not know them; bits
# 8-15 must be understood: a reader rejects a frame with an unknown one set.
FLAG_HAS_TIME = 0x0001
_KNOWN_FLAGS = FLAG_HAS_TIME
_MUST_UNDERSTAND = 0xFF00

# Codec ids: how Arrow compressed the body's buffers (IPC buffer compression).
_CODEC_IDS = {"none": 0, "lz4": 1, "zstd": 2}
_CODEC_NAMES = {v: k for k, v in _CODEC_IDS.items()}
_ARROW_COMPRESSION = {"none": None, "lz4": "lz4", "zstd": "zstd"}   # "lz4" is LZ4_FRAME

# Time units of min_time/max_time (0: the frame has no time column).
_UNIT_IDS = {"s": 1, "ms": 2, "us": 3, "ns": 4, "day": 5}
_UNIT_NAMES = {v: k for k, v in _UNIT_IDS.items()}

_IPC_CONTINUATION = 0xFFFFFFFF
_IPC_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
# pyarrow errors and the builtins a malformed body can surface as, to wrap in FrameError
_ARROW_ERRORS = (pa.ArrowException, ValueError, TypeError, OSError, IndexError, KeyError,
                 OverflowError, NotImplementedError, EOFError)


@dataclasses.dataclass(frozen=True)
class FrameHeader:
    """A decoded, checksum-verified frame header.

    ``min_time``/``max_time`` are ``None`` unless the frame has a time range
    (:attr:`has_time`); they are integers in ``time_unit`` since the Unix epoch
    (``"s"``, ``"ms"``, ``"us"``, ``"ns"`` or ``"day"``).
    """

    version_major: int
    version_minor: int
    header_length: int
    flags: int
    codec: str
    time_unit: str | None
    stream_id: int
    producer_id: uuid.UUID
    seq: int
    schema_fingerprint: int
    row_count: int
    min_time: int | None
    max_time: int | None
    body_length: int
    body_checksum: int
    header_checksum: int

    @property
    def has_time(self) -> bool:
        return bool(self.flags & FLAG_HAS_TIME)

    @property
    def frame_length(self) -> int:
        """Bytes of the whole frame: header plus body."""
        return self.header_length + self.body_length

    @property
    def stream_key(self) -> tuple[uuid.UUID, int]:
        return (self.producer_id, self.stream_id)


@dataclasses.dataclass(frozen=True)
class Frame:
    """A decoded frame: its header and its record batch."""

    header: FrameHeader
    batch: pa.RecordBatch


def schema_fingerprint(schema: pa.Schema) -> int:
    """XXH64 (seed 0) of the schema serialized as an Arrow IPC schema message.

    Field names, types, nullability and metadata all count.  It is the same
    hash as that of the first message of every frame body written with this
    schema.

    >>> import pyarrow as pa
    >>> s = pa.schema([("x", pa.int64())])
    >>> schema_fingerprint(s) == schema_fingerprint(pa.schema([("x", pa.int64())]))
    True
    >>> schema_fingerprint(s) == schema_fingerprint(pa.schema([("x", pa.int32())]))
    False
    """
    if not isinstance(schema, pa.Schema):
        raise TypeError(f"expected `pyarrow.Schema`, got `{type(schema).__name__}`")
    return _xxh64(schema.serialize().to_pybytes())


# ---------------------------------------------------------------------------
# encode

def encode_frame(batch: pa.RecordBatch, *, producer_id: "uuid.UUID | bytes | str",
                 stream_id: int = 0, seq: int, codec: str | None = "lz4",
                 time_column: str | None = None,
                 schema_fingerprint: int | None = None) -> bytes:
    """Encode one record batch as a frame.

    Parameters
    ----------
    batch : pyarrow.RecordBatch
    producer_id : uuid.UUID, 16 bytes or str
        Who produced the frame; a ``str`` is parsed by :class:`uuid.UUID`.
    stream_id : int, default 0
        A u32 naming one of the producer's streams.
    seq : int
        The frame's sequence number in its (producer_id, stream_id) stream, a u64.
    codec : {"lz4", "zstd", "none"}, default "lz4"
        Arrow IPC buffer compression of the body (``"lz4"`` is LZ4_FRAME).
        ``None`` means ``"none"``.
    time_column : str, optional
        A timestamp, date32 or date64 column whose non-null min and max go in
        the header (in the column's own unit since the epoch).
    schema_fingerprint : int, optional
        The fingerprint the caller expects the batch's schema to have (from
        :func:`schema_fingerprint`, say once per stream): ``ValueError`` if it
        differs.  The header always carries the fingerprint of the body.

    Returns
    -------
    bytes
        The frame: header then body.

    Examples
    --------
    >>> import uuid, pyarrow as pa
    >>> b = pa.record_batch({"t": pa.array([5, 2, None], pa.timestamp("ms"))})
    >>> h = peek_header(encode_frame(b, producer_id=uuid.UUID(int=1), seq=0, time_column="t"))
    >>> h.time_unit, h.min_time, h.max_time, h.codec
    ('ms', 2, 5, 'lz4')
    """
    return _assemble(_encode_body(batch, codec=codec, time_column=time_column,
                                  schema_fingerprint=schema_fingerprint),
                     producer_id=producer_id, stream_id=stream_id, seq=seq)


@dataclasses.dataclass(frozen=True)
class _Body:
    """A frame before its header: what :func:`_assemble` needs besides the
    producer id, stream id and sequence number.  Lets a producer encode a
    batch (and learn its size) before it picks the sequence number."""
    body: pa.Buffer
    codec_name: str
    flags: int
    unit_id: int
    min_time: int
    max_time: int
    fingerprint: int
    checksum: int
    num_rows: int

    @property
    def frame_length(self) -> int:
        return HEADER_LENGTH + self.body.size


def _encode_body(batch: pa.RecordBatch, *, codec: str | None = "lz4", time_column: str | None = None,
                 schema_fingerprint: int | None = None) -> _Body:
    if not isinstance(batch, pa.RecordBatch):
        raise TypeError(f"expected `pyarrow.RecordBatch`, got `{type(batch).__name__}`")
    codec_name = "none" if codec is None else codec
    if codec_name not in _CODEC_IDS:
        raise ValueError(f"expected codec in {sorted(_CODEC_IDS)}, got {codec!r}")

    flags = 0
    unit_id, min_time, max_time = 0, 0, 0
    if time_column is not None:
        unit_id, time_range = _time_range(batch, time_column)
        if time_range is not None:
            flags |= FLAG_HAS_TIME
            min_time, max_time = time_range

    # Write the body: the IPC stream writer adds the schema message and EOS.
    # The body stays an Arrow buffer (no copy into a bytes object): the
    # checksums read it in place, and _assemble copies it once, into the frame.
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=_ARROW_COMPRESSION[codec_name])
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    body = sink.getvalue()
    view = memoryview(body)

    fingerprint = _xxh64(view[:_schema_message_end(view, 0)])
    if schema_fingerprint is not None and schema_fingerprint != fingerprint:
        raise ValueError(f"expected a batch whose schema fingerprint is {_hex(schema_fingerprint)} "
                         f"(the schema_fingerprint argument), got {_hex(fingerprint)}")
    return _Body(body, codec_name, flags, unit_id, min_time, max_time, fingerprint, _xxh64(view),
                 batch.num_rows)


def _assemble(b: _Body, *, producer_id: Any, stream_id: int, seq: int) -> bytes:
    """The frame of an encoded body: header fields, header checksum, body."""
    pid = _producer_bytes(producer_id)
    stream_id = _check_uint("stream_id", stream_id, 32)
    seq = _check_uint("seq", seq, 64)
    fields = _FIELDS.pack(MAGIC, VERSION_MAJOR, VERSION_MINOR, HEADER_LENGTH, b.flags,
                          _CODEC_IDS[b.codec_name], b.unit_id, 0, stream_id, 0, pid, seq,
                          b.fingerprint, b.num_rows, b.min_time, b.max_time, b.body.size,
                          b.checksum)
    return b"".join((fields, _U64.pack(_xxh64(fields)), memoryview(b.body)))


def restamp(frame: bytes, seq: int) -> bytes:
    """The same frame with another sequence number (header checksum redone).

    Lets a producer encode a batch before it knows which sequence number the
    frame will get, without encoding it twice.
    """
    view = _view(frame)
    header = _parse_header(view)
    seq = _check_uint("seq", seq, 64)
    fields = bytearray(view[: header.header_length - 8])
    struct.pack_into("<Q", fields, 40, seq)
    return b"".join((bytes(fields), _U64.pack(_xxh64(bytes(fields))), view[header.header_length:]))


def _producer_bytes(producer_id: Any) -> bytes:
    if isinstance(producer_id, uuid.UUID):
        return producer_id.bytes
    if isinstance(producer_id, (bytes, bytearray, memoryview)):
        raw = bytes(producer_id)
        if len(raw) != 16:
            raise ValueError(f"expected a 16-byte producer_id, got {len(raw)} bytes")
        return raw
    if isinstance(producer_id, str):
        try:
            return uuid.UUID(producer_id).bytes
        except ValueError as e:
            raise ValueError(f"expected a UUID string as producer_id, got {producer_id[:40]!r}") from e
    raise TypeError(f"expected producer_id as `uuid.UUID`, `bytes` or `str`, "
                    f"got `{type(producer_id).__name__}`")


def _check_uint(name: str, value: Any, bits: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"expected {name} as `int`, got `bool`")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"expected {name} as `int`, got `{type(value).__name__}`") from None
    if not 0 <= value < 1 << bits:
        raise ValueError(f"expected {name} in 0..2**{bits}-1, got {value}")
    return value


def _time_range(batch: pa.RecordBatch, name: str) -> tuple[int, tuple[int, int] | None]:
    """(unit id, (min, max) or None when the column has no non-null value)."""
    if not isinstance(name, str):
        raise TypeError(f"expected time_column as `str`, got `{type(name).__name__}`")
    index = batch.schema.get_field_index(name)
    if index < 0:
        found = "twice" if batch.schema.get_all_field_indices(name) else "not at all"
        raise ValueError(f"expected time_column {name[:40]!r} once in the batch's schema, "
                         f"found it {found}")
    column = batch.column(index)
    kind = column.type
    if pa.types.is_timestamp(kind):
        unit, as_int = kind.unit, pa.int64()
    elif pa.types.is_date32(kind):
        unit, as_int = "day", pa.int32()
    elif pa.types.is_date64(kind):
        unit, as_int = "ms", pa.int64()
    else:
        raise TypeError(f"expected time_column {name[:40]!r} of a timestamp, date32 or date64 "
                        f"type, got `{kind}`")
    extremes = pc.min_max(column.view(as_int))
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    if low is None:
        return _UNIT_IDS[unit], None
    return _UNIT_IDS[unit], (low, high)


# ---------------------------------------------------------------------------
# decode

def peek_header(payload: "bytes | bytearray | memoryview") -> FrameHeader:
    """Read and verify a frame's header without touching its body.

    ``payload`` is a whole frame, or at least its first ``header_length``
    bytes.  Checks the magic, the major version, the header checksum, the
    flags, the codec and the time fields; it does not check the body (use
    :func:`decode_frame`).  Raises :class:`FrameError`.

    >>> import uuid, pyarrow as pa
    >>> payload = encode_frame(pa.record_batch({"x": [1]}), producer_id=uuid.UUID(int=1), seq=3)
    >>> peek_header(payload[:HEADER_LENGTH]).seq
    3
    """
    return _parse_header(_view(payload))


def decode_frame(payload: "bytes | bytearray | memoryview") -> Frame:
    """Verify and decode one frame (exactly one: trailing bytes are an error).

    Checks, in order: the header (see :func:`peek_header`), the payload length
    against the header's body length, the body checksum, the schema
    fingerprint against the body's schema message, then parses the IPC body
    and checks that it holds exactly one record batch of ``row_count`` rows
    that passes ``validate(full=True)``.

    Raises
    ------
    FrameError
        For any payload that is not a valid frame (with the cause chained when
        pyarrow found the problem).  ``TypeError`` if ``payload`` is not a
        bytes-like object.

    Examples
    --------
    >>> decode_frame(b'{"a": 1}')
    Traceback (most recent call last):
    ...
    eventbatch.errors.FrameError: expected magic b'EBF\\x01', got b'{"a"' at byte 0 (not an eventbatch frame)
    """
    view = _view(payload)
    header = _parse_header(view)
    start, end = header.header_length, header.frame_length
    if len(view) < end:
        raise FrameError(f"truncated frame: expected {end} bytes (header {start} + body length "
                         f"{header.body_length} at byte 80), got {len(view)}")
    if len(view) > end:
        raise FrameError(f"expected {end} bytes (header {start} + body length "
                         f"{header.body_length} at byte 80), got {len(view)}: "
                         f"{len(view) - end} trailing bytes at byte {end}")
    body = bytes(view[start:end])
    got = _xxh64(body)
    if got != header.body_checksum:
        raise FrameError(f"body checksum mismatch: expected {_hex(header.body_checksum)} "
                         f"(at byte 88), got {_hex(got)} over bytes {start}..{end}")
    got = _xxh64(body[:_schema_message_end(body, start)])
    if got != header.schema_fingerprint:
        raise FrameError(f"schema fingerprint mismatch: expected {_hex(header.schema_fingerprint)} "
                         f"(at byte 48), got {_hex(got)} from the schema message at byte {start}")
    batch = _read_body(body, start)
    if batch.num_rows != header.row_count:
        raise FrameError(f"row count mismatch: expected {header.row_count} (at byte 56), "
                         f"got {batch.num_rows} in the body at byte {start}")
    return Frame(header, batch)


def _view(payload: Any) -> memoryview:
    if isinstance(payload, str):
        raise TypeError("expected a bytes-like frame, got `str`")
    try:
        return memoryview(payload).cast("B")
    except TypeError:
        raise TypeError(f"expected a bytes-like frame, got `{type(payload).__name__}`") from None


def _hex(value: int) -> str:
    return f"0x{value:016x}"


def _truncated(need: int, got: int) -> FrameError:
    return FrameError(f"truncated frame: expected at least {need} header bytes, got {got}")


def _parse_header(view: memoryview) -> FrameHeader:
    size = len(view)
    if size == 0:
        raise FrameError("expected a frame, got an empty payload (0 bytes)")
    # 1. magic, then the version: a newer major version may lay out the rest differently.
    magic = bytes(view[:4])
    if magic != MAGIC:
        if size < 4 and MAGIC.startswith(magic):
            raise _truncated(HEADER_LENGTH, size)
        raise FrameError(f"expected magic {MAGIC!r}, got {magic!r} at byte 0 (not an eventbatch frame)")
    if size < 8:
        raise _truncated(HEADER_LENGTH, size)
    major, minor = struct.unpack_from("<HH", view, 4)
    if major != VERSION_MAJOR:
        raise FrameError(f"expected format major version {VERSION_MAJOR}, got version {major}.{minor} "
                         f"at byte 4 (a newer format, or a corrupt header)")
    if size < HEADER_LENGTH:
        raise _truncated(HEADER_LENGTH, size)
    # 2. the header length, bounded before it is used to find the checksum
    (header_length,) = _U16.unpack_from(view, 8)
    if header_length < HEADER_LENGTH or header_length % 8:
        raise FrameError(f"expected a header length of at least {HEADER_LENGTH} and a multiple "
                         f"of 8, got {header_length} at byte 8")
    if size < header_length:
        raise _truncated(header_length, size)
    # 3. the header checksum, before any other field is trusted
    covered = bytes(view[:header_length - 8])
    (stored,) = _U64.unpack_from(view, header_length - 8)
    got = _xxh64(covered)
    if got != stored:
        raise FrameError(f"header checksum mismatch: expected {_hex(stored)} (at byte "
                         f"{header_length - 8}), got {_hex(got)} over bytes 0..{header_length - 8}")
    (_magic, _major, _minor, _hl, flags, codec_id, unit_id, _r0, stream_id, _r1, pid, seq,
     fingerprint, row_count, min_time, max_time, body_length, body_checksum) = _FIELDS.unpack_from(covered)
    # 4. the fields that change how the frame must be read
    unknown = flags & _MUST_UNDERSTAND & ~_KNOWN_FLAGS
    if unknown:
        raise FrameError(f"expected no unknown must-understand flags (bits 8-15), got "
                         f"0x{unknown:04x} at byte 10")
    if codec_id not in _CODEC_NAMES:
        raise FrameError(f"expected a codec id in 0..{max(_CODEC_NAMES)}, got {codec_id} at byte 12")
    if unit_id and unit_id not in _UNIT_NAMES:
        raise FrameError(f"expected a time unit id in 0..{max(_UNIT_NAMES)}, got {unit_id} at byte 13")
    has_time = bool(flags & FLAG_HAS_TIME)
    if has_time and not unit_id:
        raise FrameError("expected a time unit at byte 13 with the has-time flag set, got 0")
    if has_time and min_time > max_time:
        raise FrameError(f"expected min_time <= max_time, got {min_time} (at byte 64) > "
                         f"{max_time} (at byte 72)")
    return FrameHeader(
        version_major=major, version_minor=minor, header_length=header_length, flags=flags,
        codec=_CODEC_NAMES[codec_id], time_unit=_UNIT_NAMES.get(unit_id),
        stream_id=stream_id, producer_id=uuid.UUID(bytes=pid), seq=seq,
        schema_fingerprint=fingerprint, row_count=row_count,
        min_time=min_time if has_time else None, max_time=max_time if has_time else None,
        body_length=body_length, body_checksum=body_checksum, header_checksum=stored)


def _schema_message_end(body: bytes, at: int) -> int:
    """End offset of the body's first IPC message (the schema message):
    continuation marker (u32 0xFFFFFFFF), metadata length (i32), metadata."""
    if len(body) < 8:
        raise FrameError(f"expected an Arrow IPC stream of at least 8 bytes at byte {at}, "
                         f"got {len(body)}")
    marker, metadata_length = struct.unpack_from("<Ii", body, 0)
    if marker != _IPC_CONTINUATION:
        raise FrameError(f"expected the IPC continuation marker 0xffffffff at byte {at}, "
                         f"got 0x{marker:08x}")
    if not 0 < metadata_length <= len(body) - 8:
        raise FrameError(f"expected a schema message length in 1..{len(body) - 8} at byte {at + 4}, "
                         f"got {metadata_length}")
    return 8 + metadata_length


def _read_body(body: bytes, at: int) -> pa.RecordBatch:
    """Parse the IPC stream: a schema message, dictionary batches, one record
    batch, then the end-of-stream marker as the body's last 8 bytes."""
    if not body.endswith(_IPC_EOS):
        raise FrameError(f"expected the IPC end-of-stream marker {_IPC_EOS.hex()} as the last 8 "
                         f"bytes of the body, got {body[-8:].hex()} at byte {at + len(body) - 8}")
    buffer = pa.py_buffer(body)
    try:
        # Walk the messages first, to account for every byte of the body.
        messages = pa.ipc.MessageReader.open_stream(buffer)
        kinds, length = [], 0
        while True:
            try:
                message = messages.read_next_message()
            except StopIteration:
                break
            kinds.append(message.type)
            length += 8 + message.metadata.size + (message.body.size if message.body else 0)
        record_batches = kinds.count("record batch")
        if (not kinds or kinds[0] != "schema" or record_batches != 1
                or any(k not in ("dictionary", "record batch") for k in kinds[1:])):
            raise FrameError(f"expected an IPC stream of a schema message, dictionary batches and "
                             f"one record batch at byte {at}, got messages {kinds}")
        if length + len(_IPC_EOS) != len(body):
            raise FrameError(f"expected the IPC messages to fill the body ({len(body)} bytes) at "
                             f"byte {at}, got {length} bytes of messages plus the end-of-stream marker")
        reader = pa.ipc.open_stream(buffer)
        batch = reader.read_next_batch()
        batch.validate(full=True)
        return batch
    except FrameError:
        raise
    except _ARROW_ERRORS as e:
        raise FrameError(f"expected a valid Arrow IPC stream at byte {at}, got "
                         f"{type(e).__name__}: {str(e)[:200]}") from e


# ---------------------------------------------------------------------------
# sequence continuity

@dataclasses.dataclass(frozen=True)
class StreamReport:
    """What a :class:`FrameReader` saw of one (producer_id, stream_id) stream.

    ``gaps`` are inclusive ``(start, end)`` ranges of sequence numbers not seen
    (yet); ``duplicates`` counts frames whose sequence number was already seen;
    ``reordered`` counts frames that arrived after a later one (filling a gap).
    """

    expected_next: int
    gaps: tuple[tuple[int, int], ...]
    duplicates: int
    reordered: int
    frames: int

    @property
    def missing(self) -> int:
        """How many sequence numbers the gaps hold."""
        return sum(end - start + 1 for start, end in self.gaps)


class _StreamState:
    __slots__ = ("low", "expected_next", "gaps", "duplicates", "reordered", "frames")

    def __init__(self, low: int) -> None:
        self.low = low                    # lowest sequence number accounted for
        self.expected_next = low          # one past the highest one seen
        self.gaps: list[list[int]] = []   # sorted, disjoint, inclusive [start, end]
        self.duplicates = 0
        self.reordered = 0
        self.frames = 0


class FrameReader:
    """Check sequence continuity per (producer_id, stream_id).

    Every sequence number in ``[low, expected_next)`` is either seen or in a
    gap.  ``check`` classifies one header:

    * ``"ok"``: the next expected one (or the first of its stream);
    * ``"gap"``: later than expected; the sequence numbers skipped become a gap;
    * ``"reordered"``: earlier than expected but never seen: it fills (part
      of) a gap, or, with ``first_seq=None``, precedes the first one seen (the
      numbers in between become a gap);
    * ``"duplicate"``: already seen, or (with ``first_seq`` given) below it.

    Parameters
    ----------
    first_seq : int, optional
        The sequence number every stream is expected to start at, e.g. the
        one after a checkpoint.  ``None`` (default): a stream starts at the
        first sequence number seen.

    Not thread-safe.  Memory is one small record per stream plus its gaps.

    Examples
    --------
    >>> import uuid, pyarrow as pa
    >>> reader, pid, b = FrameReader(first_seq=0), uuid.UUID(int=1), pa.record_batch({"x": [1]})
    >>> [reader.check(peek_header(encode_frame(b, producer_id=pid, seq=s))) for s in (0, 1, 4, 2, 2)]
    ['ok', 'ok', 'gap', 'reordered', 'duplicate']
    >>> r = reader.report()[(pid, 0)]
    >>> r.expected_next, r.gaps, r.duplicates, r.reordered
    (5, ((3, 3),), 1, 1)
    """

    def __init__(self, *, first_seq: int | None = None) -> None:
        self._first_seq = None if first_seq is None else _check_uint("first_seq", first_seq, 64)
        self._streams: dict[tuple[uuid.UUID, int], _StreamState] = {}

    def check(self, header: "FrameHeader | Frame") -> str:
        """Record ``header`` (or a frame's header) and classify it: "ok",
        "gap", "duplicate" or "reordered"."""
        if isinstance(header, Frame):
            header = header.header
        key = (header.producer_id, header.stream_id)
        seq = header.seq
        state = self._streams.get(key)
        if state is None:
            state = self._streams[key] = _StreamState(seq if self._first_seq is None else self._first_seq)
        state.frames += 1
        if seq == state.expected_next:
            state.expected_next += 1
            return "ok"
        if seq > state.expected_next:
            state.gaps.append([state.expected_next, seq - 1])
            state.expected_next = seq + 1
            return "gap"
        if seq < state.low:
            if self._first_seq is not None:
                state.duplicates += 1
                return "duplicate"
            if seq + 1 < state.low:
                state.gaps.insert(0, [seq + 1, state.low - 1])
            state.low = seq
            state.reordered += 1
            return "reordered"
        # low <= seq < expected_next: in a gap, or seen
        i = bisect.bisect_right(state.gaps, seq, key=operator.itemgetter(0)) - 1
        if i >= 0 and state.gaps[i][1] >= seq:
            start, end = state.gaps[i]
            pieces = [[a, b] for a, b in ((start, seq - 1), (seq + 1, end)) if a <= b]
            state.gaps[i:i + 1] = pieces
            state.reordered += 1
            return "reordered"
        state.duplicates += 1
        return "duplicate"

    def report(self) -> dict[tuple[uuid.UUID, int], StreamReport]:
        """A snapshot per (producer_id, stream_id) stream."""
        return {key: StreamReport(expected_next=s.expected_next,
                                  gaps=tuple((a, b) for a, b in s.gaps),
                                  duplicates=s.duplicates, reordered=s.reordered, frames=s.frames)
                for key, s in self._streams.items()}


# ---------------------------------------------------------------------------
# files of concatenated frames

_READ_CHUNK = 1 << 20


def write_frames(fileobj: IO[bytes], frames: Iterable[bytes]) -> int:
    """Write frames back to back to a binary file object; return the bytes written.

    Each frame's header is verified and its length checked against its body
    length (the body is not re-hashed), so the file stays readable by
    :func:`iter_frames`.
    """
    written = 0
    for index, payload in enumerate(frames):
        view = _view(payload)
        try:
            header = _parse_header(view)
        except FrameError as e:
            raise FrameError(f"frame {index} (to write): {e}") from e
        if len(view) != header.frame_length:
            raise FrameError(f"frame {index} (to write): expected {header.frame_length} bytes "
                             f"(header {header.header_length} + body {header.body_length}), "
                             f"got {len(view)}")
        fileobj.write(view)
        written += len(view)
    return written


def iter_frames(fileobj: IO[bytes], *, decode: bool = True) -> "Iterator[Frame | bytes]":
    """Read frames written back to back from a binary file object.

    Yields :class:`Frame` objects, or with ``decode=False`` each frame's bytes
    with only its header verified (pass them to :func:`decode_frame` or
    :func:`peek_header` later).  Stops at end of file on a frame boundary;
    raises :class:`FrameError` naming the frame and its file offset for
    anything else.

    >>> import io, uuid, pyarrow as pa
    >>> f, pid = io.BytesIO(), uuid.UUID(int=1)
    >>> write_frames(f, [encode_frame(pa.record_batch({"x": [s]}), producer_id=pid, seq=s) for s in range(3)]) > 0
    True
    >>> _ = f.seek(0)
    >>> [frame.header.seq for frame in iter_frames(f)]
    [0, 1, 2]
    """
    offset = 0
    index = 0
    while True:
        head = _read_exact(fileobj, HEADER_LENGTH)
        if not head:
            return
        try:
            if len(head) < HEADER_LENGTH:
                _parse_header(memoryview(head))      # raises: bad magic or truncated
                raise _truncated(HEADER_LENGTH, len(head))
            (header_length,) = _U16.unpack_from(head, 8)
            if (header_length > HEADER_LENGTH and head[:4] == MAGIC
                    and _U16.unpack_from(head, 4)[0] == VERSION_MAJOR):
                head += _read_exact(fileobj, header_length - HEADER_LENGTH)
            header = _parse_header(memoryview(head))
            body = _read_exact(fileobj, header.body_length)
            if len(body) < header.body_length:
                raise FrameError(f"truncated frame: expected a body of {header.body_length} bytes "
                                 f"(body length at byte 80), got {len(body)}")
            payload = head + body
            item = decode_frame(payload) if decode else payload
        except FrameError as e:
            raise FrameError(f"frame {index} at file offset {offset}: {e}") from e
        yield item
        offset += len(payload)
        index += 1


def _read_exact(fileobj: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at end of file; reads in chunks so a
    corrupt length cannot make it allocate more than the file holds."""
    parts = []
    remaining = size
    while remaining > 0:
        part = fileobj.read(min(remaining, _READ_CHUNK))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
