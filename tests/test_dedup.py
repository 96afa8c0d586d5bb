"""Windowed exact dedup: the compiled table against a plain Python reference.

The reference (``RefDedup``) is a dict from key to (generation, fingerprint)
with the rotation rule of ``eventbatch.Window``, written for reading, not
speed.  Every comparison also runs the core's full invariant check
(``CoreDedup._check``: probe paths, counts, tags), so a sweep that broke a
cluster would fail here even before it changed an answer.
"""
from __future__ import annotations

import collections
import doctest
import os
import struct
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import eventbatch as eb
from eventbatch import _core, dedup as dedup_mod
from eventbatch.dedup import Deduplicator, Window

U64 = 2**64


def fp16(content: int) -> int:
    """The core's 16-bit content fingerprint (0 is reserved for 'none')."""
    f = ((content * 0x9E3779B97F4A7C15) % U64) >> 48
    return f or 1


class RefDedup:
    """The window semantics of Window's docstring, spelled out."""

    def __init__(self, window: Window):
        self.G = window.generations
        self.gen_keys = window.gen_keys
        self.span = window.span_ms
        self.cur = 0
        self.oldest = 0
        self.start = None
        self.keys: dict[int, tuple[int, int]] = {}     # key -> (generation, fingerprint)
        self.by_gen = collections.defaultdict(list)     # generation -> its keys
        self.counts = collections.Counter()
        self.counters = dict(seen=0, unique=0, duplicates=0, resends=0, conflicts=0, evicted=0)

    def _rotate(self, n: int) -> None:
        new_cur = self.cur + min(n, self.G)
        new_oldest = max(0, new_cur + 1 - self.G)
        if new_oldest > self.oldest:
            for g in [g for g in self.by_gen if g < new_oldest]:
                for k in self.by_gen.pop(g):      # a key never changes generation
                    del self.keys[k]
                    self.counters["evicted"] += 1
            self.oldest = new_oldest
        self.cur = new_cur

    def one(self, key: int, t: int, content: int | None) -> bool:
        if self.span:
            if self.start is None:
                self.start = t
            elif t > self.start and t - self.start >= self.span:
                n = (t - self.start) // self.span
                self.start += n * self.span
                self._rotate(n)
        self.counters["seen"] += 1
        fp = 0 if content is None else fp16(content)
        if key in self.keys:
            self.counters["duplicates"] += 1
            stored = self.keys[key][1]
            if stored and fp:
                self.counters["resends" if stored == fp else "conflicts"] += 1
            return False
        self.keys[key] = (self.cur, fp)
        self.by_gen[self.cur].append(key)
        self.counts[self.cur] += 1
        self.counters["unique"] += 1
        if self.gen_keys and self.counts[self.cur] >= self.gen_keys:
            self._rotate(1)
            self.start = None
        return True

    def filter(self, keys, times=None, content=None) -> np.ndarray:
        out = np.empty(len(keys), dtype=bool)
        for i, k in enumerate(keys):
            out[i] = self.one(int(k), 0 if times is None else int(times[i]),
                              None if content is None else int(content[i]))
        return out

    def stats(self) -> dict:
        return dict(self.counters, keys=len(self.keys), generations=self.cur - self.oldest + 1)


def check(dd: Deduplicator) -> None:
    problem = dd._core._check()
    assert problem is None, problem


def balanced(s: dict) -> None:
    assert s["seen"] == s["unique"] + s["duplicates"]
    assert s["duplicates"] >= s["resends"] + s["conflicts"]
    assert s["keys"] == s["unique"] - s["evicted"]


def gen_stream(nprng, n, dup_rate, history=None, zero_rate=0.0, keyspace=None):
    """n keys: with probability dup_rate a re-send of an earlier key (biased to
    recent ones, sometimes older than any window), else a fresh key."""
    history = [] if history is None else history
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        u = nprng.random()
        if history and u < dup_rate:
            back = int(nprng.geometric(0.002)) if nprng.random() < 0.9 else int(nprng.integers(1, len(history) + 1))
            k = history[-min(back, len(history))]
        elif u < dup_rate + zero_rate:
            k = 0
        elif keyspace is None:
            k = int(nprng.integers(1, U64, dtype=np.uint64))
        else:
            k = int(nprng.integers(1, keyspace))
        out[i] = k
        history.append(k)
    return out


def run_both(window, batches, times=None, content=None):
    dd = Deduplicator(window)
    ref = RefDedup(window)
    for b, keys in enumerate(batches):
        t = None if times is None else times[b]
        c = None if content is None else content[b]
        got = dd.filter(keys, times=t, content=c)
        want = ref.filter(keys, times=t, content=c)
        assert got.dtype == np.bool_
        if not np.array_equal(got, want):
            bad = int(np.flatnonzero(got != want)[0])
            pytest.fail(f"batch {b}, index {bad}: key {int(keys[bad]):#x} core={got[bad]} ref={want[bad]}")
        assert dd.stats() == ref.stats(), (b, dd.stats(), ref.stats())
        check(dd)
    balanced(dd.stats())
    return dd, ref


def split(nprng, keys, max_batch=700):
    out, i = [], 0
    while i < len(keys):
        n = int(nprng.integers(0, max_batch))
        out.append(keys[i:i + n])
        i += n
    return out


# --- the compiled core is in use -----------------------------------------------------------

def test_core_is_compiled_and_exported():
    assert _core.__file__.endswith((".so", ".pyd"))
    assert eb.Deduplicator is Deduplicator and eb.Window is Window
    assert isinstance(Deduplicator(Window(max_keys=10))._core, _core.CoreDedup)
    assert issubclass(eb.SnapshotError, eb.EventBatchError)
    assert issubclass(eb.SnapshotError, ValueError)


def test_stub_lists_the_dedup_core():
    stub = open(os.path.join(os.path.dirname(eb.__file__), "_core.pyi")).read()
    assert "class CoreDedup" in stub
    for name in dir(_core.CoreDedup):
        if not name.startswith("__"):
            assert f"def {name}(" in stub, name


def test_docstring_examples_run():
    result = doctest.testmod(dedup_mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_state_struct_fits_its_bound():
    assert _core.DEDUP_STATE_SIZEOF <= 4096 <= Window.STATE_BYTES


# --- against the reference ------------------------------------------------------------------

@pytest.mark.parametrize("max_keys,generations,dup_rate", [
    (1, 2, 0.5), (7, 2, 0.4), (100, 4, 0.3), (1000, 8, 0.2), (1000, 3, 0.6), (5000, 255, 0.3),
    (3000, 8, 0.9),
])
def test_count_window_matches_reference(max_keys, generations, dup_rate, test_seed):
    seed = hash((test_seed, max_keys, generations)) % U64
    print(f"stream seed {seed}")
    nprng = np.random.default_rng(seed)
    n = int(3 * max_keys / (1 - dup_rate)) + 500          # about three windows of new keys
    keys = gen_stream(nprng, n, dup_rate, zero_rate=0.002)
    dd, ref = run_both(Window(max_keys=max_keys, generations=generations), split(nprng, keys))
    assert dd.stats()["evicted"] > 0


def test_known_duplicate_rate(test_seed):
    """Re-sends of keys still inside the window are exactly the duplicates."""
    nprng = np.random.default_rng(test_seed)
    print(f"stream seed {test_seed}")
    window = Window(max_keys=20_000, generations=4)
    dd = Deduplicator(window)
    fresh = nprng.integers(1, U64, size=15_000, dtype=np.uint64)   # (G-1)/G of max_keys: all stay
    resend = nprng.random(15_000) < 0.25
    stream = fresh.copy()
    for i in np.flatnonzero(resend):
        if i > 0:
            stream[i] = stream[int(nprng.integers(0, i))]
    expected_dups = len(stream) - len(set(stream.tolist()))
    mask = dd.filter(stream)
    assert int((~mask).sum()) == expected_dups == dd.stats()["duplicates"]
    assert 0.2 < expected_dups / len(stream) < 0.26
    assert np.array_equal(mask, RefDedup(window).filter(stream))


def test_many_small_batches_and_one_big_call_agree(test_seed):
    nprng = np.random.default_rng(test_seed + 1)
    keys = gen_stream(nprng, 8000, 0.4, keyspace=None)
    window = Window(max_keys=900, generations=3)
    whole = Deduplicator(window).filter(keys)
    parts = Deduplicator(window)
    pieced = np.concatenate([parts.filter(b) for b in split(nprng, keys, 50)] or [np.empty(0, bool)])
    assert np.array_equal(whole, pieced)


def test_duplicates_within_one_call():
    dd = Deduplicator(Window(max_keys=100))
    assert dd.filter([5, 6, 5, 5, 7, 6]).tolist() == [True, True, False, False, True, False]
    assert dd.filter(np.array([], dtype=np.uint64)).tolist() == []
    assert dd.filter([]).shape == (0,)


def test_clustered_small_integer_keys(test_seed):
    """Small consecutive integers are not uniform hashes: the home map mixes
    them, and the sweep must still keep every probe path."""
    nprng = np.random.default_rng(test_seed + 2)
    keys = gen_stream(nprng, 20_000, 0.3, keyspace=6000)
    run_both(Window(max_keys=2000, generations=5), split(nprng, keys))


# --- the window edge ------------------------------------------------------------------------

def test_eviction_exactly_at_the_window_edge():
    # gen_keys = 4: generation 0 = keys 1..4, generation 1 = keys 5..8; the
    # 8th new key closes generation 1, and with 2 generations kept, opening
    # generation 2 evicts generation 0.
    w = Window(max_keys=8, generations=2)
    assert w.gen_keys == 4
    dd = Deduplicator(w)
    assert dd.filter([1, 2, 3, 4]).all()
    assert dd.stats()["generations"] == 2 and dd.stats()["evicted"] == 0
    assert dd.filter([5, 6, 7]).all()
    assert dd.filter([1]).tolist() == [False]        # just before: still remembered
    assert dd.filter([8]).tolist() == [True]         # closes generation 1: generation 0 goes
    assert dd.stats()["evicted"] == 4
    assert dd.filter([1]).tolist() == [True]         # just after: forgotten, new again
    assert dd.filter([5, 8, 2]).tolist() == [False, False, True]
    # the same within a single call
    dd2 = Deduplicator(w)
    assert dd2.filter([1, 2, 3, 4, 5, 6, 7, 1, 8, 1]).tolist() == [True] * 7 + [False, True, True]


def test_time_window_edges():
    # span 2000 ms: generations start at 0, 2000, 4000, 6000, 8000; the event
    # at 10000 opens a sixth generation and evicts the first.
    w = Window(seconds=10, generations=5)
    assert w.span_ms == 2000 and w.capacity is None and w.memory_bytes is None
    dd = Deduplicator(w)
    ref = RefDedup(w)
    # key 1 at 0 and key 2 at 1999 are in generation 0, key 4 at 2000 in generation 1
    keys = np.array([1, 2, 4, 1, 3, 1, 1, 2, 4], dtype=np.uint64)
    times = np.array([0, 1999, 2000, 2000, 4500, 9999, 10_000, 10_000, 10_000], dtype=np.int64)
    mask = dd.filter(keys, times=times)
    assert mask.tolist() == [True, True, True, False, True, False, True, True, False]
    assert mask.tolist() == ref.filter(keys, times).tolist()
    assert dd.stats() == ref.stats()
    # a long gap forgets everything at once
    assert dd.filter([1, 2, 3], times=[10**9] * 3).tolist() == [True, True, True]
    assert dd.stats()["keys"] == 3
    check(dd)


def test_time_windows_match_reference(test_seed):
    nprng = np.random.default_rng(test_seed + 3)
    print(f"stream seed {test_seed + 3}")
    keys = gen_stream(nprng, 20_000, 0.35, zero_rate=0.001)
    gaps = nprng.choice([0, 0, 0, 1, 3, 40, 700, 5000], size=len(keys))
    times = np.cumsum(gaps).astype(np.int64) + 1_700_000_000_000
    times[::97] -= 500       # a few late events
    bounds = np.cumsum([0] + [len(b) for b in split(nprng, keys)])
    kb = [keys[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    tb = [times[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    for window in (Window(seconds=30, generations=6), Window(seconds=3.5, generations=2),
                   Window(max_keys=3000, seconds=20, generations=4)):
        dd, _ = run_both(window, kb, times=tb)
        assert dd.stats()["evicted"] > 0


def test_times_forms():
    w = Window(seconds=60)
    dd = Deduplicator(w)
    dt = np.array(["2026-01-01T00:00:00", "2026-01-01T00:00:30"], dtype="datetime64[s]")
    assert dd.filter([1, 2], times=dt).tolist() == [True, True]
    assert dd.filter([1, 3], times=int(dt[1].astype("datetime64[ms]").astype(np.int64))).tolist() == [False, True]
    assert dd.filter([1], times=[10**15]).tolist() == [True]
    # the wall clock by default
    dd2 = Deduplicator(Window(seconds=3600))
    assert dd2.filter([9, 9]).tolist() == [True, False]
    assert dd2.filter([9]).tolist() == [False]


def test_growing_table_matches_reference(test_seed):
    nprng = np.random.default_rng(test_seed + 4)
    keys = gen_stream(nprng, 30_000, 0.2)
    times = np.arange(len(keys), dtype=np.int64) * 3        # 90 s of events
    dd, _ = run_both(Window(seconds=40, generations=8), [keys[:12_000], keys[12_000:]],
                     times=[times[:12_000], times[12_000:]])
    assert dd._core.capacity > Window.INITIAL_CAPACITY


# --- the key 0 ------------------------------------------------------------------------------

def test_hash_zero_is_a_key_like_any_other():
    dd = Deduplicator(Window(max_keys=4, generations=2))          # gen_keys 2
    assert dd.filter([0, 0, 1]).tolist() == [True, False, True]   # 0 and 1: generation 0 full
    assert dd.stats()["keys"] == 2
    assert dd.filter([2, 0]).tolist() == [True, False]
    assert dd.filter([3]).tolist() == [True]                      # evicts generation 0: 0 and 1
    assert dd.stats()["keys"] == 2 and dd.stats()["evicted"] == 2
    assert dd.filter([2, 0, 1]).tolist() == [False, True, True]   # generation 2 full: 2 and 3 go
    assert dd.filter([2, 0]).tolist() == [True, False]
    check(dd)


def test_signed_hashes_are_taken_modulo_2_64():
    dd = Deduplicator(Window(max_keys=10))
    assert dd.filter(np.array([-1, 5], dtype=np.int64)).tolist() == [True, True]
    assert dd.filter(np.array([U64 - 1], dtype=np.uint64)).tolist() == [False]
    assert dd.filter([2**63, 2**63]).tolist() == [True, False]


# --- content: re-sends and conflicts ----------------------------------------------------------

def test_resends_and_conflicts():
    dd = Deduplicator(Window(max_keys=100))
    ids = eb.hash64(["a", "a", "a", "b", "b"])
    content = eb.hash64(["x", "x", "y", "z", "z"])
    assert dd.filter(ids, content=content).tolist() == [True, False, False, True, False]
    s = dd.stats()
    assert (s["duplicates"], s["resends"], s["conflicts"]) == (3, 2, 1)
    # without content on either side: a duplicate, neither a re-send nor a conflict
    assert dd.filter(ids[:1]).tolist() == [False]
    dd.filter(eb.hash64(["c"]))
    dd.filter(eb.hash64(["c"]), content=eb.hash64(["w"]))
    s = dd.stats()
    assert (s["duplicates"], s["resends"], s["conflicts"]) == (5, 2, 1)
    balanced(s)


def test_content_matches_reference(test_seed):
    nprng = np.random.default_rng(test_seed + 5)
    keys = gen_stream(nprng, 10_000, 0.5, zero_rate=0.01)
    content = nprng.integers(0, 4, size=len(keys)).astype(np.uint64) * 0x1234567
    content[keys == 0] = 7
    bounds = [0, 3000, 3001, 7000, 10_000]
    run_both(Window(max_keys=2000, generations=4),
             [keys[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
             content=[content[a:b] for a, b in zip(bounds[:-1], bounds[1:])])


# --- argument checks --------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,exc", [
    ({}, ValueError), ({"max_keys": 0}, ValueError), ({"max_keys": -3}, ValueError),
    ({"max_keys": 1.5}, TypeError), ({"max_keys": True}, TypeError), ({"max_keys": 2**41}, ValueError),
    ({"seconds": 0}, ValueError), ({"seconds": -1.0}, ValueError), ({"seconds": float("nan")}, ValueError),
    ({"seconds": float("inf")}, ValueError), ({"seconds": "60"}, TypeError),
    ({"max_keys": 10, "generations": 1}, ValueError), ({"max_keys": 10, "generations": 256}, ValueError),
    ({"max_keys": 10, "generations": 2.0}, TypeError),
])
def test_window_arguments(kwargs, exc):
    with pytest.raises(exc, match="Window"):
        Window(**kwargs)


def test_filter_arguments():
    dd = Deduplicator(Window(max_keys=10, seconds=5))
    with pytest.raises(TypeError, match="hashes"):
        dd.filter(np.zeros((2, 2), dtype=np.uint64))
    with pytest.raises(TypeError, match="hashes"):
        dd.filter([1.5, 2.5])
    with pytest.raises(TypeError, match="hashes"):
        dd.filter(["a"])
    with pytest.raises(TypeError, match="hashes"):
        dd.filter(5)
    with pytest.raises(ValueError, match="times"):
        dd.filter([1, 2], times=[1])
    with pytest.raises(TypeError, match="times"):
        dd.filter([1, 2], times=[1.0, 2.0])
    with pytest.raises(ValueError, match="content"):
        dd.filter([1, 2], content=[1])
    with pytest.raises(TypeError, match="Window"):
        Deduplicator(10)
    assert dd.stats()["seen"] == 0          # nothing was recorded by the failed calls


def test_core_refuses_parameters_that_would_overfill_the_table():
    with pytest.raises(ValueError):
        _core.CoreDedup(10, False, 8, 0, 2)      # 16 keys cannot fit 10 slots at 0.7
    with pytest.raises(ValueError):
        _core.CoreDedup(10, False, 0, 0, 2)      # no bound at all
    with pytest.raises(ValueError):
        _core.CoreDedup(10, False, 1, 0, 1)


# --- memory ---------------------------------------------------------------------------------

@pytest.mark.parametrize("max_keys", [1, 2, 7, 100, 999, 10_000, 1_000_003, 10_000_000, 2**40])
@pytest.mark.parametrize("generations", [2, 3, 8, 255])
def test_memory_ceiling(max_keys, generations):
    w = Window(max_keys=max_keys, generations=generations)
    assert w.memory_bytes == 11 * w.capacity + Window.STATE_BYTES
    assert w.memory_bytes <= 16 * max_keys + Window.MEMORY_OVERHEAD_BYTES
    # the load never passes 0.7, and the window never holds more than max_keys + generations - 1
    assert w.generations * w.gen_keys <= 0.7 * w.capacity
    assert max_keys <= w.generations * w.gen_keys <= max_keys + generations - 1


def test_table_is_the_window_capacity():
    w = Window(max_keys=123_457, generations=6)
    dd = Deduplicator(w)
    assert dd._core.capacity == w.capacity
    dd.filter(np.arange(1, 400_000, dtype=np.uint64))
    assert dd._core.capacity == w.capacity           # never grows
    assert dd.stats()["keys"] <= w.generations * w.gen_keys
    check(dd)


# --- snapshot / restore -------------------------------------------------------------------------

def _snapshot_cases(nprng):
    keys = gen_stream(nprng, 12_000, 0.4, zero_rate=0.002)
    times = np.cumsum(nprng.choice([0, 1, 5, 300], size=len(keys))).astype(np.int64)
    content = nprng.integers(0, 3, size=len(keys)).astype(np.uint64)
    return keys, times, content


@pytest.mark.parametrize("window", [Window(max_keys=2500, generations=4),
                                    Window(seconds=60, generations=6),
                                    Window(max_keys=3000, seconds=120, generations=3)],
                         ids=["count", "time", "both"])
def test_snapshot_restore_continues_like_an_uninterrupted_run(window, tmp_path, test_seed):
    nprng = np.random.default_rng(test_seed + 6)
    keys, times, content = _snapshot_cases(nprng)
    cut = 7000
    straight = Deduplicator(window)
    expect = straight.filter(keys, times=times, content=content)

    first = Deduplicator(window)
    got_a = first.filter(keys[:cut], times=times[:cut], content=content[:cut])
    path = tmp_path / "dedup.snap"
    first.snapshot(path)
    del first                                                     # the process "restarts"
    second = Deduplicator.restore(str(path))
    assert second.window == window
    check(second)
    got_b = second.filter(keys[cut:], times=times[cut:], content=content[cut:])
    assert np.array_equal(np.concatenate([got_a, got_b]), expect)
    assert second.stats() == straight.stats()
    assert os.listdir(tmp_path) == ["dedup.snap"]                 # no temporary left behind


def test_snapshot_keeps_the_zero_key_and_overwrites(tmp_path):
    dd = Deduplicator(Window(max_keys=50))
    dd.filter([0, 1, 2], content=[7, 7, 7])
    path = tmp_path / "s.bin"
    dd.snapshot(path)
    dd.filter([3])
    dd.snapshot(path)                                              # replaces the first one
    back = Deduplicator.restore(path)
    assert back.filter([0, 3, 4], content=[7, 8, 8]).tolist() == [False, False, True]
    assert back.stats()["resends"] == 1 and back.stats()["keys"] == 5


def test_snapshot_of_an_empty_deduplicator(tmp_path):
    path = tmp_path / "empty.snap"
    Deduplicator(Window(max_keys=1)).snapshot(path)
    back = Deduplicator.restore(path)
    assert back.stats()["seen"] == 0
    assert back.filter([1, 1]).tolist() == [True, False]


def _good_snapshot(tmp_path) -> bytes:
    dd = Deduplicator(Window(max_keys=300, generations=3))
    dd.filter(np.arange(1, 500, dtype=np.uint64))
    path = tmp_path / "good.snap"
    dd.snapshot(path)
    return path.read_bytes()


def _restore_bytes(tmp_path, data: bytes, name="bad.snap"):
    path = tmp_path / name
    path.write_bytes(data)
    return Deduplicator.restore(path)


def test_truncated_snapshots_raise_snapshot_error(tmp_path):
    good = _good_snapshot(tmp_path)
    header = dedup_mod._HEADER.size
    for n in sorted({0, 1, 7, 8, 12, header - 1, header, header + 8, len(good) // 2,
                     len(good) - 9, len(good) - 8, len(good) - 1}):
        with pytest.raises(eb.SnapshotError):
            _restore_bytes(tmp_path, good[:n])
    with pytest.raises(eb.SnapshotError, match="extended"):
        _restore_bytes(tmp_path, good + b"\0")


def test_corrupt_snapshots_raise_snapshot_error(tmp_path, test_seed):
    good = _good_snapshot(tmp_path)
    assert _restore_bytes(tmp_path, good).stats()["seen"] == 499
    nprng = np.random.default_rng(test_seed + 7)
    positions = {0, 9, 12, 16, 30, 60, 100, dedup_mod._HEADER.size - 1, dedup_mod._HEADER.size,
                 len(good) - 1, len(good) - 8}
    positions |= set(int(p) for p in nprng.integers(0, len(good), size=40))
    for pos in sorted(positions):
        bad = bytearray(good)
        bad[pos] ^= 1 << int(nprng.integers(0, 8))
        with pytest.raises(eb.SnapshotError):
            _restore_bytes(tmp_path, bytes(bad))


def test_not_a_snapshot_and_other_versions(tmp_path):
    good = _good_snapshot(tmp_path)
    with pytest.raises(eb.SnapshotError, match="magic"):
        _restore_bytes(tmp_path, b"PK\x03\x04" + good[4:])
    with pytest.raises(eb.SnapshotError, match="version"):
        _restore_bytes(tmp_path, good[:8] + struct.pack("<I", 2) + good[12:])
    with pytest.raises(ValueError):                      # SnapshotError is a ValueError
        _restore_bytes(tmp_path, b"x" * 5000)
    with pytest.raises(FileNotFoundError):
        Deduplicator.restore(tmp_path / "missing.snap")


def _reseal(data: bytearray) -> bytes:
    """Recompute the checksum: a forged file that passes it."""
    body = bytes(data[:-8])
    return body + struct.pack("<Q", eb.hash64(body))


def test_forged_but_checksummed_snapshots_are_checked_too(tmp_path):
    good = bytearray(_good_snapshot(tmp_path))
    H = dedup_mod._HEADER
    fields = list(H.unpack(bytes(good[:H.size])))
    names = ["magic", "version", "header", "max_keys", "seconds", "generations", "growable",
             "capacity", "gen_keys", "span_ms", "cur_seq", "oldest_seq", "cur_start_ms",
             "has_start", "zero_present", "zero_tag", "zero_fp", "seen", "unique", "duplicates",
             "resends", "conflicts", "evicted", "live"]
    at = {n: i for i, n in enumerate(names)}
    cap = fields[at["capacity"]]
    forgeries = {
        "live": fields[at["live"]] + 1,
        "cur_seq": fields[at["cur_seq"]] + 300,
        "oldest_seq": fields[at["cur_seq"]] + 1,
        "zero_present": 1,
        "gen_keys": fields[at["gen_keys"]] + 1,
        "max_keys": 10**6,
        "seconds": float("nan"),
        "growable": 1,
        "generations": 1,
    }
    for name, value in forgeries.items():
        f = list(fields)
        f[at[name]] = value
        data = bytearray(H.pack(*f)) + good[H.size:]
        with pytest.raises(eb.SnapshotError):
            _restore_bytes(tmp_path, _reseal(data))
    # a key moved away from its probe path, a tag of a generation that is not live,
    # a fingerprint in an empty slot
    keys = np.frombuffer(bytes(good[H.size:H.size + 8 * cap]), dtype="<u8").copy()
    tags_at = H.size + 8 * cap
    occupied = np.flatnonzero(keys)
    empty = np.flatnonzero(keys == 0)
    data = bytearray(good)
    data[tags_at + int(occupied[0])] = 200
    with pytest.raises(eb.SnapshotError, match="inconsistent"):
        _restore_bytes(tmp_path, _reseal(data))
    data = bytearray(good)
    data[tags_at + cap + 2 * int(empty[0])] = 1
    with pytest.raises(eb.SnapshotError, match="inconsistent"):
        _restore_bytes(tmp_path, _reseal(data))
    # swap an occupied slot's contents into an empty slot far from its home
    data = bytearray(good)
    src, dst = int(occupied[0]), int(empty[len(empty) // 2])
    for base, width in ((H.size, 8), (tags_at, 1), (tags_at + cap, 2)):
        a, b = base + src * width, base + dst * width
        data[a:a + width], data[b:b + width] = data[b:b + width], data[a:a + width]
    with pytest.raises(eb.SnapshotError, match="inconsistent"):
        _restore_bytes(tmp_path, _reseal(data))


def test_snapshot_error_leaves_existing_file_alone(tmp_path, monkeypatch):
    dd = Deduplicator(Window(max_keys=100))
    dd.filter([1, 2, 3])
    path = tmp_path / "keep.snap"
    dd.snapshot(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(dedup_mod.os, "fsync", boom)
    dd.filter([4])
    with pytest.raises(OSError, match="disk full"):
        dd.snapshot(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.snap"]


# --- threads --------------------------------------------------------------------------------

def test_threads_share_one_deduplicator(test_seed):
    nprng = np.random.default_rng(test_seed + 8)
    keys = nprng.integers(1, 50_000, size=200_000).astype(np.uint64)
    dd = Deduplicator(Window(max_keys=1_000_000))
    masks = [None] * 4
    chunks = np.array_split(keys, 4)

    def work(i):
        masks[i] = dd.filter(chunks[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(int(m.sum()) for m in masks) == len(set(keys.tolist())) == dd.stats()["unique"]
    check(dd)


# --- Hypothesis: core == reference ------------------------------------------------------------

@settings(max_examples=150)
@given(
    max_keys=st.one_of(st.none(), st.integers(1, 40)),
    seconds=st.one_of(st.none(), st.sampled_from([0.002, 0.01, 0.05, 1.0])),
    generations=st.integers(2, 6),
    events=st.lists(st.tuples(st.sampled_from([0, 1, 2, 3, 5, 8, 13, 2**64 - 1, 2**63, 12345678901]),
                              st.integers(0, 30), st.integers(0, 2)), max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=5),
    with_content=st.booleans(),
)
def test_hypothesis_core_matches_reference(max_keys, seconds, generations, events, cuts, with_content):
    if max_keys is None and seconds is None:
        max_keys = 5
    window = Window(max_keys=max_keys, seconds=seconds, generations=generations)
    keys = np.array([k for k, _, _ in events], dtype=np.uint64)
    times = np.cumsum([dt for _, dt, _ in events]).astype(np.int64) if events else np.empty(0, np.int64)
    content = np.array([c for _, _, c in events], dtype=np.uint64)
    bounds = sorted({0, len(keys), *[c for c in cuts if c < len(keys)]})
    sl = lambda a: [a[x:y] for x, y in zip(bounds[:-1], bounds[1:])]
    run_both(window, sl(keys), times=sl(times), content=sl(content) if with_content else None)
