"""Frames: encode_frame / decode_frame of one Producer-sized batch, per codec,
against a bare Arrow IPC stream with the same buffer compression.

    PYTHONPATH=src python -m pytest benches/test_bench_frames.py --benchmark-only

Data: the first ``EVENTBATCH_BENCH_FRAME_ROWS`` (default 65,536) events of
the shared seeded data set (see conftest.py), as one RecordBatch.  The peer
is what a frame's body is: ``pa.ipc.new_stream`` with
``IpcWriteOptions(compression=codec)``, without the header and its XXH64
checksums.  Every benchmark checks, outside the timed region, that the
result decodes back to the same batch.  ``extra_info`` has rows/s and the
frame size.
"""
from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pytest

import eventbatch as eb

FRAME_ROWS = int(os.environ.get("EVENTBATCH_BENCH_FRAME_ROWS", "65536"))
CODECS = ["lz4", "zstd", "none"]
PRODUCER = uuid.UUID(int=1)


def run(benchmark, fn, rounds):
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.fixture(scope="module")
def batch(eb_ndjson_table) -> pa.RecordBatch:
    rows = min(FRAME_ROWS, eb_ndjson_table.num_rows)
    return eb_ndjson_table.slice(0, rows).combine_chunks().to_batches()[0]


def _ipc(batch: pa.RecordBatch, codec: str) -> bytes:
    opts = pa.ipc.IpcWriteOptions(compression=None if codec == "none" else codec)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=opts) as w:
        w.write_batch(batch)
    return sink.getvalue().to_pybytes()


@pytest.mark.benchmark(group="frames: encode")
@pytest.mark.parametrize("codec", CODECS)
def test_encode_frame(benchmark, bench_rounds, batch, codec):
    frame = run(benchmark, lambda: eb.encode_frame(batch, producer_id=PRODUCER, seq=7, codec=codec),
                bench_rounds)
    benchmark.extra_info.update(rows_per_s=batch.num_rows / benchmark.stats.stats.median,
                                frame_bytes=len(frame), arrow_bytes=batch.nbytes)
    assert eb.decode_frame(frame).batch.equals(batch)


@pytest.mark.benchmark(group="frames: encode")
@pytest.mark.parametrize("codec", CODECS)
def test_encode_arrow_ipc(benchmark, bench_rounds, batch, codec):
    body = run(benchmark, lambda: _ipc(batch, codec), bench_rounds)
    benchmark.extra_info.update(rows_per_s=batch.num_rows / benchmark.stats.stats.median,
                                stream_bytes=len(body))
    assert pa.ipc.open_stream(body).read_next_batch().equals(batch)


@pytest.mark.benchmark(group="frames: decode")
@pytest.mark.parametrize("codec", CODECS)
def test_decode_frame(benchmark, bench_rounds, batch, codec):
    frame = eb.encode_frame(batch, producer_id=PRODUCER, seq=7, codec=codec)
    out = run(benchmark, lambda: eb.decode_frame(frame), bench_rounds)
    benchmark.extra_info.update(rows_per_s=batch.num_rows / benchmark.stats.stats.median)
    assert out.header.seq == 7 and out.header.row_count == batch.num_rows and out.batch.equals(batch)


@pytest.mark.benchmark(group="frames: decode")
@pytest.mark.parametrize("codec", CODECS)
def test_decode_arrow_ipc(benchmark, bench_rounds, batch, codec):
    body = _ipc(batch, codec)
    out = run(benchmark, lambda: pa.ipc.open_stream(body).read_next_batch(), bench_rounds)
    benchmark.extra_info.update(rows_per_s=batch.num_rows / benchmark.stats.stats.median)
    assert out.equals(batch)
