"""Generate the worked example of docs/FORMAT.md from the code.

    python docs/format_example.py            # print the example section
    python docs/format_example.py --write    # replace it in docs/FORMAT.md

tests/test_frames.py re-runs :func:`render` and fails if FORMAT.md differs,
so the hex dump and its annotations always match what ``encode_frame`` writes.
"""

from __future__ import annotations

import datetime
import pathlib
import struct
import sys
import uuid

import pyarrow as pa

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from eventbatch.frames import encode_frame, peek_header  # noqa: E402

BEGIN = "<!-- BEGIN GENERATED EXAMPLE: python docs/format_example.py --write -->"
END = "<!-- END GENERATED EXAMPLE -->"

PRODUCER_ID = uuid.UUID("6f1c2b0e-7d4a-4c3b-9e21-5a8d0f3c4b71")
STREAM_ID = 3
SEQ = 42

CODE = '''\
schema = pa.schema([pa.field("event_id", pa.string(), nullable=False),
                    pa.field("ts", pa.timestamp("ms", tz="UTC")),
                    pa.field("ms_played", pa.int64())])
batch = pa.record_batch([pa.array(["e1", "e2"]),
                         pa.array([1793527200000, 1793527201500], pa.timestamp("ms", tz="UTC")),
                         pa.array([30000, None])], schema=schema)
frame = encode_frame(batch, producer_id=uuid.UUID("6f1c2b0e-7d4a-4c3b-9e21-5a8d0f3c4b71"),
                     stream_id=3, seq=42, codec="none", time_column="ts")'''


def example_batch() -> pa.RecordBatch:
    scope: dict = {"pa": pa}
    exec(CODE.split("frame = ")[0], scope)
    return scope["batch"]


def example_frame() -> bytes:
    return encode_frame(example_batch(), producer_id=PRODUCER_ID, stream_id=STREAM_ID, seq=SEQ,
                        codec="none", time_column="ts")


def hexdump(data: bytes) -> str:
    lines = []
    for at in range(0, len(data), 16):
        row = data[at:at + 16]
        left = " ".join(f"{b:02x}" for b in row[:8])
        right = " ".join(f"{b:02x}" for b in row[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{at:08x}  {left:<23}  {right:<23}  |{text}|")
    return "\n".join(lines)


def _ms(value: int) -> str:
    when = datetime.datetime.fromtimestamp(value / 1000, tz=datetime.timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def header_rows(frame: bytes) -> list[tuple[int, int, str, str]]:
    h = peek_header(frame)
    return [
        (0, 4, "magic", repr(frame[:4])),
        (4, 2, "version_major", str(h.version_major)),
        (6, 2, "version_minor", str(h.version_minor)),
        (8, 2, "header_length", str(h.header_length)),
        (10, 2, "flags", f"0x{h.flags:04x} (bit 0: has time range)"),
        (12, 1, "codec", f"{frame[12]} ({h.codec})"),
        (13, 1, "time_unit", f"{frame[13]} ({h.time_unit})"),
        (14, 2, "reserved", "0"),
        (16, 4, "stream_id", str(h.stream_id)),
        (20, 4, "reserved", "0"),
        (24, 16, "producer_id", str(h.producer_id)),
        (40, 8, "seq", str(h.seq)),
        (48, 8, "schema_fingerprint", f"0x{h.schema_fingerprint:016x}"),
        (56, 8, "row_count", str(h.row_count)),
        (64, 8, "min_time", f"{h.min_time} ({_ms(h.min_time)})"),
        (72, 8, "max_time", f"{h.max_time} ({_ms(h.max_time)})"),
        (80, 8, "body_length", str(h.body_length)),
        (88, 8, "body_checksum", f"0x{h.body_checksum:016x}"),
        (96, 8, "header_checksum", f"0x{h.header_checksum:016x} (XXH64 of bytes 0..96)"),
    ]


def body_rows(frame: bytes, batch: pa.RecordBatch) -> list[tuple[int, int, str]]:
    """The IPC messages of the body and, for the uncompressed record batch,
    the buffers of its message body (checked against the batch's buffers)."""
    h = peek_header(frame)
    at = h.header_length
    body = frame[at:]
    rows = []
    reader = pa.ipc.MessageReader.open_stream(pa.py_buffer(body))
    pos = 0
    for message in reader:
        metadata_length = message.metadata.size
        rows.append((at + pos, 8, f"{message.type} message: continuation 0xffffffff, "
                                  f"metadata length {metadata_length} (i32)"))
        rows.append((at + pos + 8, metadata_length, f"{message.type} metadata (flatbuffer, padded to 8)"))
        pos += 8 + metadata_length
        if message.body is not None and message.body.size:
            rows += _buffer_rows(at + pos, message.body.to_pybytes(), batch)
            pos += message.body.size
    rows.append((at + pos, 8, "end of stream: 0xffffffff, then length 0"))
    assert at + pos + 8 == len(frame)
    return rows


def _buffer_rows(at: int, data: bytes, batch: pa.RecordBatch) -> list[tuple[int, int, str]]:
    rows = []
    pos = 0
    for field, column in zip(batch.schema, batch.columns):
        names = ["validity bitmap", "offsets (i32)", "data"] if pa.types.is_string(field.type) \
            else ["validity bitmap", "values (i64)"]
        for name, buffer in zip(names, column.buffers()):
            if name == "validity bitmap" and column.null_count == 0:
                rows.append((at + pos, 0, f"`{field.name}` {name}: absent (no nulls)"))
                continue
            size = buffer.size if name != "validity bitmap" else (len(column) + 7) // 8
            assert data[pos:pos + size] == buffer.to_pybytes()[:size], (field.name, name)
            padded = (size + 7) // 8 * 8
            pad = f" + {padded - size} padding" if padded > size else ""
            rows.append((at + pos, padded, f"`{field.name}` {name}: {size} byte{'s' * (size != 1)}{pad}"))
            pos += padded
    assert pos == len(data)
    return rows


def render() -> str:
    frame = example_frame()
    batch = example_batch()
    out = [BEGIN, "", "The frame below is produced by:", "", "```python", CODE, "```", "",
           f"It is {len(frame)} bytes: a {peek_header(frame).header_length}-byte header "
           f"and a {peek_header(frame).body_length}-byte body.", "",
           "```", hexdump(frame), "```", "", "Header:", "",
           "| offset | size | bytes (hex) | field | value |",
           "|-------:|-----:|-------------|-------|-------|"]
    for offset, size, name, value in header_rows(frame):
        out.append(f"| {offset} (0x{offset:02x}) | {size} | `{frame[offset:offset + size].hex(' ')}` "
                   f"| {name} | {value} |")
    out += ["", "Body (offsets from the start of the frame):", "",
            "| offset | size | content |", "|-------:|-----:|---------|"]
    for offset, size, what in body_rows(frame, batch):
        out.append(f"| {offset} (0x{offset:03x}) | {size} | {what} |")
    out += ["", END]
    return "\n".join(out)


def write(path: pathlib.Path = HERE / "FORMAT.md") -> None:
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + render() + tail)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    else:
        print(render())
