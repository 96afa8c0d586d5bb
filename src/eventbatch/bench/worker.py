"""One row of ``eventbatch bench``, in its own process.

    python -m eventbatch.bench.worker SPEC.json RESULT.json
    python -m eventbatch.bench.worker --probe RESULT.json

The parent writes the spec (scenario, library, threads, inputs, warm-ups,
runs) and reads the result.  The worker loads its inputs (untimed), runs the
operation ``warmup`` times, then ``repeat`` timed runs (``gc.collect()``
before each, GC enabled during the run), reads its own peak RSS, and only
then checksums the last output (so the checksum does not add to the peak).

``--probe`` tries to import every peer module, exactly as a row would, and
writes which are installed with their versions.

Test hooks (environment, used by the test suite only):

* ``_EVENTBATCH_BENCH_HIDE=polars,duckdb`` makes those imports fail (an
  import hook raises ``ImportError``), as if the modules were not installed.
* ``_EVENTBATCH_BENCH_SABOTAGE=ndjson/pyarrow=alter,dedup/polars=drop``
  corrupts that row's output before its checksum: ``alter`` gives row 0 the
  values of row 1 (the row count is unchanged), ``drop`` removes the last
  row.  It exists to show that the correctness flag compares outputs.
"""

from __future__ import annotations

import gc
import importlib.abc
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

HIDE_ENV = "_EVENTBATCH_BENCH_HIDE"
SABOTAGE_ENV = "_EVENTBATCH_BENCH_SABOTAGE"
PEER_MODULES = ("pyarrow", "polars", "duckdb", "orjson", "xxhash", "numpy")


class _Hide(importlib.abc.MetaPathFinder):
    """Refuses to import the named top-level modules (a stand-in for 'not installed')."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden by {HIDE_ENV})",
                                      name=fullname)
        return None


def install_hide_hook() -> None:
    """Install the import hook of ``_EVENTBATCH_BENCH_HIDE``, if set (before any import)."""
    names = {m.strip() for m in os.environ.get(HIDE_ENV, "").split(",") if m.strip()}
    if names and not any(isinstance(f, _Hide) for f in sys.meta_path):
        for m in names:
            sys.modules.pop(m, None)
        sys.meta_path.insert(0, _Hide(names))


def rss_now_bytes() -> int:
    """Current resident set size of this process."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def peak_rss_bytes() -> int:
    """Peak RSS of this process image: ``VmHWM`` of /proc/self/status.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: on Linux it survives
    ``execve``, so a worker started from a bigger parent would report the
    parent's peak.  Falls back to ru_maxrss where /proc is missing.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def probe() -> dict:
    """Which peer modules import here, with their versions."""
    import importlib
    out: dict[str, Any] = {}
    for m in PEER_MODULES:
        try:
            mod = importlib.import_module(m)
        except ImportError as e:
            out[m] = {"installed": False, "error": str(e).splitlines()[0]}
            continue
        ver = getattr(mod, "__version__", None) or getattr(mod, "VERSION", None)
        if ver is None:
            try:
                from importlib import metadata
                ver = metadata.version(m)
            except Exception:  # noqa: BLE001 - a version is informative only
                ver = "unknown"
        out[m] = {"installed": True, "version": str(ver)}
    return out


def _sabotage(scenario: str, library: str, kind: str, value: Any) -> Any:
    spec = {}
    for item in os.environ.get(SABOTAGE_ENV, "").split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            spec[k.strip()] = v.strip()
    how = spec.get(f"{scenario}/{library}")
    if not how:
        return value
    if kind == "u64":
        import numpy as np
        value = np.array(value, dtype=np.uint64, copy=True)
        if how == "drop":
            return value[:-1]
        value[0] ^= np.uint64(1)
        return value
    import pyarrow as pa
    if how == "drop":
        return value.slice(0, value.num_rows - 1)
    cols = []
    for col in value.columns:   # row 0 gets the values of row 1
        col = col.combine_chunks()
        cols.append(pa.concat_arrays([col.slice(1, 1), col.slice(1)]))
    return pa.Table.from_arrays(cols, schema=value.schema)


def _checksum(kind: str, value: Any, schema: Any) -> dict:
    from .checksum import NotComparable, table_checksum, u64_checksum
    try:
        if kind == "u64":
            return u64_checksum(value)
        return table_checksum(value, schema)
    except NotComparable as e:
        return {"not_comparable": str(e)}


def run_row(spec: dict) -> dict:
    """Run one (scenario, library, threads) row; never raises."""
    from . import ops
    out: dict[str, Any] = {"scenario": spec["scenario"], "library": spec["library"],
                           "threads": spec.get("threads")}
    out["base_rss_bytes"] = rss_now_bytes()
    inputs = ops.Inputs(spec)
    try:
        op = ops.build(spec["scenario"], spec["library"], spec.get("threads"), inputs)
    except ops.Missing as e:
        out.update(status="skipped", reason=str(e), pip=e.pip)
        return out
    except ops.NotApplicable as e:
        out.update(status="n/a", reason=str(e))
        return out
    gc.collect()
    out["loaded_rss_bytes"] = rss_now_bytes()
    wall: list[float] = []
    cpu: list[float] = []
    res = None
    for i in range(spec["warmup"] + spec["repeat"]):
        res = None
        gc.collect()
        if op.before_each is not None:
            op.before_each()
        c0, t0 = time.process_time(), time.perf_counter()
        res = op.run()
        t1, c1 = time.perf_counter(), time.process_time()
        if i >= spec["warmup"]:
            wall.append(t1 - t0)
            cpu.append(c1 - c0)
            if op.after_each is not None:
                op.after_each(res)
    out["peak_rss_bytes"] = peak_rss_bytes()
    out["wall_s"] = wall
    out["cpu_s"] = cpu
    if op.metrics is not None:
        out["metrics"] = op.metrics()
    kind, value = op.output(res)
    del res
    value = _sabotage(spec["scenario"], spec["library"], kind, value)
    out["output"] = _checksum(kind, value, inputs.arrow_schema)
    del value
    if op.expected is not None:
        ekind, evalue = op.expected()
        out["expected"] = _checksum(ekind, evalue, inputs.arrow_schema)
    out["notes"] = op.notes + inputs.notes
    out["status"] = "ok"
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    install_hide_hook()
    if argv and argv[0] == "--probe":
        result: dict = probe()
        dest = argv[1]
    else:
        with open(argv[0]) as f:
            spec = json.load(f)
        dest = argv[1]
        try:
            result = run_row(spec)
        except Exception as e:  # noqa: BLE001 - reported as the row's error, with the traceback
            result = {"scenario": spec["scenario"], "library": spec["library"],
                      "threads": spec.get("threads"), "status": "error",
                      "reason": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300],
                      "traceback": traceback.format_exc()[-4000:]}
    tmp = dest + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
