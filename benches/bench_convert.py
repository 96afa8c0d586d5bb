#!/usr/bin/env python
"""NDJSON -> dedup on event_id -> zstd Parquet: eventbatch convert vs DuckDB vs Polars.

    PYTHONPATH=src python benches/bench_convert.py --events 1000000 --threads 1,2 --runs 3 --markdown

What it does
------------
1. Writes ``--events`` generated events (``eventbatch gen N --dup 0.02
   --seed 1``: 2% client re-sends) as plain NDJSON under ``--data-dir``, once
   (kept for later runs; ``--gzip`` also writes and uses ``.ndjson.gz``).
2. For each thread count, runs every tool in a fresh process
   (``bench_convert.py --worker``): one untimed warm-up per tool (it also
   warms the page cache), then ``--runs`` timed runs, round robin over the
   tools so that a noisy minute hits all of them.  Every run reads the same
   file and writes a new output directory.
3. A worker times the operation only (imports and setup excluded) and
   reports its wall time, its CPU time (all threads), its peak RSS
   (``VmHWM``: the high-water mark of this process; ``ru_maxrss`` survives
   exec on Linux and may show the parent's), and the output's size.  The
   parent also records the whole process's wall time (interpreter start and
   imports included).
4. Correctness: after the runs, each tool's last output is read back with
   pyarrow, cast to the declared schema and sorted by ``event_id``; its row
   count and its set of ``event_id`` must equal eventbatch's, and so must
   every row (the generator's re-sends are exact copies, so which copy a
   tool keeps does not matter).

The operations (the issue's wording):

* eventbatch: ``eb.convert([path], out, schema=..., dedup_key="event_id",
  compression="zstd", threads=T)`` (what ``eventbatch convert path -o out
  --schema s.json --dedup-key event_id --threads T`` runs);
* DuckDB: ``SET threads TO T; COPY (SELECT DISTINCT ON (event_id) * FROM
  read_json(path, format='newline_delimited', columns={...})) TO out
  (FORMAT parquet, COMPRESSION zstd)``;
* Polars (``POLARS_MAX_THREADS=T``): ``pl.scan_ndjson(path, schema=...)
  .unique(subset='event_id', keep='first', maintain_order=True)
  .sink_parquet(out, compression='zstd')``.

Every tool gets the declared schema, and uses its own default zstd level and
row-group size (the output sizes are reported).

``--tools eventbatch --dedup-window N`` measures the bounded-memory dedup
mode; ``--events 10000000 --tools eventbatch --runs 1`` gives the peak RSS at
10M events.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOOLS = ("eventbatch", "duckdb", "polars")


# ---------------------------------------------------------------------------
# worker

def _peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _duck_type(t) -> str:
    import pyarrow as pa
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_duck_type(f.type)}' for f in t) + ")"
    return {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
            pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN"}[t]


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.unlink(path)


def _dir_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def worker(spec: dict) -> dict:
    tool, path, out, threads = spec["tool"], spec["input"], spec["output"], spec["threads"]
    from eventbatch import gen
    schema = gen.event_schema()
    if tool == "eventbatch":
        import eventbatch as eb
        kw = {}
        if spec.get("dedup_window"):
            kw["dedup_window"] = spec["dedup_window"]

        def op():
            rep = eb.convert([path], out, schema=schema, dedup_key="event_id", compression="zstd",
                             threads=threads, **kw)
            return rep.totals["written"]
    elif tool == "duckdb":
        import duckdb
        cols = "{" + ", ".join(f"'{f.name}': '{_duck_type(f.type)}'" for f in schema) + "}"
        con = duckdb.connect()
        con.execute(f"SET threads TO {threads}")
        out = out + ".parquet"

        def op():
            con.execute(f"COPY (SELECT DISTINCT ON (event_id) * FROM read_json('{path}', "
                        f"format='newline_delimited', columns={cols})) TO '{out}' "
                        f"(FORMAT parquet, COMPRESSION zstd)")
            return None
    elif tool == "polars":
        import polars as pl
        import pyarrow as pa
        pschema = pl.from_arrow(pa.table({f.name: pa.array([], f.type) for f in schema})).schema
        out = out + ".parquet"

        def op():
            (pl.scan_ndjson(path, schema=pschema)
             .unique(subset="event_id", keep="first", maintain_order=True)
             .sink_parquet(out, compression="zstd"))
            return None
    else:
        raise SystemExit(f"unknown tool {tool}")
    rss0 = _peak_rss_bytes()
    c0 = time.process_time()
    t0 = time.perf_counter()
    rows = op()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {"tool": tool, "threads": threads, "seconds": wall, "cpu_seconds": cpu,
            "peak_rss": _peak_rss_bytes(), "rss_before": rss0, "rows": rows, "output": out,
            "output_bytes": _dir_bytes(out)}


# ---------------------------------------------------------------------------
# parent

def ensure_input(n: int, data_dir: str, gz: bool) -> str:
    from eventbatch import gen
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, f"events-{n}-dup0.02-seed1.ndjson" + (".gz" if gz else ""))
    if not os.path.exists(path):
        tmp = path + ".tmp" + (".gz" if gz else "")
        t0 = time.perf_counter()
        gen.write_ndjson(tmp, n, seed=1, dup_rate=0.02)
        os.replace(tmp, path)
        print(f"# wrote {path} ({os.path.getsize(path) / 1e6:,.1f} MB) in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def run_one(spec: dict, pythonpath: str, timeout: float) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = pythonpath + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["POLARS_MAX_THREADS"] = str(spec["threads"])
    env["PYTHONHASHSEED"] = "0"
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                       capture_output=True, text=True, env=env, timeout=timeout)
    proc_wall = time.perf_counter() - t0
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{spec['tool']} worker exited {p.returncode}: " + " | ".join(tail))
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["process_seconds"] = proc_wall
    res["loadavg_before_after"] = [load0, os.getloadavg()[0]]
    return res


def read_back(tool: str, out: str):
    import pyarrow as pa
    import pyarrow.dataset as ds

    from eventbatch import gen
    schema = gen.event_schema()
    t = ds.dataset(out, format="parquet").to_table()
    t = t.select(schema.names).cast(schema)
    return t.sort_by("event_id")


def check(results_last: dict[str, dict]) -> dict[str, str]:
    """tool -> "ok" or what differs from eventbatch's output."""
    ref = read_back("eventbatch", results_last["eventbatch"]["output"])
    verdict = {"eventbatch": f"ok (reference, {ref.num_rows:,} rows)"}
    ref_ids = ref.column("event_id")
    for tool, r in results_last.items():
        if tool == "eventbatch":
            continue
        t = read_back(tool, r["output"])
        if t.num_rows != ref.num_rows:
            verdict[tool] = f"DIFFERS: {t.num_rows:,} rows vs {ref.num_rows:,}"
        elif not t.column("event_id").equals(ref_ids):
            verdict[tool] = "DIFFERS: other event_ids"
        elif not t.equals(ref):
            verdict[tool] = "DIFFERS: same event_ids, other row content"
        else:
            verdict[tool] = "ok (same rows)"
        del t
    return verdict


def versions() -> dict:
    from importlib import metadata
    v = {"python": platform.python_version()}
    for name in ("pyarrow", "polars", "duckdb", "numpy"):
        try:
            v[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            v[name] = "not installed"
    try:
        v["eventbatch git HEAD"] = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
            timeout=10).stdout.strip() + (" (dirty)" if subprocess.run(
                ["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=10).stdout.strip() else "")
    except Exception:  # noqa: BLE001
        v["eventbatch git HEAD"] = "unknown"
    return v


def machine() -> str:
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    return (f"{model}, {os.cpu_count()} logical CPUs ({len(os.sched_getaffinity(0))} usable), "
            f"{mem} MiB RAM, Linux {platform.release()}")


def snapshot_package(dest: str) -> str:
    """A frozen copy of the importable package (and its compiled core) for the workers."""
    import eventbatch
    src = os.path.dirname(os.path.abspath(eventbatch.__file__))
    shutil.copytree(src, os.path.join(dest, "eventbatch"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.c", "*.html"))
    return dest


def markdown(meta: dict, rows: list[dict], verdict: dict) -> str:
    out = [f"- Command: `{meta['command']}`",
           f"- Date: {meta['date']}",
           f"- Machine: {meta['machine']}; 1-min load average {meta['load']}",
           "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
           f"- Input: {meta['events']:,} events, {meta['input']} ("
           + (f"{meta['file_mb']:,.1f} MB of gzip, " if meta["file_mb"] != meta["input_mb"] else "")
           + f"{meta['input_mb']:,.1f} MB of NDJSON, "
           f"{meta['input_mb'] * 1e6 / meta['events']:.0f} B/event), 2% re-sends; eventbatch dedup: "
           + ("exact over the run" if not meta.get("dedup_window") else
              f"window of {meta['dedup_window']:,} keys (`--dedup-window`)"),
           f"- Method: fresh process per run, {meta['warmups']} warm-up + {meta['runs']} timed runs per tool, round robin; "
           "times are the operation only (*process s* adds interpreter start and imports); "
           "*MB/s* = input bytes / median; *eventbatch speedup* = tool median / eventbatch median; "
           "*CPU÷wall* from process CPU time; *peak RSS* = VmHWM of the worker",
           "",
           "| threads | tool | median s | best s | events/s | MB/s | eventbatch speedup | CPU÷wall "
           "| process s | peak RSS MiB | output MB | correct |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r['threads']} | {r['tool']} | {r['median']:.2f} | {r['best']:.2f} | "
                   f"{r['events_s']:,.0f} | {r['mb_s']:,.0f} | {r['speedup']:.2f}x | {r['cpu_wall']:.2f} | "
                   f"{r['process_median']:.2f} | {r['peak_rss'] / 2**20:,.0f} | "
                   f"{r['output_bytes'] / 1e6:,.1f} | {verdict.get((r['threads'], r['tool']), '')} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmups", type=int, default=1, help="untimed runs per tool first (default 1)")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--gzip", action="store_true", help="read events.ndjson.gz instead of plain NDJSON")
    ap.add_argument("--dedup-window", type=int, help="eventbatch only: a bounded dedup window")
    ap.add_argument("--data-dir", default=os.path.join(HERE, ".data"))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", help="write every run's figures to this file")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    tools = [t for t in args.tools.split(",") if t]
    threads = [int(x) for x in args.threads.split(",")]
    path = ensure_input(args.events, args.data_dir, args.gzip)
    size = os.path.getsize(path)
    if args.gzip:
        plain = ensure_input(args.events, args.data_dir, False)
        print(f"# {path}: {size / 1e6:,.1f} MB gzip of {os.path.getsize(plain) / 1e6:,.1f} MB", file=sys.stderr)
        size = os.path.getsize(plain)      # rates count the NDJSON bytes
    work = tempfile.mkdtemp(prefix="eventbatch-bench-convert-", dir=args.data_dir)
    pkg = snapshot_package(os.path.join(work, "pkg"))
    meta = {"command": "PYTHONPATH=src python benches/bench_convert.py " + " ".join(
                shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
            "versions": versions(), "events": args.events, "input": os.path.basename(path),
            "input_mb": size / 1e6, "file_mb": os.path.getsize(path) / 1e6, "runs": args.runs,
            "warmups": args.warmups,
            "dedup_window": args.dedup_window}
    loads = [os.getloadavg()[0]]
    all_runs: list[dict] = []
    rows: list[dict] = []
    verdict: dict = {}
    try:
        for t in threads:
            runs: dict[str, list[dict]] = {tool: [] for tool in tools}
            for rep in range(1 - args.warmups, args.runs + 1):
                for tool in tools:
                    out = os.path.join(work, f"{tool}-t{t}-r{rep}")
                    spec = {"tool": tool, "input": path, "output": out, "threads": t,
                            "dedup_window": args.dedup_window}
                    r = run_one(spec, pkg, args.timeout)
                    r["warmup"] = rep <= 0
                    all_runs.append(r)
                    loads.append(os.getloadavg()[0])
                    print(f"# threads={t} {tool:10s} {'warm-up' if rep <= 0 else f'run {rep}'}: "
                          f"{r['seconds']:.2f} s (process {r['process_seconds']:.2f} s, "
                          f"cpu {r['cpu_seconds']:.2f} s, peak RSS {r['peak_rss'] / 2**20:,.0f} MiB)",
                          file=sys.stderr)
                    if rep > 0:
                        runs[tool].append(r)
                    if rep < args.runs:      # keep the last output for the check
                        _remove(r["output"])
            last = {tool: runs[tool][-1] for tool in tools}
            if "eventbatch" in last:
                for tool, v in check(last).items():
                    verdict[(t, tool)] = v
            eb_median = statistics.median(r["seconds"] for r in runs["eventbatch"]) if "eventbatch" in runs else None
            for tool in tools:
                secs = [r["seconds"] for r in runs[tool]]
                med = statistics.median(secs)
                rows.append({"threads": t, "tool": tool, "median": med, "best": min(secs),
                             "events_s": args.events / med, "mb_s": size / 1e6 / med,
                             "speedup": med / eb_median if eb_median else float("nan"),
                             "cpu_wall": statistics.median(r["cpu_seconds"] / r["seconds"] for r in runs[tool]),
                             "process_median": statistics.median(r["process_seconds"] for r in runs[tool]),
                             "peak_rss": max(r["peak_rss"] for r in runs[tool]),
                             "output_bytes": runs[tool][-1]["output_bytes"]})
            for tool in tools:
                _remove(last[tool]["output"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta["load"] = f"{min(loads):.2f} to {max(loads):.2f} during the runs (other users' jobs included)"
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows, "runs": all_runs,
                       "verdict": {f"{k[0]}:{k[1]}": v for k, v in verdict.items()}}, f, indent=2)
    if args.markdown:
        print(markdown(meta, rows, verdict))
    else:
        for r in rows:
            print(f"threads={r['threads']} {r['tool']:10s} median {r['median']:.2f} s  "
                  f"{r['events_s']:,.0f} events/s  {r['mb_s']:,.0f} MB/s  eventbatch speedup {r['speedup']:.2f}x  "
                  f"peak RSS {r['peak_rss'] / 2**20:,.0f} MiB  {verdict.get((r['threads'], r['tool']), '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
