"""The ``eventbatch`` command (also ``python -m eventbatch``).

Subcommands:
  demo    generate sample events (with re-sends and malformed lines), convert
          them to a partitioned Parquet dataset (dedup, rejected rows,
          manifest), then inspect it: the main job on built-in data
  gen     write realistic sample events as NDJSON (.gz/.zst/.lz4 by suffix)
  schema  infer a schema from a sample, print it, optionally save it
  convert NDJSON / frame files to a partitioned Parquet dataset (dedup,
          rejected rows, manifest)
  inspect show a Parquet dataset, a frame file or an NDJSON file
  bench   throughput side by side with pyarrow, polars, duckdb, orjson,
          xxhash (see eventbatch.bench)

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
                         dup_window=args.dup_window, malformed_rate=args.malformed)
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
    """The main job on built-in data: gen -> convert -> inspect, printing the
    equivalent commands."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    from . import gen
    from .convert import REJECTED_DIR, convert
    from .inspection import inspect_path
    from .schema import Schema

    out = args.output or tempfile.mkdtemp(prefix="eventbatch-demo-")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(out, "events.ndjson.gz")
    schema_path = os.path.join(out, "events.schema.json")
    lake = os.path.join(out, "lake")
    parts = "event_type,date,hour"
    print(f"$ eventbatch gen {args.count} -o {src} --dup 0.02 --malformed 0.001 --seed {args.seed}")
    t0 = time.perf_counter()
    gen.write_ndjson(src, args.count, seed=args.seed, dup_rate=0.02, malformed_rate=0.001)
    Schema.from_arrow(gen.event_schema()).save(schema_path)
    print(f"  {args.count:,} music-streaming client events with 2% client re-sends and 0.1% malformed "
          f"lines ({os.path.getsize(src) / 1e6:,.1f} MB gzip) in {time.perf_counter() - t0:.1f} s; "
          f"schema -> {schema_path}")
    print(f"\n$ eventbatch convert {src} -o {lake} --schema {schema_path} --dedup-key event_id "
          f"--time-field client_ts --partition-by {parts} --compression zstd --threads {args.threads}")
    progress = _Progress() if sys.stderr.isatty() else None
    try:
        report = convert([src], lake, schema=schema_path, dedup_key="event_id", time_field="client_ts",
                         partition_by=parts, compression="zstd", threads=args.threads, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    print(report.summary())
    if report.totals["rejected"]:
        rej = ds.dataset(os.path.join(lake, REJECTED_DIR), format="parquet").to_table()
        print(f"  every rejected line is kept in {os.path.join(lake, REJECTED_DIR)}/ with its raw bytes, "
              f"file, line number, byte offset and reason, e.g.:")
        for reason in sorted(set(rej.column("reason").to_pylist()))[:4]:
            r = rej.filter(pa.compute.equal(rej.column("reason"), reason)).slice(0, 1).to_pylist()[0]
            raw = r["raw"][:60].decode("utf-8", "replace")
            print(f"    line {r['line']:>7,} (byte {r['offset']:,}): {reason}: {r['message']}\n"
                  f"      {raw}{'...' if len(r['raw']) > 60 else ''}")
    print(f"\n$ eventbatch inspect {lake}")
    _, text = inspect_path(lake)
    print(text)
    return EXIT_OK if report.balanced else EXIT_INPUT


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eventbatch", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("demo", help="gen -> convert -> inspect on built-in sample events")
    d.add_argument("--count", type=_positive_int, default=500_000, help="events to generate (default 500000)")
    d.add_argument("--threads", type=_positive_int, default=2)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("-o", "--output", help="directory for the outputs (default: a new temp dir)")
    d.set_defaults(func=_cmd_demo)

    g = sub.add_parser("gen", help="write sample events as NDJSON")
    g.add_argument("count", type=_count)
    g.add_argument("-o", "--output", required=True, help="file; .gz/.zst/.lz4 compress")
    g.add_argument("--seed", type=_count, default=0)
    g.add_argument("--dup", type=_rate(1.0, inclusive=False), default=0.0,
                   help="rate of client re-sends (0 <= rate < 1)")
    g.add_argument("--dup-window", type=_positive_int, default=1000,
                   help="re-sends repeat one of the last N events (default 1000)")
    g.add_argument("--malformed", type=_rate(1.0, inclusive=True), default=0.0,
                   help="rate of malformed lines (0..1)")
    g.add_argument("-q", "--quiet", action="store_true")
    g.set_defaults(func=_cmd_gen)

    s = sub.add_parser("schema", help="infer a schema from a sample file")
    s.add_argument("input")
    s.add_argument("-o", "--output", help="save the schema as JSON (the format --schema takes)")
    s.add_argument("--unknown-fields", default="ignore", choices=["ignore", "error", "extra"])
    s.set_defaults(func=_cmd_schema)

    c = sub.add_parser("convert", help="convert event logs to a partitioned Parquet dataset")
    c.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="NDJSON files (.gz/.zst/.lz4), frame files (.ebf), directories, globs, - for stdin")
    c.add_argument("-o", "--output", required=True, help="output directory")
    sg = c.add_mutually_exclusive_group()
    sg.add_argument("--schema", help="schema JSON file (see `eventbatch schema -o`)")
    sg.add_argument("--infer", action="store_true", help="infer the schema from the first NDJSON input")
    c.add_argument("--dedup-key", help="drop rows whose key was seen before (exact over the run)")
    c.add_argument("--dedup-window", type=_positive_int, metavar="N",
                   help="remember only about the N latest distinct keys (bounded memory)")
    c.add_argument("--time-field", help="field the date/hour partitions come from")
    c.add_argument("--time-unit", default="ms", choices=["s", "ms", "us", "ns"],
                   help="unit of an integer time field (default ms)")
    c.add_argument("--partition-by", default="", type=_partition_list, metavar="COLS",
                   help="comma-separated columns; date and hour come from --time-field")
    c.add_argument("--compression", default="zstd", choices=["zstd", "snappy", "lz4", "none"])
    c.add_argument("--threads", type=_positive_int, default=2)
    c.add_argument("--row-group-rows", type=_positive_int, default=128 * 1024,
                   help="rows per row group at most (default 131072)")
    c.add_argument("--row-group-bytes", type=_size, default="128MiB", metavar="SIZE",
                   help="Arrow bytes per row group at most, e.g. 64MiB (default 128MiB)")
    c.add_argument("--file-rows", type=_positive_int, default=1 << 20,
                   help="rows per file at most (default 1048576)")
    c.add_argument("--file-bytes", type=_size, default="512MiB", metavar="SIZE",
                   help="a file rolls once it has this many bytes (default 512MiB)")
    c.add_argument("-q", "--quiet", action="store_true", help="no summary")
    c.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout")
    c.set_defaults(func=_cmd_convert)

    i = sub.add_parser("inspect", help="show a Parquet dataset, a frame file or an NDJSON file")
    i.add_argument("path")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=_cmd_inspect)

    from .bench import add_parser as _add_bench_parser
    _add_bench_parser(sub)
    return p


def _int_at_least(lo: int, what: str):
    """An argparse type: an int >= lo, with `expected <what>` on a bad value."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_count = _int_at_least(0, "an integer >= 0")


def _rate(top: float, inclusive: bool):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = -1.0
        if not (0.0 <= v <= top if inclusive else 0.0 <= v < top):
            raise argparse.ArgumentTypeError(
                f"expected a rate in [0, {top:g}{']' if inclusive else ')'}, got {text!r}")
        return v
    return parse


def _size(text: str) -> int:
    from .convert import ConvertUsageError, _parse_size
    try:
        return _parse_size(text)
    except ConvertUsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _partition_list(text: str) -> list[str]:
    cols = [c.strip() for c in text.split(",")] if text.strip() else []
    for col in cols:
        if not col or "/" in col or "=" in col or col.startswith((".", "_")):
            raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    if len(set(cols)) != len(cols):
        raise argparse.ArgumentTypeError(f"a column is named twice in {text!r}")
    return cols


class _Progress:
    """A one-line progress bar on stderr: bytes, events/s, ETA."""

    def __init__(self) -> None:
        self.last = 0.0
        self.shown = False

    def __call__(self, st: dict) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        done, total, secs = st["bytes_read"], st["bytes_total"], max(st["seconds"], 1e-9)
        rate = st["lines"] / secs
        if total:
            frac = min(1.0, done / total)
            eta = (secs / frac - secs) if frac > 0 else 0.0
            bar = "#" * int(frac * 24)
            line = (f"\r[{bar:<24}] {frac * 100:5.1f}%  {done / 1e6:,.1f}/{total / 1e6:,.1f} MB  "
                    f"{rate:,.0f} events/s  ETA {eta:4.0f} s ")
        else:
            line = f"\r{done / 1e6:,.1f} MB  {rate:,.0f} events/s "
        sys.stderr.write(line)
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 90 + "\r")
            sys.stderr.flush()


def _cmd_convert(args: argparse.Namespace) -> int:
    import json

    from .convert import convert
    from .errors import SchemaError
    from .schema import Schema
    try:
        schema = Schema.load(args.schema) if args.schema else None
    except SchemaError as e:
        raise SchemaError(f"bad schema {args.schema}: {e}") from e
    progress = _Progress() if (not args.quiet and not args.json and sys.stderr.isatty()) else None
    try:
        report = convert(args.inputs, args.output, schema=schema, infer=args.infer,
                         dedup_key=args.dedup_key, dedup_window=args.dedup_window,
                         time_field=args.time_field, time_unit=args.time_unit,
                         partition_by=args.partition_by, compression=args.compression,
                         threads=args.threads, row_group_rows=args.row_group_rows,
                         row_group_bytes=args.row_group_bytes, file_rows=args.file_rows,
                         file_bytes=args.file_bytes, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print(json.dumps(dict(report.manifest, seconds=round(report.seconds, 3)), indent=2))
    elif not args.quiet:
        print(report.summary())
    return EXIT_OK if report.balanced else EXIT_INPUT


def _cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from .inspection import inspect_path
    info, text = inspect_path(args.path)
    print(json.dumps(info, indent=2, default=str) if args.json else text)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPT
    except BrokenPipeError:   # e.g. `eventbatch inspect x | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except _usage_errors() as e:
        print(f"eventbatch {args.cmd}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (EventBatchError, OSError, ImportError) as e:
        print(f"eventbatch: error: {e}", file=sys.stderr)
        return EXIT_INPUT


def _usage_errors() -> tuple:
    from .convert import ConvertUsageError
    return (ConvertUsageError,)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
