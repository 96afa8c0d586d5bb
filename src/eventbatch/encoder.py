"""Encoder: events (dicts or NDJSON bytes) -> Arrow record batches."""

from __future__ import annotations

from typing import Any, Iterable

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
                 max_line_bytes: int = 16 << 20) -> None:
        if isinstance(schema, pa.Schema):
            schema = Schema.from_arrow(schema)
        if not isinstance(schema, Schema):
            raise SchemaError(f"expected `eventbatch.Schema` or `pyarrow.Schema`, got `{type(schema).__name__}`")
        if not isinstance(max_depth, int) or not 1 <= max_depth <= MAX_DEPTH_LIMIT:
            raise ValueError(f"expected max_depth in 1..{MAX_DEPTH_LIMIT}, got {max_depth!r}")
        if not isinstance(max_line_bytes, int) or not 1 <= max_line_bytes <= MAX_LINE_LIMIT:
            raise ValueError(f"expected max_line_bytes in 1..{MAX_LINE_LIMIT}, got {max_line_bytes!r}")
        self.schema = schema
        self.arrow_schema = schema.to_arrow()
        self.max_depth = max_depth
        self.max_line_bytes = max_line_bytes
        self._setup(schema.compile(), _POLICY[schema.unknown_fields], max_depth,
                    max_line_bytes, self.arrow_schema)

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
