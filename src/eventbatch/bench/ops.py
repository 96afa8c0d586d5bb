"""The scenarios of ``eventbatch bench`` and the operation each library runs.

This module is imported by the parent (for :data:`SCENARIOS`, plain data)
and by the worker process (for :func:`build`); peers are imported only in
the worker, inside the builder of their row.

Every builder gets the :class:`Inputs` of the run and a thread count (or
``None`` for a library without a thread setting), loads what it needs
(*not timed*) and returns an :class:`Operation`, whose ``run()`` is the timed
call.  ``output(result)`` turns a result into what the correctness check
compares: ``("table", pyarrow.Table)`` or ``("u64", array of hashes)``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

__all__ = ["Library", "Scenario", "SCENARIOS", "Inputs", "Operation", "Missing", "NotApplicable",
           "build", "PIP"]

#: module -> the ``pip install`` line that adds it
PIP: dict[str, str] = {
    "pyarrow": "pip install pyarrow",
    "polars": "pip install polars",
    "duckdb": "pip install duckdb",
    "orjson": "pip install orjson",
    "xxhash": "pip install xxhash",
}


@dataclass(frozen=True)
class Library:
    """One row kind of a scenario: who runs it and whether it has a thread setting."""

    name: str
    modules: tuple[str, ...]      # what must be importable (besides eventbatch)
    thread_knob: bool             # run once per --threads value, else once
    operation: str                # what is timed, in one line

    @property
    def pip(self) -> str | None:
        lines = [PIP[m] for m in self.modules if m in PIP]
        return lines[0] if lines else None


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    libraries: tuple[Library, ...]
    needs_key: bool               # needs a dedup key column
    bytes_of: str                 # what MB/s counts: "ndjson" or "keys"


_EB = "eventbatch"
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("ndjson", "NDJSON -> Arrow", (
        Library(_EB, (), True, "eb.read_ndjson(BytesIO(data), schema, threads=N)"),
        Library("pyarrow", ("pyarrow",), True,
                "pyarrow.json.read_json(BytesIO(data), explicit_schema; use_threads, set_cpu_count(N))"),
        Library("polars", ("polars",), True, "polars.read_ndjson(BytesIO(data), schema=...)"),
        Library("duckdb", ("duckdb",), True, "duckdb read_json(path, columns={...}) -> Arrow table"),
        Library("orjson+pyarrow", ("orjson", "pyarrow"), False,
                "pa.Table.from_pylist([orjson.loads(line) ...], schema=...)"),
    ), False, "ndjson"),
    Scenario("dicts", "dicts -> Arrow", (
        Library(_EB, (), False, "eb.Encoder(schema).extend(dicts); flush()"),
        Library("pyarrow", ("pyarrow",), False, "pa.RecordBatch.from_pylist(dicts, schema=...)"),
        Library("polars", ("polars",), True, "polars.from_dicts(dicts, schema=...)"),
    ), False, "ndjson"),
    Scenario("hash", "hash64 of the key column", (
        Library(_EB, (), False, "eb.hash64(arrow key column) -> numpy uint64"),
        Library("xxhash", ("xxhash",), False, "[xxhash.xxh64_intdigest(k) for k in keys_as_bytes]"),
    ), True, "keys"),
    Scenario("dedup", "dedup an Arrow table on the key", (
        Library(_EB, (), False,
                "Deduplicator(Window(max_keys)).filter(hash64(key)); table.filter(keep)"),
        Library("polars", ("polars",), True, "df.unique(subset=key, keep='first', maintain_order=True)"),
        Library("duckdb", ("duckdb",), True, "SELECT DISTINCT ON (key) * FROM arrow_table -> Arrow"),
    ), True, "ndjson"),
    Scenario("convert", "NDJSON file -> dedup -> Parquet (zstd)", (
        Library(_EB, (), True, "eb.convert([path], out, schema, dedup_key, threads=N, compression='zstd')"),
        Library("duckdb", ("duckdb",), True,
                "COPY (SELECT DISTINCT ON (key) * FROM read_json(...)) TO out (FORMAT parquet, zstd)"),
        Library("polars", ("polars",), True,
                "scan_ndjson(path, schema).unique(subset=key, keep='first', maintain_order=True)"
                ".sink_parquet(out, compression='zstd')"),
    ), True, "ndjson"),
    Scenario("producer", "Producer end to end (dedup, LZ4 frames)", (
        Library("eventbatch dicts", (), False,
                "Producer(schema, MemorySink(), dedup_key).add_many(1000 dicts at a time); close()"),
        Library("eventbatch ndjson", (), False,
                "Producer(schema, MemorySink(), dedup_key).add_ndjson(1000 lines at a time); close()"),
    ), True, "ndjson"),
)}


class Missing(Exception):
    """A peer library is not installed (``module``; :attr:`pip` says how to add it)."""

    def __init__(self, module: str) -> None:
        super().__init__(f"{module} is not installed")
        self.module = module
        self.pip = PIP.get(module, f"pip install {module}")


class NotApplicable(Exception):
    """The row cannot run on this input (no key column, a type the library lacks, ...)."""


def _require(module: str) -> Any:
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise Missing(module) from e


@dataclass
class Operation:
    """What a worker times: ``run()``; everything else is untimed."""

    run: Callable[[], Any]
    output: Callable[[Any], tuple[str, Any]]
    before_each: Callable[[], None] | None = None
    notes: list[str] = field(default_factory=list)
    #: extra figures computed after the timed runs (e.g. producer latency)
    metrics: Callable[[], dict] | None = None
    #: an expected output computed independently in the worker, when there is
    #: no eventbatch row of the scenario to compare with (producer)
    expected: Callable[[], tuple[str, Any]] | None = None
    #: per timed run: called with the run's result (e.g. to collect latencies)
    after_each: Callable[[Any], None] | None = None


class Inputs:
    """The data of a run, loaded lazily in the worker (never timed).

    Parameters come from the spec the parent writes: ``data_path`` (plain
    NDJSON), ``schema_path`` (eventbatch schema JSON), ``key`` (the dedup
    key, or None) and ``tmpdir`` (scratch space for outputs).
    """

    def __init__(self, spec: dict) -> None:
        self.path: str = spec["data_path"]
        self.schema_path: str = spec["schema_path"]
        self.key: str | None = spec.get("key")
        self.tmpdir: str = spec["tmpdir"]
        self.notes: list[str] = []

    @cached_property
    def eb_schema(self) -> Any:
        from ..schema import Schema
        return Schema.load(self.schema_path)

    @cached_property
    def arrow_schema(self) -> Any:
        """The declared columns (without ``_extra``): what every library is given."""
        import pyarrow as pa
        return pa.schema([f.to_arrow() for f in self.eb_schema.fields])

    @cached_property
    def data(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()

    @cached_property
    def dicts(self) -> list:
        """``json.loads`` of every line (orjson's when installed: the same dicts, sooner)."""
        try:
            from orjson import loads
        except ImportError:
            loads = json.loads
        out, bad = [], 0
        for line in self.data.splitlines():
            if not line.strip():
                continue
            try:
                out.append(loads(line))
            except ValueError:
                try:   # orjson is stricter (integers past 64 bits, NaN): json decides
                    out.append(json.loads(line))
                except ValueError:
                    bad += 1
        if bad:
            self.notes.append(f"{bad} line(s) that are not valid JSON were left out of the dicts")
        return out

    @cached_property
    def table(self) -> Any:
        """The accepted events as an Arrow table (eventbatch's reader)."""
        from ..readers import read_ndjson
        stats: dict = {}
        t = read_ndjson(io.BytesIO(self.data), self.eb_schema, threads=1, stats=stats)
        if stats.get("rejected"):
            self.notes.append(f"{stats['rejected']} input line(s) rejected by eventbatch "
                              "are not in the input table")
        return t.select(self.arrow_schema.names).combine_chunks()

    def outdir(self, name: str) -> str:
        return os.path.join(self.tmpdir, name)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _as_table(result: Any) -> tuple[str, Any]:
    import pyarrow as pa
    if isinstance(result, pa.Table):
        return "table", result
    if isinstance(result, pa.RecordBatch):
        return "table", pa.Table.from_batches([result])
    if isinstance(result, pa.RecordBatchReader):
        return "table", result.read_all()
    if hasattr(result, "to_arrow"):      # polars DataFrame
        return "table", result.to_arrow()
    raise TypeError(f"cannot turn {type(result).__name__} into a pyarrow.Table")


def _polars_schema(pl: Any, schema: Any) -> Any:
    return pl.from_arrow(schema.empty_table()).schema


def duckdb_type(t: Any) -> str:
    """DuckDB type of an Arrow type, for ``read_json(columns=...)``."""
    import pyarrow as pa
    simple = {pa.string(): "VARCHAR", pa.large_string(): "VARCHAR", pa.binary(): "BLOB",
              pa.bool_(): "BOOLEAN", pa.int8(): "TINYINT", pa.int16(): "SMALLINT",
              pa.int32(): "INTEGER", pa.int64(): "BIGINT", pa.uint8(): "UTINYINT",
              pa.uint16(): "USMALLINT", pa.uint32(): "UINTEGER", pa.uint64(): "UBIGINT",
              pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.date32(): "DATE"}
    if t in simple:
        return simple[t]
    if pa.types.is_timestamp(t):
        if t.tz:
            return "TIMESTAMPTZ"
        return {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}[t.unit]
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in t) + ")"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return duckdb_type(t.value_type) + "[]"
    raise NotApplicable(f"no DuckDB type for Arrow {t}")


def _duckdb(threads: int | None) -> Any:
    duckdb = _require("duckdb")
    con = duckdb.connect()
    con.execute(f"SET threads={threads or 1}")
    return con


def _duckdb_arrow(rel: Any) -> Any:
    return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sql_ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _duckdb_read_json(inp: Inputs) -> str:
    columns = "{" + ", ".join(f"{_sql_str(f.name)}: {_sql_str(duckdb_type(f.type))}"
                              for f in inp.arrow_schema) + "}"
    return f"read_json({_sql_str(inp.path)}, format='newline_delimited', columns={columns})"


def _key(inp: Inputs) -> str:
    if not inp.key:
        raise NotApplicable("no dedup key (give --dedup-key)")
    return inp.key


def _rmtree_fn(path: str) -> Callable[[], None]:
    def clean() -> None:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    return clean


def _read_parquet(path: str) -> tuple[str, Any]:
    import pyarrow.parquet as pq
    return "table", pq.read_table(path)   # a directory: files named _* or .* are left out


# ---------------------------------------------------------------------------
# builders: (inputs, threads) -> Operation
# ---------------------------------------------------------------------------

def _ndjson_eventbatch(inp: Inputs, threads: int | None) -> Operation:
    from ..readers import read_ndjson
    data, schema, n = inp.data, inp.eb_schema, threads or 1
    stats: dict = {}

    def run() -> Any:
        return read_ndjson(io.BytesIO(data), schema, threads=n, stats=stats)

    def output(res: Any) -> tuple[str, Any]:
        if stats.get("rejected"):
            n = stats["rejected"]
            inp.notes.append(f"eventbatch rejected {n} line{'s' if n != 1 else ''} "
                             "(kept aside with the reason, not in the output)")
        return _as_table(res)
    return Operation(run, output)


def _ndjson_pyarrow(inp: Inputs, threads: int | None) -> Operation:
    import pyarrow as pa
    import pyarrow.json as pa_json
    n = threads or 1
    if n > 1:
        pa.set_cpu_count(n)
    ro = pa_json.ReadOptions(use_threads=n > 1)
    po = pa_json.ParseOptions(explicit_schema=inp.arrow_schema, unexpected_field_behavior="ignore")
    data = inp.data
    return Operation(lambda: pa_json.read_json(io.BytesIO(data), read_options=ro, parse_options=po),
                     _as_table)


def _ndjson_polars(inp: Inputs, threads: int | None) -> Operation:
    pl = _require("polars")
    schema = _polars_schema(pl, inp.arrow_schema)
    data = inp.data
    return Operation(lambda: pl.read_ndjson(io.BytesIO(data), schema=schema), _as_table)


def _ndjson_duckdb(inp: Inputs, threads: int | None) -> Operation:
    con = _duckdb(threads)
    q = f"SELECT * FROM {_duckdb_read_json(inp)}"
    return Operation(lambda: _duckdb_arrow(con.sql(q)), _as_table,
                     notes=["duckdb reads the file (from the page cache); the others parse bytes in memory"])


def _ndjson_orjson(inp: Inputs, threads: int | None) -> Operation:
    orjson = _require("orjson")
    import pyarrow as pa
    loads, schema, data = orjson.loads, inp.arrow_schema, inp.data
    return Operation(lambda: pa.Table.from_pylist([loads(line) for line in data.splitlines() if line],
                                                  schema=schema), _as_table)


def _dicts_eventbatch(inp: Inputs, threads: int | None) -> Operation:
    from ..encoder import Encoder
    dicts, schema = inp.dicts, inp.eb_schema

    def run() -> Any:
        enc = Encoder(schema)
        enc.extend(dicts)
        return enc.flush()
    return Operation(run, _as_table)


def _dicts_pyarrow(inp: Inputs, threads: int | None) -> Operation:
    import pyarrow as pa
    dicts, schema = inp.dicts, inp.arrow_schema
    return Operation(lambda: pa.RecordBatch.from_pylist(dicts, schema=schema), _as_table)


def _dicts_polars(inp: Inputs, threads: int | None) -> Operation:
    pl = _require("polars")
    dicts, schema = inp.dicts, _polars_schema(pl, inp.arrow_schema)
    return Operation(lambda: pl.from_dicts(dicts, schema=schema), _as_table)


def _u64(res: Any) -> tuple[str, Any]:
    return "u64", res


def _hash_eventbatch(inp: Inputs, threads: int | None) -> Operation:
    from .. import hash64
    col = inp.table.column(_key(inp)).combine_chunks()
    return Operation(lambda: hash64(col), _u64, metrics=lambda: {"key_bytes": _key_bytes(col)})


def _key_bytes(col: Any) -> int:
    """Bytes hash64 reads from a key column: string/binary data, or the integers' width."""
    import pyarrow as pa
    import pyarrow.compute as pc
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
            or pa.types.is_large_binary(t):
        return int(pc.sum(pc.binary_length(col)).as_py() or 0)
    if pa.types.is_integer(t):
        return (len(col) - col.null_count) * (t.bit_width // 8)
    return 0


def _hash_xxhash(inp: Inputs, threads: int | None) -> Operation:
    import numpy as np
    import pyarrow as pa
    xxhash = _require("xxhash")
    col = inp.table.column(_key(inp)).combine_chunks()
    t = col.type
    values = col.to_pylist()
    # the loop's most favourable input: keys already as bytes, as hash64 reads them
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        keys = [None if v is None else v.encode() for v in values]
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
        keys = values
    elif pa.types.is_integer(t):
        width, signed = t.bit_width // 8, pa.types.is_signed_integer(t)
        keys = [None if v is None else int(v).to_bytes(width, "little", signed=signed) for v in values]
    else:
        raise NotApplicable(f"xxhash loop: key column of type {t} not supported")
    digest = xxhash.xxh64_intdigest
    if col.null_count:
        def run() -> Any:
            return [0 if k is None else digest(k) for k in keys]   # hash64 gives 0 for null
    else:
        def run() -> Any:
            return [digest(k) for k in keys]
    return Operation(run, lambda res: ("u64", np.array(res, dtype=np.uint64)),
                     metrics=lambda: {"key_bytes": _key_bytes(col)})


def _window_keys(n: int) -> int:
    # a count window remembers at least 7/8 of max_keys: twice the input is exact
    return max(4096, 2 * n)


def _dedup_eventbatch(inp: Inputs, threads: int | None) -> Operation:
    import pyarrow as pa

    from .. import hash64
    from ..dedup import Deduplicator, Window
    table = inp.table
    col = table.column(_key(inp))
    window = Window(max_keys=_window_keys(table.num_rows))

    own: list[float] = []

    def run() -> Any:
        t0 = time.perf_counter()
        keep = Deduplicator(window).filter(hash64(col))
        own.append(time.perf_counter() - t0)
        return table.filter(pa.array(keep))

    def metrics() -> dict:
        import statistics
        return {"eventbatch_part_ms": statistics.median(own) * 1e3}   # warm-up included: a median
    return Operation(run, _as_table, metrics=metrics,
                     notes=["timed: Deduplicator(window) + hash64(key) + filter, then pyarrow's "
                            "Table.filter(keep) to build the output table"])


def _dedup_polars(inp: Inputs, threads: int | None) -> Operation:
    pl = _require("polars")
    key = _key(inp)
    df = pl.from_arrow(inp.table)
    return Operation(lambda: df.unique(subset=[key], keep="first", maintain_order=True), _as_table)


def _dedup_duckdb(inp: Inputs, threads: int | None) -> Operation:
    con = _duckdb(threads)
    key = _key(inp)
    con.register("events", inp.table)
    q = f"SELECT DISTINCT ON ({_sql_ident(key)}) * FROM events"
    return Operation(lambda: _duckdb_arrow(con.sql(q)), _as_table,
                     notes=["DISTINCT ON keeps one row per key, not necessarily the first"])


def _convert_eventbatch(inp: Inputs, threads: int | None) -> Operation:
    from ..convert import convert
    out = inp.outdir("convert-eventbatch")
    key, schema, path, n = _key(inp), inp.eb_schema, inp.path, threads or 1

    def run() -> Any:
        return convert([path], out, schema=schema, dedup_key=key, threads=n, compression="zstd")
    return Operation(run, lambda res: _read_parquet(out), before_each=_rmtree_fn(out))


def _convert_duckdb(inp: Inputs, threads: int | None) -> Operation:
    con = _duckdb(threads)
    out = inp.outdir("convert-duckdb.parquet")
    q = (f"COPY (SELECT DISTINCT ON ({_sql_ident(_key(inp))}) * FROM {_duckdb_read_json(inp)}) "
         f"TO {_sql_str(out)} (FORMAT parquet, COMPRESSION zstd)")
    return Operation(lambda: con.execute(q), lambda res: _read_parquet(out), before_each=_rmtree_fn(out))


def _convert_polars(inp: Inputs, threads: int | None) -> Operation:
    pl = _require("polars")
    out = inp.outdir("convert-polars.parquet")
    key, path, schema = _key(inp), inp.path, _polars_schema(pl, inp.arrow_schema)

    def run() -> Any:
        return (pl.scan_ndjson(path, schema=schema)
                .unique(subset=[key], keep="first", maintain_order=True)
                .sink_parquet(out, compression="zstd"))
    return Operation(run, lambda res: _read_parquet(out), before_each=_rmtree_fn(out))


_CHUNK = 1000   # events per add_many / lines per add_ndjson block


def _producer(inp: Inputs, mode: str) -> Operation:
    """Producer end to end; latency per frame = delivery time - time of the
    add call that carried the frame's first row."""
    import numpy as np
    import pyarrow as pa

    from ..dedup import Window
    from ..encoder import Encoder
    from ..frames import decode_frame
    from ..producer import Producer
    from ..sinks import MemorySink

    key, schema = _key(inp), inp.eb_schema
    if mode == "dicts":
        events = inp.dicts
        chunks: list = [events[i:i + _CHUNK] for i in range(0, len(events), _CHUNK)]
    else:
        lines = inp.data.splitlines(keepends=True)
        chunks = [b"".join(lines[i:i + _CHUNK]) for i in range(0, len(lines), _CHUNK)]
        del lines
    # untimed: which chunk carries each accepted row, and the first occurrences
    enc = Encoder(schema)
    batches, chunk_of_row = [], []
    for i, c in enumerate(chunks):
        if mode == "dicts":
            enc.extend(c)
        else:
            enc.extend_ndjson(c, final=True)
        b = enc.flush()
        batches.append(b)
        chunk_of_row.append(np.full(b.num_rows, i, dtype=np.int64))
    accepted = pa.Table.from_batches(batches).select(inp.arrow_schema.names)
    chunk_of_row_arr = np.concatenate(chunk_of_row) if chunk_of_row else np.zeros(0, np.int64)
    seen: set = set()
    first = []
    for i, k in enumerate(accepted.column(key).to_pylist()):
        if k is None or k not in seen:        # a row without a key is never a duplicate
            first.append(i)
            if k is not None:
                seen.add(k)
    del seen
    unique_chunk = chunk_of_row_arr[np.asarray(first, dtype=np.int64)]
    window = Window(max_keys=_window_keys(accepted.num_rows))
    latencies: list[float] = []
    state: dict = {}

    def run() -> Any:
        sink = MemorySink()
        t_add = np.zeros(len(chunks))
        deliveries: list[tuple[float, int]] = []

        def on_delivery(header: Any, error: Any) -> None:
            deliveries.append((time.perf_counter(), header.row_count if error is None else -1))

        with Producer(schema, sink, dedup_key=key, dedup_window=window, on_delivery=on_delivery) as p:
            if mode == "dicts":
                for i, c in enumerate(chunks):
                    t_add[i] = time.perf_counter()
                    p.add_many(c)
            else:
                for i, c in enumerate(chunks):
                    t_add[i] = time.perf_counter()
                    p.add_ndjson(c, final=True)
        state["last"] = (t_add, deliveries)
        return sink

    def after_each(sink: Any) -> None:
        t_add, deliveries = state.pop("last")
        done = 0
        for t, rows in deliveries:
            if rows < 0:
                continue
            if done < len(unique_chunk):
                latencies.append(t - t_add[unique_chunk[done]])
            done += rows

    def output(sink: Any) -> tuple[str, Any]:
        batches = [decode_frame(f).batch for f in sink.frames]
        if not batches:
            return "table", inp.arrow_schema.empty_table()
        return "table", pa.Table.from_batches(batches)

    def metrics() -> dict:
        lat = np.asarray(latencies) * 1e3
        if not len(lat):
            return {"frames": 0}
        # nearest-rank percentiles over every frame of every timed run
        return {"frames": int(len(lat)),
                "latency_ms_p50": float(np.percentile(lat, 50, method="inverted_cdf")),
                "latency_ms_p99": float(np.percentile(lat, 99, method="inverted_cdf")),
                "latency_ms_max": float(lat.max())}

    def expected() -> tuple[str, Any]:
        return "table", accepted.take(pa.array(first, pa.int64()))

    return Operation(run, output, after_each=after_each, metrics=metrics, expected=expected,
                     notes=["expected output: the first occurrence of each key among the rows "
                            "eventbatch accepts (a Python set, not the Deduplicator)"])


_BUILDERS: dict[tuple[str, str], Callable[[Inputs, int | None], Operation]] = {
    ("ndjson", _EB): _ndjson_eventbatch,
    ("ndjson", "pyarrow"): _ndjson_pyarrow,
    ("ndjson", "polars"): _ndjson_polars,
    ("ndjson", "duckdb"): _ndjson_duckdb,
    ("ndjson", "orjson+pyarrow"): _ndjson_orjson,
    ("dicts", _EB): _dicts_eventbatch,
    ("dicts", "pyarrow"): _dicts_pyarrow,
    ("dicts", "polars"): _dicts_polars,
    ("hash", _EB): _hash_eventbatch,
    ("hash", "xxhash"): _hash_xxhash,
    ("dedup", _EB): _dedup_eventbatch,
    ("dedup", "polars"): _dedup_polars,
    ("dedup", "duckdb"): _dedup_duckdb,
    ("convert", _EB): _convert_eventbatch,
    ("convert", "duckdb"): _convert_duckdb,
    ("convert", "polars"): _convert_polars,
    ("producer", "eventbatch dicts"): lambda inp, t: _producer(inp, "dicts"),
    ("producer", "eventbatch ndjson"): lambda inp, t: _producer(inp, "ndjson"),
}


def build(scenario: str, library: str, threads: int | None, inputs: Inputs) -> Operation:
    """The operation of one row; raises :class:`Missing` or :class:`NotApplicable`."""
    lib = next(x for x in SCENARIOS[scenario].libraries if x.name == library)
    for m in lib.modules:
        _require(m)
    return _BUILDERS[(scenario, library)](inputs, threads)
