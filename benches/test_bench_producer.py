"""End to end: events -> Producer (dedup on, LZ4 frames) -> in-memory sink.

Targets (issue "batching engine"): dicts >= 800,000 events/s; NDJSON to
frames >= 1,000,000 events/s, one adding thread.  Every round checks that
the frames decode to exactly the unique events.

The timed region is a running Producer's work: adding every event, cutting
batches, dedup, framing, delivery, and ``close()`` (which waits for the last
frame).  Building the Producer -- chiefly committing the 160 MB table of a
10M-key dedup window, which a service does once at start -- is set up
outside it and timed on its own by ``test_producer_construction``, so that
the cost is reported, not hidden.
"""

import pyarrow as pa
import pytest

import eventbatch as eb
from eventbatch import gen

WINDOW_KEYS = 10_000_000


@pytest.fixture(scope="module")
def dup_data(n_events):
    dicts_src = gen.generate_ndjson(n_events, seed=21, dup_rate=0.02, dup_window=1000)
    import json
    dicts = [json.loads(l) for l in dicts_src.splitlines()]
    unique = len({d["event_id"] for d in dicts})
    return dicts_src, dicts, unique


def _producer(schema):
    sink = eb.MemorySink()
    p = eb.Producer(schema, sink, dedup_key="event_id", dedup_window=eb.Window(max_keys=WINDOW_KEYS),
                    max_rows=65_536, max_bytes=1 << 20, linger_ms=1e9, codec="lz4",
                    max_in_flight_frames=1 << 16, max_in_flight_bytes=1 << 40)
    return p, sink


def _bench(benchmark, schema, add, rounds):
    """Time add + close on a fresh Producer per round; returns the last
    round's (sink, stats)."""
    last = {}

    def setup():
        p, sink = _producer(schema)
        last["p"], last["sink"] = p, sink
        return (p,), {}

    def run(p):
        with p:
            add(p)

    benchmark.pedantic(run, setup=setup, rounds=rounds, warmup_rounds=1, iterations=1)
    return last["sink"], last["p"].stats()["total"]


def _rows(sink):
    return sum(eb.peek_header(f).row_count for f in sink.frames)


@pytest.mark.benchmark(group="producer-dicts")
def test_producer_dicts(benchmark, dup_data, arrow_schema, bench_rounds):
    _, dicts, unique = dup_data
    sink, st = _bench(benchmark, arrow_schema, lambda p: p.add_many(dicts), bench_rounds)
    assert _rows(sink) == unique == st["delivered"]
    assert st["received"] == len(dicts) == st["delivered"] + st["deduplicated"]
    benchmark.extra_info["events"] = len(dicts)


@pytest.mark.benchmark(group="producer-ndjson")
def test_producer_ndjson(benchmark, dup_data, arrow_schema, bench_rounds):
    data, dicts, unique = dup_data
    sink, st = _bench(benchmark, arrow_schema, lambda p: p.add_ndjson(data, final=True), bench_rounds)
    assert _rows(sink) == unique == st["delivered"]
    assert st["received"] == len(dicts) == st["delivered"] + st["deduplicated"]
    benchmark.extra_info["events"] = len(dicts)


@pytest.mark.benchmark(group="producer-construction")
def test_producer_construction(benchmark, arrow_schema, bench_rounds):
    """Building (and closing) a Producer with a 10M-key window: a one-off cost."""
    def run():
        p, _ = _producer(arrow_schema)
        p.close()
    benchmark.pedantic(run, rounds=bench_rounds, warmup_rounds=1)
