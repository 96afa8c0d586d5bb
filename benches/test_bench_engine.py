"""Hashing and dedup micro-benchmarks: eventbatch vs peers, one thread each.

    PYTHONPATH=src python -m pytest benches/test_bench_engine.py --benchmark-only
    # on a shared machine, CPU time is steadier than wall time:
    PYTHONPATH=src python -m pytest benches/test_bench_engine.py --benchmark-only \
        --benchmark-timer=time.process_time

Data: seeded UUID-like ids (36 ASCII bytes), 10% of them re-sends of an
earlier id.  Every benchmark checks its result outside the timed region.

* hash64 (``EVENTBATCH_BENCH_HASH_IDS``, default 1,000,000 ids):
  ``eventbatch.hash64`` of the Arrow string array; a Python loop of
  ``xxhash.xxh64_intdigest`` over the ids already encoded to bytes (the
  loop's most favourable input); ``polars.Series.hash()`` (polars' own hash,
  not XXH64: compared for speed only).
* dedup of a stream (``EVENTBATCH_BENCH_DEDUP_IDS``, default 2,000,000 ids):
  ``hash64`` of the Arrow ids + ``Deduplicator(Window(max_keys=10_000_000))
  .filter``, against ``polars.DataFrame({"id": ids}).unique(subset="id",
  keep="first", maintain_order=True)``.  Both keep the same ids (asserted).
  Each round gets an empty window built before it, untimed: a window is
  long-lived, and building one (its memory is committed up front) is timed
  on its own in ``test_dedup_window_construction``.
* dedup in steady state: filter 2,000,000 key hashes against a full,
  rotating 10M-key window (built before each round, untimed), at 10%, 50%
  and 90% re-sends of keys in the window.  ``extra_info`` holds keys/s.

polars runs on one thread (``POLARS_MAX_THREADS=1``, set in conftest.py).
"""
from __future__ import annotations

import os
import platform

import numpy as np
import pyarrow as pa
import pytest

import eventbatch as eb

HASH = "hash64: 36-byte ids"
STREAM = "dedup stream: 36-byte ids, 10M-key window"
STEADY = "dedup steady state: 10M-key window"
BUILD = "dedup: build an empty 10M-key window"

HASH_IDS = int(os.environ.get("EVENTBATCH_BENCH_HASH_IDS", "1000000"))
DEDUP_IDS = int(os.environ.get("EVENTBATCH_BENCH_DEDUP_IDS", "2000000"))
SEED = int(os.environ.get("EVENTBATCH_BENCH_SEED", "1"))
WINDOW = 10_000_000
STEADY_KEYS = 2_000_000


def run(benchmark, fn, rounds, setup=None):
    if setup is None:
        return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    return benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=1)


def make_ids(n: int, seed: int, resend: float = 0.1) -> list[str]:
    """n UUID-shaped ids; a fraction `resend` repeat an earlier one."""
    rng = np.random.default_rng(seed)
    hexes = rng.bytes(16 * n).hex()
    ids = [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
           for h in (hexes[32 * i:32 * i + 32] for i in range(n))]
    again = np.flatnonzero(rng.random(n) < resend)
    src = (rng.random(len(again)) * np.maximum(again, 1)).astype(np.int64)
    for i, j in zip(again.tolist(), src.tolist()):
        if i > 0:
            ids[i] = ids[j]
    return ids


def versions(benchmark):
    import polars as pl
    import xxhash
    benchmark.extra_info.update(
        eventbatch="compiled core", numpy=np.__version__, pyarrow=pa.__version__,
        polars=pl.__version__, xxhash=xxhash.VERSION, python=platform.python_version(),
        machine=f"{platform.machine()} {os.cpu_count()} cpus",
    )


@pytest.fixture(scope="module")
def hash_ids():
    return make_ids(HASH_IDS, SEED)


@pytest.fixture(scope="module")
def dedup_ids():
    return make_ids(DEDUP_IDS, SEED + 1)


# ---------------------------------------------------------------------------------------
# hash64
# ---------------------------------------------------------------------------------------

@pytest.mark.benchmark(group=HASH)
def test_hash64_eventbatch_arrow(benchmark, bench_rounds, hash_ids):
    import xxhash
    arr = pa.array(hash_ids, pa.string())
    out = run(benchmark, lambda: eb.hash64(arr), bench_rounds)
    versions(benchmark)
    assert out.dtype == np.uint64 and len(out) == len(hash_ids)
    for i in range(0, len(hash_ids), max(1, len(hash_ids) // 1000)):
        assert int(out[i]) == xxhash.xxh64_intdigest(hash_ids[i].encode())


@pytest.mark.benchmark(group=HASH)
def test_hash64_xxhash_python_loop(benchmark, bench_rounds, hash_ids):
    import xxhash
    digest = xxhash.xxh64_intdigest
    encoded = [s.encode() for s in hash_ids]
    out = run(benchmark, lambda: [digest(b) for b in encoded], bench_rounds)
    versions(benchmark)
    assert out[:100] == eb.hash64(hash_ids[:100]).tolist()


@pytest.mark.benchmark(group=HASH)
def test_hash64_polars_series_hash(benchmark, bench_rounds, hash_ids):
    pl = pytest.importorskip("polars")
    series = pl.from_arrow(pa.array(hash_ids, pa.string()))
    out = run(benchmark, lambda: series.hash(), bench_rounds)
    versions(benchmark)
    assert len(out) == len(hash_ids)      # a different hash function: no value check


# ---------------------------------------------------------------------------------------
# dedup of a stream of ids
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def polars_kept(dedup_ids):
    """The ids polars keeps (the oracle of both stream benchmarks)."""
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"id": pl.from_arrow(pa.array(dedup_ids, pa.string()))})
    return df.unique(subset="id", keep="first", maintain_order=True)["id"].to_list()


@pytest.mark.benchmark(group=STREAM)
def test_dedup_stream_eventbatch(benchmark, bench_rounds, dedup_ids, polars_kept):
    arr = pa.array(dedup_ids, pa.string())

    def setup():
        return (eb.Deduplicator(eb.Window(max_keys=WINDOW)),), {}

    def dedup(dd):
        return dd.filter(eb.hash64(arr))

    mask = run(benchmark, dedup, bench_rounds, setup=setup)
    versions(benchmark)
    benchmark.extra_info["ids_per_s"] = len(dedup_ids) / benchmark.stats.stats.median
    kept = arr.filter(pa.array(mask)).to_pylist()
    assert kept == polars_kept, "eventbatch keeps other ids than polars unique"


@pytest.mark.benchmark(group=STREAM)
def test_dedup_stream_polars_unique(benchmark, bench_rounds, dedup_ids, polars_kept):
    pl = pytest.importorskip("polars")
    series = pl.from_arrow(pa.array(dedup_ids, pa.string()))

    def dedup():
        return pl.DataFrame({"id": series}).unique(subset="id", keep="first", maintain_order=True)

    df = run(benchmark, dedup, bench_rounds)
    versions(benchmark)
    benchmark.extra_info["ids_per_s"] = len(dedup_ids) / benchmark.stats.stats.median
    assert df.height == len(polars_kept)


# ---------------------------------------------------------------------------------------
# dedup in steady state: a full 10M-key window that keeps rotating
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def steady_data():
    rng = np.random.default_rng(SEED + 2)
    fill = rng.integers(1, 2**64, size=WINDOW + WINDOW // 4, dtype=np.uint64)
    fresh = rng.integers(1, 2**64, size=STEADY_KEYS, dtype=np.uint64)
    # after the fill the window holds its last 8.75M keys; the timed call adds
    # at most 1.8M new ones (one more rotation), so the last 6.25M stay
    recent = fill[-(WINDOW * 5) // 8:]
    picks = recent[rng.integers(0, len(recent), size=STEADY_KEYS)]
    coins = rng.random(STEADY_KEYS)
    return fill, fresh, picks, coins


@pytest.mark.benchmark(group=STEADY)
@pytest.mark.parametrize("resend", [0.1, 0.5, 0.9])
def test_dedup_steady_eventbatch(benchmark, bench_rounds, steady_data, resend):
    fill, fresh, picks, coins = steady_data
    keys = np.where(coins < resend, picks, fresh)

    def setup():
        dd = eb.Deduplicator(eb.Window(max_keys=WINDOW))
        dd.filter(fill)
        return (dd,), {}

    mask = run(benchmark, lambda dd: dd.filter(keys), bench_rounds, setup=setup)
    versions(benchmark)
    benchmark.extra_info["keys_per_s"] = STEADY_KEYS / benchmark.stats.stats.median
    # every re-send of a key in the window is dropped, every fresh key kept
    # (fresh keys are random 64-bit values: a collision is not expected)
    assert np.array_equal(~mask, coins < resend)


@pytest.mark.benchmark(group=BUILD)
def test_dedup_window_construction(benchmark, bench_rounds):
    window = eb.Window(max_keys=WINDOW)
    dd = run(benchmark, lambda: eb.Deduplicator(window), bench_rounds)
    versions(benchmark)
    benchmark.extra_info["memory_bytes"] = window.memory_bytes
    assert dd.stats()["keys"] == 0
