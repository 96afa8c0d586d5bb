"""The ``eventbatch`` command (also ``python -m eventbatch``).

Subcommands:
  demo    generate sample events (with re-sends and malformed lines), encode
          them in parallel, write Parquet, and report what was accepted and
          rejected and how fast
  gen     write realistic sample events as NDJSON (.gz/.zst/.lz4 by suffix)
  schema  infer a schema from a sample, print it, optionally save it

Exit codes: 0 success, 1 input error (missing file, bad schema), 2 usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time

from .errors import EventBatchError

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERRUPT = 0, 1, 2, 130


def _cmd_gen(args: argparse.Namespace) -> int:
    from . import gen
    n = gen.write_ndjson(args.output, args.count, seed=args.seed, dup_rate=args.dup,
                         malformed_rate=args.malformed)
    if not args.quiet:
        print(f"wrote {n} events to {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    from .schema import Schema
    schema = Schema.infer(args.input, unknown_fields=args.unknown_fields)
    print(schema)
    if args.output:
        schema.save(args.output)
        print(f"saved to {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from . import gen
    from .readers import read_ndjson
    from .schema import Schema

    out = args.output or tempfile.mkdtemp(prefix="eventbatch-demo-")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(out, "events.ndjson.gz")
    print(f"1. generating {args.count:,} sample events (2% re-sends, 0.5% malformed) -> {src}")
    gen.write_ndjson(src, args.count, seed=args.seed, dup_rate=0.02, malformed_rate=0.005)
    schema = Schema.from_arrow(gen.event_schema())
    print(f"2. encoding with {args.threads} thread(s) against the declared schema:")
    print("   " + str(schema).replace("\n", "\n   "))
    rejected: list = []
    stats: dict = {}
    t0 = time.perf_counter()
    table = read_ndjson(src, schema, threads=args.threads, rejected=rejected, stats=stats)
    dt = time.perf_counter() - t0
    table.validate(full=True)
    dest = os.path.join(out, "events.parquet")
    pq.write_table(table, dest, compression="zstd")
    print(f"3. {stats['inputs']:,} events in {dt:.2f} s ({stats['inputs'] / dt / 1e6:.2f} M events/s, "
          f"gzip included): {stats['accepted']:,} accepted -> {dest}, {stats['rejected']:,} rejected")
    assert stats["inputs"] == stats["accepted"] + stats["rejected"]
    if rejected:
        rej = pa.Table.from_batches(rejected)
        dest_rej = os.path.join(out, "rejected.parquet")
        pq.write_table(rej, dest_rej)
        counts = collections.Counter(rej.column("reason").to_pylist())
        print(f"4. rejected rows by reason (all kept with raw bytes, line and message in {dest_rej}):")
        for reason, n in counts.most_common():
            first = rej.filter(pa.compute.equal(rej.column("reason"), reason)).slice(0, 1).to_pylist()[0]
            print(f"   {reason:18s} {n:6,}   e.g. line {first['line']}: {first['message']}")
    print("done: counters balance (inputs = accepted + rejected)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eventbatch", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("demo", help="encode built-in sample events end to end")
    d.add_argument("--count", type=int, default=500_000, help="events to generate (default 500000)")
    d.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("-o", "--output", help="directory for the outputs (default: a new temp dir)")
    d.set_defaults(func=_cmd_demo)

    g = sub.add_parser("gen", help="write sample events as NDJSON")
    g.add_argument("count", type=int)
    g.add_argument("-o", "--output", required=True, help="file; .gz/.zst/.lz4 compress")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--dup", type=float, default=0.0, help="rate of client re-sends (0..1)")
    g.add_argument("--malformed", type=float, default=0.0, help="rate of malformed lines (0..1)")
    g.add_argument("-q", "--quiet", action="store_true")
    g.set_defaults(func=_cmd_gen)

    s = sub.add_parser("schema", help="infer a schema from a sample file")
    s.add_argument("input")
    s.add_argument("-o", "--output", help="save the schema as JSON (the format --schema takes)")
    s.add_argument("--unknown-fields", default="ignore", choices=["ignore", "error", "extra"])
    s.set_defaults(func=_cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPT
    except (EventBatchError, OSError, ImportError) as e:
        print(f"eventbatch: error: {e}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
