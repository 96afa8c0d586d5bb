"""Order-independent checksums of benchmark outputs.

Two libraries agree on an output when they hold the same *multiset of rows*
after a cast to the declared schema: the row order, the chunking, the
string layout (``string`` / ``large_string`` / ``string_view``), the
nullability flags and the bytes under nulls do not matter; every value does.

How a table is checksummed
--------------------------
1. Select the declared columns by name and cast each to its declared type
   (a column that is missing or cannot be cast makes the output not
   comparable: :class:`NotComparable`).
2. Hash every column to one ``uint64`` per row with XXH64
   (:func:`eventbatch.hash64`): strings and binaries as their bytes, integers,
   timestamps and dates as their little-endian bytes, floats as float64 with
   ``-0.0`` read as ``0.0`` and every NaN as one NaN, booleans as 1/2; a null
   is a fixed marker.  A struct column hashes its validity and each child
   (with the parent's nulls applied) the same way, row by row; any other type
   (lists, maps, ...) hashes the JSON text of each row's value.
3. Combine the column hashes of a row into one row hash (XXH64 of the row's
   column hashes as bytes: a value moved to another row changes the result).
4. The checksum is the sum of the row hashes modulo 2**64 (a multiset hash:
   independent of order, sensitive to a duplicated or a missing row).

A vector of 64-bit hashes (the hash scenario) is checksummed in order: its
position matters.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NotComparable", "table_checksum", "u64_checksum", "canonical_table"]

# Distinct from any hash64 output in practice; marks a null value (hash64 gives 0).
_NULL = np.uint64(0x9E3779B97F4A7C15)


class NotComparable(Exception):
    """The output cannot be put in the canonical form (missing column, failed cast)."""


def canonical_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly the columns of ``schema``, each cast to its declared type."""
    arrays, fields = [], []
    for f in schema:
        if f.name not in table.column_names:
            raise NotComparable(f"column `{f.name}` is missing from the output")
        col = table.column(f.name)
        try:
            col = col.cast(f.type) if col.type != f.type else col
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            raise NotComparable(f"column `{f.name}` ({col.type}) cannot be cast to {f.type}: "
                                f"{str(e).splitlines()[0][:120]}") from e
        arrays.append(col)
        fields.append(pa.field(f.name, f.type))   # nullability is not compared
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _combine(columns: list[np.ndarray], n: int) -> np.ndarray:
    """One uint64 per row: XXH64 of the row's column hashes (as 8 * k bytes)."""
    from .. import hash64
    if not columns:
        return np.zeros(n, dtype=np.uint64)
    if len(columns) == 1:
        return columns[0]
    mat = np.ascontiguousarray(np.stack(columns, axis=1))          # (n, k) uint64
    width = 8 * mat.shape[1]
    arr = pa.Array.from_buffers(pa.binary(width), n, [None, pa.py_buffer(mat.tobytes())])
    return hash64(arr)


def _nulls(arr: pa.Array) -> np.ndarray | None:
    if arr.null_count == 0:
        return None
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _column_hashes(arr: pa.Array) -> np.ndarray:
    """One uint64 per row of a (non-chunked) Arrow array."""
    from .. import hash64
    n = len(arr)
    t = arr.type
    if pa.types.is_null(t):
        return np.full(n, _NULL, dtype=np.uint64)
    if pa.types.is_struct(t):
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.uint64) + np.uint64(1)
        children = [_column_hashes(child) for child in arr.flatten()]   # parent nulls applied
        return _combine([hash64(valid)] + children, n)
    if pa.types.is_boolean(t):
        vals = np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.uint64) + np.uint64(1)
        out = hash64(vals)
    elif pa.types.is_floating(t):
        vals = arr.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False).astype(np.float64)
        vals = np.where(vals == 0.0, 0.0, vals)                 # -0.0 == 0.0
        vals = np.where(np.isnan(vals), np.nan, vals)           # one NaN
        out = hash64(np.ascontiguousarray(vals).view(np.uint64))
    elif (pa.types.is_integer(t) or pa.types.is_timestamp(t) or pa.types.is_date(t)
          or pa.types.is_time(t) or pa.types.is_duration(t)):
        out = hash64(arr)
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
            or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        out = hash64(arr)
    elif t == pa.string_view():
        out = hash64(arr.cast(pa.large_string()))
    elif t == pa.binary_view():
        out = hash64(arr.cast(pa.large_binary()))
    else:   # lists, maps, decimals, ...: the JSON text of each value
        texts = [None if v is None else json.dumps(v, sort_keys=True, default=str)
                 for v in arr.to_pylist()]
        out = hash64(texts)
    out = np.array(out, dtype=np.uint64, copy=True)
    null = _nulls(arr)
    if null is not None:
        out[null] = _NULL
    return out


def row_hashes(table: pa.Table) -> np.ndarray:
    """One uint64 per row of ``table`` (already canonical)."""
    cols = [_column_hashes(table.column(i).combine_chunks()) for i in range(table.num_columns)]
    return _combine(cols, table.num_rows)


def table_checksum(table: pa.Table, schema: pa.Schema) -> dict[str, Any]:
    """``{"rows": n, "checksum": hex}`` of ``table`` in the canonical form of ``schema``.

    Raises :class:`NotComparable` when the output cannot be cast to ``schema``.

    >>> import pyarrow as pa
    >>> s = pa.schema([("id", pa.string()), ("n", pa.int64())])
    >>> a = pa.table({"id": ["x", "y"], "n": [1, 2]})
    >>> b = pa.table({"n": [2, 1], "id": pa.array(["y", "x"], pa.large_string())})
    >>> table_checksum(a, s) == table_checksum(b, s)
    True
    >>> table_checksum(a, s) == table_checksum(pa.table({"id": ["x", "y"], "n": [2, 1]}), s)
    False
    """
    canon = canonical_table(table, schema)
    rows = row_hashes(canon)
    total = int(rows.sum(dtype=np.uint64)) if len(rows) else 0     # wraps modulo 2**64
    return {"rows": canon.num_rows, "checksum": f"{total:016x}"}


def u64_checksum(values: Any) -> dict[str, Any]:
    """``{"rows": n, "checksum": hex}`` of a sequence of 64-bit hashes, in order."""
    from .. import hash64
    arr = np.ascontiguousarray(np.asarray(values, dtype=np.uint64))
    return {"rows": int(len(arr)), "checksum": f"{hash64(arr.tobytes()):016x}"}
