"""``eventbatch bench``: eventbatch and its peers side by side, on your machine and data.

Scenarios (``--scenarios``), each run by eventbatch and every installed peer
on the same input:

* ``ndjson``   NDJSON bytes -> Arrow: pyarrow.json.read_json, polars.read_ndjson,
               duckdb read_json, orjson + pa.Table.from_pylist
* ``dicts``    Python dicts -> Arrow: pa.RecordBatch.from_pylist, polars.from_dicts
* ``hash``     XXH64 of the key column: a Python loop of xxhash.xxh64_intdigest
* ``dedup``    drop re-sends from an Arrow table: polars unique, duckdb DISTINCT ON
* ``convert``  NDJSON file -> dedup -> zstd Parquet: duckdb COPY, polars sink_parquet
* ``producer`` eventbatch's Producer end to end: events/s, p50/p99 frame latency

Each row runs in its own process (:mod:`eventbatch.bench.worker`): input
loaded untimed, warm-up, timed runs, median.  Its output is checksummed in a
canonical, order-independent form (:mod:`eventbatch.bench.checksum`) and
compared with eventbatch's.

Python API::

    from eventbatch.bench import BenchConfig, run_suite, format_report
    doc = run_suite(BenchConfig(scenarios=["ndjson"], events=100_000))
    print(format_report(doc))
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .ops import SCENARIOS
from .report import PlotUnavailable, compare, format_comparison, format_report, load_results, plot
from .runner import DEFAULT, QUICK, BenchConfig, BenchInputError, run_suite

__all__ = ["BenchConfig", "BenchInputError", "run_suite", "format_report", "plot", "compare",
           "format_comparison", "load_results", "add_parser", "command", "SCENARIOS"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

_EPILOG = f"""\
scenarios: {', '.join(SCENARIOS)}

examples:
  eventbatch bench                              default suite, generated events
  eventbatch bench --quick                      about a minute
  eventbatch bench --input my.ndjson --schema my.schema.json --threads 1,2 \\
                   --json out.json --plot out.png
  eventbatch bench --json new.json --baseline benches/baseline.json --threshold 0.15
  eventbatch bench --from-json out.json --plot out.png   redraw a saved run

A missing peer is reported as skipped with the pip line that adds it
(pip install 'eventbatch[bench]' adds them all, and matplotlib).  Exit codes: 0 done,
1 input error or a regression past --threshold, 2 usage.
"""


def _int_list(text: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return list(dict.fromkeys(vals))


def _scenario_list(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {', '.join(unknown) or repr(text)}; choose from {', '.join(SCENARIOS)}")
    return list(dict.fromkeys(names))


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return v
    return parse


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return v


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand to the ``eventbatch`` command's subparsers."""
    b = sub.add_parser(
        "bench", help="throughput of eventbatch vs pyarrow, polars, duckdb, orjson, xxhash",
        description="Side-by-side throughput benchmark: every scenario runs eventbatch and each "
                    "installed peer on the same input, one process per library, a warm-up and "
                    "several runs, median reported, with each output checked against eventbatch's.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = b.add_argument_group("what to run")
    g.add_argument("--quick", action="store_true",
                   help=f"small run: {QUICK['events']:,} events, {QUICK['warmup']} warm-up + "
                        f"{QUICK['repeat']} runs (about a minute on 2 cores)")
    g.add_argument("--scenarios", type=_scenario_list, metavar="LIST",
                   help=f"comma-separated subset of: {', '.join(SCENARIOS)} (default: all)")
    g.add_argument("--threads", type=_int_list, default=[1], metavar="LIST",
                   help="thread counts, e.g. 1,2: each library with a thread setting runs at each "
                        "(pyarrow use_threads/set_cpu_count, POLARS_MAX_THREADS, duckdb SET threads, "
                        "eventbatch threads=); default 1")
    g.add_argument("--events", type=_positive(int), metavar="N",
                   help=f"generated events (default {DEFAULT['events']:,}; --quick {QUICK['events']:,})")
    g.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    g.add_argument("--dup", type=_fraction, default=0.02, metavar="RATE",
                   help="rate of client re-sends in generated events (default 0.02)")
    g.add_argument("--warmup", type=int, metavar="N", help="untimed runs first (default 1)")
    g.add_argument("--repeat", type=_positive(int), metavar="N",
                   help=f"timed runs, median reported (default {DEFAULT['repeat']}; --quick {QUICK['repeat']})")
    g.add_argument("--timeout", type=_positive(float), metavar="SECONDS",
                   help="stop a row after this long (default 240; --quick 60)")
    d = b.add_argument_group("your data")
    d.add_argument("--input", metavar="FILE", help="NDJSON file (.gz/.zst/.lz4 too) instead of generated events")
    d.add_argument("--schema", metavar="FILE",
                   help="schema JSON of --input (see `eventbatch schema -o`); inferred when left out")
    d.add_argument("--dedup-key", metavar="FIELD",
                   help="key of the hash/dedup/convert/producer scenarios (default event_id)")
    o = b.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", help="write the raw results (runs, machine, versions) as JSON")
    o.add_argument("--plot", metavar="PATH", help="draw a bar chart PNG (needs matplotlib: the plot extra)")
    o.add_argument("--markdown", action="store_true", help="print the report as Markdown")
    o.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    o.add_argument("--from-json", metavar="PATH", help="do not run: report on a saved --json file")
    r = b.add_argument_group("regression check")
    r.add_argument("--baseline", metavar="PATH",
                   help="compare events/s with a saved --json run; exit 1 if a row is slower than the threshold")
    r.add_argument("--threshold", type=_fraction, default=0.15, metavar="FRACTION",
                   help="slowdown that counts as a regression (default 0.15 = 15%%)")
    b.add_argument("--workdir", metavar="DIR", help=argparse.SUPPRESS)
    b.set_defaults(func=command)
    return b


def _usage(msg: str) -> int:
    print(f"eventbatch bench: error: {msg}", file=sys.stderr)
    return EXIT_USAGE


def command(args: argparse.Namespace) -> int:
    """Run ``eventbatch bench`` from parsed arguments; returns the exit code."""
    from .worker import install_hide_hook
    install_hide_hook()   # test hook (_EVENTBATCH_BENCH_HIDE): matplotlib "not installed"
    if args.from_json and (args.input or args.schema or args.scenarios or args.events):
        return _usage("--from-json reports on a saved run: it takes no --input/--schema/--scenarios/--events")
    if args.input and args.events:
        return _usage("--events sets the size of generated events; with --input the file decides")
    if args.schema and not args.input:
        return _usage("--schema describes --input: give --input too")
    if args.warmup is not None and args.warmup < 0:
        return _usage("--warmup must be >= 0")
    if args.plot:
        try:   # before a five-minute run, not after it
            from .report import require_matplotlib
            require_matplotlib()
        except PlotUnavailable as e:
            print(f"eventbatch bench: error: {e}", file=sys.stderr)
            return EXIT_FAIL
    baseline = load_results(args.baseline) if args.baseline else None
    if baseline is not None and "results" not in baseline:
        return _usage(f"{args.baseline} is a pytest-benchmark file: compare it with "
                      "benches/regress.py BASELINE NEW")

    if args.from_json:
        doc = load_results(args.from_json)
        if "results" not in doc:
            return _usage(f"{args.from_json} is a pytest-benchmark file: compare it with "
                          "benches/regress.py BASELINE NEW")
    else:
        preset = QUICK if args.quick else DEFAULT
        cfg = BenchConfig(
            scenarios=args.scenarios or list(SCENARIOS), threads=args.threads,
            events=args.events or preset["events"],
            warmup=preset["warmup"] if args.warmup is None else args.warmup,
            repeat=args.repeat or preset["repeat"], timeout_s=args.timeout or preset["timeout_s"],
            seed=args.seed, dup_rate=args.dup, input=args.input, schema=args.schema,
            dedup_key=args.dedup_key, quick=args.quick, workdir=args.workdir)
        log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
        doc = run_suite(cfg, log=log)
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)
            log(f"raw results written to {args.json}")

    print(format_report(doc, markdown=args.markdown))
    if args.plot:
        plot(doc, args.plot)
        print(f"\nchart written to {args.plot}", file=sys.stderr)
    if baseline is not None:
        rows = compare(doc, baseline, args.threshold)
        print()
        print(format_comparison(rows, args.threshold))
        if any(r["regressed"] for r in rows):
            return EXIT_FAIL
    return EXIT_OK
