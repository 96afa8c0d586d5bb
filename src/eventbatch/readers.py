"""Whole NDJSON files to Arrow, in parallel, in order.

The reader thread cuts the (decompressed) stream into blocks that end at a
newline; worker threads, one :class:`Encoder` each, encode blocks with the
GIL released; results are put back in input order.  So the rows, and the
rejected rows with their line numbers and byte offsets, are the same for any
thread count and any block size.

Memory: at most ``2 * threads`` blocks are in flight, each at most
``block_size`` bytes plus one unfinished line.  A line longer than
``max_line_bytes`` is never held whole: it is rejected as it streams past.
"""

from __future__ import annotations

import collections
import gzip
import io
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, BinaryIO, Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from .encoder import REJECTED_SCHEMA, Encoder
from .schema import Schema

__all__ = ["open_input", "read_ndjson", "iter_ndjson", "NdjsonResult"]

DEFAULT_BLOCK_SIZE = 4 << 20

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_LZ4_MAGIC = b"\x04\x22\x4d\x18"


def open_input(source: "str | os.PathLike | BinaryIO") -> BinaryIO:
    """Open a path (``-`` is stdin) or wrap a binary file object, decompressing
    gzip, zstd and lz4 frames as a stream (recognised by their magic bytes)."""
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            raw: BinaryIO = sys.stdin.buffer
        else:
            raw = open(source, "rb")
    else:
        raw = source
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(_RawAdapter(raw))
    head = buffered.peek(4)[:4]
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if head == _ZSTD_MAGIC:
        try:
            import zstandard
        except ImportError as e:
            raise ImportError("reading .zst input needs `pip install zstandard` "
                              "(or `pip install eventbatch[zstd]`)") from e
        # python-zstandard's reader stops quietly where a truncated frame
        # ends: the frame walk under it turns that into an EOFError
        checked = io.BufferedReader(_ZstdFrameCheck(buffered), buffer_size=1 << 16)
        return zstandard.ZstdDecompressor().stream_reader(checked, read_across_frames=True)
    if head == _LZ4_MAGIC:
        import lz4.frame
        return lz4_reader(lz4.frame.LZ4FrameFile(buffered, mode="rb"))
    return buffered


class _Lz4Errors(io.RawIOBase):
    """lz4.frame reports a corrupt stream as a bare RuntimeError: this turns
    it into an OSError, one of :func:`read_errors`."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._f.read(len(b))
        except RuntimeError as e:
            raise OSError(f"corrupt lz4 stream: {e}") from e
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        try:
            self._f.close()
        finally:
            super().close()


def lz4_reader(f: Any) -> BinaryIO:
    """An lz4.frame.LZ4FrameFile whose decompression errors are OSErrors."""
    return io.BufferedReader(_Lz4Errors(f), buffer_size=1 << 16)  # type: ignore[return-value]


class _RawAdapter(io.RawIOBase):
    """Lets io.BufferedReader wrap any object with read(); ``on_read`` (if
    given) is told how many bytes each read returned (progress counters)."""

    def __init__(self, f: Any, on_read: "Any | None" = None) -> None:
        self._f = f
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._f.read(len(b))
        n = len(data)
        b[:n] = data
        if self._on_read is not None:
            self._on_read(n)
        return n

    def close(self) -> None:
        try:
            if self._f is not sys.stdin.buffer:
                self._f.close()
        finally:
            super().close()


class _ZstdFrameCheck(_RawAdapter):
    """Passes a zstd stream through unchanged while walking its frame
    structure (RFC 8878: frame headers, block headers, checksums, skippable
    frames), without decompressing; at the end of the input it raises
    EOFError unless the input ended between two frames.  Constant memory:
    block contents are skipped by count."""

    def __init__(self, f: Any) -> None:
        super().__init__(f)
        self._need = 4              # bytes wanted for the current header field
        self._acc = bytearray()     # those bytes so far
        self._skip = 0              # content bytes to pass over
        self._state = "magic"       # magic | fhd | header | block | skipsize
        self._checksum = 0          # bytes of content checksum after the last block
        self._last = False
        self._pos = 0               # compressed bytes seen
        self._frame_at = 0          # where the current frame began

    def readinto(self, b: Any) -> int:
        n = super().readinto(b)
        if n:
            self._walk(memoryview(b)[:n])
        elif self._state not in ("magic", "foreign") or self._acc or self._skip:
            if self._state == "magic" and self._acc:    # 1..3 bytes of a next frame's magic
                self._frame_at = self._pos - len(self._acc)
            raise EOFError(f"truncated zstd stream: the input ends at byte {self._pos}, inside the "
                           f"frame that begins at byte {self._frame_at}")
        return n

    def close(self) -> None:
        io.RawIOBase.close(self)    # the stream under it is not ours to close

    def _walk(self, data: memoryview) -> None:
        i, n = 0, len(data)
        if self._state == "foreign":
            self._pos += n
            return
        while i < n:
            if self._skip:
                k = min(self._skip, n - i)
                self._skip -= k
                i += k
                if not self._skip and self._state == "block" and self._last:
                    self._state, self._need, self._last = "magic", 4, False
                    if self._checksum:
                        self._skip, self._checksum = self._checksum, 0
                continue
            k = min(self._need - len(self._acc), n - i)
            self._acc += data[i:i + k]
            i += k
            if len(self._acc) == self._need:
                field, self._acc = bytes(self._acc), bytearray()
                self._step(field, self._pos + i)
                if self._state == "foreign":     # the rest is passed through unchecked
                    break
        self._pos += n

    def _step(self, field: bytes, at: int) -> None:
        if self._state == "magic":
            self._frame_at = at - 4
            magic = int.from_bytes(field, "little")
            if magic == 0xFD2FB528:
                self._state, self._need = "fhd", 1
            elif magic & 0xFFFFFFF0 == 0x184D2A50:      # skippable frame
                self._state, self._need = "skipsize", 4
            else:                                       # not zstd: the decompressor says so
                self._state = "foreign"
        elif self._state == "fhd":
            fhd = field[0]
            single = (fhd >> 5) & 1
            fcs = (0, 2, 4, 8)[fhd >> 6] or (1 if single else 0)
            rest = (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + fcs
            self._checksum = 4 if (fhd >> 2) & 1 else 0
            self._state, self._need = "block", 3
            self._skip = rest
        elif self._state == "block":
            h = int.from_bytes(field, "little")
            self._last = bool(h & 1)
            size = h >> 3
            self._skip = 1 if (h >> 1) & 3 == 1 else size     # an RLE block holds one byte
            if not self._skip and self._last:
                self._state, self._need, self._last = "magic", 4, False
                if self._checksum:
                    self._skip, self._checksum = self._checksum, 0
        elif self._state == "skipsize":
            self._skip = int.from_bytes(field, "little")
            self._state, self._need = "magic", 4

class NdjsonResult:
    """One block's output: accepted rows, rejected rows, and counters
    (``nbytes``: the block's size; ``routed``: what a post step made of it)."""

    __slots__ = ("batches", "rejected", "lines", "stats", "nbytes", "routed")

    def __init__(self, batches: list, rejected: pa.RecordBatch, lines: int, stats: dict,
                 nbytes: int = 0) -> None:
        self.batches = batches
        self.rejected = rejected
        self.lines = lines
        self.stats = stats
        self.nbytes = nbytes
        self.routed: Any = None


def read_errors() -> tuple:
    """The exceptions a damaged input raises while it is read: OSError
    (gzip's BadGzipFile among them), EOFError (a truncated gzip or lz4
    stream), zlib.error, and zstandard's ZstdError when it is installed."""
    import zlib
    errors: tuple = (OSError, EOFError, zlib.error)
    try:
        import zstandard
        errors += (zstandard.ZstdError,)
    except ImportError:
        pass
    return errors


class _Buffers:
    """Block buffers for reuse.  A fresh multi-MiB buffer per block costs a
    page fault per 4 KiB on first touch (and an munmap when freed): reading
    350 MB that way took 0.4-1.6 s against 0.05 s with reused buffers."""

    def __init__(self, size: int, keep: int) -> None:
        self.size = size
        self.keep = keep
        self.free: list[bytearray] = []

    def get(self, need: int) -> bytearray:
        while self.free:
            buf = self.free.pop()
            if len(buf) >= need:
                return buf
        return bytearray(max(need, self.size))

    def put(self, buf: "bytearray | None") -> None:
        if buf is not None and len(self.free) < self.keep:
            self.free.append(buf)


def _fill(stream: Any, view: memoryview) -> int:
    """Read into view until it is full or the input ends; bytes read."""
    readinto = getattr(stream, "readinto", None)
    got = 0
    want = len(view)
    while got < want:
        if readinto is not None:
            n = readinto(view[got:])
        else:
            data = stream.read(want - got)
            n = len(data)
            view[got:got + n] = data
        if not n:
            break
        got += n
    return got


def _blocks(stream: IO[bytes], block_size: int, max_line: int,
            buffers: "_Buffers | None" = None) -> Iterator[tuple]:
    """Yield ("block", data, offset, buffer) with data (a view of buffer)
    ending at a newline (or at the end of input), and ("long", head, offset,
    total, blank, newline) for a line longer than max_line that never gets
    buffered whole.  A block's buffer may be handed back with
    ``buffers.put(buffer)`` once the block is no longer used."""
    if buffers is None:
        buffers = _Buffers(block_size, 0)
    carry = b""
    offset = 0          # stream offset of carry[0]
    while True:
        c = len(carry)
        buf = buffers.get(c + block_size)
        view = memoryview(buf)
        view[:c] = carry
        n = _fill(stream, view[c:c + block_size])
        total = c + n
        if not n:
            view.release()
            buffers.put(buf)
            if carry:
                yield ("block", carry, offset, None)
            return
        nl = buf.rfind(b"\n", 0, total)
        if nl >= 0:
            carry = bytes(view[nl + 1:total])
            yield ("block", view[: nl + 1], offset, buf)
            offset += nl + 1
        else:
            carry = bytes(view[:total])
            view.release()
            buffers.put(buf)
        if len(carry) > max_line + 8:
            # an oversize line: keep its head, drop the rest as it streams by
            head = carry[:4096]
            total = len(carry)
            blank = not carry.strip(b" \t\r")
            newline = False
            rest = b""
            while True:
                chunk = stream.read(block_size)
                if not chunk:
                    break
                i = chunk.find(b"\n")
                if i < 0:
                    total += len(chunk)
                    blank = blank and not chunk.strip(b" \t\r")
                    continue
                total += i
                blank = blank and not chunk[:i].strip(b" \t\r")
                newline = True
                rest = chunk[i + 1:]
                break
            yield ("long", head, offset, total, blank, newline)
            offset += total + (1 if newline else 0)
            carry = rest


def _encode_block(local: threading.local, schema: Schema, kw: dict, data: Any, source: str,
                  post: "Callable[[NdjsonResult, Any], NdjsonResult] | None" = None) -> NdjsonResult:
    enc = getattr(local, "enc", None)
    if enc is None:
        enc = local.enc = Encoder(schema, **kw)
    before = enc.stats()
    enc.extend_ndjson(data, final=True, source=source)
    after = enc.stats()
    batches = enc.flush_batches()
    rej = enc.flush_rejected()
    if rej.num_rows:
        # make line numbers and offsets relative to this block
        rej = rej.set_column(2, "line", pc.subtract(rej.column("line"), before["lines"]))
        rej = rej.set_column(3, "offset", pc.subtract(rej.column("offset"), before["bytes"]))
    stats = {k: after[k] - before[k] for k in ("inputs", "accepted", "rejected", "blank_lines", "extra_fields")}
    res = NdjsonResult(batches, rej, after["lines"] - before["lines"], stats, len(data))
    return post(res, data) if post is not None else res


def _long_line(kw: dict, item: tuple, source: str, post: Any = None) -> NdjsonResult:
    _, head, offset, total, blank, newline = item
    stats = {"inputs": 0, "accepted": 0, "rejected": 0, "blank_lines": 0, "extra_fields": 0}
    if blank:
        stats["blank_lines"] = 1
        rej = pa.RecordBatch.from_pylist([], schema=REJECTED_SCHEMA)
    else:
        stats["inputs"] = stats["rejected"] = 1
        msg = f"line of {total} bytes is longer than max_line_bytes={kw['max_line_bytes']}"
        rej = pa.RecordBatch.from_pylist(
            [{"raw": head, "source": source, "line": 1, "offset": 0, "reason": "line_too_long",
              "path": "$", "message": msg}], schema=REJECTED_SCHEMA)
    res = NdjsonResult([], rej, 1 if newline else 0, stats, total + (1 if newline else 0))
    return post(res, b"") if post is not None else res


def iter_ndjson(source: "str | os.PathLike | BinaryIO", schema: "Schema | pa.Schema", *,
                threads: int = 1, block_size: int = DEFAULT_BLOCK_SIZE, max_depth: int = 128,
                max_line_bytes: int = 16 << 20, source_name: str | None = None) -> Iterator[NdjsonResult]:
    """Encode an NDJSON input block by block; yields :class:`NdjsonResult` in
    input order, with rejected rows' ``line`` and ``offset`` made absolute."""
    yield from _iter_results(source, schema, threads=threads, block_size=block_size, max_depth=max_depth,
                             max_line_bytes=max_line_bytes, source_name=source_name)


def _iter_results(source: "str | os.PathLike | BinaryIO", schema: "Schema | pa.Schema", *,
                  threads: int = 1, block_size: int = DEFAULT_BLOCK_SIZE, max_depth: int = 128,
                  max_line_bytes: int = 16 << 20, source_name: str | None = None,
                  post: "Callable[[NdjsonResult, Any], NdjsonResult] | None" = None,
                  pool: Any = None) -> Iterator[NdjsonResult]:
    """iter_ndjson, plus (for convert) ``post(result, block)``, run on the
    worker thread after each block is encoded (block-relative line numbers
    and offsets; it must copy what it keeps of the block), and ``pool``, an
    executor to share (then ``threads`` only sets how many blocks are in
    flight)."""
    if isinstance(schema, pa.Schema):
        schema = Schema.from_arrow(schema)
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"expected threads >= 1, got {threads!r}")
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"expected block_size >= 1, got {block_size!r}")
    Encoder(schema, max_depth=max_depth, max_line_bytes=max_line_bytes)  # validate options early
    kw = {"max_depth": max_depth, "max_line_bytes": max_line_bytes}
    name = source_name or (str(source) if isinstance(source, (str, os.PathLike)) else "<stream>")
    yield from _results(open_input(source), schema, kw, threads, block_size, name, post, pool)


def _results(stream: Any, schema: Schema, kw: dict, threads: int, block_size: int, name: str,
             post: Any, pool: Any) -> Iterator[NdjsonResult]:
    local = threading.local()
    line_base = 0
    in_flight = 2 * threads
    buffers = _Buffers(block_size, in_flight + 2)

    def fix(res: NdjsonResult, offset: int) -> NdjsonResult:
        nonlocal line_base
        if res.rejected.num_rows:
            r = res.rejected
            r = r.set_column(2, "line", pc.add(r.column("line"), line_base))
            r = r.set_column(3, "offset", pc.add(r.column("offset"), offset))
            res.rejected = r
        line_base += res.lines
        return res

    try:
        if threads == 1 and pool is None:
            for item in _blocks(stream, block_size, kw["max_line_bytes"], buffers):
                if item[0] == "block":
                    res = _encode_block(local, schema, kw, item[1], name, post)
                    buffers.put(item[3])
                    yield fix(res, item[2])
                else:
                    yield fix(_long_line(kw, item, name, post), item[2])
            return
        pending: collections.deque[tuple[Future, int, Any]] = collections.deque()
        own = pool is None
        if own:
            pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="eventbatch-read")
        try:
            for item in _blocks(stream, block_size, kw["max_line_bytes"], buffers):
                if item[0] == "block":
                    fut = pool.submit(_encode_block, local, schema, kw, item[1], name, post)
                    buf = item[3]
                else:
                    fut = Future()
                    fut.set_result(_long_line(kw, item, name, post))
                    buf = None
                pending.append((fut, item[2], buf))
                while len(pending) >= in_flight:
                    f, off, buf = pending.popleft()
                    res = f.result()
                    buffers.put(buf)      # the block is encoded: its buffer can be reused
                    yield fix(res, off)
            while pending:
                f, off, buf = pending.popleft()
                res = f.result()
                buffers.put(buf)
                yield fix(res, off)
        finally:
            for f, _, _ in pending:      # an early exit: drop the blocks not started
                f.cancel()
            if own:
                pool.shutdown(wait=True)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def read_ndjson(source: "str | os.PathLike | BinaryIO", schema: "Schema | pa.Schema", *,
                threads: int = 1, block_size: int = DEFAULT_BLOCK_SIZE, max_depth: int = 128,
                max_line_bytes: int = 16 << 20, rejected: list | None = None,
                stats: dict | None = None) -> pa.Table:
    """Read a whole NDJSON file (plain, gzip, zstd or lz4) into a Table.

    Parameters
    ----------
    source : path, ``"-"`` for stdin, or a binary file object
    schema : Schema or pyarrow.Schema
    threads : int
        Worker threads; the result is the same for any value.
    rejected : list, optional
        When given, the rejected rows (RecordBatches) are appended to it.
    stats : dict, optional
        When given, filled with the counters (inputs, accepted, rejected, ...).

    Examples
    --------
    >>> import io, pyarrow as pa, eventbatch as eb
    >>> data = io.BytesIO(b'{"n": 1}\\n{"n": "x"}\\n{"n": 3}\\n')
    >>> bad = []
    >>> eb.read_ndjson(data, pa.schema([("n", pa.int64())]), threads=2, rejected=bad).column("n").to_pylist()
    [1, 3]
    >>> bad[0].column("line").to_pylist()
    [2]
    """
    if isinstance(schema, pa.Schema):
        schema = Schema.from_arrow(schema)
    batches: list[pa.RecordBatch] = []
    totals = {"inputs": 0, "accepted": 0, "rejected": 0, "blank_lines": 0, "extra_fields": 0}
    for res in iter_ndjson(source, schema, threads=threads, block_size=block_size,
                           max_depth=max_depth, max_line_bytes=max_line_bytes):
        batches.extend(b for b in res.batches if b.num_rows)
        if rejected is not None and res.rejected.num_rows:
            rejected.append(res.rejected)
        for k, v in res.stats.items():
            totals[k] += v
    if stats is not None:
        stats.update(totals)
    return pa.Table.from_batches(batches, schema=schema.to_arrow())
