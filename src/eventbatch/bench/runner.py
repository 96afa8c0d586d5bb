"""The parent side of ``eventbatch bench``: inputs, one subprocess per row, results.

Nothing is timed here: every figure comes from a worker process
(:mod:`eventbatch.bench.worker`), so the parent's own memory and imports do
not pollute the peak RSS or the timings.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
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
from typing import Any, Callable

from ..errors import EventBatchError
from .ops import SCENARIOS

__all__ = ["BenchConfig", "BenchInputError", "run_suite", "machine_info", "summarise",
           "QUICK", "DEFAULT"]

#: (events, warm-up runs, timed runs, seconds per row before it is stopped)
QUICK = {"events": 50_000, "warmup": 1, "repeat": 3, "timeout_s": 60.0}
DEFAULT = {"events": 500_000, "warmup": 1, "repeat": 5, "timeout_s": 240.0}


class BenchInputError(EventBatchError, ValueError):
    """The benchmark input (``--input``, ``--schema``, ``--dedup-key``) is unusable."""


@dataclasses.dataclass
class BenchConfig:
    """What to run.  ``input=None`` generates events with :mod:`eventbatch.gen`."""

    scenarios: list[str] = dataclasses.field(default_factory=lambda: list(SCENARIOS))
    threads: list[int] = dataclasses.field(default_factory=lambda: [1])
    events: int = DEFAULT["events"]
    warmup: int = DEFAULT["warmup"]
    repeat: int = DEFAULT["repeat"]
    timeout_s: float = DEFAULT["timeout_s"]
    seed: int = 1
    dup_rate: float = 0.02
    input: str | None = None
    schema: str | None = None
    dedup_key: str | None = None
    quick: bool = False
    workdir: str | None = None


# ---------------------------------------------------------------------------
# machine and versions
# ---------------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    """Platform, CPU model, cores, memory, load."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": model,
            "logical_cpus": os.cpu_count(), "usable_cpus": usable, "mem_total_mib": mem,
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def eventbatch_version() -> dict[str, Any]:
    """Version of the eventbatch the workers import, its compiled core and git revision."""
    import eventbatch
    from importlib import metadata
    pkg = os.path.dirname(os.path.abspath(eventbatch.__file__))
    try:
        ver = metadata.version("eventbatch")
    except metadata.PackageNotFoundError:
        ver = "unknown (not installed; imported from source)"
    out: dict[str, Any] = {"version": ver, "path": pkg}
    try:
        import eventbatch._core as core
        with open(core.__file__, "rb") as f:
            out["core_sha256"] = hashlib.sha256(f.read()).hexdigest()[:12]
    except Exception:  # noqa: BLE001 - informative only
        pass
    try:
        rev = subprocess.run(["git", "-C", pkg, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if rev.returncode == 0 and rev.stdout.strip():
            dirty = subprocess.run(["git", "-C", pkg, "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=10).stdout.strip()
            out["git"] = rev.stdout.strip() + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------

def _worker_env(threads: int | None) -> dict[str, str]:
    import eventbatch
    env = dict(os.environ)
    # the workers import the same eventbatch as this process
    root = os.path.dirname(os.path.dirname(os.path.abspath(eventbatch.__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    n = str(threads or 1)
    env["POLARS_MAX_THREADS"] = n            # fixed when polars is imported
    env["OMP_NUM_THREADS"] = "1"
    env["OPENBLAS_NUM_THREADS"] = "1"        # idle BLAS threads spin and count as CPU time
    env["PYTHONHASHSEED"] = "0"
    return env


def _run_process(args: list[str], result_path: str, threads: int | None, timeout_s: float) -> dict:
    cmd = [sys.executable, "-m", "eventbatch.bench.worker", *args, result_path]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=_worker_env(threads), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {timeout_s:g} s"}
    if p.returncode != 0 or not os.path.exists(result_path):
        tail = [ln for ln in (p.stderr or p.stdout or "").strip().splitlines() if ln.strip()][-3:]
        return {"status": "error", "reason": f"worker exited with code {p.returncode}: " + " | ".join(tail)}
    with open(result_path) as f:
        out = json.load(f)
    os.remove(result_path)
    return out


def probe_libraries(tmpdir: str) -> dict[str, dict]:
    """Which peers a worker can import (the same environment and import path as the rows)."""
    res = _run_process(["--probe"], os.path.join(tmpdir, "probe.json"), 1, 120.0)
    if res.get("status") == "error":
        raise EventBatchError(f"cannot start a benchmark worker: {res['reason']}")
    return res


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------

def _count_lines(path: str) -> tuple[int, int]:
    """(non-blank lines, bytes) of a plain NDJSON file."""
    lines = 0
    size = 0
    with open(path, "rb") as f:
        for line in f:
            size += len(line)
            if line.strip():
                lines += 1
    return lines, size


def prepare_inputs(cfg: BenchConfig, tmpdir: str, log: Callable[[str], None]) -> dict[str, Any]:
    """Write (or copy) the NDJSON and the schema JSON the workers read; describe them."""
    from .. import gen
    from ..errors import SchemaError
    from ..schema import Schema

    data_path = os.path.join(tmpdir, "events.ndjson")
    schema_path = os.path.join(tmpdir, "schema.json")
    if cfg.input is None:
        if cfg.schema is not None:
            raise BenchInputError("--schema describes --input: give both, or neither for generated events")
        log(f"generating {cfg.events:,} events (seed {cfg.seed}, {cfg.dup_rate:.0%} re-sends, "
            "no malformed lines)")
        gen.write_ndjson(data_path, cfg.events, seed=cfg.seed, dup_rate=cfg.dup_rate)
        schema = Schema.from_arrow(gen.event_schema())
        source = {"kind": "generated", "generator": "eventbatch.gen", "seed": cfg.seed,
                  "dup_rate": cfg.dup_rate, "malformed_rate": 0.0}
        key = cfg.dedup_key or "event_id"
    else:
        if not os.path.isfile(cfg.input):
            raise BenchInputError(f"input file not found: {cfg.input}")
        from ..readers import open_input
        try:   # one plain copy: peers that read files do not all read .gz/.zst
            with open_input(cfg.input) as src, open(data_path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EventBatchError) as e:
            raise BenchInputError(f"cannot read input {cfg.input}: {e}") from e
        if cfg.schema is not None:
            try:
                schema = Schema.load(cfg.schema)
            except SchemaError as e:
                raise BenchInputError(f"bad schema {cfg.schema}: {e}") from e
            how = f"loaded from {cfg.schema}"
        else:
            try:
                schema = Schema.infer(data_path)
            except (SchemaError, ValueError) as e:
                raise BenchInputError(f"cannot infer a schema from {cfg.input}: {e} (give --schema)") from e
            how = "inferred from the input"
            log("schema inferred from the input (give --schema to declare it)")
        source = {"kind": "file", "path": os.path.abspath(cfg.input), "schema": how}
        key = cfg.dedup_key or ("event_id" if "event_id" in schema.names else None)
    if key is not None and key not in schema.names:
        raise BenchInputError(f"--dedup-key: no column `{key}` in the schema "
                              f"(columns: {', '.join(schema.names[:12])})")
    schema.save(schema_path)
    events, nbytes = _count_lines(data_path)
    if events == 0:
        raise BenchInputError(f"no events in {cfg.input}")
    return {"data_path": data_path, "schema_path": schema_path, "events": events, "bytes": nbytes,
            "key": key, "source": source,
            "schema": json.loads(schema.to_json())}


# ---------------------------------------------------------------------------
# the suite
# ---------------------------------------------------------------------------

def plan(cfg: BenchConfig) -> list[dict]:
    """Rows to run: per scenario, per thread count, eventbatch first."""
    rows = []
    for name in cfg.scenarios:
        for i, t in enumerate(cfg.threads):
            for lib in SCENARIOS[name].libraries:
                if lib.thread_knob:
                    rows.append({"scenario": name, "library": lib.name, "threads": t})
                elif i == 0:   # no thread setting: run once
                    rows.append({"scenario": name, "library": lib.name, "threads": None})
    return rows


def run_suite(cfg: BenchConfig, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run the suite; returns the raw results (what ``--json`` writes)."""
    started = time.time()
    tmp = tempfile.TemporaryDirectory(prefix="eventbatch-bench-", dir=cfg.workdir)
    try:
        inputs = prepare_inputs(cfg, tmp.name, log)
        log(f"input: {inputs['events']:,} events, {inputs['bytes'] / 1e6:,.1f} MB NDJSON, "
            f"dedup key {inputs['key'] or '(none)'}")
        libs = probe_libraries(tmp.name)
        meta = {
            "tool": "eventbatch bench",
            "command": " ".join(shlex.quote(a) for a in ["eventbatch", "bench", *sys.argv[2:]])
            if len(sys.argv) > 1 and sys.argv[1] == "bench" else None,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info(),
            "versions": {"eventbatch": eventbatch_version(), "libraries": libs},
            "config": {"scenarios": cfg.scenarios, "threads": cfg.threads, "warmup": cfg.warmup,
                       "repeat": cfg.repeat, "quick": cfg.quick, "timeout_s": cfg.timeout_s},
            "input": {k: v for k, v in inputs.items() if k not in ("data_path", "schema_path")},
        }
        rows = plan(cfg)
        results = []
        for i, row in enumerate(rows, 1):
            sc = SCENARIOS[row["scenario"]]
            lib = next(x for x in sc.libraries if x.name == row["library"])
            label = f"{row['scenario']} / {row['library']}" + \
                (f" (threads {row['threads']})" if row["threads"] is not None else "")
            missing = [m for m in lib.modules if not libs.get(m, {}).get("installed", False)]
            if sc.needs_key and inputs["key"] is None:
                r = dict(row, status="n/a", reason="no dedup key (give --dedup-key)")
            elif missing:
                from .ops import PIP
                r = dict(row, status="skipped", reason=f"{missing[0]} is not installed",
                         pip=PIP.get(missing[0], f"pip install {missing[0]}"))
            else:
                spec = dict(row, data_path=inputs["data_path"], schema_path=inputs["schema_path"],
                            key=inputs["key"], tmpdir=tmp.name, warmup=cfg.warmup, repeat=cfg.repeat)
                spec_path = os.path.join(tmp.name, f"spec-{i}.json")
                with open(spec_path, "w") as f:
                    json.dump(spec, f)
                load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                t0 = time.perf_counter()
                r = _run_process([spec_path], os.path.join(tmp.name, f"result-{i}.json"),
                                 row["threads"], cfg.timeout_s)
                r = dict(row, **{k: v for k, v in r.items() if k not in row})
                r["process_s"] = round(time.perf_counter() - t0, 3)
                r["loadavg_1min_before_after"] = [load0, os.getloadavg()[0] if load0 is not None else None]
            r["operation"] = lib.operation
            r["thread_knob"] = lib.thread_knob
            results.append(r)
            log(f"[{i}/{len(rows)}] {label}: " + _progress_text(r, inputs["events"]))
        meta["machine"]["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        meta["seconds"] = round(time.time() - started, 1)
        from .worker import peak_rss_bytes
        meta["parent_peak_rss_bytes"] = peak_rss_bytes()   # this process only: no worker figure includes it
        doc = {"meta": meta, "results": results}
        summarise(doc)
        return doc
    finally:
        tmp.cleanup()


def _progress_text(r: dict, events: int) -> str:
    if r.get("status") != "ok":
        return f"{r.get('status')}: {r.get('reason', '')}" + (f" ({r['pip']})" if r.get("pip") else "")
    med = statistics.median(r["wall_s"])
    return f"median {med * 1e3:,.1f} ms, {events / med:,.0f} events/s"


# ---------------------------------------------------------------------------
# derived figures: rates, ratios, correctness flags
# ---------------------------------------------------------------------------

def _eventbatch_rows(results: list[dict], scenario: str) -> list[dict]:
    return [x for x in results if x["scenario"] == scenario and x["library"] == "eventbatch"]


def _rate_reference(results: list[dict], r: dict) -> dict | None:
    """The eventbatch row ``r``'s speed is divided by: same scenario, same
    thread count if eventbatch ran at it, else eventbatch's first row."""
    ebs = _eventbatch_rows(results, r["scenario"])
    same = [x for x in ebs if x.get("threads") == r.get("threads")]
    return (same or ebs or [None])[0]


def _output_reference(results: list[dict], r: dict) -> dict | None:
    """The eventbatch row ``r``'s output is compared with: for a peer, the
    eventbatch row at the same thread count (else the first); for eventbatch
    at another thread count, eventbatch's first row (the scenario's reference)."""
    if r["library"] == "eventbatch":
        ebs = _eventbatch_rows(results, r["scenario"])
        return ebs[0] if ebs else None
    return _rate_reference(results, r)


def _flag(r: dict, ref_output: dict | None, ref_name: str) -> tuple[str, str]:
    """(flag, detail) for a row's output against a reference output."""
    out = r.get("output")
    if r.get("status") != "ok":
        return "n/a", r.get("reason", r.get("status", ""))
    if out is None:
        return "n/a", "no output"
    if "not_comparable" in out:
        return "n/a", out["not_comparable"]
    if ref_output is None:
        return "n/a", f"no {ref_name} output to compare with"
    if "not_comparable" in ref_output:
        return "n/a", f"{ref_name} output not comparable: {ref_output['not_comparable']}"
    if out["rows"] != ref_output["rows"]:
        return "MISMATCH", f"{out['rows']:,} rows, {ref_name} has {ref_output['rows']:,}"
    if out["checksum"] != ref_output["checksum"]:
        return "MISMATCH", f"same row count ({out['rows']:,}), different values (checksum)"
    return "ok", f"{out['rows']:,} rows, checksum {out['checksum']} equal to {ref_name}'s"


def summarise(doc: dict) -> None:
    """Add medians, rates, ratios to eventbatch and correctness flags to every row (in place)."""
    results = doc["results"]
    inp = doc["meta"]["input"]
    for r in results:
        if r.get("status") != "ok" or not r.get("wall_s"):
            continue
        med = statistics.median(r["wall_s"])
        sc = SCENARIOS.get(r["scenario"])
        nbytes = (r.get("metrics") or {}).get("key_bytes") if sc is not None and sc.bytes_of == "keys" \
            else inp["bytes"]
        r["median_s"] = med
        r["min_s"] = min(r["wall_s"])
        r["max_s"] = max(r["wall_s"])
        r["events_per_s"] = inp["events"] / med
        r["mb_per_s"] = nbytes / med / 1e6 if nbytes else None
        r["cpu_over_wall"] = sum(r["cpu_s"]) / max(sum(r["wall_s"]), 1e-12)
    for r in results:
        rref = _rate_reference(results, r)
        if rref is not None and "events_per_s" in r and "events_per_s" in rref:
            r["ratio_to_eventbatch"] = r["events_per_s"] / rref["events_per_s"]
        else:
            r["ratio_to_eventbatch"] = None
        ref = _output_reference(results, r)
        if "expected" in r:
            flag, detail = _flag(r, r["expected"], "the expected output")
        elif ref is None:
            flag, detail = "n/a", "no eventbatch row in this scenario"
        elif ref is r:
            out = r.get("output") or {}
            if r.get("status") == "ok" and "checksum" in out:
                flag, detail = "ref", f"the reference of the scenario: {out['rows']:,} rows, checksum {out['checksum']}"
            else:
                flag, detail = _flag(r, None, "eventbatch")
        else:
            ref_out = ref.get("output") if ref.get("status") == "ok" else None
            flag, detail = _flag(r, ref_out, "eventbatch" + (
                f" (threads {ref['threads']})" if ref.get("threads") is not None else ""))
        r["correct"] = flag
        r["correct_detail"] = detail
