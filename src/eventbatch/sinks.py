"""Sinks: where the Producer's frames go.

A :class:`Sink` is a small protocol: ``write(frames)`` returns once the
transport has accepted every frame (a list of ``bytes``), or raises
:class:`~eventbatch.errors.SinkError` with ``retryable`` set; ``close()``
releases it.  :class:`AsyncSink` is the asyncio twin.  Any transport fits in
a few lines with :class:`CallbackSink`::

    >>> import eventbatch as eb
    >>> sent = []
    >>> sink = eb.CallbackSink(sent.extend)      # e.g. lambda fs: [kafka.produce(t, f) for f in fs]
    >>> sink.write([b"frame-1", b"frame-2"]); sent
    [b'frame-1', b'frame-2']

Threading: the Producer calls ``write`` from its single sender thread, in
order; a sink need not be thread-safe unless it is shared.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Callable, Iterable, Protocol, Sequence, runtime_checkable

from ._files import fsync_dir
from .errors import SinkError
from .frames import write_frames

__all__ = ["Sink", "AsyncSink", "CallbackSink", "FileSink", "MemorySink"]


@runtime_checkable
class Sink(Protocol):
    """Accepts frames.  ``write`` returns only when every frame is accepted."""

    def write(self, frames: Sequence[bytes]) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncSink(Protocol):
    """The asyncio twin of :class:`Sink`."""

    async def write(self, frames: Sequence[bytes]) -> None: ...

    async def close(self) -> None: ...


class CallbackSink:
    """Adapts any function of a list of frames into a Sink.

    The function may raise :class:`SinkError` (with ``retryable``); any other
    ``OSError`` counts as retryable, any other exception as not.
    """

    def __init__(self, fn: Callable[[Sequence[bytes]], object], close: Callable[[], object] | None = None) -> None:
        self._fn = fn
        self._close = close

    def write(self, frames: Sequence[bytes]) -> None:
        try:
            self._fn(list(frames))
        except SinkError:
            raise
        except OSError as e:
            raise SinkError(f"callback failed: {e}", retryable=True) from e
        except Exception as e:
            raise SinkError(f"callback failed: {type(e).__name__}: {e}", retryable=False) from e

    def close(self) -> None:
        if self._close is not None:
            self._close()


class MemorySink:
    """Keeps frames in a list (tests, benchmarks, in-process consumers)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed = False
        self._lock = threading.Lock()

    def write(self, frames: Sequence[bytes]) -> None:
        with self._lock:
            self.frames.extend(frames)

    def close(self) -> None:
        self.closed = True


class FileSink:
    """Rolling files of frames in a directory.

    Frames are appended to a hidden temporary file and ``fsync``'d before
    ``write`` returns (unless ``fsync=False``).  When the file reaches
    ``max_file_bytes`` or ``max_file_age_s``, or on ``close()``, it is
    renamed atomically into place as ``frames-<time>-<producer>-<n>.ebf``:
    a reader listing ``*.ebf`` never sees a half-written file.  A leftover
    ``.tmp`` file after a crash holds whole, checksummed frames that were
    accepted; :func:`eventbatch.iter_frames` reads it (a torn last frame is
    detected by its checksum).

    Threading: one writer at a time (a lock guards the file).
    """

    def __init__(self, directory: "str | os.PathLike", *, max_file_bytes: int = 64 << 20,
                 max_file_age_s: float = 60.0, fsync: bool = True, prefix: str = "frames") -> None:
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self.max_file_age_s = max_file_age_s
        self.fsync = fsync
        self.prefix = prefix
        self._id = uuid.uuid4().hex[:12]
        self._n = 0
        self._fh = None
        self._tmp = ""
        self._opened = 0.0
        self._size = 0
        self._lock = threading.Lock()
        self.files: list[str] = []

    def _open(self) -> None:
        self._tmp = os.path.join(self.directory, f".{self.prefix}-{self._id}-{self._n:06d}.tmp")
        self._fh = open(self._tmp, "wb")
        self._opened = time.monotonic()
        self._size = 0

    def _roll(self) -> None:
        if self._fh is None:
            return
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        final = os.path.join(self.directory,
                             f"{self.prefix}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
                             f"-{self._id}-{self._n:06d}.ebf")
        os.replace(self._tmp, final)
        if self.fsync:
            fsync_dir(self.directory)
        self.files.append(final)
        self._n += 1

    def write(self, frames: Sequence[bytes]) -> None:
        with self._lock:
            try:
                for frame in frames:
                    # a file holds at most max_file_bytes, unless one frame is larger
                    if self._fh is not None and self._size and self._size + len(frame) > self.max_file_bytes:
                        self._roll()
                    if self._fh is None:
                        self._open()
                    self._size += write_frames(self._fh, (frame,))
                if self._fh is not None:
                    self._fh.flush()
                    if self.fsync:
                        os.fsync(self._fh.fileno())
                    if self._size >= self.max_file_bytes or time.monotonic() - self._opened >= self.max_file_age_s:
                        self._roll()
            except OSError as e:
                raise SinkError(f"cannot write frames to {self.directory}: {e.strerror or e}", retryable=True) from e

    def close(self) -> None:
        with self._lock:
            self._roll()
