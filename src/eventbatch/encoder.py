"""Encoder: events (dicts or NDJSON bytes) -> Arrow record batches."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import pyarrow as pa

from . import _core
from .errors import CapacityError, SchemaError
from .schema import Schema

__all__ = ["Encoder", "REJECTED_SCHEMA"]

REJECTED_SCHEMA: pa.Schema = _core.REJECTED_SCHEMA
_POLICY = {"ignore": 0, "error": 1, "extra": 2}
MAX_DEPTH_LIMIT = 4096
MAX_LINE_LIMIT = 512 << 20


class Encoder(_core.CoreEncoder):
    """Encode events into Arrow record batches following a schema.

    Parameters
    ----------
    schema : Schema or pyarrow.Schema
    max_depth : int, default 128
        Deepest nesting of arrays and objects accepted (the event is depth 1).
    max_line_bytes : int, default 16 MiB
        Longest NDJSON line; a longer one is rejected without being buffered.
    hash_column : str, optional
        Add a column (e.g. ``"_hash"``) with a 64-bit hash of every event,
        computed from the encoder's buffers at flush: with ``hash_key``, the
        XXH64 of the key field(s) (what :func:`hash64` gives for that
        column; several fields are folded in order); without, the content
        hash below.
    content_hash_column : str, optional
        Add a column with the hash of the event's typed content: the same for
        any key order, whitespace, escaping or number spelling of the input.
        Top-level fields in ``hash_exclude`` (volatile ones) are left out.
    hash_type : {"uint64", "int64"}
        Type of the hash columns (int64 for engines without uint64; same bits).

    Notes
    -----
    Bad data never raises: each input is either accepted (it will be in the
    next :meth:`flush`) or rejected (it will be in :meth:`flush_rejected`),
    and ``stats()["inputs"] == stats()["accepted"] + stats()["rejected"]``.

    Threading: an Encoder is not shared between threads.  A call made while
    another thread is inside a call on the same encoder raises
    ``RuntimeError``.  :meth:`extend_ndjson` releases the GIL while it scans,
    so one encoder per thread parses in parallel.

    Memory: accepted rows stay in the encoder's buffers until :meth:`flush`;
    the caller bounds memory by flushing (the :class:`Producer` does it by
    rows, bytes and age).

    Examples
    --------
    >>> import pyarrow as pa, eventbatch as eb
    >>> schema = eb.Schema.from_arrow(pa.schema([("id", pa.string()), ("n", pa.int64())]))
    >>> enc = eb.Encoder(schema)
    >>> enc.extend([{"id": "a", "n": 1}, {"id": "b", "n": "oops"}])
    >>> enc.extend_ndjson(b'{"id": "c", "n": 3}\\n{"id": "d"')
    b'{"id": "d"'
    >>> enc.flush().to_pydict()
    {'id': ['a', 'c'], 'n': [1, 3]}
    >>> enc.flush_rejected().column("message")[0].as_py()
    'expected `int64`, got `str` at `$.n`'
    """

    def __init__(self, schema: "Schema | pa.Schema", *, max_depth: int = 128,
                 max_line_bytes: int = 16 << 20, hash_key: "str | Sequence[str] | None" = None,
                 hash_exclude: Sequence[str] = (), hash_column: str | None = None,
                 content_hash_column: str | None = None, hash_type: str = "uint64") -> None:
        if isinstance(schema, pa.Schema):
            schema = Schema.from_arrow(schema)
        if not isinstance(schema, Schema):
            raise SchemaError(f"expected `eventbatch.Schema` or `pyarrow.Schema`, got `{type(schema).__name__}`")
        if not isinstance(max_depth, int) or not 1 <= max_depth <= MAX_DEPTH_LIMIT:
            raise ValueError(f"expected max_depth in 1..{MAX_DEPTH_LIMIT}, got {max_depth!r}")
        if not isinstance(max_line_bytes, int) or not 1 <= max_line_bytes <= MAX_LINE_LIMIT:
            raise ValueError(f"expected max_line_bytes in 1..{MAX_LINE_LIMIT}, got {max_line_bytes!r}")
        self.schema = schema
        arrow_schema = schema.to_arrow()
        keys = [hash_key] if isinstance(hash_key, str) else list(hash_key or [])
        names = schema.names
        for f in list(keys) + list(hash_exclude):
            if f not in names:
                raise SchemaError(f"expected a top-level field of the schema, got `{f}` "
                                  f"(fields: {', '.join(names[:10])})")
        if hash_type not in ("uint64", "int64"):
            raise ValueError(f"expected hash_type uint64 or int64, got {hash_type!r}")
        htype = pa.uint64() if hash_type == "uint64" else pa.int64()
        for col in (hash_column, content_hash_column):
            if col is not None:
                if col in arrow_schema.names:
                    raise SchemaError(f"hash column `{col}` clashes with a field of the schema")
                arrow_schema = arrow_schema.append(pa.field(col, htype, nullable=False))
        self.arrow_schema = arrow_schema
        self.max_depth = max_depth
        self.max_line_bytes = max_line_bytes
        self._setup(schema.compile(), _POLICY[schema.unknown_fields], max_depth,
                    max_line_bytes, self.arrow_schema)
        self._set_hashing([names.index(k) for k in keys],
                          [1 if n in hash_exclude else 0 for n in names],
                          hash_column is not None, content_hash_column is not None,
                          hash_type == "int64")

    def flush(self) -> pa.RecordBatch:
        """Every accepted event since the last flush, as one RecordBatch.

        Raises CapacityError if a string column passed the 1 GiB cut in
        between (then use :meth:`flush_batches`, which never raises for it).
        """
        if self._nsealed():
            raise CapacityError(
                "more than one batch is pending because a column passed 1 GiB; "
                "call flush_batches() to take them all")
        return self.flush_batches()[0]

    def stats(self) -> dict[str, int]:
        """Counters since creation; ``inputs == accepted + rejected``."""
        return self._counters()

    def __repr__(self) -> str:
        s = self.stats()
        return (f"<eventbatch.Encoder {len(self.schema.fields)} fields, "
                f"{s['accepted']} accepted, {s['rejected']} rejected>")
