"""One Parquet file from row groups encoded in parallel.

pyarrow writes a Parquet file on one thread: its writer exposes no
``use_threads``.  To encode the row groups of one file on several threads,
each row group is written by pyarrow as a complete one-row-group Parquet file
in memory (:func:`encode_part`, run on any thread; pyarrow releases the GIL),
and :class:`PartFile` appends the parts' page data to the real file, in
order, and at the end writes one footer that lists every row group.

A part is ``PAR1 | column chunks | footer | footer length | PAR1``.  Its page
data is copied as is; only the footer changes.  The offsets in a part's
footer count from the start of the part, so they are moved by the position
where the part's data lands in the file; everything else in the row group's
metadata (sizes, statistics, encodings, ...) is position independent and is
copied byte for byte (bloom filters included).  A page index would hold
page offsets inside its own bytes, so parts are written without one (it is
refused).  The footer is Thrift's compact protocol
(parquet.thrift); the walk below reads only what it must, to find the
offset fields of ``RowGroup``, ``ColumnChunk`` and ``ColumnMetaData``, and
keeps the other bytes verbatim.  Encrypted footers are not supported (convert
never asks for encryption).
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["Part", "PartFile", "encode_part"]

MAGIC = b"PAR1"

# compact protocol type ids
_T_STOP, _T_TRUE, _T_FALSE, _T_I8, _T_I16, _T_I32, _T_I64, _T_DOUBLE, _T_BINARY = range(9)
_T_LIST, _T_SET, _T_MAP, _T_STRUCT, _T_UUID = 9, 10, 11, 12, 13

# offset fields (i64, absolute file positions) by struct, from parquet.thrift
_ROWGROUP_FILE_OFFSET, _ROWGROUP_ORDINAL, _ROWGROUP_COLUMNS = 5, 7, 1
_CHUNK_OFFSETS = {2}                # file_offset
_CHUNK_PAGE_INDEX = {4, 6}          # offset_index_offset, column_index_offset
_CHUNK_META = 3
_CHUNK_CRYPTO = {8, 9}              # crypto_metadata, encrypted_column_metadata
_META_OFFSETS = {9, 10, 11, 14}     # data_page, index_page, dictionary_page, bloom_filter
_FILE_NUM_ROWS, _FILE_ROW_GROUPS = 3, 4


class ParquetLayoutError(ValueError):
    """A part's footer is not what this module can relocate."""


# ---------------------------------------------------------------------------
# compact protocol: reading


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = 0
    v = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def _unzig(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def _zig_varint(v: int) -> bytes:
    """zigzag + varint of a signed integer (i16, i32 and i64 alike)."""
    return _uvarint((v << 1) ^ (v >> 63))


def _field(b: bytes, i: int, last: int) -> tuple[int, int, int]:
    """(field id, type, position after the header); type _T_STOP ends a struct."""
    c = b[i]
    i += 1
    t = c & 0x0F
    if t == _T_STOP:
        return 0, _T_STOP, i
    delta = c >> 4
    if delta:
        return last + delta, t, i
    v, i = _varint(b, i)
    return _unzig(v), t, i


def _skip(b: bytes, i: int, t: int) -> int:
    """Position after a value of type t that starts at i (the hot loop of
    reading a footer: varints are skipped byte by byte, without decoding)."""
    if t in (_T_I16, _T_I32, _T_I64):
        while b[i] & 0x80:
            i += 1
        return i + 1
    if t == _T_STRUCT:
        return _skip_struct(b, i)
    if t == _T_BINARY:
        n, i = _varint(b, i)
        return i + n
    if t in (_T_TRUE, _T_FALSE):       # a struct field's bool lives in its header
        return i
    if t == _T_I8:
        return i + 1
    if t == _T_DOUBLE:
        return i + 8
    if t == _T_UUID:
        return i + 16
    if t in (_T_LIST, _T_SET):
        n, et, i = _list_header(b, i)
        if et in (_T_TRUE, _T_FALSE, _T_I8):   # one byte each (bools in a list too)
            return i + n
        if et in (_T_I16, _T_I32, _T_I64):
            for _ in range(n):
                while b[i] & 0x80:
                    i += 1
                i += 1
            return i
        if et == _T_STRUCT:
            for _ in range(n):
                i = _skip_struct(b, i)
            return i
        if et == _T_BINARY:
            for _ in range(n):
                k, i = _varint(b, i)
                i += k
            return i
        for _ in range(n):
            i = _skip(b, i, et)
        return i
    if t == _T_MAP:
        n, i = _varint(b, i)
        if n == 0:
            return i
        kv = b[i]
        i += 1
        kt, vt = kv >> 4, kv & 0x0F
        for _ in range(n):
            i = _skip(b, i, kt) if kt not in (_T_TRUE, _T_FALSE) else i + 1
            i = _skip(b, i, vt) if vt not in (_T_TRUE, _T_FALSE) else i + 1
        return i
    raise ParquetLayoutError(f"unknown thrift compact type {t}")


def _skip_struct(b: bytes, i: int) -> int:
    while True:
        c = b[i]
        i += 1
        if c == 0:
            return i
        t = c & 0x0F
        if not c >> 4:                  # long form: the field id follows
            while b[i] & 0x80:
                i += 1
            i += 1
        if 4 <= t <= 6:                 # i16, i32, i64
            while b[i] & 0x80:
                i += 1
            i += 1
        elif t == _T_BINARY:
            n, i = _varint(b, i)
            i += n
        elif t > _T_FALSE:
            i = _skip(b, i, t)


def _list_header(b: bytes, i: int) -> tuple[int, int, int]:
    c = b[i]
    i += 1
    n = c >> 4
    if n == 15:
        n, i = _varint(b, i)
    return n, c & 0x0F, i


# ---------------------------------------------------------------------------
# a row group's metadata as a template: verbatim bytes and slots


class _Template:
    """The bytes of one RowGroup struct, with its offsets cut out as slots.

    ``pieces`` alternates verbatim bytes and slots; a slot is an int (an
    offset counted from the start of the part) or None (the ordinal)."""

    __slots__ = ("pieces", "_buf", "_start")

    def __init__(self, b: bytes, start: int) -> None:
        self.pieces: list[Any] = []
        self._buf = b
        self._start = start

    def cut(self, upto: int, slot: Any, resume: int) -> None:
        self.pieces.append(self._buf[self._start:upto])
        self.pieces.append(slot)
        self._start = resume

    def finish(self, end: int) -> None:
        self.pieces.append(self._buf[self._start:end])
        self._buf = b""

    def render(self, shift: int, ordinal: int) -> bytes:
        out = []
        for p in self.pieces:
            if type(p) is bytes:
                out.append(p)
            elif p is None:
                out.append(_zig_varint(ordinal))
            else:
                out.append(_zig_varint(p + shift))
        return b"".join(out)


def _offset_field(b: bytes, i: int, t: int, tpl: _Template) -> int:
    """An i64 offset value at i: cut it out of the template, return its end."""
    if t != _T_I64:
        raise ParquetLayoutError(f"expected an i64 offset, got thrift type {t}")
    v, end = _varint(b, i)
    v = _unzig(v)
    if v > 0:
        tpl.cut(i, v, end)
    return end


def _column_meta(b: bytes, i: int, tpl: _Template) -> int:
    last = 0
    while True:
        c = b[i]
        i += 1
        if c == 0:
            return i
        t = c & 0x0F
        d = c >> 4
        if d:
            fid = last + d
        else:
            v, i = _varint(b, i)
            fid = _unzig(v)
        last = fid
        if fid in _META_OFFSETS:
            i = _offset_field(b, i, t, tpl)
        elif 4 <= t <= 6:
            while b[i] & 0x80:
                i += 1
            i += 1
        elif t == _T_STRUCT:
            i = _skip_struct(b, i)
        else:
            i = _skip(b, i, t)


def _column_chunk(b: bytes, i: int, tpl: _Template) -> int:
    last = 0
    while True:
        fid, t, i = _field(b, i, last)
        if t == _T_STOP:
            return i
        if fid in _CHUNK_OFFSETS:
            i = _offset_field(b, i, t, tpl)
        elif fid == _CHUNK_META and t == _T_STRUCT:
            i = _column_meta(b, i, tpl)
        elif fid in _CHUNK_CRYPTO:
            raise ParquetLayoutError("encrypted column chunks cannot be relocated")
        elif fid in _CHUNK_PAGE_INDEX:
            # the offset index holds the pages' file offsets: moving it would mean
            # rewriting it, so parts are written without a page index
            raise ParquetLayoutError("a part with a page index cannot be relocated "
                                     "(write it with write_page_index=False)")
        else:
            i = _skip(b, i, t)
        last = fid


def _row_group(b: bytes, i: int) -> tuple[_Template, int, int]:
    """(template, rows, end) of the RowGroup struct at i."""
    tpl = _Template(b, i)
    last = 0
    rows = -1
    while True:
        fid, t, j = _field(b, i, last)
        if t == _T_STOP:
            tpl.finish(j)
            return tpl, rows, j
        if fid == _ROWGROUP_COLUMNS and t == _T_LIST:
            n, et, j = _list_header(b, j)
            if et != _T_STRUCT:
                raise ParquetLayoutError("RowGroup.columns is not a list of structs")
            for _ in range(n):
                j = _column_chunk(b, j, tpl)
        elif fid == _ROWGROUP_FILE_OFFSET:
            j = _offset_field(b, j, t, tpl)
        elif fid == _ROWGROUP_ORDINAL and t == _T_I16:
            end = _skip(b, j, t)
            tpl.cut(j, None, end)
            j = end
        elif fid == 3 and t == _T_I64:       # num_rows
            v, j = _varint(b, j)
            rows = _unzig(v)
        else:
            j = _skip(b, j, t)
        i = j
        last = fid


# ---------------------------------------------------------------------------
# parts


class Part:
    """One row group encoded as a one-row-group Parquet file (in memory).

    ``data`` is the page data (the file without its magic and footer),
    ``head`` the footer's fields other than num_rows and row_groups, as
    ``(field id, type, value bytes)``."""

    __slots__ = ("data", "rows", "template", "head")

    def __init__(self, data: "pa.Buffer | bytes", rows: int, template: _Template,
                 head: list[tuple[int, int, bytes]]) -> None:
        self.data = data
        self.rows = rows
        self.template = template
        self.head = head

    @property
    def nbytes(self) -> int:
        return len(self.data)

    @classmethod
    def from_file_bytes(cls, buf: "pa.Buffer | bytes") -> "Part":
        mv = memoryview(buf)
        n = len(mv)
        if n < 12 or mv[:4] != MAGIC or mv[n - 4:] != MAGIC:
            raise ParquetLayoutError("not a Parquet file")
        flen = int.from_bytes(mv[n - 8:n - 4], "little")
        fstart = n - 8 - flen
        if fstart < 4:
            raise ParquetLayoutError("bad footer length")
        footer = bytes(mv[fstart:n - 8])
        head: list[tuple[int, int, bytes]] = []
        tpl = None
        rows = 0
        i = 0
        last = 0
        while True:
            fid, t, j = _field(footer, i, last)
            if t == _T_STOP:
                break
            if fid == _FILE_ROW_GROUPS and t == _T_LIST:
                k, et, j = _list_header(footer, j)
                if k != 1 or et != _T_STRUCT:
                    raise ParquetLayoutError(f"expected one row group in a part, got {k}")
                tpl, rows, j = _row_group(footer, j)
            else:
                end = _skip(footer, j, t)
                if fid != _FILE_NUM_ROWS:
                    head.append((fid, t, footer[j:end]))
                j = end
            i = j
            last = fid
        if tpl is None:
            raise ParquetLayoutError("a part without a row group")
        data = buf.slice(4, fstart - 4) if isinstance(buf, pa.Buffer) else bytes(mv[4:fstart])
        return cls(data, rows, tpl, head)


def encode_part(table: pa.Table, **write_options: Any) -> Part:
    """Encode a table as one row group (any thread: pyarrow releases the GIL)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=max(table.num_rows, 1), **write_options)
    return Part.from_file_bytes(sink.getvalue())


def _file_footer(head: list[tuple[int, int, bytes]], num_rows: int, row_groups: list[bytes]) -> bytes:
    fields = list(head)
    fields.append((_FILE_NUM_ROWS, _T_I64, _zig_varint(num_rows)))
    n = len(row_groups)
    lh = bytes([(n << 4) | _T_STRUCT]) if n < 15 else bytes([0xF0 | _T_STRUCT]) + _uvarint(n)
    fields.append((_FILE_ROW_GROUPS, _T_LIST, lh + b"".join(row_groups)))
    fields.sort(key=lambda f: f[0])
    out = bytearray()
    last = 0
    for fid, t, value in fields:
        delta = fid - last
        if 0 < delta <= 15:
            out.append((delta << 4) | t)
        else:
            out.append(t)
            out += _zig_varint(fid)
        out += value
        last = fid
    out.append(_T_STOP)
    return bytes(out)


def _uvarint(u: int) -> bytes:
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


class PartFile:
    """A Parquet file written from parts, in the order they are appended.

    The OS file can be closed between appends (:meth:`suspend`) to bound
    open files; the footer is written by :meth:`close`.  Until then the file
    is not a valid Parquet file (it has no footer)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.rows = 0
        self.row_groups = 0
        self._f = open(path, "wb")
        self._f.write(MAGIC)
        self.size = len(MAGIC)
        self._head: list[tuple[int, int, bytes]] | None = None
        self._groups: list[bytes] = []

    @property
    def is_open(self) -> bool:
        return self._f is not None

    def append(self, part: Part) -> None:
        if self._f is None:
            self._f = open(self.path, "r+b")
            self._f.seek(self.size)
        if self._head is None:
            self._head = part.head
        shift = self.size - len(MAGIC)
        self._f.write(part.data)
        self._groups.append(part.template.render(shift, self.row_groups))
        self.size += part.nbytes
        self.rows += part.rows
        self.row_groups += 1

    def suspend(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def close(self) -> None:
        if self._head is None:
            raise ParquetLayoutError(f"no row group was appended to {self.path}")
        if self._f is None:
            self._f = open(self.path, "r+b")
            self._f.seek(self.size)
        footer = _file_footer(self._head, self.rows, self._groups)
        self._f.write(footer)
        self._f.write(len(footer).to_bytes(4, "little"))
        self._f.write(MAGIC)
        self.size += len(footer) + 8
        self._f.close()
        self._f = None
        self._groups = []

    def abort(self) -> None:
        if self._f is not None:
            try:
                self._f.close()
            finally:
                self._f = None
        try:
            os.unlink(self.path)
        except OSError:
            pass
