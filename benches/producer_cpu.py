"""Where a Producer's time goes: wall time, the adding thread's CPU time and
every thread's CPU time, per event (dedup on, LZ4 frames, MemorySink).

    PYTHONPATH=src python benches/producer_cpu.py ndjson|dicts [--events N] [--rounds R]

CPU time per event is steadier than wall time on a shared machine, and the
split tells whether the adding thread (parse + hashes + dedup + compaction)
or the other threads (framing, Arrow's LZ4 pool) set the pace: on two cores
the wall time can approach max(adding thread, others), never less.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import eventbatch as eb
from eventbatch import gen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["ndjson", "dicts"])
    ap.add_argument("--events", type=int, default=400_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--switch-interval", type=float, default=None,
                    help="sys.setswitchinterval(S) first (the default is 0.005 s)")
    args = ap.parse_args()
    if args.switch_interval is not None:
        import sys
        sys.setswitchinterval(args.switch_interval)
    src = gen.generate_ndjson(args.events, seed=21, dup_rate=0.02, dup_window=1000)
    n = src.count(b"\n")
    dicts = [json.loads(line) for line in src.splitlines()] if args.kind == "dicts" else None
    schema = gen.event_schema()
    for _ in range(args.rounds):
        sink = eb.MemorySink()
        p = eb.Producer(schema, sink, max_rows=65_536, max_bytes=1 << 20, linger_ms=1e9, codec="lz4",
                        dedup_key="event_id", dedup_window=eb.Window(max_keys=10_000_000),
                        max_in_flight_frames=1 << 16, max_in_flight_bytes=1 << 40)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0, c0 = time.perf_counter(), time.thread_time()
        with p:
            if dicts is not None:
                p.add_many(dicts)
            else:
                p.add_ndjson(src, final=True)
        wall, main_cpu = time.perf_counter() - t0, time.thread_time() - c0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        assert p.stats()["total"]["delivered"] + p.stats()["total"]["deduplicated"] == n
        print(f"{args.kind}: {n / wall:,.0f} events/s; us/event: wall {wall / n * 1e6:.2f}, "
              f"adding thread {main_cpu / n * 1e6:.2f}, all threads {cpu / n * 1e6:.2f}")


if __name__ == "__main__":
    main()
