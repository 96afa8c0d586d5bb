"""Event logs (NDJSON files, frame files) to a partitioned Parquet dataset.

:func:`convert` streams its inputs in order through the encoder (parallel
parsing, see :func:`iter_ndjson`), drops duplicate keys (exact across the
whole run by default), routes rows to Hive partitions
(``event_type=.../date=YYYY-MM-DD/hour=HH/``), writes Parquet row groups as
rows arrive, and keeps every rejected line in ``_rejected/``.

Idempotence: every file is first written under ``OUT/.eventbatch-tmp/``
(hidden: ``pyarrow.dataset`` and DuckDB's hive globbing skip it); at the end
each file is renamed into place (``os.replace``), the files of a previous run
that this run did not produce are removed, and ``_manifest.json`` is written
last.  File names are deterministic (``part-00000.parquet`` ... per
partition, in output order), so the same conversion gives byte-identical
files.  A run killed before the rename phase leaves no new visible file; a
rerun starts over from scratch (the temp dir is cleared) and completes it.
The previous ``_manifest.json`` is removed when the rename phase starts, so
a run killed *during* the (short) rename phase leaves complete files of both
runs but no manifest; the rerun then replaces them.  Two runs into one output
directory at the same time are not supported.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import glob
import io
import json
import os
import shutil
import sys
import time
import urllib.parse
from typing import Any, BinaryIO, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ._core import hash64
from .dedup import Deduplicator, Window
from .encoder import REJECTED_SCHEMA
from .errors import EventBatchError, SchemaError
from .frames import MAGIC as FRAME_MAGIC
from .frames import iter_frames
from .readers import _RawAdapter, iter_ndjson
from .schema import Schema

__all__ = ["convert", "ConvertReport", "ConvertError", "ConvertUsageError", "resolve_inputs"]

TMP_DIR = ".eventbatch-tmp"
MANIFEST = "_manifest.json"
REJECTED_DIR = "_rejected"
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_COMPRESSION = {"zstd": "zstd", "snappy": "snappy", "lz4": "lz4", "none": "none"}
_TIME_PARTS = ("date", "hour")
# the rejected rows as stored: REJECTED_SCHEMA with every column nullable
REJECTED_FILE_SCHEMA = pa.schema([f.with_nullable(True) for f in REJECTED_SCHEMA])
# a test hook: seconds to sleep after each input block (for kill tests)
_SLOW_ENV = "EVENTBATCH_CONVERT_TEST_SLEEP"
_SLOW_COMMIT_ENV = "EVENTBATCH_CONVERT_TEST_SLEEP_COMMIT"     # ... and after each rename


class ConvertError(EventBatchError):
    """An input error: a missing input, an unreadable file, an unwritable output."""


class ConvertUsageError(EventBatchError, ValueError):
    """Options that do not fit together or do not fit the schema."""


@dataclasses.dataclass
class ConvertReport:
    """What :func:`convert` did; ``manifest`` is what ``_manifest.json`` holds."""

    output_dir: str
    manifest: dict
    seconds: float
    bytes_read: int

    @property
    def totals(self) -> dict:
        return self.manifest["totals"]

    @property
    def balanced(self) -> bool:
        return self.manifest["reconciliation"]["balanced"]

    def summary(self) -> str:
        t = self.totals
        rate = t["lines_read"] / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"converted {t['lines_read']:,} lines from {len(self.manifest['inputs'])} input(s) "
            f"in {self.seconds:.2f} s ({rate:,.0f} lines/s) -> {self.output_dir}",
            f"  written     {t['written']:>12,} rows in {len(self.manifest['partitions'])} partition(s), "
            f"{sum(len(p['files']) for p in self.manifest['partitions'])} file(s)",
            f"  duplicates  {t['duplicates']:>12,}",
            f"  rejected    {t['rejected']:>12,}" + (f"  -> {REJECTED_DIR}/" if t["rejected"] else ""),
            f"  blank lines {t['blank_lines']:>12,}",
        ]
        for reason, n in sorted(self.manifest["rejected"]["by_reason"].items(), key=lambda kv: -kv[1]):
            lines.append(f"    {reason:18s} {n:,}")
        r = self.manifest["reconciliation"]
        lines.append(f"  reconciliation: {r['equation']} -> {'balanced' if r['balanced'] else 'NOT BALANCED'}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# inputs

def resolve_inputs(inputs: "str | os.PathLike | Sequence[str | os.PathLike]") -> list[str]:
    """Expand directories (recursively, sorted, hidden files skipped) and
    globs (sorted); ``-`` is stdin.  Raises :class:`ConvertError` for a path
    that does not exist or a glob that matches nothing."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out: list[str] = []
    for item in inputs:
        s = os.fspath(item)
        if s == "-":
            out.append(s)
        elif os.path.isdir(s):
            found = []
            for root, dirs, files in os.walk(s):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                found.extend(os.path.join(root, f) for f in files if not f.startswith((".", "_")))
            if not found:
                raise ConvertError(f"input directory has no files: {s}")
            out.extend(sorted(found))
        elif os.path.exists(s):
            out.append(s)
        elif glob.has_magic(s):
            found = sorted(p for p in glob.glob(s, recursive=True) if os.path.isfile(p))
            if not found:
                raise ConvertError(f"no input matches {s}")
            out.extend(found)
        else:
            raise ConvertError(f"input not found: {s}")
    if not out:
        raise ConvertError("no inputs")
    return out


def _open_raw(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as e:
        raise ConvertError(f"cannot read input {path}: {e.strerror or e}") from e


# ---------------------------------------------------------------------------
# output

def _quote(v: Any) -> str:
    if v is None:
        return HIVE_NULL
    s = str(v)
    if s == "":
        return HIVE_NULL
    return urllib.parse.quote(s, safe=" :+@,")


class _Partition:
    __slots__ = ("key", "relpath", "buffer", "buffered", "writer", "file_rows", "files", "rows",
                 "last_used")

    def __init__(self, key: tuple, relpath: str) -> None:
        self.key = key
        self.relpath = relpath
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0
        self.writer: pq.ParquetWriter | None = None
        self.file_rows = 0
        self.files: list[str] = []
        self.rows = 0
        self.last_used = 0


class _Writers:
    """Per-partition Parquet writers with bounded open files and buffered rows."""

    def __init__(self, tmp_root: str, schema: pa.Schema, *, compression: str,
                 row_group_rows: int, file_rows: int, max_open_writers: int,
                 max_buffered_rows: int) -> None:
        self.tmp_root = tmp_root
        self.schema = schema
        self.compression = compression
        self.row_group_rows = row_group_rows
        self.file_rows = file_rows
        self.max_open = max_open_writers
        self.max_buffered = max_buffered_rows
        self.parts: dict[tuple, _Partition] = {}
        self.buffered = 0
        self.open = 0
        self.clock = 0

    def partition(self, key: tuple, relpath: str) -> _Partition:
        p = self.parts.get(key)
        if p is None:
            p = self.parts[key] = _Partition(key, relpath)
        return p

    def add(self, p: _Partition, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self.clock += 1
        p.last_used = self.clock
        p.buffer.append(batch)
        p.buffered += batch.num_rows
        p.rows += batch.num_rows
        self.buffered += batch.num_rows
        while p.buffered >= self.row_group_rows:
            self._write_group(p, self.row_group_rows)
        if self.buffered > self.max_buffered:
            # flush the least recently used partitions first (with time-ordered input,
            # the hours that are over) until half the budget is free
            for q in sorted((q for q in self.parts.values() if q.buffered), key=lambda q: q.last_used):
                self._write_group(q, q.buffered)
                if self.buffered <= self.max_buffered // 2:
                    break

    def _write_group(self, p: _Partition, n: int) -> None:
        while n > 0 and p.buffered:
            if p.writer is not None and p.file_rows >= self.file_rows:
                self._close(p)
            if p.writer is None:
                self._open_writer(p)
            take = min(n, p.buffered, self.file_rows - p.file_rows)
            table = pa.Table.from_batches(p.buffer, schema=self.schema)
            head, rest = table.slice(0, take), table.slice(take)
            p.buffer = rest.to_batches() if rest.num_rows else []
            p.buffered -= take
            self.buffered -= take
            n -= take
            p.writer.write_table(head, row_group_size=take)
            p.file_rows += take

    def _open_writer(self, p: _Partition) -> None:
        if self.open >= self.max_open:
            victims = [q for q in self.parts.values() if q.writer is not None and q is not p]
            self._close(min(victims, key=lambda q: q.last_used))
        name = f"part-{len(p.files):05d}.parquet"
        rel = f"{p.relpath}/{name}" if p.relpath else name
        path = os.path.join(self.tmp_root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        p.writer = pq.ParquetWriter(path, self.schema, compression=self.compression,
                                    use_dictionary=True, write_statistics=True)
        p.files.append(rel)
        p.file_rows = 0
        self.open += 1

    def _close(self, p: _Partition) -> None:
        if p.writer is not None:
            p.writer.close()
            p.writer = None
            self.open -= 1

    def finish(self) -> None:
        for p in self.parts.values():
            if p.buffered:
                self._write_group(p, p.buffered)
            self._close(p)

    def abort(self) -> None:
        for p in self.parts.values():
            if p.writer is not None:
                try:
                    p.writer.close()
                except Exception:
                    pass
                p.writer = None


# ---------------------------------------------------------------------------
# time

def _hours(col: pa.Array, time_unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Hours since the epoch (floor, UTC) and a validity mask, for an int
    epoch, timestamp, date or RFC 3339 string column."""
    t = col.type
    if pa.types.is_timestamp(t):
        scale = _UNITS[t.unit]
        vals = col.cast(pa.int64())
    elif pa.types.is_integer(t):
        scale = _UNITS[time_unit]
        vals = col.cast(pa.int64())
    elif pa.types.is_date(t):
        vals = col.cast(pa.date32()).cast(pa.int32()).cast(pa.int64())
        vals = pc.multiply(vals, 86400)
        scale = 1
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        vals = _parse_rfc3339(col)
        scale = 1_000_000
    else:
        raise ConvertUsageError(f"time field has type `{t}`: expected an integer epoch, "
                                f"a timestamp, a date or an RFC 3339 string")
    valid = np.asarray(pc.is_valid(vals).to_numpy(zero_copy_only=False), dtype=bool)
    arr = np.asarray(vals.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    hours = np.floor_divide(arr, scale * 3600)
    # years 0001..9999 only (what a date partition can name)
    valid &= (hours >= -719162 * 24) & (hours < 2932897 * 24)
    return hours, valid


def _parse_rfc3339(col: pa.Array) -> pa.Array:
    """Microseconds since the epoch (UTC), null where the string is not RFC 3339."""
    try:    # fast path: every string has a zone offset and at most 6 fraction digits
        return pc.cast(col, pa.timestamp("us", tz="UTC")).cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = []
    for s in col.to_pylist():
        v = None
        if s is not None and len(s) >= 19 and s[4] == "-" and s[10] in "Tt ":
            s = s[:10] + "T" + s[11:]
            try:
                d = _dt.datetime.fromisoformat(s[:-1] + "+00:00" if s[-1] in "Zz" else s)
                if d.tzinfo is None:
                    d = d.replace(tzinfo=_dt.timezone.utc)
                delta = d - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
                v = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
            except ValueError:
                v = None
        out.append(v)
    return pa.array(out, pa.int64())


def _hour_label(h: int) -> tuple[str, str]:
    d = _dt.datetime(1970, 1, 1) + _dt.timedelta(hours=int(h))
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}", f"{d.hour:02d}"


# ---------------------------------------------------------------------------
# the conversion

def _load_schema(schema: Any) -> Schema | None:
    if schema is None:
        return None
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, pa.Schema):
        return Schema.from_arrow(schema)
    if isinstance(schema, (str, os.PathLike)):
        return Schema.load(schema)
    raise ConvertUsageError(f"schema: expected a Schema, a pyarrow.Schema or a path, "
                            f"got `{type(schema).__name__}`")


def _is_frames(path: str) -> bool:
    if path == "-":
        return False
    try:
        with open(path, "rb") as f:
            return f.read(4) == FRAME_MAGIC
    except OSError as e:
        raise ConvertError(f"cannot read input {path}: {e.strerror or e}") from e


def _prepare_output(output_dir: str) -> str:
    try:
        os.makedirs(output_dir, exist_ok=True)
        tmp = os.path.join(output_dir, TMP_DIR)
        if os.path.exists(tmp):
            shutil.rmtree(tmp)      # leftovers of an interrupted run
        os.makedirs(tmp)
        probe = os.path.join(tmp, ".probe")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as e:
        raise ConvertError(f"cannot write to output directory {output_dir}: {e.strerror or e}") from e
    return tmp


def convert(inputs: "str | os.PathLike | Sequence[str | os.PathLike]",
            output_dir: "str | os.PathLike", *,
            schema: "Schema | pa.Schema | str | os.PathLike | None" = None,
            infer: bool = False,
            dedup_key: "str | None" = None,
            dedup_window: "int | None" = None,
            time_field: "str | None" = None,
            time_unit: str = "ms",
            partition_by: "str | Sequence[str]" = (),
            compression: str = "zstd",
            threads: int = 2,
            row_group_rows: int = 128 * 1024,
            file_rows: int = 1 << 20,
            max_open_writers: int = 256,
            max_buffered_rows: int = 256 * 1024,
            block_size: int = 4 << 20,
            progress: "Callable[[dict], None] | None" = None) -> ConvertReport:
    """Convert event logs to a Hive-partitioned Parquet dataset.

    Parameters
    ----------
    inputs : path, or list of paths, directories, globs and ``"-"`` (stdin)
        NDJSON (plain, gzip, zstd, lz4: recognised by magic bytes) or files
        of frames written by :class:`FileSink` (recognised by ``EBF\\x01``).
    output_dir : path
    schema : Schema, pyarrow.Schema or path of a schema JSON file
    infer : bool
        Infer the schema from the first 16 MiB of the first NDJSON input
        (later values that do not fit become rejected rows).  Without a schema and
        without ``infer``, frame inputs give the schema of their first frame.
    dedup_key : str, optional
        A top-level field: rows whose key was seen before in the run are
        dropped (the first occurrence is kept).  Exact over the whole run
        (the key table grows), unless ``dedup_window`` bounds it to about
        that many latest distinct keys.  Null keys are never duplicates.
    time_field, time_unit : the field the date and hour partitions come from
        (int epoch in ``time_unit``, timestamp, date or RFC 3339 string).
    partition_by : "a,b,date,hour" or a list; ``date``/``hour`` need ``time_field``.
        Partition columns are not stored in the files (Hive convention).
    compression : "zstd" (default), "snappy", "lz4" or "none"
    progress : callable, optional
        Called with a dict (``bytes_read``, ``bytes_total``, ``lines``,
        ``written``, ``seconds``) after every block.

    Returns
    -------
    ConvertReport
        ``manifest`` (what ``_manifest.json`` holds), ``totals``, ``balanced``,
        ``summary()``.

    Examples
    --------
    >>> import os, tempfile, pyarrow as pa, eventbatch as eb
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "in.ndjson"), "w") as f:
    ...     _ = f.write('{"id": "a", "t": 0}\\n{"id": "a", "t": 0}\\n{"id": "b"}\\nnope\\n{"id": "c", "t": 7200000}\\n')
    >>> schema = pa.schema([("id", pa.string()), ("t", pa.int64())])
    >>> rep = eb.convert(os.path.join(d, "in.ndjson"), os.path.join(d, "lake"), schema=schema,
    ...                  dedup_key="id", time_field="t", partition_by="date,hour")
    >>> {k: rep.totals[k] for k in ("lines_read", "written", "duplicates", "rejected")}
    {'lines_read': 5, 'written': 2, 'duplicates': 1, 'rejected': 2}
    >>> [p["path"] for p in rep.manifest["partitions"]]
    ['date=1970-01-01/hour=00', 'date=1970-01-01/hour=02']
    """
    t0 = time.perf_counter()
    # ---- options
    if isinstance(partition_by, str):
        partition_by = [p.strip() for p in partition_by.split(",") if p.strip()]
    partition_by = list(partition_by)
    if len(set(partition_by)) != len(partition_by):
        raise ConvertUsageError(f"partition_by names a column twice: {','.join(partition_by)}")
    if time_unit not in _UNITS:
        raise ConvertUsageError(f"time_unit: expected one of s, ms, us, ns, got {time_unit!r}")
    if compression not in _COMPRESSION:
        raise ConvertUsageError(f"compression: expected zstd, snappy, lz4 or none, got {compression!r}")
    for name, v in (("threads", threads), ("row_group_rows", row_group_rows), ("file_rows", file_rows),
                    ("max_open_writers", max_open_writers), ("max_buffered_rows", max_buffered_rows)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConvertUsageError(f"{name}: expected a positive integer, got {v!r}")
    if dedup_window is not None and (isinstance(dedup_window, bool) or not isinstance(dedup_window, int)
                                     or dedup_window < 1):
        raise ConvertUsageError(f"dedup_window: expected a positive integer, got {dedup_window!r}")
    if dedup_window is not None and dedup_key is None:
        raise ConvertUsageError("dedup_window needs dedup_key")
    needs_time = any(p in _TIME_PARTS for p in partition_by)
    if needs_time and time_field is None:
        raise ConvertUsageError("partitioning by date or hour needs a time field (--time-field)")
    if schema is not None and infer:
        raise ConvertUsageError("give a schema or infer, not both")

    paths = resolve_inputs(inputs)
    if paths.count("-") > 1:
        raise ConvertUsageError("stdin (-) can be given once")
    kinds = {p: ("frames" if _is_frames(p) else "ndjson") for p in paths}
    the_schema = _load_schema(schema)
    if the_schema is None and infer:
        first = next((p for p in paths if kinds[p] == "ndjson" and p != "-"), None)
        if first is None:
            raise ConvertUsageError("infer needs an NDJSON input file (not stdin)")
        the_schema = infer_sample(first)
    arrow_schema: pa.Schema | None = None
    if the_schema is not None:
        arrow_schema = the_schema.to_arrow()
    elif any(k == "ndjson" for k in kinds.values()):
        raise ConvertUsageError("NDJSON input needs a schema (--schema FILE) or --infer")
    else:
        arrow_schema = _first_frame_schema(next(p for p in paths if kinds[p] == "frames"))

    # the encoder schema: the time field must be present when partitioning needs it
    enc_schema = the_schema
    if the_schema is not None and needs_time and time_field in the_schema.names:
        from .schema import Field
        fields = [Field(f.name, f.type, nullable=False) if f.name == time_field else f
                  for f in the_schema.fields]
        enc_schema = Schema(fields, the_schema.unknown_fields)
        arrow_schema = enc_schema.to_arrow()

    names = arrow_schema.names
    for c in [p for p in partition_by if p not in _TIME_PARTS] + ([dedup_key] if dedup_key else []) \
            + ([time_field] if time_field else []):
        if c not in names:
            raise ConvertUsageError(f"no column `{c}` in the schema (columns: {', '.join(names[:12])})")
    for c in partition_by:
        if c not in _TIME_PARTS:
            t = arrow_schema.field(c).type
            if pa.types.is_nested(t) or pa.types.is_binary(t):
                raise ConvertUsageError(f"cannot partition by `{c}` of type `{t}`")
    file_columns = [n for n in names if n not in partition_by]
    file_schema = pa.schema([arrow_schema.field(n) for n in file_columns],
                            metadata=arrow_schema.metadata)

    output_dir = os.fspath(output_dir)
    tmp_root = _prepare_output(output_dir)
    codec = _COMPRESSION[compression]
    writers = _Writers(tmp_root, file_schema, compression=codec, row_group_rows=row_group_rows,
                       file_rows=file_rows, max_open_writers=max_open_writers,
                       max_buffered_rows=max_buffered_rows)
    # rejected rows: one more partition-less writer, the same row-group and file targets
    rejected = _Writers(tmp_root, REJECTED_FILE_SCHEMA, compression=codec,
                        row_group_rows=row_group_rows, file_rows=file_rows, max_open_writers=1,
                        max_buffered_rows=row_group_rows)
    rej_part = rejected.partition((), REJECTED_DIR)
    rej_counts: dict[str, int] = {}
    if dedup_key is None:
        dd = None
    elif dedup_window is None:
        # a time window that never moves (every key gets time 0): a growable table, exact
        dd = Deduplicator(Window(seconds=1e12, generations=2))
    else:
        dd = Deduplicator(Window(max_keys=dedup_window))

    bytes_total = sum(os.path.getsize(p) for p in paths if p != "-")
    state = {"bytes_read": 0, "lines": 0, "written": 0}
    slow = float(os.environ.get(_SLOW_ENV, "0") or 0)
    inputs_report: list[dict] = []

    def on_read(n: int) -> None:
        state["bytes_read"] += n

    def reject(batch: pa.RecordBatch, rec: dict) -> None:
        if not batch.num_rows:
            return
        rejected.add(rej_part, pa.RecordBatch.from_arrays(batch.columns, schema=REJECTED_FILE_SCHEMA))
        rec["rejected"] += batch.num_rows
        for reason, n in zip(*np.unique(np.asarray(batch.column("reason").to_pylist(), dtype=object),
                                        return_counts=True)):
            rej_counts[reason] = rej_counts.get(reason, 0) + int(n)

    def route(batch: pa.RecordBatch, rec: dict, source: str) -> None:
        n = batch.num_rows
        if not n:
            return
        keep = np.ones(n, dtype=bool)
        hours = None
        if needs_time:
            hours, valid = _hours(batch.column(time_field), time_unit)
            if not valid.all():
                bad = batch.filter(pa.array(~valid))
                msgs = [f"time field `{time_field}` is missing or not a valid time: {v!r:.60}"
                        for v in bad.column(time_field).to_pylist()]
                reject(pa.RecordBatch.from_arrays([
                    pa.array([json.dumps(r, default=str, separators=(",", ":")).encode()
                              for r in bad.to_pylist()], pa.binary()),
                    pa.array([source] * bad.num_rows, pa.string()),
                    pa.nulls(bad.num_rows, pa.int64()), pa.nulls(bad.num_rows, pa.int64()),
                    pa.array(["invalid_time"] * bad.num_rows, pa.string()),
                    pa.array([f"$.{time_field}"] * bad.num_rows, pa.string()),
                    pa.array(msgs, pa.string())], schema=REJECTED_FILE_SCHEMA), rec)
                keep &= valid
        if dd is not None:
            key = batch.column(dedup_key)
            kv = np.asarray(pc.is_valid(key).to_numpy(zero_copy_only=False), dtype=bool) & keep
            idx = np.flatnonzero(kv)
            if idx.size:
                sub = key.take(pa.array(idx)) if idx.size != n else key
                mask = dd.filter(hash64(sub), times=0)
                dup = idx[~mask]
                rec["duplicates"] += int(dup.size)
                keep[dup] = False
        if not keep.all():
            sel = np.flatnonzero(keep)
            batch = batch.take(pa.array(sel))
            if hours is not None:
                hours = hours[sel]
        n = batch.num_rows
        if not n:
            return
        rec["written"] += n
        state["written"] += n
        if not partition_by:
            writers.add(writers.partition((), ""), batch.select(file_columns))
            return
        # a code per row: mixed radix over the partition columns' dictionary indices
        codes = np.zeros(n, dtype=np.int64)
        dicts = []
        for c in partition_by:
            if c == "date":
                uniq, idx_arr = np.unique(hours // 24, return_inverse=True)
                values = uniq
            elif c == "hour":
                uniq, idx_arr = np.unique(hours % 24, return_inverse=True)
                values = uniq
            else:
                enc = pc.dictionary_encode(batch.column(c))
                values = enc.dictionary.to_pylist()
                idx_arr = enc.indices.fill_null(len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
                values = values + [None]
            codes = codes * (len(values) + 1) + idx_arr
            dicts.append((c, values, idx_arr))
        uniq_codes, first_pos, inverse = np.unique(codes, return_index=True, return_inverse=True)
        order = np.argsort(first_pos, kind="stable")          # partitions in first-seen order
        rows_sorted = np.argsort(inverse, kind="stable")       # rows grouped, input order kept
        counts = np.bincount(inverse, minlength=len(uniq_codes))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        data = batch.select(file_columns)
        for g in order:
            pos = first_pos[g]
            segs, key = [], []
            for c, values, idx_arr in dicts:
                v = values[idx_arr[pos]]
                if c == "date":
                    label = _hour_label(int(v) * 24)[0]
                elif c == "hour":
                    label = f"{int(v):02d}"
                else:
                    label = _quote(v)
                segs.append(f"{c}={label}")
                key.append(label)
            sel = rows_sorted[starts[g]:starts[g] + counts[g]]
            part = writers.partition(tuple(key), "/".join(segs))
            writers.add(part, data.take(pa.array(sel)) if sel.size != n else data)

    try:
        for path in paths:
            name = "<stdin>" if path == "-" else path
            rec = {"path": name, "kind": kinds[path], "lines": 0, "blank_lines": 0, "inputs": 0,
                   "written": 0, "duplicates": 0, "rejected": 0}
            inputs_report.append(rec)
            raw = _RawAdapter(_open_raw(path), on_read)   # counts bytes read, for progress
            try:
                if kinds[path] == "frames":
                    for frame in iter_frames(io.BufferedReader(raw)):
                        b = _conform(frame.batch, arrow_schema, name)
                        rec["lines"] += b.num_rows
                        rec["inputs"] += b.num_rows
                        route(b, rec, name)
                        state["lines"] += b.num_rows
                        _tick(progress, state, bytes_total, t0, slow)
                else:
                    for res in iter_ndjson(raw, enc_schema, threads=threads, block_size=block_size,
                                           source_name=name):
                        st = res.stats
                        rec["inputs"] += st["inputs"]
                        rec["blank_lines"] += st["blank_lines"]
                        rec["lines"] += st["inputs"] + st["blank_lines"]
                        state["lines"] += st["inputs"] + st["blank_lines"]
                        reject(res.rejected, rec)
                        for b in res.batches:
                            route(b, rec, name)
                        _tick(progress, state, bytes_total, t0, slow)
            except (OSError, EOFError) as e:
                raise ConvertError(f"cannot read input {name}: {e}") from e
            finally:
                raw.close()
        writers.finish()
        rejected.finish()
    except BaseException:
        writers.abort()
        rejected.abort()
        shutil.rmtree(tmp_root, ignore_errors=True)    # nothing of this run stays
        raise

    # ---- manifest
    totals = {k: sum(r[k] for r in inputs_report)
              for k in ("lines", "blank_lines", "inputs", "written", "duplicates", "rejected")}
    totals["lines_read"] = totals.pop("lines")
    balanced = (totals["inputs"] == totals["written"] + totals["duplicates"] + totals["rejected"]
                and totals["lines_read"] == totals["inputs"] + totals["blank_lines"])
    partitions = [{"path": p.relpath, "rows": p.rows, "files": p.files}
                  for p in writers.parts.values() if p.files]
    rej_files = list(rej_part.files)
    manifest = {
        "format": "eventbatch-convert/1",
        "options": {"schema_fields": names, "dedup_key": dedup_key, "dedup_window": dedup_window,
                    "time_field": time_field, "time_unit": time_unit,
                    "partition_by": partition_by, "compression": compression,
                    "row_group_rows": row_group_rows, "file_rows": file_rows},
        "inputs": inputs_report,
        "partitions": partitions,
        "rejected": {"rows": totals["rejected"], "by_reason": dict(sorted(rej_counts.items())),
                     "files": rej_files},
        "totals": totals,
        "reconciliation": {
            "equation": (f"lines read {totals['lines_read']} = written {totals['written']} + "
                         f"duplicates {totals['duplicates']} + rejected {totals['rejected']} + "
                         f"blank {totals['blank_lines']}"),
            "balanced": balanced,
        },
    }
    with open(os.path.join(tmp_root, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=False)
        f.write("\n")
    _commit(output_dir, tmp_root, [f for p in partitions for f in p["files"]] + rej_files)
    return ConvertReport(output_dir, manifest, time.perf_counter() - t0, state["bytes_read"])


def _tick(progress, state, bytes_total, t0, slow) -> None:
    if progress is not None:
        progress({"bytes_read": state["bytes_read"], "bytes_total": bytes_total,
                  "lines": state["lines"], "written": state["written"],
                  "seconds": time.perf_counter() - t0})
    if slow:
        time.sleep(slow)


INFER_SAMPLE_BYTES = 16 << 20


def infer_sample(path: str, max_bytes: int = INFER_SAMPLE_BYTES) -> Schema:
    """Infer a schema from the first ``max_bytes`` (decompressed) of an NDJSON
    file, cut at a line end: memory stays bounded for any file size.  Values
    of later lines that do not fit the inferred types become rejected rows."""
    from .readers import open_input
    try:
        with open_input(path) as f:
            data = f.read(max_bytes)
            more = bool(f.read(1))
    except OSError as e:
        raise ConvertError(f"cannot read input {path}: {e.strerror or e}") from e
    if more:
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else data
    try:
        return Schema.infer(data)
    except SchemaError as e:
        raise ConvertUsageError(f"cannot infer a schema from {path}: {e}") from e


def _first_frame_schema(path: str) -> pa.Schema:
    with open(path, "rb") as f:
        for frame in iter_frames(f):
            return frame.batch.schema
    raise ConvertError(f"frame file has no frames: {path}")


def _conform(batch: pa.RecordBatch, schema: pa.Schema, name: str) -> pa.RecordBatch:
    if batch.schema.equals(schema, check_metadata=False):
        return batch
    try:
        cols = [batch.column(f.name).cast(f.type) if f.name in batch.schema.names
                else pa.nulls(batch.num_rows, f.type) for f in schema]
        return pa.RecordBatch.from_arrays(cols, schema=schema)
    except (pa.ArrowException, KeyError, ValueError) as e:
        raise ConvertError(f"frames in {name} do not fit the schema: {e}") from e


def _commit(output_dir: str, tmp_root: str, files: list[str]) -> None:
    """Rename the new files into place, drop the previous run's other files,
    then put the manifest in place and remove the temp dir."""
    new = set(files)
    try:    # until the new manifest is in place, the dataset is visibly not a finished one
        os.unlink(os.path.join(output_dir, MANIFEST))
    except FileNotFoundError:
        pass
    slow = float(os.environ.get(_SLOW_COMMIT_ENV, "0") or 0)
    for rel in files:
        dest = os.path.join(output_dir, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(os.path.join(tmp_root, rel), dest)
        if slow:
            time.sleep(slow)
    # stale files of an earlier run: only our own names (part-NNNNN.parquet)
    for root, dirs, fnames in os.walk(output_dir, topdown=False):
        if os.path.abspath(root).startswith(os.path.abspath(tmp_root)):
            continue
        for fn in fnames:
            if fn.startswith("part-") and fn.endswith(".parquet"):
                rel = os.path.relpath(os.path.join(root, fn), output_dir).replace(os.sep, "/")
                if rel not in new:
                    os.unlink(os.path.join(root, fn))
        if root != output_dir and not os.listdir(root):
            os.rmdir(root)
    os.replace(os.path.join(tmp_root, MANIFEST), os.path.join(output_dir, MANIFEST))
    shutil.rmtree(tmp_root, ignore_errors=True)
