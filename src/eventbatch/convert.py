"""Event logs (NDJSON files, frame files) to a partitioned Parquet dataset.

:func:`convert` streams its inputs in order through the encoder (parallel
parsing, see :func:`iter_ndjson`), drops duplicate keys (exact across the
whole run by default), routes rows to Hive partitions
(``event_type=.../date=YYYY-MM-DD/hour=HH/``), writes Parquet row groups as
rows arrive, and keeps every rejected line in ``_rejected/``.

Threads: with ``threads=N``, N worker threads parse blocks (and, on the
same threads, check times, hash keys and split rows by partition) and encode
row groups (zstd and all: each row group is encoded as a one-row-group
Parquet file in memory, see :mod:`eventbatch._parquet`); the calling thread
reads the input, runs the dedup filter in input order, cuts row groups and
appends the encoded ones to their files, in order.  ``threads=1`` does all of
it on the calling thread.  Memory is bounded: at most ``2 * threads`` blocks
and ``threads + 1`` row groups are in flight, and the buffered rows have a
budget (``max_buffered_rows``, ``max_buffered_bytes``); the exact dedup table
grows with the distinct keys (its capacity doubles: 22 MiB at 1M keys, 176 MiB
at 10M), a ``dedup_window`` one does not.

Rejected rows: every line the encoder rejects keeps its raw bytes, file,
line number, byte offset, reason and message.  When partitioning needs the
time field, the encoder's schema makes it required (a string field becomes
``timestamp[us, UTC]``, parsed by the core as RFC 3339), so a missing, null
or malformed time is rejected by the core like any other error; a time that
parses but falls outside the years 0000..9999 (which no date partition can
name) is rejected after encoding with ``reason="out_of_range"``, and its
block is encoded again up to that row to find its raw line, line number and
offset.  The same goes for a partition value whose directory name
(``column=value``, percent-quoted) would be longer than 255 bytes, which no
file system takes: ``reason="invalid_value"`` at ``$.column``, so one such
event cannot stop a run.  Frame files hold no lines: a rejected row from a frame file has
its row as compact JSON in ``raw``, a null ``line``, and the row's index
among the file's rows (0-based) in ``offset``.

Idempotence: every file is first written under ``OUT/.eventbatch-tmp/``
(hidden: ``pyarrow.dataset`` and DuckDB's hive globbing skip it), under a
flat temp name; a file gets its footer only when it is complete.  At the end
each file is renamed into place (``os.replace``), the files of a previous run
that this run did not produce are removed (only ``part-NNNNN.parquet`` files
at the top, in ``_rejected/`` or in ``col=value`` partition directories: other
files in the output directory stay), and ``_manifest.json`` is written
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

import collections
import dataclasses
import functools
import glob
import json
import math
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._core import hash64
from ._parquet import Part, PartFile, encode_part
from .dedup import Deduplicator, Window
from .encoder import REJECTED_SCHEMA, Encoder
from .errors import EventBatchError, SchemaError
from .frames import MAGIC as FRAME_MAGIC
from .frames import iter_frames
from .readers import _iter_results, read_errors
from .schema import DataType, Field, Schema

__all__ = ["convert", "ConvertReport", "ConvertError", "ConvertUsageError", "resolve_inputs"]

TMP_DIR = ".eventbatch-tmp"
MANIFEST = "_manifest.json"
REJECTED_DIR = "_rejected"
_PART_NAME = re.compile(r"part-[0-9]{5,}\.parquet")
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_COMPRESSION = {"zstd": "zstd", "snappy": "snappy", "lz4": "lz4", "none": "none"}
_TIME_PARTS = ("date", "hour")
# the rejected rows as stored: REJECTED_SCHEMA with every column nullable
REJECTED_FILE_SCHEMA = pa.schema([f.with_nullable(True) for f in REJECTED_SCHEMA])
# a test hook: seconds to sleep after each input block (for kill tests)
_SLOW_ENV = "EVENTBATCH_CONVERT_TEST_SLEEP"
_EXTRA_IN_FLIGHT = 1     # row groups in flight at most: threads + this
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

def resolve_inputs(inputs: "str | os.PathLike | Sequence[str | os.PathLike]",
                   output_dir: "str | os.PathLike | None" = None) -> list[str]:
    """Expand directories (recursively, sorted, hidden files skipped,
    symlinked directories followed, each real directory and file once) and
    globs (sorted); ``-`` is stdin.  Raises :class:`ConvertError` for a path
    that does not exist or a glob that matches nothing.  ``output_dir``, when
    inside an input directory, is not walked (a rerun must not read the
    previous run's output); it cannot be an input directory itself
    (:class:`ConvertUsageError`)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    skip = os.path.realpath(output_dir) if output_dir is not None else None
    out: list[str] = []
    for item in inputs:
        s = os.fspath(item)
        if s == "-":
            out.append(s)
        elif os.path.isdir(s):
            if skip is not None and os.path.realpath(s) == skip:
                raise ConvertUsageError(f"the output directory is an input directory: {s}")
            found = []
            seen = {os.path.realpath(s)}    # symlinked dirs are followed, each real dir walked once
            for root, dirs, files in os.walk(s, followlinks=True):
                keep = []
                for d in sorted(dirs):
                    real = os.path.realpath(os.path.join(root, d))
                    if not d.startswith((".", "_")) and real != skip and real not in seen:
                        seen.add(real)
                        keep.append(d)
                dirs[:] = keep
                for f in files:
                    real = os.path.realpath(os.path.join(root, f))
                    if not f.startswith((".", "_")) and real not in seen:
                        seen.add(real)
                        found.append(os.path.join(root, f))
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
# output: partitions, row groups, files

def _quote(v: Any) -> str:
    if v is None:
        return HIVE_NULL
    s = str(v)
    if s == "":
        return HIVE_NULL
    return urllib.parse.quote(s, safe=" :+@,")


def _partition_values(arr: pa.Array) -> list:
    """The Python values of distinct partition values (quoted by _quote).  A
    temporal value that no datetime holds (a timestamp[ns] that is not a
    whole microsecond, a year-0 time) is Arrow's text of it instead."""
    try:
        return arr.to_pylist()
    except (ValueError, OverflowError):
        out = []
        for i in range(len(arr)):
            try:
                out.append(arr[i].as_py())
            except (ValueError, OverflowError):
                out.append(arr[i].cast(pa.string()).as_py())
        return out


def _parse_size(text: "str | int") -> int:
    """Bytes from ``134217728``, ``128MiB`` or ``128M`` (binary), ``100MB`` (decimal)."""
    v = -1
    if isinstance(text, int) and not isinstance(text, bool):
        v = text
    elif isinstance(text, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([A-Za-z]*)\s*", text)
        scale = _SIZE_UNITS.get(m.group(2).lower()) if m else None
        if scale is not None:
            v = int(float(m.group(1)) * scale)
    if v < 1:
        raise ConvertUsageError(f"expected a size such as 134217728, 128MiB or 1GB, got {text!r}")
    return v


_SIZE_UNITS = {"": 1, "b": 1}
for _i, _p in enumerate("kmgt", 1):
    _SIZE_UNITS[_p] = _SIZE_UNITS[_p + "ib"] = 1 << (10 * _i)
    _SIZE_UNITS[_p + "b"] = 10 ** (3 * _i)


class _InlineExecutor:
    """The executor of ``threads=1``: runs each task at once, on the caller's thread."""

    def submit(self, fn: Callable, *args: Any) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args))
        except BaseException as e:     # handed to whoever asks for the result
            f.set_exception(e)
        return f

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _encode_group(items: list, schema: pa.Schema, options: dict) -> Part:
    """Worker side: the rows of one row group (batches with keep masks) as a
    Parquet part."""
    batches = []
    for i, (b, m) in enumerate(items):
        items[i] = None          # let each input batch go as soon as its rows are copied
        batches.append(b if m is None else b.take(pa.array(np.flatnonzero(m))))
    table = pa.Table.from_batches(batches, schema=schema)
    if options.get("use_dictionary") is True and table.num_rows >= _DICT_SAMPLE_MIN_ROWS:
        options = dict(options, use_dictionary=_dictionary_columns(table))
    return encode_part(table, **options)


_DICT_SAMPLE_ROWS = 4096
_DICT_SAMPLE_MIN_ROWS = 8192


def _dictionary_columns(table: pa.Table) -> "list[str] | bool":
    """The leaf columns (dotted paths) worth dictionary encoding in this row
    group: those with at most one distinct value per 4 values in its first
    4096 rows.  On the others (ids, timestamps, free text) a dictionary only
    costs time: the writer builds it, then falls back to plain encoding once
    it passes 1 MiB.  Decided per row group, from its rows only.  With a
    list column anywhere: True (every column), as the writer would do."""
    out: list[str] = []

    class _HasList(Exception):
        pass

    def visit(path: str, arr: pa.Array) -> None:
        t = arr.type
        if pa.types.is_struct(t):
            for i, f in enumerate(t):
                visit(f"{path}.{f.name}", arr.field(i))
        elif pa.types.is_nested(t):
            raise _HasList
        else:
            values = len(arr) - arr.null_count
            if values == 0 or pc.count_distinct(arr).as_py() * 4 <= values:
                out.append(path)

    sample = table.slice(0, _DICT_SAMPLE_ROWS)
    try:
        for name, col in zip(sample.column_names, sample.columns):
            visit(name, col.combine_chunks() if col.num_chunks != 1 else col.chunk(0))
    except _HasList:
        return True
    return out


class _Parent:
    """A batch that buffered slices point into: its memory stays until the
    last of them is gone."""

    __slots__ = ("nbytes", "refs")

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.refs = 0


class _Partition:
    __slots__ = ("key", "relpath", "items", "rows", "nbytes", "total_rows", "files", "file",
                 "last_used")

    def __init__(self, key: tuple, relpath: str) -> None:
        self.key = key
        self.relpath = relpath
        # buffered rows: [batch, keep mask or None, kept rows, estimated Arrow bytes, parent]
        self.items: collections.deque = collections.deque()
        self.rows = 0
        self.nbytes = 0.0
        self.total_rows = 0
        self.files: list[tuple[str, str]] = []     # (temp name, path in the dataset)
        self.file: PartFile | None = None
        self.last_used = 0


class _Dataset:
    """Rows routed to partitions -> row groups encoded on the pool -> files.

    Row groups are cut in each partition's row order at ``row_group_rows``
    rows or ``row_group_bytes`` bytes of Arrow data, whichever comes first.
    Buffered rows are slices of the batches they came from, which stay in
    memory until their last slice is gone: when those batches pass
    ``max_buffered_bytes``, or the buffered rows pass ``max_buffered_rows``,
    the least recently used partitions are cut first (with time-ordered
    input: the hours that are over) until half of both is free.  Parts are
    appended to their partition's file in the order they were cut; a file
    rolls before a row group that would take it past ``file_rows`` rows, and
    after the row group that takes it to ``file_bytes`` written bytes.  All of
    this depends on the rows only, never on timing or threads, so the files
    are the same for any thread count.  Files are written under flat temp
    names (``prefix`` + a number) and renamed into their partition at the end."""

    def __init__(self, tmp_root: str, prefix: str, schema: pa.Schema, pool: Any, *, write_options: dict,
                 row_group_rows: int, row_group_bytes: int, file_rows: int, file_bytes: int,
                 max_open_files: int, max_buffered_rows: int, max_buffered_bytes: int,
                 max_in_flight: int) -> None:
        self.tmp_root = tmp_root
        self.prefix = prefix
        self.schema = schema
        self.pool = pool
        self.write_options = write_options
        self.rg_rows = min(row_group_rows, file_rows)
        self.rg_bytes = row_group_bytes
        self.file_rows = file_rows
        self.file_bytes = file_bytes
        self.max_open = max_open_files
        self.max_rows = max_buffered_rows
        self.max_bytes = max_buffered_bytes
        self.max_in_flight = max_in_flight
        self.parts: dict[tuple, _Partition] = {}
        self.buffered_rows = 0
        self.retained = 0            # bytes of the batches that buffered rows point into
        self.clock = 0
        self.nfiles = 0
        self.in_flight: collections.deque = collections.deque()   # (partition, future)
        self.open_files: collections.OrderedDict = collections.OrderedDict()   # LRU of open OS files

    def add(self, key: tuple, relpath: str, batch: pa.RecordBatch, mask: "np.ndarray | None",
            rows: int, parent: "_Parent | None" = None) -> None:
        """Buffer ``rows`` kept rows: ``batch`` filtered by ``mask`` (None: all).
        ``batch`` may be a slice of ``parent`` (by default it is its own)."""
        p = self.parts.get(key)
        if p is None:
            p = self.parts[key] = _Partition(key, relpath)
        self.clock += 1
        p.last_used = self.clock
        if parent is None:
            parent = _Parent(batch.nbytes)
        if not parent.refs:
            self.retained += parent.nbytes
        parent.refs += 1
        nbytes = batch.nbytes * rows / max(batch.num_rows, 1)
        p.items.append([batch, mask, rows, nbytes, parent])
        p.rows += rows
        p.nbytes += nbytes
        p.total_rows += rows
        self.buffered_rows += rows
        while p.rows >= self.rg_rows or p.nbytes >= self.rg_bytes:
            self._cut(p)

    def check_budget(self) -> None:
        """While over the buffer budget, free memory in least recently used
        order: a partition with many buffered rows is cut into a row group; a
        small one (late events of an hour that is over, say) is compacted
        instead: its rows are copied out of the batches they pin, and wait
        for more rows, so that late stragglers do not each become a tiny row
        group.  Only if that is not enough are small ones cut too."""
        if not self._over():
            self.drain(block=False)
            return
        small = max(1, self.rg_rows // 16)
        lru = sorted((q for q in self.parts.values() if q.rows), key=lambda q: q.last_used)
        for q in lru:
            if q.rows >= small or q.nbytes >= self.rg_bytes / 16:
                while q.rows:
                    self._cut(q)
            else:
                self._compact(q)
            if self._under_half():
                break
        else:
            for q in lru:
                while q.rows:
                    self._cut(q)
                if self._under_half():
                    break
        self.drain(block=False)

    def _over(self) -> bool:
        return self.buffered_rows > self.max_rows or self.retained > self.max_bytes

    def _under_half(self) -> bool:
        return self.buffered_rows <= self.max_rows // 2 and self.retained <= self.max_bytes // 2

    def _compact(self, p: _Partition) -> None:
        """Copy p's buffered rows into one batch of their own."""
        if len(p.items) == 1:
            _, mask, _, nbytes, parent = p.items[0]
            if mask is None and parent.refs == 1 and nbytes * 2 >= parent.nbytes:
                return          # already (about) a batch of its own
        parts = [b.take(pa.array(np.flatnonzero(m) if m is not None else np.arange(b.num_rows)))
                 for b, m, _, _, _ in p.items]
        batch = pa.concat_batches(parts) if len(parts) > 1 else parts[0]
        for item in p.items:
            self._release(item[4])
        parent = _Parent(batch.nbytes)
        parent.refs = 1
        self.retained += parent.nbytes
        p.items = collections.deque([[batch, None, batch.num_rows, float(batch.nbytes), parent]])
        p.nbytes = float(batch.nbytes)

    def _release(self, parent: _Parent) -> None:
        parent.refs -= 1
        if not parent.refs:
            self.retained -= parent.nbytes

    def _cut(self, p: _Partition) -> None:
        """Submit the next row group of p: its first rows, up to the targets."""
        group: list = []
        rows = 0
        nbytes = 0.0
        while p.items and rows < self.rg_rows and nbytes < self.rg_bytes:
            item = p.items[0]
            batch, mask, n, b, parent = item
            per_row = b / n
            want = min(self.rg_rows - rows, n)
            if nbytes + b > self.rg_bytes:
                want = min(want, max(1, math.ceil((self.rg_bytes - nbytes) / per_row)))
            if want < n:        # split the item after its want-th kept row
                cut = want if mask is None else int(np.flatnonzero(mask)[want - 1]) + 1
                group.append((batch.slice(0, cut), None if mask is None else mask[:cut]))
                item[0] = batch.slice(cut)
                item[1] = None if mask is None else mask[cut:]
                item[2] = n - want
                item[3] = b - per_row * want
                taken, taken_bytes = want, per_row * want
            else:
                p.items.popleft()
                self._release(parent)
                group.append((batch, mask))
                taken, taken_bytes = n, b
            rows += taken
            nbytes += taken_bytes
        p.rows -= rows
        p.nbytes = p.nbytes - nbytes if p.items else 0.0
        self.buffered_rows -= rows
        fut = self.pool.submit(_encode_group, group, self.schema, self.write_options)
        self.in_flight.append((p, fut))
        while len(self.in_flight) > self.max_in_flight:
            self._append_next()

    def drain(self, block: bool) -> None:
        """Append the encoded parts at the head of the queue (all of them if block)."""
        while self.in_flight and (block or self.in_flight[0][1].done()):
            self._append_next()

    def _append_next(self) -> None:
        p, fut = self.in_flight.popleft()
        part = fut.result()
        f = p.file
        if f is not None and f.row_groups and (f.rows + part.rows > self.file_rows
                                               or f.size >= self.file_bytes):
            self._close(p)
            f = None
        if f is None:
            name = f"part-{len(p.files):05d}.parquet"
            rel = f"{p.relpath}/{name}" if p.relpath else name
            tmp = f"{self.prefix}{self.nfiles:06d}.parquet"
            self.nfiles += 1
            self._make_room()
            f = p.file = PartFile(os.path.join(self.tmp_root, tmp))
            p.files.append((tmp, rel))
            self.open_files[p.key] = p
        elif not f.is_open:
            self._make_room()
            self.open_files[p.key] = p
        else:
            self.open_files.move_to_end(p.key)
        f.append(part)

    def _make_room(self) -> None:
        while len(self.open_files) >= self.max_open:
            _, q = self.open_files.popitem(last=False)
            q.file.suspend()

    def _close(self, p: _Partition) -> None:
        if p.file is not None:
            p.file.close()
            p.file = None
            self.open_files.pop(p.key, None)

    def finish(self) -> None:
        for p in self.parts.values():
            while p.rows:
                self._cut(p)
        self.drain(block=True)
        for p in self.parts.values():
            self._close(p)

    def abort(self) -> None:
        for _, fut in self.in_flight:
            fut.cancel()
        self.in_flight.clear()
        for p in self.parts.values():
            if p.file is not None:
                p.file.abort()
                p.file = None


# ---------------------------------------------------------------------------
# time

_MIN_DAY = -719528          # 0000-01-01, days from 1970-01-01
_MAX_DIR_NAME = 255         # bytes in one path segment (NAME_MAX on Linux and macOS)
_END_DAY = 2932897          # 10000-01-01


def _epoch_hours(col: pa.Array, time_unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values as stored, hours since the epoch, floor, UTC) of a time
    column; nulls read as 0."""
    t = col.type
    if pa.types.is_timestamp(t):
        vals = _int64s(col)
        return vals, np.floor_divide(vals, _UNITS[t.unit] * 3600)
    if pa.types.is_integer(t):
        vals = _int64s(col)
        return vals, np.floor_divide(vals, _UNITS[time_unit] * 3600)
    if pa.types.is_date(t):
        vals = _int64s(col.cast(pa.date32()).cast(pa.int32()))
        return vals, vals * 24
    raise ConvertUsageError(f"time field has type `{t}`: expected an integer epoch, "
                            f"a timestamp, a date or an RFC 3339 string")


def _int64s(col: pa.Array) -> np.ndarray:
    if col.null_count:
        col = col.fill_null(0)
    if pa.types.is_uint64(col.type):     # above int64: clamped, so out of range
        col = pc.min_element_wise(col, pa.scalar(2 ** 63 - 1, pa.uint64()))
    if not pa.types.is_int64(col.type):
        col = col.cast(pa.int64()) if pa.types.is_integer(col.type) else col.view(pa.int64())
    return col.to_numpy(zero_copy_only=False)


def _civil(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day number (days since 1970-01-01), proleptic
    Gregorian; for any year, 0 included (datetime stops at year 1)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _date_label(day: int) -> str:
    y, m, d = _civil(int(day))
    return f"{y:04d}-{m:02d}-{d:02d}"


# ---------------------------------------------------------------------------
# per block (on the worker threads): time check, key hashes, partition split

class _Routed:
    """One encoded batch, ready for the dedup step: its key hashes (None
    without dedup) and which keys are valid (None: all), and its rows split
    by partition: (key, relpath, rows as a slice of one batch of the file
    columns, indices of those rows in the encoded batch or None for all)."""

    __slots__ = ("rows", "hashes", "key_valid", "groups", "nbytes")

    def __init__(self, rows: int, hashes: Any, key_valid: Any, groups: list, nbytes: int) -> None:
        self.rows = rows
        self.hashes = hashes
        self.key_valid = key_valid
        self.groups = groups
        self.nbytes = nbytes          # of the batch the groups' rows are slices of


class _Router:
    def __init__(self, *, time_field: "str | None", time_type: "pa.DataType | None", time_unit: str,
                 needs_time: bool,
                 dedup_key: "str | None", partition_by: list[str], file_columns: list[str],
                 scratch: "Callable[[], Any] | None") -> None:
        self.time_field = time_field
        self.time_type = time_type
        self.time_unit = time_unit
        self.needs_time = needs_time
        self.dedup_key = dedup_key
        self.partition_by = partition_by
        self.file_columns = file_columns
        self.scratch = scratch       # a thread's spare encoder (to find lines of rows)
        self.local = threading.local()

    # -- NDJSON blocks: called on the worker thread after the block is encoded
    def post(self, res: Any, block: Any, source: str) -> Any:
        routed = []
        row0 = 0
        bad_rows: list[int] = []
        bad_infos: list[tuple] = []
        for b in res.batches:
            if not b.num_rows:
                continue
            b, bad, infos, hours = self._check_rows(b)
            if bad is not None:
                bad_rows.extend(int(i) + row0 for i in bad)
                bad_infos.extend(infos)
            row0 += b.num_rows + (0 if bad is None else len(bad))
            if b.num_rows:
                routed.append(self._split(b, hours))
        if bad_rows:
            rej = self._reject_lines(block, bad_rows, bad_infos, source)
            res.rejected = _concat_rejected([res.rejected, rej])
            res.stats["accepted"] -= len(bad_rows)
            res.stats["rejected"] += len(bad_rows)
        res.routed = routed
        res.batches = []
        return res

    # -- frames: rows without raw lines
    def frame_batch(self, b: pa.RecordBatch, source: str, row0: int) -> tuple[list, "pa.RecordBatch | None"]:
        """A frame's rows: (routed, rejected or None).  A rejected row of a
        frame file has no line: ``raw`` is the row as compact JSON (the time
        field as its integer value), ``line`` is null and ``offset`` is the
        row's index among the file's rows (0-based)."""
        b2, bad, infos, hours = self._check_rows(b)
        rej = None
        if bad is not None:
            time_cols = [self.time_field] if self.needs_time else []
            rows = _pylist_rows(b.drop_columns(time_cols).take(pa.array(bad)))
            times = (b.column(self.time_field).take(pa.array(bad)) if time_cols else None)
            if times is not None and pa.types.is_timestamp(times.type):
                times = times.view(pa.int64())
            elif times is not None and pa.types.is_date(times.type):
                times = times.cast(pa.date32()).view(pa.int32())
            tvals = times.to_pylist() if times is not None else []
            raws = []
            for k, r in enumerate(rows):
                if time_cols:
                    r[self.time_field] = tvals[k]          # as its integer value
                raws.append(json.dumps(r, default=str, separators=(",", ":"), ensure_ascii=False).encode())
            rej = pa.RecordBatch.from_pydict({
                "raw": raws,
                "source": [source] * len(rows),
                "line": pa.nulls(len(rows), pa.int64()),
                "offset": [row0 + int(i) for i in bad],
                "reason": [i[0] for i in infos],
                "path": [i[1] for i in infos],
                "message": [i[2] for i in infos],
            }, schema=REJECTED_FILE_SCHEMA)
        return ([self._split(b2, hours)] if b2.num_rows else []), rej

    def _check_rows(self, b: pa.RecordBatch) -> tuple:
        """(batch of the rows that can be written, indices in ``b`` of the
        others in order or None, a (reason, path, message) per such row, the
        hours of the rows kept).  A row is rejected for its time (see
        _time_check) or for a partition value whose directory name
        (``column=value``, quoted) would be longer than a file system allows:
        one such event must not stop the run."""
        b1, bad, vals, hours = self._time_check(b)
        infos = [("missing_required" if v is None else "out_of_range", f"$.{self.time_field}",
                  self._time_message(v)) for v in vals]
        too_long = self._long_partition_values(b1)
        if not too_long:
            return b1, bad, infos, hours
        # indices in b of b1's rows, then merge both kinds of reject in row order
        kept = np.arange(b.num_rows) if bad is None else np.delete(np.arange(b.num_rows), bad)
        merged = dict(zip((int(i) for i in (bad if bad is not None else [])), infos))
        for i, info in too_long.items():
            merged[int(kept[i])] = info
        keep = np.ones(b1.num_rows, dtype=bool)
        keep[list(too_long)] = False
        order = sorted(merged)
        return (b1.filter(pa.array(keep)), order, [merged[i] for i in order],
                None if hours is None else hours[keep])

    def _long_partition_values(self, b: pa.RecordBatch) -> dict:
        """{row: (reason, path, message)} for rows with a partition value too
        long for a directory name; checked once per distinct value."""
        out: dict = {}
        for c in self.partition_by:
            if c in _TIME_PARTS or not b.num_rows:
                continue
            enc = pc.dictionary_encode(b.column(c))
            values = _partition_values(enc.dictionary)
            long_ = {}
            for k, v in enumerate(values):
                n = len(f"{c}={_quote(v)}".encode())
                if n > _MAX_DIR_NAME:
                    long_[k] = n
            if not long_:
                continue
            idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            for i in np.flatnonzero(np.isin(idx, list(long_))):
                out.setdefault(int(i), (
                    "invalid_value", f"$.{c}",
                    f"expected a partition value whose directory name `{c}=...` fits in "
                    f"{_MAX_DIR_NAME} bytes, got {long_[int(idx[i])]} bytes at `$.{c}`"))
        return out

    def _time_check(self, b: pa.RecordBatch) -> tuple:
        """(batch without bad-time rows, indices of the bad rows or None,
        their values as integers (None for null), hours of the rows kept)."""
        if not self.needs_time:
            return b, None, [], None
        col = b.column(self.time_field)
        vals, hours = _epoch_hours(col, self.time_unit)
        valid = (hours >= _MIN_DAY * 24) & (hours < _END_DAY * 24)
        if col.null_count:
            nulls = ~col.is_valid().to_numpy(zero_copy_only=False)
            valid &= ~nulls
        else:
            nulls = None
        if valid.all():
            return b, None, [], hours
        bad = np.flatnonzero(~valid)
        bad_col = col.take(pa.array(bad))
        if pa.types.is_timestamp(bad_col.type):
            bad_col = bad_col.view(pa.int64())
        elif pa.types.is_date(bad_col.type):
            bad_col = bad_col.cast(pa.date32()).view(pa.int32())
        bad_vals = bad_col.to_pylist()        # exact integers; None for null
        keep = np.flatnonzero(valid)
        return b.take(pa.array(keep)), bad, bad_vals, hours[keep]

    def _time_message(self, value: "int | None") -> str:
        if value is None:
            return f"expected a time, got `null` at `$.{self.time_field}`"
        unit = self.time_unit
        if self.time_type is not None and pa.types.is_timestamp(self.time_type):
            unit = self.time_type.unit
        what = "days" if self.time_type is not None and pa.types.is_date(self.time_type) \
            else f"{unit} since the epoch"
        return (f"expected a time in years 0000..9999, got `{value}` ({what}) "
                f"at `$.{self.time_field}`")

    def _split(self, b: pa.RecordBatch, hours: "np.ndarray | None") -> _Routed:
        hashes = key_valid = None
        if self.dedup_key is not None:
            key = b.column(self.dedup_key)
            hashes = hash64(key)
            if key.null_count:
                key_valid = key.is_valid().to_numpy(zero_copy_only=False)
        data = b.select(self.file_columns) if len(self.file_columns) != b.num_columns else b
        n = b.num_rows
        if not self.partition_by:
            return _Routed(n, hashes, key_valid, [((), "", data, None)], data.nbytes)
        # a code per row: mixed radix over the partition columns' value indices
        codes = np.zeros(n, dtype=np.int64)
        dicts = []
        for c in self.partition_by:
            if c == "date":
                values, idx = np.unique(hours // 24, return_inverse=True)
            elif c == "hour":
                values, idx = np.unique(hours % 24, return_inverse=True)
            else:
                enc = pc.dictionary_encode(b.column(c))
                values = _partition_values(enc.dictionary) + [None]
                idx = enc.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
            codes = codes * (len(values) + 1) + idx
            dicts.append((c, values, idx))
        uniq, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        groups = []
        if len(uniq) == 1:
            order = [0]
            sel_rows = [None]
            slices = [data]
        else:
            # one take puts the rows in partition order (input order kept within
            # each); the partitions' rows are then slices of that batch
            order = np.argsort(first, kind="stable")           # partitions in first-seen order
            rows_sorted = np.argsort(inverse, kind="stable")
            counts = np.bincount(inverse, minlength=len(uniq))
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            sel_rows = [rows_sorted[starts[g]:starts[g] + counts[g]] for g in range(len(uniq))]
            grouped = data.take(pa.array(rows_sorted))
            slices = [grouped.slice(int(starts[g]), int(counts[g])) for g in range(len(uniq))]
            data = grouped
        for g in order:
            pos = first[g]
            segs, key = [], []
            for c, values, idx in dicts:
                v = values[idx[pos]]
                if c == "date":
                    label = _date_label(int(v))
                elif c == "hour":
                    label = f"{int(v):02d}"
                else:
                    label = _quote(v)
                segs.append(f"{c}={label}")
                key.append(label)
            groups.append((tuple(key), "/".join(segs), slices[g], sel_rows[g]))
        return _Routed(n, hashes, key_valid, groups, data.nbytes)

    def _reject_lines(self, block: Any, rows: list[int], infos: list, source: str) -> pa.RecordBatch:
        """Rejected rows, with their raw lines, for accepted rows ``rows`` of
        the block (indices among its accepted rows): the block is encoded
        again up to each of them (``max_rows`` stops right after the line
        that gave the row), which finds the line exactly as the core split it."""
        enc = getattr(self.local, "enc", None)
        if enc is None:
            enc = self.local.enc = self.scratch()
        blk = bytes(block)
        view = memoryview(blk)
        st0 = enc.stats()
        pos = 0
        out = {"raw": [], "source": [], "line": [], "offset": [], "reason": [], "path": [], "message": []}
        try:
            for r, info in sorted(zip(rows, infos)):
                pos += enc._consume_ndjson(view[pos:], True, None, r + 1)
                st = enc.stats()
                if st["pending_rows"] != r + 1:
                    raise RuntimeError(f"could not find the line of row {r} in its block")
                end = pos
                line_end = end - 1 if end and blk[end - 1] == 10 else end
                start = blk.rfind(b"\n", 0, line_end) + 1
                lineno = st["lines"] - st0["lines"] + (0 if line_end < end else 1)
                raw = blk[start:line_end]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                if raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                out["raw"].append(raw)
                out["line"].append(lineno)
                out["offset"].append(start)
                out["reason"].append(info[0])
                out["path"].append(info[1])
                out["message"].append(info[2])
        finally:
            enc.flush_batches()
            enc.flush_rejected()
        out["source"] = [source] * len(out["raw"])
        return pa.RecordBatch.from_pydict(out, schema=REJECTED_SCHEMA)


def _pylist_rows(b: pa.RecordBatch) -> list[dict]:
    """``b.to_pylist()``; when a value has no Python equivalent (a
    timestamp[ns] that is not a whole microsecond, a year-0 time), every
    time in the rows is its integer value instead, as the time field is."""
    try:
        return b.to_pylist()
    except (ValueError, OverflowError):
        return b.cast(pa.schema([f.with_type(_times_as_ints(f.type)) for f in b.schema])).to_pylist()


def _times_as_ints(t: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_times_as_ints(f.type)) for f in t])
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        make = pa.list_ if pa.types.is_list(t) else pa.large_list
        return make(t.value_field.with_type(_times_as_ints(t.value_type)))
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return pa.int32()
    if pa.types.is_temporal(t):
        return pa.int64()
    return t


def _concat_rejected(batches: list) -> pa.RecordBatch:
    batches = [b for b in batches if b.num_rows]
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=REJECTED_SCHEMA)
    if len(batches) == 1:
        return batches[0]
    t = pa.Table.from_batches([pa.RecordBatch.from_arrays(b.columns, schema=REJECTED_SCHEMA)
                               for b in batches])
    t = t.sort_by([("line", "ascending"), ("offset", "ascending")])
    return t.combine_chunks().to_batches()[0]


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
            row_group_bytes: "int | str" = 128 << 20,
            file_rows: int = 1 << 20,
            file_bytes: "int | str" = 512 << 20,
            max_open_writers: int = 256,
            max_buffered_rows: int = 256 * 1024,
            max_buffered_bytes: "int | str" = 256 << 20,
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
        When partitioning needs it, the field is required: an event without
        it, or with a value that is not a time, is rejected with its raw
        line, line number and byte offset, and so is a time outside the
        years 0000..9999.  A string field is parsed by the core as RFC 3339
        (at most microseconds) and stored as ``timestamp[us, UTC]``.
    partition_by : "a,b,date,hour" or a list; ``date``/``hour`` need ``time_field``.
        Partition columns are not stored in the files (Hive convention).
    compression : "zstd" (default), "snappy", "lz4" or "none"
    threads : int
        Threads that parse blocks and encode row groups (``1``: everything
        on the calling thread).  The output is the same for any value.
    row_group_rows, row_group_bytes : a row group is cut at this many rows
        or this many bytes of Arrow data (e.g. ``"128MiB"``), whichever comes
        first.
    file_rows, file_bytes : a file holds at most ``file_rows`` rows, and
        rolls once it has ``file_bytes`` written bytes (so it passes that by
        less than one row group).
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
                    ("max_open_writers", max_open_writers), ("max_buffered_rows", max_buffered_rows),
                    ("block_size", block_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConvertUsageError(f"{name}: expected a positive integer, got {v!r}")
    max_open_writers = _cap_open_files(max_open_writers)
    row_group_bytes = _parse_size(row_group_bytes)
    file_bytes = _parse_size(file_bytes)
    max_buffered_bytes = _parse_size(max_buffered_bytes)
    if dedup_window is not None and (isinstance(dedup_window, bool) or not isinstance(dedup_window, int)
                                     or not 1 <= dedup_window <= Window.MAX_KEYS_LIMIT):
        raise ConvertUsageError(f"dedup_window: expected an integer in [1, 2**40], got {dedup_window!r}")
    if dedup_window is not None and dedup_key is None:
        raise ConvertUsageError("dedup_window needs dedup_key")
    needs_time = any(p in _TIME_PARTS for p in partition_by)
    if needs_time and time_field is None:
        raise ConvertUsageError("partitioning by date or hour needs a time field (--time-field)")
    if schema is not None and infer:
        raise ConvertUsageError("give a schema or infer, not both")

    paths = resolve_inputs(inputs, output_dir)
    if paths.count("-") > 1:
        raise ConvertUsageError("stdin (-) can be given once")
    kinds = {p: ("frames" if _is_frames(p) else "ndjson") for p in paths}
    the_schema = _load_schema(schema)
    if the_schema is None and infer:
        first = next((p for p in paths if kinds[p] == "ndjson" and p != "-"), None)
        if first is None:
            raise ConvertUsageError("infer needs an NDJSON input file (not stdin)")
        the_schema = infer_sample(first)
    if the_schema is None:
        if any(k == "ndjson" for k in kinds.values()):
            raise ConvertUsageError("NDJSON input needs a schema (--schema FILE) or --infer")
        the_schema = Schema.from_arrow(_first_frame_schema(next(p for p in paths if kinds[p] == "frames")))

    names = the_schema.names
    for c in [p for p in partition_by if p not in _TIME_PARTS] + ([dedup_key] if dedup_key else []) \
            + ([time_field] if time_field else []):
        if c not in names:
            raise ConvertUsageError(f"no column `{c}` in the schema (columns: {', '.join(names[:12])})")
    # the encoder's schema: when partitioning needs the time field, it is required, and
    # a string field becomes a timestamp, so the core rejects a missing, null or
    # unparseable time with its raw line
    enc_schema = the_schema
    if needs_time:
        enc_schema = _time_schema(the_schema, time_field)
    arrow_schema = enc_schema.to_arrow()
    for c in partition_by:
        if c not in _TIME_PARTS:
            t = arrow_schema.field(c).type
            if pa.types.is_nested(t) or pa.types.is_binary(t):
                raise ConvertUsageError(f"cannot partition by `{c}` of type `{t}`")
    if dedup_key is not None:
        t = arrow_schema.field(dedup_key).type
        if pa.types.is_nested(t) or pa.types.is_boolean(t):
            raise ConvertUsageError(f"cannot deduplicate on `{dedup_key}` of type `{t}`: expected a "
                                    f"string, binary, number, timestamp or date column")
    file_columns = [n for n in arrow_schema.names if n not in partition_by]
    file_schema = pa.schema([arrow_schema.field(n) for n in file_columns],
                            metadata=arrow_schema.metadata)

    if dedup_key is None:
        dd = None
    elif dedup_window is None:
        # a time window that never moves (every key gets time 0): a growable table, exact
        dd = Deduplicator(Window(seconds=1e12, generations=2))
    else:
        try:
            dd = Deduplicator(Window(max_keys=dedup_window))
        except MemoryError as e:
            raise ConvertError(f"dedup_window {dedup_window}: {e}") from e

    output_dir = os.fspath(output_dir)
    tmp_root = _prepare_output(output_dir)
    write_options = {"compression": _COMPRESSION[compression], "use_dictionary": True,
                     "write_statistics": True}
    pool: Any = (_InlineExecutor() if threads == 1 else
                 ThreadPoolExecutor(max_workers=threads, thread_name_prefix="eventbatch-convert"))
    sizes = dict(row_group_rows=row_group_rows, row_group_bytes=row_group_bytes, file_rows=file_rows,
                 file_bytes=file_bytes, max_in_flight=threads + _EXTRA_IN_FLIGHT, write_options=write_options)
    data = _Dataset(tmp_root, "d", file_schema, pool, max_open_files=max_open_writers,
                    max_buffered_rows=max_buffered_rows, max_buffered_bytes=max_buffered_bytes, **sizes)
    # rejected rows: one more dataset without partitions, the same row-group and file targets
    rejected = _Dataset(tmp_root, "r", REJECTED_FILE_SCHEMA, pool, max_open_files=1,
                        max_buffered_rows=row_group_rows, max_buffered_bytes=row_group_bytes, **sizes)
    rej_counts: dict[str, int] = {}

    router = _Router(time_field=time_field, time_unit=time_unit, needs_time=needs_time,
                     time_type=arrow_schema.field(time_field).type if needs_time else None,
                     dedup_key=dedup_key, partition_by=partition_by, file_columns=file_columns,
                     scratch=lambda: Encoder(enc_schema))
    bytes_total = sum(os.path.getsize(p) for p in paths if p != "-")
    state = {"bytes_done": 0, "bytes_read": 0, "lines": 0, "written": 0}
    slow = float(os.environ.get(_SLOW_ENV, "0") or 0)
    inputs_report: list[dict] = []

    def reject(batch: pa.RecordBatch, rec: dict) -> None:
        if not batch.num_rows:
            return
        rejected.add((), REJECTED_DIR, pa.RecordBatch.from_arrays(batch.columns, schema=REJECTED_FILE_SCHEMA),
                     None, batch.num_rows)
        rejected.check_budget()
        rec["rejected"] += batch.num_rows
        reasons = pc.value_counts(batch.column("reason"))
        for reason, n in zip(reasons.field("values").to_pylist(), reasons.field("counts").to_pylist()):
            rej_counts[reason] = rej_counts.get(reason, 0) + n

    def route(routed: list, rec: dict) -> None:
        for r in routed:
            keep = None
            if dd is not None:
                if r.key_valid is None:
                    keep = dd.filter(r.hashes, times=0)
                else:
                    keep = np.ones(r.rows, dtype=bool)
                    sel = np.flatnonzero(r.key_valid)
                    keep[sel] = dd.filter(r.hashes[sel], times=0)
                dups = r.rows - int(np.count_nonzero(keep))
                rec["duplicates"] += dups
                if not dups:
                    keep = None
            written = 0
            parent = _Parent(r.nbytes)
            for key, relpath, batch, sel in r.groups:
                m = keep if keep is None or sel is None else keep[sel]
                n = batch.num_rows if m is None else int(np.count_nonzero(m))
                if m is not None and n == m.shape[0]:
                    m = None
                if n:
                    data.add(key, relpath, batch, m, n, parent)
                    written += n
            data.check_budget()
            rec["written"] += written
            state["written"] += written

    raw = None
    try:
        for path in paths:
            name = "<stdin>" if path == "-" else path
            rec = {"path": name, "kind": kinds[path], "lines": 0, "blank_lines": 0, "inputs": 0,
                   "written": 0, "duplicates": 0, "rejected": 0}
            inputs_report.append(rec)
            raw = _open_raw(path)
            try:
                if kinds[path] == "frames":
                    row0 = 0
                    for frame in iter_frames(raw):
                        b = _conform(frame.batch, arrow_schema, name)
                        rec["lines"] += b.num_rows
                        rec["inputs"] += b.num_rows
                        routed, rej = router.frame_batch(b, name, row0)
                        row0 += b.num_rows
                        if rej is not None:
                            reject(rej, rec)
                        route(routed, rec)
                        state["lines"] += b.num_rows
                        state["bytes_read"] = state["bytes_done"] + raw.tell()
                        _tick(progress, state, bytes_total, t0, slow)
                else:
                    post = functools.partial(router.post, source=name)
                    for res in _iter_results(raw, enc_schema, threads=threads, block_size=block_size,
                                             source_name=name, post=post,
                                             pool=None if threads == 1 else pool):
                        st = res.stats
                        rec["inputs"] += st["inputs"]
                        rec["blank_lines"] += st["blank_lines"]
                        rec["lines"] += st["inputs"] + st["blank_lines"]
                        state["lines"] += st["inputs"] + st["blank_lines"]
                        reject(res.rejected, rec)
                        route(res.routed, rec)
                        if path == "-":
                            state["bytes_read"] += res.nbytes
                        else:
                            state["bytes_read"] = state["bytes_done"] + raw.tell()
                        _tick(progress, state, bytes_total, t0, slow)
            except read_errors() as e:
                raise ConvertError(f"cannot read input {name}: {e}") from e
            finally:
                if raw is not sys.stdin.buffer:
                    raw.close()
            if path != "-":
                state["bytes_done"] += os.path.getsize(path)
        data.finish()
        rejected.finish()
    except BaseException:
        data.abort()
        rejected.abort()
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(tmp_root, ignore_errors=True)    # nothing of this run stays
        raise
    pool.shutdown(wait=True)

    # ---- manifest
    totals = {k: sum(r[k] for r in inputs_report)
              for k in ("lines", "blank_lines", "inputs", "written", "duplicates", "rejected")}
    totals["lines_read"] = totals.pop("lines")
    balanced = (totals["inputs"] == totals["written"] + totals["duplicates"] + totals["rejected"]
                and totals["lines_read"] == totals["inputs"] + totals["blank_lines"])
    partitions = [{"path": p.relpath, "rows": p.total_rows, "files": [rel for _, rel in p.files]}
                  for p in data.parts.values() if p.files]
    renames = [f for ds_ in (data, rejected) for p in ds_.parts.values() for f in p.files]
    rej_files = [rel for p in rejected.parts.values() for _, rel in p.files]
    manifest = {
        "format": "eventbatch-convert/1",
        "options": {"schema_fields": names, "dedup_key": dedup_key, "dedup_window": dedup_window,
                    "time_field": time_field, "time_unit": time_unit,
                    "partition_by": partition_by, "compression": compression,
                    "row_group_rows": row_group_rows, "row_group_bytes": row_group_bytes,
                    "file_rows": file_rows, "file_bytes": file_bytes},
        "inputs": inputs_report,
        "partitions": partitions,
        "rejected": {"rows": totals["rejected"], "by_reason": dict(sorted(rej_counts.items())),
                     "files": rej_files},
        "dedup": None if dd is None else {
            "mode": "exact" if dedup_window is None else "window",
            **{k: v for k, v in dd.stats().items() if k in ("seen", "unique", "duplicates", "keys", "evicted")},
            "memory_bytes": None if dedup_window is None else Window(max_keys=dedup_window).memory_bytes},
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
    _commit(output_dir, tmp_root, renames)
    return ConvertReport(output_dir, manifest, time.perf_counter() - t0, state["bytes_read"])


def _cap_open_files(n: int) -> int:
    """At most half the process's soft limit of open files for the writers
    (256 by default on macOS): the rest is for inputs, the pool and Python."""
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return n
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return n
    return max(1, min(n, soft // 2))


def _time_schema(schema: Schema, time_field: str) -> Schema:
    """The schema with the time field required, and a string one parsed as a timestamp."""
    fields = []
    for f in schema.fields:
        if f.name == time_field:
            t = f.type.to_arrow()
            if pa.types.is_string(t) or pa.types.is_large_string(t):
                f = Field(f.name, DataType.timestamp("us", "UTC"), nullable=False)
            elif pa.types.is_integer(t) or pa.types.is_timestamp(t) or pa.types.is_date(t):
                f = Field(f.name, f.type, nullable=False)
            else:
                raise ConvertUsageError(f"time field `{time_field}` has type `{t}`: expected an integer "
                                        f"epoch, a timestamp, a date or an RFC 3339 string")
        fields.append(f)
    return Schema(fields, schema.unknown_fields)


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
            data = f.read(max_bytes + 1)
            while len(data) > max_bytes and b"\n" not in data[:max_bytes]:
                # the sample is inside a line longer than it (convert rejects that
                # line as too long): the sample starts after that line
                i = data.find(b"\n")
                while i < 0 and data:
                    data = f.read(1 << 20)
                    i = data.find(b"\n")
                rest = data[i + 1:] if i >= 0 else b""
                data = rest if len(rest) > max_bytes else rest + f.read(max_bytes + 1 - len(rest))
            more = len(data) > max_bytes
            data = data[:max_bytes]
    except read_errors() as e:
        raise ConvertError(f"cannot read input {path}: {getattr(e, 'strerror', None) or e}") from e
    if more:
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else data
    try:
        return Schema.infer(data)
    except SchemaError as e:
        raise ConvertError(f"cannot infer a schema from {path}: {e}") from e


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


def _commit(output_dir: str, tmp_root: str, files: list[tuple[str, str]]) -> None:
    """Rename the new files (temp name, path in the dataset) into place, drop
    the previous run's other files, then put the manifest in place and
    remove the temp dir."""
    new = {rel for _, rel in files}
    try:    # until the new manifest is in place, the dataset is visibly not a finished one
        os.unlink(os.path.join(output_dir, MANIFEST))
    except FileNotFoundError:
        pass
    slow = float(os.environ.get(_SLOW_COMMIT_ENV, "0") or 0)
    made: set[str] = set()
    for tmp, rel in files:
        dest = os.path.join(output_dir, rel)
        d = os.path.dirname(dest)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        os.replace(os.path.join(tmp_root, tmp), dest)
        if slow:
            time.sleep(slow)
    # stale files of an earlier run: only our own names (part-NNNNN.parquet) in
    # our own directories (the top, _rejected, partitions col=value/...)
    for root, dirs, fnames in os.walk(output_dir, topdown=False):
        if os.path.abspath(root).startswith(os.path.abspath(tmp_root)):
            continue
        reldir = os.path.relpath(root, output_dir)
        if not (reldir in (".", REJECTED_DIR) or all("=" in seg for seg in reldir.split(os.sep))):
            continue
        for fn in fnames:
            if _PART_NAME.fullmatch(fn):
                rel = os.path.relpath(os.path.join(root, fn), output_dir).replace(os.sep, "/")
                if rel not in new:
                    os.unlink(os.path.join(root, fn))
        if root != output_dir and not os.listdir(root):
            os.rmdir(root)
    os.replace(os.path.join(tmp_root, MANIFEST), os.path.join(output_dir, MANIFEST))
    shutil.rmtree(tmp_root, ignore_errors=True)
