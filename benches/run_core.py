#!/usr/bin/env python
"""Side-by-side runner: events -> Arrow, eventbatch vs peers, one fresh process each.

    PYTHONPATH=src python benches/run_core.py --events 200000 --markdown

This is the issue-targets view of the ``ndjson`` and ``dicts`` scenarios of
``eventbatch bench`` (src/eventbatch/bench/): the timed operations, the
peak-RSS reading, the DuckDB types and the machine description come from
that package; what this script adds is a leaf-by-leaf check against the
generator's own dicts (independent of every Arrow library), the target
verdicts, CPU time and a frozen copy of the package for the workers.  For a
user-facing comparison of every scenario use ``eventbatch bench``.

What it does
------------
1. Writes ``--events`` seeded events (``eventbatch.gen.write_ndjson``) to a
   temporary NDJSON file, once.
2. Computes a *reference* checksum of the expected output in pure Python from
   ``eventbatch.gen.generate_dicts`` (the generator's ground truth; no Arrow
   library involved).
3. For each (scenario, library) starts ``sys.executable run_core.py --worker``.
   The worker loads the data file (NDJSON bytes; for the dict scenarios
   every line parsed, by orjson when installed) -- not timed --, runs the operation once as a
   warm-up, then ``--repeat`` timed runs (``gc.collect()`` before each, GC left
   enabled during the run), checks the row count of every run, records the
   peak RSS (``VmHWM`` of /proc/self/status; ``resource.getrusage`` is also
   recorded in the JSON, but on Linux its ru_maxrss survives exec and shows
   the parent's peak), and finally checksums the output of the
   last run (after the RSS reading, so the checksum does not inflate it).
4. Prints a summary (``--markdown``: a Markdown report) and optionally writes
   every raw timing to ``--json``.

Single thread: the issue's targets are one-thread targets, so every peer is
pinned to one thread: ``pyarrow.json.read_json(use_threads=False)``,
``POLARS_MAX_THREADS=1``, duckdb ``SET threads=1``.  The only multi-thread rows
are ``eventbatch.read_ndjson(path, schema, threads=2)`` vs ``threads=1``.

Correctness
-----------
Each output is cast, column by column, to the declared schema
(``eventbatch.gen.event_schema()``; this only changes the string layout --
large_string / string_view -- and the nullability flags that
``pyarrow.json.read_json`` drops), then split into leaves: every top-level
column, plus for the ``payload`` struct its validity and each child (with
the parent's nulls applied).  Each leaf is hashed from ``to_pylist()`` (so
buffer layout, chunking, slicing and the bytes under nulls do not matter),
and compared with the same leaf computed from the generator's dicts.  A leaf
that cannot be cast is reported as not compared.  On a mismatch the worker
reports, per leaf, how many rows differ and the first one.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import hashlib
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (scenario, library, description, is_baseline); the operations are
# eventbatch.bench.ops's ("ndjson"/"dicts" rows; read_ndjson = its ndjson
# eventbatch row at 1 and 2 threads)
SCENARIOS = [
    ("ndjson", "eventbatch", "eb.read_ndjson(BytesIO(data), schema, threads=1)", False),
    ("ndjson", "pyarrow", "pyarrow.json.read_json(BytesIO, use_threads=False, explicit_schema)", True),
    ("ndjson", "orjson+pyarrow", "pa.Table.from_pylist([orjson.loads(l) for l in lines], schema)", False),
    ("ndjson", "polars", "polars.read_ndjson(BytesIO, schema=...) (POLARS_MAX_THREADS=1)", False),
    ("ndjson", "duckdb", "read_json(path, columns={...}) -> Arrow (threads=1; reads the file)", False),
    ("dicts", "eventbatch", "Encoder(schema).extend(dicts); flush()", False),
    ("dicts", "pyarrow", "pa.RecordBatch.from_pylist(dicts, schema=...)", True),
    ("dicts", "polars", "polars.from_dicts(dicts, schema=...) (POLARS_MAX_THREADS=1)", False),
    ("read_ndjson", "eventbatch threads=1", "eb.read_ndjson(BytesIO(data), schema, threads=1)", True),
    ("read_ndjson", "eventbatch threads=2", "eb.read_ndjson(BytesIO(data), schema, threads=2)", False),
]
SCENARIO_TITLES = {
    "ndjson": "NDJSON bytes -> Arrow",
    "dicts": "list of dicts -> Arrow",
    "read_ndjson": "NDJSON file -> Arrow, eventbatch.read_ndjson",
}
TARGET_RATE = 1_000_000


# ---------------------------------------------------------------------------
# Canonical form and checksums (shared by the parent and the workers)
# ---------------------------------------------------------------------------

def _float_fields(schema) -> set[str]:
    import pyarrow as pa
    out = set()
    for f in schema:
        if pa.types.is_struct(f.type):
            out |= {f"{f.name}.{c.name}" for c in f.type if pa.types.is_floating(c.type)}
        elif pa.types.is_floating(f.type):
            out.add(f.name)
    return out


def reference_leaves(dicts, schema):
    """Leaf name -> list of Python values, straight from the generator's dicts."""
    import pyarrow as pa
    floats = _float_fields(schema)

    def norm(name, values):
        if name in floats:
            return [None if v is None else float(v) for v in values]
        return values

    for f in schema:
        if pa.types.is_struct(f.type):
            parents = [d.get(f.name) for d in dicts]
            yield f"{f.name}#valid", [p is not None for p in parents]
            for c in f.type:
                key = f"{f.name}.{c.name}"
                yield key, norm(key, [None if p is None else p.get(c.name) for p in parents])
        else:
            yield f.name, norm(f.name, [d.get(f.name) for d in dicts])


def to_arrow_table(result):
    """Whatever a library returned -> pyarrow.Table (eventbatch.bench.ops's conversion)."""
    from eventbatch.bench.ops import _as_table
    return _as_table(result)[1]


def result_rows(result) -> int:
    if hasattr(result, "num_rows"):
        return result.num_rows
    if hasattr(result, "height"):
        return result.height
    if isinstance(result, (list, tuple)):
        return sum(b.num_rows for b in result)
    raise TypeError(f"no row count for {type(result).__name__}")


def output_leaves(table, schema):
    """Leaf name -> list of Python values (or an Exception when not comparable)."""
    import pyarrow as pa
    for f in schema:
        if f.name not in table.column_names:
            err = KeyError(f"column {f.name!r} missing from the output")
            if pa.types.is_struct(f.type):
                yield f"{f.name}#valid", err
                for c in f.type:
                    yield f"{f.name}.{c.name}", err
            else:
                yield f.name, err
            continue
        col = table.column(f.name)
        try:
            col = col.cast(f.type)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            cast_err = e
            col = None
        if pa.types.is_struct(f.type):
            if col is None:
                yield f"{f.name}#valid", cast_err
                for c in f.type:
                    yield f"{f.name}.{c.name}", cast_err
                continue
            arr = col.combine_chunks()
            yield f"{f.name}#valid", arr.is_valid().to_pylist()
            for c, child in zip(f.type, arr.flatten()):  # flatten() applies the parent's nulls
                yield f"{f.name}.{c.name}", child.to_pylist()
        else:
            yield f.name, cast_err if col is None else col.to_pylist()


def digest(values) -> str:
    return hashlib.sha256(repr(values).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def reference_digests(n: int, seed: int) -> dict[str, str]:
    from eventbatch import gen
    dicts = gen.generate_dicts(n, seed=seed)
    out = {k: digest(v) for k, v in reference_leaves(dicts, gen.event_schema())}
    del dicts
    gc.collect()
    return out


def _short(v, width=80) -> str:
    s = repr(v)
    return s if len(s) <= width else s[:width - 3] + "..."


def compare_output(result, n: int, seed: int, ref: dict[str, str]) -> dict:
    """Checksum ``result`` leaf by leaf against the reference digests."""
    from eventbatch import gen
    schema = gen.event_schema()
    table = to_arrow_table(result)
    got: dict[str, str] = {}
    not_compared: dict[str, str] = {}
    values: dict[str, list] = {}
    for key, vals in output_leaves(table, schema):
        if isinstance(vals, Exception):
            not_compared[key] = f"{type(vals).__name__}: {vals}"
            continue
        got[key] = digest(vals)
        if got[key] != ref.get(key):
            values[key] = vals
    mismatched = sorted(values)
    details = {}
    if mismatched:  # regenerate the expected values to say where they differ
        dicts = gen.generate_dicts(n, seed=seed)
        expected = dict(reference_leaves(dicts, schema))
        for key in mismatched:
            exp, act = expected[key], values[key]
            diff = [i for i in range(min(len(exp), len(act))) if exp[i] != act[i] or type(exp[i]) is not type(act[i])]
            first = diff[0] if diff else min(len(exp), len(act))
            details[key] = {
                "rows_differing": len(diff) + abs(len(exp) - len(act)),
                "first_row": first,
                "expected": _short(exp[first]) if first < len(exp) else "<no row>",
                "got": _short(act[first]) if first < len(act) else "<no row>",
            }
    combined = hashlib.sha256("".join(f"{k}={got[k]};" for k in sorted(got)).encode()).hexdigest()[:16]
    if mismatched:
        status = "MISMATCH"
    elif not_compared:
        status = "partial"
    else:
        status = "ok"
    return {
        "status": status,
        "checksum": combined,
        "rows": table.num_rows,
        "leaves_compared": len(got),
        "leaves_equal": len(got) - len(mismatched),
        "mismatched": details,
        "not_compared": not_compared,
        "output_types": {f.name: str(f.type) for f in table.schema},
    }


# ---------------------------------------------------------------------------
# Worker
# ---------------------------------------------------------------------------

class Skip(Exception):
    pass


def build_operation(scenario: str, library: str, path: str, workdir: str):
    """Load the inputs (not timed) and return ``(operation, notes)``: the
    operation of ``eventbatch bench`` for this row, on one thread (two for
    ``read_ndjson`` threads=2)."""
    from eventbatch import gen
    from eventbatch.bench import ops
    from eventbatch.schema import Schema

    schema_path = os.path.join(workdir, "schema.json")
    if not os.path.exists(schema_path):
        Schema.from_arrow(gen.event_schema()).save(schema_path)
    inputs = ops.Inputs({"data_path": path, "schema_path": schema_path, "key": "event_id",
                         "tmpdir": workdir})
    threads = 1
    if scenario == "read_ndjson":
        scenario, threads = "ndjson", int(library.rsplit("=", 1)[1])
        library = "eventbatch"
    lib = next(x for x in ops.SCENARIOS[scenario].libraries if x.name == library)
    try:
        op = ops.build(scenario, library, threads if lib.thread_knob else None, inputs)
    except (ops.Missing, ops.NotApplicable) as e:
        raise Skip(str(e)) from e
    return op.run, op.notes + inputs.notes


def worker(spec: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="eventbatch-run-core-") as workdir:
        return _worker(spec, workdir)


def _worker(spec: dict, workdir: str) -> dict:
    from eventbatch.bench.worker import peak_rss_bytes, rss_now_bytes
    scenario, library, path = spec["scenario"], spec["library"], spec["path"]
    n, repeat = spec["events"], spec["repeat"]
    out = {"scenario": scenario, "library": library}
    try:
        import eventbatch._core as core
        out["core_path"] = core.__file__
        with open(core.__file__, "rb") as f:
            out["core_sha256"] = hashlib.sha256(f.read()).hexdigest()[:12]
    except Exception as e:  # noqa: BLE001
        out["core_sha256"] = f"unknown ({type(e).__name__})"
    try:
        op, notes = build_operation(scenario, library, path, workdir)
    except Skip as e:
        out["skipped"] = str(e)
        return out
    gc.collect()
    out["notes"] = notes
    out["rss_loaded_bytes"] = rss_now_bytes()

    res = op()  # warm-up
    if result_rows(res) != n:
        raise AssertionError(f"warm-up returned {result_rows(res)} rows, expected {n}")
    del res

    wall, cpu = [], []
    for _ in range(repeat):
        res = None
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        res = op()
        t1, c1 = time.perf_counter(), time.process_time()
        wall.append(t1 - t0)
        cpu.append(c1 - c0)
        rows = result_rows(res)
        if rows != n:
            raise AssertionError(f"run returned {rows} rows, expected {n}")
    out["peak_rss_bytes"] = peak_rss_bytes()
    # kept for reference only: inherits the parent's peak across exec (see peak_rss_bytes)
    out["ru_maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out["wall_s"] = wall
    out["cpu_s"] = cpu
    out["correctness"] = compare_output(res, n, spec["seed"], spec["reference"])
    return out


# ---------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------

def _versions(core_dir: str | None = None) -> dict[str, str]:
    from importlib import metadata
    v = {"python": platform.python_version()}
    for name in ("pyarrow", "polars", "duckdb", "orjson", "numpy"):
        try:
            v[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            v[name] = "not installed"
    try:
        import eventbatch
        import eventbatch._core as core
        ver = getattr(eventbatch, "__version__", None)
        if ver is None:
            try:
                import tomllib
                with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
                    ver = tomllib.load(f)["project"]["version"] + " (pyproject)"
            except Exception:  # noqa: BLE001
                ver = "unknown"
        core_file = core.__file__
        if core_dir:  # the frozen copy the workers import
            core_file = os.path.join(core_dir, "eventbatch", os.path.basename(core_file))
        with open(core_file, "rb") as f:
            so = hashlib.sha256(f.read()).hexdigest()[:12]
        v["eventbatch"] = f"{ver}, _core sha256 {so}"
    except Exception as e:  # noqa: BLE001
        v["eventbatch"] = f"import failed: {e}"
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        v["git HEAD"] = rev or "unknown"
    except Exception:  # noqa: BLE001
        v["git HEAD"] = "unknown"
    return v


def _machine() -> dict:
    from eventbatch.bench.runner import machine_info
    m = machine_info()
    m["kernel"] = platform.release()
    return m


def _command() -> str:
    argv = [os.path.relpath(sys.argv[0]) if os.path.exists(sys.argv[0]) else sys.argv[0]] + sys.argv[1:]
    cmd = "python " + " ".join(shlex.quote(a) for a in argv)
    pp = os.environ.get("PYTHONPATH")
    return f"PYTHONPATH={shlex.quote(pp)} {cmd}" if pp else cmd


def snapshot_package(dest: str) -> str:
    """Copy the importable eventbatch package (with its compiled core) under ``dest``.

    Other people rebuild ``src/eventbatch/_core*.so`` while benchmarks run; the
    workers import this frozen copy so that every row measures the same build.
    Returns the directory to put in front of PYTHONPATH.
    """
    import shutil

    import eventbatch
    src = os.path.dirname(os.path.abspath(eventbatch.__file__))
    shutil.copytree(src, os.path.join(dest, "eventbatch"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.c", "*.html"))
    return dest


def run_worker(spec: dict, timeout: float, pythonpath: str | None = None) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["POLARS_MAX_THREADS"] = "1"
    env["PYTHONHASHSEED"] = "0"
    load0 = os.getloadavg()[0]
    try:
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                           capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"scenario": spec["scenario"], "library": spec["library"],
                "error": f"timed out after {timeout:.0f} s"}
    load1 = os.getloadavg()[0]
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
        return {"scenario": spec["scenario"], "library": spec["library"],
                "error": f"worker exited {p.returncode}: " + " | ".join(tail)}
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["loadavg_1min_before_after"] = [load0, load1]
    return out


def summarise(results: list[dict], n: int, nbytes: int) -> None:
    base = {}
    ebr = {}
    for r in results:
        if "wall_s" not in r:
            continue
        med = statistics.median(r["wall_s"])
        r["median_s"] = med
        r["min_s"] = min(r["wall_s"])
        r["median_events_per_s"] = n / med
        r["best_events_per_s"] = n / r["min_s"]
        r["median_mb_per_s"] = nbytes / med / 1e6
        r["cpu_over_wall"] = sum(r["cpu_s"]) / sum(r["wall_s"])
        # CPU time of the whole process: less sensitive to other users' jobs on a shared
        # machine, but for a multi-threaded run it is the sum over threads.
        r["median_events_per_cpu_s"] = n / max(statistics.median(r["cpu_s"]), 1e-9)
        if r.get("baseline"):
            base[r["scenario"]] = r
        if r["library"] == "eventbatch":
            ebr[r["scenario"]] = r
    for r in results:
        if "median_events_per_s" in r:
            sc = r["scenario"]
            rate, crate = r["median_events_per_s"], r["median_events_per_cpu_s"]
            r["ratio_vs_eventbatch"] = rate / ebr[sc]["median_events_per_s"] if sc in ebr else None
            r["ratio_vs_baseline"] = rate / base[sc]["median_events_per_s"] if sc in base else None
            r["cpu_ratio_vs_baseline"] = crate / base[sc]["median_events_per_cpu_s"] if sc in base else None


def targets(results: list[dict]) -> list[tuple[str, str, str]]:
    def find(scenario, library):
        for r in results:
            if r["scenario"] == scenario and r["library"] == library:
                return r
        return {}

    rows = []
    for scenario, what, peer in (("ndjson", "NDJSON bytes -> RecordBatch", "pyarrow.json.read_json (1 thread)"),
                                 ("dicts", "list of dicts -> RecordBatch", "pa.RecordBatch.from_pylist")):
        r = find(scenario, "eventbatch")
        if "median_events_per_s" in r:
            rate, ratio = r["median_events_per_s"], r.get("ratio_vs_baseline")
            rows.append((f"{what} >= 1,000,000 events/s",
                         f"{rate:,.0f} events/s (median wall; {r['median_events_per_cpu_s']:,.0f} "
                         "per CPU-second)",
                         "met" if rate >= TARGET_RATE else f"NOT met ({rate / TARGET_RATE:.1%} of the target rate)"))
            if ratio is not None:
                rows.append((f"{what} >= 5x {peer}",
                             f"{ratio:.2f}x (median/median wall; {r['cpu_ratio_vs_baseline']:.2f}x by CPU time)",
                             "met" if ratio >= 5 else f"NOT met ({ratio / 5:.1%} of the 5x target)"))
            else:
                rows.append((f"{what} >= 5x {peer}", "baseline missing", "not measured"))
        else:
            rows.append((f"{what} targets", r.get("skipped") or r.get("error") or "not run", "not measured"))
    r2 = find("read_ndjson", "eventbatch threads=2")
    if r2.get("ratio_vs_baseline") is not None:
        ratio = r2["ratio_vs_baseline"]
        rows.append(("read_ndjson threads=2 >= 1.8x threads=1", f"{ratio:.2f}x (median/median)",
                     "met" if ratio >= 1.8 else f"NOT met ({ratio / 1.8:.1%} of the 1.8x target)"))
    else:
        reason = r2.get("skipped") or r2.get("error") or "not run"
        rows.append(("read_ndjson threads=2 >= 1.8x threads=1", f"skipped: {reason}", "not measured"))
    return rows


def _fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}x"


def _correct_cell(r) -> str:
    c = r.get("correctness")
    if not c:
        return "—"
    if c["status"] == "ok":
        return f"ok ({c['leaves_equal']}/{c['leaves_compared']} leaves)"
    if c["status"] == "partial":
        return (f"partial: {c['leaves_equal']}/{c['leaves_compared']} equal, "
                f"{len(c['not_compared'])} not comparable")
    return f"**MISMATCH** in {', '.join(c['mismatched'])}"


def _load_range(results) -> str:
    loads = [x for r in results for x in r.get("loadavg_1min_before_after", [])]
    if not loads:
        return ""
    return f", {min(loads):.2f} to {max(loads):.2f} around the rows (other users' jobs included)"


def markdown(meta: dict, results: list[dict]) -> str:
    L = []
    m, v, d = meta["machine"], meta["versions"], meta["data"]
    L.append("## eventbatch core: events -> Arrow, side by side")
    L.append("")
    L.append(f"- Command: `{meta['command']}`")
    L.append(f"- Date: {meta['date']}")
    L.append(f"- Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable), "
             f"{m['mem_total_mib']} MiB RAM, Linux {m['kernel']}; 1-min load average at start "
             f"{m['loadavg_start'][0]:.2f}" + _load_range(results))
    L.append("- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    L.append(f"- Data: {d['events']:,} events from `eventbatch.gen` (seed {d['seed']}), NDJSON "
             f"{d['bytes'] / 1e6:.1f} MB ({d['bytes'] / d['events']:.0f} B/event); "
             "dicts = each line parsed (orjson.loads; json.loads without orjson), done before timing")
    L.append(f"- Method: one fresh process per row"
             + (", all importing one frozen copy of the eventbatch package (snapshot taken at start)"
                if meta.get("snapshot") else ", importing the live package")
             + f"; input loaded untimed; 1 warm-up + "
             f"{meta['repeat']} timed runs (gc.collect() before each, GC enabled); row count checked "
             "on every run; peers pinned to one thread (pyarrow use_threads=False, "
             "POLARS_MAX_THREADS=1, duckdb threads=1)")
    L.append("- Columns: *median / best events/s* = events ÷ median / minimum wall time; *MB/s* = "
             "NDJSON bytes (10^6) ÷ median time (for dicts: the bytes of the equivalent NDJSON); "
             "*÷ eventbatch*, *÷ baseline* = this row's median rate ÷ that row's median rate "
             "(baseline: pyarrow.json.read_json for NDJSON, pa.RecordBatch.from_pylist for dicts, "
             "threads=1 for read_ndjson); *events/CPU-s* = events ÷ median process CPU time (less "
             "sensitive to other jobs on a shared machine; summed over threads); *CPU÷wall* > 1 means "
             "more than one core busy, < 1 means the process waited (I/O, or other jobs took the CPU); "
             "*peak RSS* = VmHWM of the worker (not ru_maxrss: it survives exec and would show the "
             "parent's peak); *input RSS* = its RSS after imports and loading the "
             "input, before the warm-up (peak RSS includes it); "
             "*correct* = leaf-by-leaf checksum against the generator's dicts after a cast to the "
             "declared schema")
    L.append("")
    L.append("| scenario | library | operation | median events/s | best events/s | median MB/s | events/CPU-s | "
             "÷ eventbatch | ÷ baseline | CPU÷wall | peak RSS MiB | input RSS MiB | correct |")
    L.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        title = SCENARIO_TITLES[r["scenario"]]
        lib = r["library"] + (" (baseline)" if r.get("baseline") else "")
        if "median_events_per_s" not in r:
            why = r.get("skipped") and f"skipped: {r['skipped']}" or f"error: {r.get('error')}"
            L.append(f"| {title} | {lib} | `{r['description']}` | {why} | | | | | | | | | |")
            continue
        L.append(
            f"| {title} | {lib} | `{r['description']}` | {r['median_events_per_s']:,.0f} | "
            f"{r['best_events_per_s']:,.0f} | {r['median_mb_per_s']:,.1f} | "
            f"{r['median_events_per_cpu_s']:,.0f} | "
            f"{_fmt_ratio(r['ratio_vs_eventbatch'])} | {_fmt_ratio(r['ratio_vs_baseline'])} | "
            f"{r['cpu_over_wall']:.2f} | {r['peak_rss_bytes'] / 2**20:,.0f} | "
            f"{r['rss_loaded_bytes'] / 2**20:,.0f} | {_correct_cell(r)} |")
    L.append("")
    L.append("### Targets (one run, medians)")
    L.append("")
    L.append("| target | measured | verdict |")
    L.append("|---|---|---|")
    for t in targets(results):
        L.append(f"| {t[0]} | {t[1]} | {t[2]} |")
    details = []
    for r in results:
        c = r.get("correctness")
        if c and c["status"] != "ok":
            for key, dd in c["mismatched"].items():
                details.append(f"- {r['library']} ({r['scenario']}): `{key}` differs in "
                               f"{dd['rows_differing']:,} rows; first at row {dd['first_row']}: expected "
                               f"`{dd['expected']}`, got `{dd['got']}`")
            for key, why in c["not_compared"].items():
                details.append(f"- {r['library']} ({r['scenario']}): `{key}` not compared ({why})")
        for note in r.get("notes") or []:
            details.append(f"- {r['library']} ({r['scenario']}): {note}")
    shas = sorted({r["core_sha256"] for r in results if r.get("core_sha256")})
    if len(shas) > 1:
        details.insert(0, "- **WARNING**: the compiled core changed during the run (rows used builds "
                       + ", ".join(f"`{x}`" for x in shas) + "): the rows are not comparable; run again")
    if details:
        L.append("")
        L.append("### Notes from the workers")
        L.append("")
        L.extend(details)
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000, help="events per data set (default 200000)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per row, after 1 warm-up (default 5)")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown report")
    ap.add_argument("--only", metavar="SUBSTR", action="append",
                    help="run only rows whose 'scenario/library' contains SUBSTR (repeatable)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per worker (default 900)")
    ap.add_argument("--data", metavar="PATH", help="NDJSON file to (re)write and keep (default: a temp file)")
    ap.add_argument("--no-snapshot", action="store_true",
                    help="run the workers on the live package instead of a frozen copy of it "
                         "(the default copies eventbatch/ with its compiled core to a temp dir first, "
                         "so a rebuild during the run cannot mix builds)")
    ap.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.events < 1 or args.repeat < 1:
        ap.error("--events and --repeat must be >= 1")

    from eventbatch import gen

    tmpdir = None
    if args.data:
        path = os.path.abspath(args.data)
    else:
        tmpdir = tempfile.TemporaryDirectory(prefix="eventbatch-bench-")
        path = os.path.join(tmpdir.name, f"events-{args.events}-seed{args.seed}.ndjson")
    snapdir = None
    pythonpath = None
    if not args.no_snapshot:
        snapdir = tempfile.TemporaryDirectory(prefix="eventbatch-snapshot-")
        pythonpath = snapshot_package(snapdir.name)
        print(f"workers import a frozen copy of eventbatch from {pythonpath}", file=sys.stderr)
    try:
        print(f"writing {args.events:,} events (seed {args.seed}) to {path}", file=sys.stderr)
        lines = gen.write_ndjson(path, args.events, seed=args.seed)
        assert lines == args.events
        nbytes = os.path.getsize(path)
        print("computing the reference checksums from gen.generate_dicts", file=sys.stderr)
        ref = reference_digests(args.events, args.seed)

        meta = {
            "command": _command(),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "versions": _versions(pythonpath),
            "data": {"events": args.events, "seed": args.seed, "bytes": nbytes},
            "repeat": args.repeat,
            "snapshot": not args.no_snapshot,
            "reference_checksums": ref,
        }
        results = []
        for scenario, library, desc, is_base in SCENARIOS:
            key = f"{scenario}/{library}"
            if args.only and not any(s in key for s in args.only):
                continue
            print(f"running {key} ...", file=sys.stderr, flush=True)
            spec = {"scenario": scenario, "library": library, "path": path, "events": args.events,
                    "seed": args.seed, "repeat": args.repeat, "reference": ref}
            r = run_worker(spec, args.timeout, pythonpath)
            r["description"] = desc
            r["baseline"] = is_base
            results.append(r)
            if "wall_s" in r:
                med = statistics.median(r["wall_s"])
                print(f"  median {med * 1e3:8.1f} ms  {args.events / med:12,.0f} events/s  "
                      f"correct: {r['correctness']['status']}", file=sys.stderr)
            else:
                print(f"  {r.get('skipped') and 'skipped: ' + r['skipped'] or r.get('error')}",
                      file=sys.stderr)
        summarise(results, args.events, nbytes)
        meta["loadavg_end"] = os.getloadavg()
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()
        if snapdir is not None:
            snapdir.cleanup()

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)
    if args.markdown:
        print(markdown(meta, results))
    else:
        fmt = "{:<12} {:<22} {:>14} {:>14} {:>9} {:>10} {:>10}  {}"
        print(fmt.format("scenario", "library", "median ev/s", "best ev/s", "MB/s",
                         "÷eventb.", "÷baseline", "correct"))
        for r in results:
            if "median_events_per_s" not in r:
                print(fmt.format(r["scenario"], r["library"], "-", "-", "-", "-", "-",
                                 r.get("skipped") or r.get("error")))
                continue
            print(fmt.format(r["scenario"], r["library"], f"{r['median_events_per_s']:,.0f}",
                             f"{r['best_events_per_s']:,.0f}", f"{r['median_mb_per_s']:.1f}",
                             _fmt_ratio(r["ratio_vs_eventbatch"]), _fmt_ratio(r["ratio_vs_baseline"]),
                             _correct_cell(r)))
        print()
        for t in targets(results):
            print(f"{t[0]}: {t[1]} -> {t[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
