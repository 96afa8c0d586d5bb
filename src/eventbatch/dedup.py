"""Windowed exact deduplication of 64-bit key hashes.

A :class:`Window` says how much to remember; a :class:`Deduplicator` filters
arrays of key hashes (for example :func:`eventbatch.hash64` of an event-id
column) against it, in the compiled core.

>>> import numpy as np, eventbatch as eb
>>> dd = eb.Deduplicator(eb.Window(max_keys=1000))
>>> ids = eb.hash64(["a", "b", "a", "c"])
>>> dd.filter(ids).tolist()
[True, True, False, True]
>>> dd.filter(eb.hash64(["c", "d"])).tolist()
[False, True]
>>> dd.stats()["duplicates"]
2
"""

from __future__ import annotations

import math
import os
import secrets
import struct
import threading
import time
from typing import Any

import numpy as np

from . import _core
from ._files import fsync_dir
from .errors import SnapshotError

__all__ = ["Window", "Deduplicator"]

_U64 = np.dtype(np.uint64)


class Window:
    """How much a :class:`Deduplicator` remembers.

    Parameters
    ----------
    max_keys : int, optional
        Remember at most this many distinct keys.
    seconds : float, optional
        Remember keys for about this long, in event time (see ``times`` in
        :meth:`Deduplicator.filter`).
    generations : int
        Keys are kept in ``generations`` (2 to 255) generations; the window
        moves one generation at a time.

    At least one of ``max_keys`` and ``seconds`` is required.

    Rotation rule.  Each new key joins the *current* generation (a repeat
    does not move a key: windows count from a key's first sighting).  The
    current generation closes when it holds ``gen_keys = ceil(max_keys /
    generations)`` keys, or when an event's time is ``span_ms = round(seconds
    * 1000 / generations)`` (at least 1) or more past the generation's start.
    Closing opens a new, empty generation; when more than ``generations``
    generations would then be live, the oldest is evicted, and its keys are
    forgotten.  A time gap of ``k`` spans closes ``k`` generations at once
    (the ones in between stay empty), so every key is forgotten once the
    window has passed it.  A generation's start is the time of the first
    event after it opened after a count rotation, and stays on the grid
    ``start + k * span_ms`` after a time rotation.  Hence a count window
    remembers between ``(generations - 1) * gen_keys`` and ``generations *
    gen_keys`` (about ``max_keys``) of the latest distinct keys, and a time
    window remembers a key for between ``(generations - 1) * span_ms`` and
    ``generations * span_ms`` ms.  More generations: a tighter window, and a
    sweep of the table every ``gen_keys`` new keys instead of more rarely.

    Memory.  With ``max_keys`` the table is allocated once, with ::

        capacity = ceil(generations * gen_keys / 0.7)     # slots: the load never passes 0.7
        memory_bytes = 11 * capacity + 16384              # 8 B key + 1 B tag + 2 B fingerprint
                                                          # per slot; state and page rounding

    so ``memory_bytes <= 15.72 * max_keys + 16 * generations + 16384``, below
    ``16 * max_keys + MEMORY_OVERHEAD_BYTES`` (20480).  The table is allocated
    once, when the :class:`Deduplicator` is built, and never grows:
    ``memory_bytes`` is a ceiling (the inputs and the mask of a call are not
    counted).  On Linux a table of 2 MiB or more is also touched at
    construction (and backed by huge pages where the kernel allows), so the
    memory is committed then and ``filter`` never waits on a page fault.  Without ``max_keys`` the table starts
    at 1024 slots and doubles at 70% load; ``capacity`` and ``memory_bytes``
    are then None (no ceiling).

    >>> w = Window(max_keys=10_000_000)
    >>> w.gen_keys, w.capacity, w.memory_bytes
    (1250000, 14285715, 157159249)
    >>> w.memory_bytes <= 16 * w.max_keys + Window.MEMORY_OVERHEAD_BYTES
    True
    >>> Window(seconds=60, generations=6).span_ms
    10000
    """

    LOAD = 0.7
    SLOT_BYTES = 11
    STATE_BYTES = 16384
    MEMORY_OVERHEAD_BYTES = 20480
    INITIAL_CAPACITY = 1024
    MAX_KEYS_LIMIT = 1 << 40

    __slots__ = ("_max_keys", "_seconds", "_generations", "_gen_keys", "_span_ms", "_capacity")

    def __init__(self, max_keys: int | None = None, seconds: float | None = None,
                 generations: int = 8) -> None:
        if max_keys is None and seconds is None:
            raise ValueError("Window: expected max_keys, seconds or both, got neither")
        if isinstance(generations, bool) or not isinstance(generations, int):
            raise TypeError(f"Window: expected `int` generations, got `{type(generations).__name__}`")
        if not 2 <= generations <= _core.DEDUP_MAX_GENERATIONS:
            raise ValueError(f"Window: generations must be in [2, {_core.DEDUP_MAX_GENERATIONS}], "
                             f"got {generations}")
        if max_keys is not None:
            if isinstance(max_keys, bool) or not isinstance(max_keys, int):
                raise TypeError(f"Window: expected `int` max_keys, got `{type(max_keys).__name__}`")
            if not 1 <= max_keys <= self.MAX_KEYS_LIMIT:
                raise ValueError(f"Window: max_keys must be in [1, 2**40], got {max_keys}")
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise TypeError(f"Window: expected a number of seconds, got `{type(seconds).__name__}`")
            if not (math.isfinite(seconds) and seconds > 0):
                raise ValueError(f"Window: seconds must be positive and finite, got {seconds!r}")
            if seconds * 1000 >= 2**62:
                raise ValueError(f"Window: seconds is too large: {seconds!r}")
        self._max_keys = max_keys
        self._seconds = None if seconds is None else float(seconds)
        self._generations = generations
        self._gen_keys = 0 if max_keys is None else -(-max_keys // generations)
        self._span_ms = 0 if seconds is None else max(1, round(seconds * 1000 / generations))
        # ceil(total / 0.7) in integers: exact, so the load never passes 0.7
        self._capacity = None if max_keys is None else (generations * self._gen_keys * 10 + 6) // 7

    max_keys = property(lambda self: self._max_keys, doc="The key bound, or None.")
    seconds = property(lambda self: self._seconds, doc="The time bound in seconds, or None.")
    generations = property(lambda self: self._generations, doc="Generations kept.")
    gen_keys = property(lambda self: self._gen_keys,
                        doc="Keys per generation (0: no key bound).")
    span_ms = property(lambda self: self._span_ms,
                       doc="Time span of one generation in ms (0: no time bound).")
    capacity = property(lambda self: self._capacity,
                        doc="Table slots, fixed at construction (None without max_keys).")

    @property
    def memory_bytes(self) -> int | None:
        """The memory ceiling of a :class:`Deduplicator` of this window, in
        bytes (None without ``max_keys``: the table then grows)."""
        if self._capacity is None:
            return None
        return self.SLOT_BYTES * self._capacity + self.STATE_BYTES

    def _key(self) -> tuple:
        return (self._max_keys, self._seconds, self._generations)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Window) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Window(max_keys={self._max_keys!r}, seconds={self._seconds!r}, "
                f"generations={self._generations!r})")


def _as_u64(values: Any, name: str, n: int | None = None) -> np.ndarray:
    """A contiguous native uint64 array of integers (signed ones are taken
    modulo 2**64, as hashes)."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise TypeError(f"{name}: expected a 1-D array of uint64 hashes, got {a.ndim} dimensions")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name}: expected {n} values (one per hash), got {a.shape[0]}")
    if a.shape[0] == 0:
        return np.empty(0, dtype=_U64)
    kind = a.dtype.kind
    if kind == "O":
        try:
            a = np.array(a.tolist(), dtype=_U64)
        except (TypeError, ValueError, OverflowError) as e:
            raise TypeError(f"{name}: expected integers in [0, 2**64), got {a[:3].tolist()!r:.40}") from e
    elif kind not in "iu":
        raise TypeError(f"{name}: expected an array of uint64 hashes, got dtype `{a.dtype}`")
    return np.ascontiguousarray(a.astype(_U64, copy=False))


def _as_times(times: Any, n: int) -> np.ndarray:
    """Event times as a contiguous int64 array of ms since the epoch."""
    if isinstance(times, int) and not isinstance(times, bool):
        return np.full(n, times, dtype=np.int64)
    a = np.asarray(times)
    if a.ndim != 1:
        raise TypeError(f"times: expected a 1-D array of int64 ms (or one int), got {a.ndim} dimensions")
    if a.shape[0] != n:
        raise ValueError(f"times: expected {n} values (one per hash), got {a.shape[0]}")
    kind = a.dtype.kind
    if kind == "M":
        a = a.astype("datetime64[ms]").view(np.int64)
    elif kind not in "iu":
        raise TypeError(f"times: expected int64 ms or datetime64 values, got dtype `{a.dtype}`")
    return np.ascontiguousarray(a, dtype=np.int64)


# ---- snapshot file, version 1 (all little-endian) ------------------------------------------
#   header  _HEADER below: magic, version, header size, window, state, counters,
#           256 generation key counts
#   keys    capacity x uint64
#   tags    capacity x uint8
#   fps     capacity x uint16
#   check   uint64: XXH64 (seed 0) of every byte before it
_MAGIC = b"EBDEDUP\x00"
_VERSION = 1
_HEADER = struct.Struct("<8sII" "QdII" "QQq" "QQqBBBxHxx" "7Q" "256Q")
_ARRAYS = ((0, "<u8", 8), (1, "<u1", 1), (2, "<u2", 2))   # which, file dtype, bytes per slot
_CHUNK_SLOTS = 1 << 20
_COUNTERS = ("seen", "unique", "duplicates", "resends", "conflicts", "evicted", "live")


def _pack_header(window: Window, st: dict) -> bytes:
    return _HEADER.pack(
        _MAGIC, _VERSION, _HEADER.size,
        window.max_keys or 0, window.seconds or 0.0, window.generations, 1 if st["growable"] else 0,
        st["capacity"], st["gen_keys"], st["span_ms"],
        st["cur_seq"], st["oldest_seq"], st["cur_start_ms"],
        st["has_start"], st["zero_present"], st["zero_tag"], st["zero_fp"],
        *(st[name] for name in _COUNTERS),
        *st["counts"],
    )


class Deduplicator:
    """Exact dedup of 64-bit key hashes over a :class:`Window`.

    Within the window the answer is exact: a key is a duplicate if and only
    if it is in the set of keys of the live generations (all 2**64 values,
    0 included).  Keys of evicted generations are forgotten.

    Thread-safe: calls are serialised by a lock; ``filter`` runs in C with
    the GIL released.
    """

    def __init__(self, window: Window) -> None:
        if not isinstance(window, Window):
            raise TypeError(f"Deduplicator: expected a `Window`, got `{type(window).__name__}`")
        self._window = window
        self._lock = threading.Lock()
        growable = window.capacity is None
        self._core = _core.CoreDedup(Window.INITIAL_CAPACITY if growable else window.capacity,
                                     growable, window.gen_keys, window.span_ms, window.generations)

    @property
    def window(self) -> Window:
        return self._window

    def filter(self, hashes: Any, times: Any = None, content: Any = None) -> np.ndarray:
        """Which keys are first occurrences: a bool mask, True = keep.

        Parameters
        ----------
        hashes : array of uint64
            Key hashes (anything ``numpy.asarray`` turns into integers; signed
            values are taken modulo 2**64).  New keys are added to the window;
            a key repeated within the call is False from its second occurrence.
        times : array of int64 or datetime64, or int, optional
            Event times in ms since the epoch, one per hash, or one for all.
            Default: the wall clock (``time.time()``) at the call, for every
            key.  Used only by windows with ``seconds``.  Times should not go
            backwards much: a time before the current generation's start
            counts as in it.
        content : array of uint64, optional
            Content hashes, one per key.  A 16-bit fingerprint of it is kept
            with each new key.  A duplicate whose fingerprint matches is
            counted as a *re-send*; one that differs as a *conflict* (the same
            id with other content; about 1 in 65535 conflicts goes unnoticed).
            Conflicts are still duplicates: their mask entry is False.  When
            either side has no content the duplicate is counted in
            ``duplicates`` only.

        Returns
        -------
        numpy.ndarray of bool, one per hash.
        """
        keys = _as_u64(hashes, "hashes")
        n = keys.shape[0]
        ts = None if times is None else _as_times(times, n)
        cs = None if content is None else _as_u64(content, "content", n)
        now_ms = int(time.time() * 1000) if ts is None else 0
        with self._lock:
            mask = self._core.filter(keys, ts, now_ms, cs)
        return mask.view(np.bool_)

    def stats(self) -> dict[str, int]:
        """Counters since creation (carried over by snapshot/restore).

        ``seen`` keys filtered = ``unique`` (kept) + ``duplicates`` (dropped);
        ``resends`` and ``conflicts`` classify the duplicates that had content
        on both sides; ``evicted`` keys forgotten by rotations; ``keys``
        remembered now; ``generations`` live now (the current one included).
        """
        with self._lock:
            return self._core.stats()

    def __repr__(self) -> str:
        s = self._core.stats()
        return f"Deduplicator({self._window!r}, keys={s['keys']}, seen={s['seen']})"

    # -- snapshot ------------------------------------------------------------------------
    def snapshot(self, path: str | os.PathLike) -> None:
        """Write the whole state to ``path``, atomically.

        The file (format version 1: magic, version, window, counters,
        generations, the table arrays, and an XXH64 checksum of all of it) is
        written to a temporary name in the same directory, fsync'ed, and
        renamed over ``path``, so ``path`` always holds a complete snapshot.
        """
        path = os.fspath(path)
        tmp = f"{path}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        check = _core._XXH64Stream(0)
        with self._lock:
            st = self._core._get_state()
            header = _pack_header(self._window, st)
            cap = st["capacity"]
            try:
                with open(tmp, "xb") as f:
                    f.write(header)
                    check.update(header)
                    for which, dtype, _ in _ARRAYS:
                        for start in range(0, cap, _CHUNK_SLOTS):
                            part = self._core._read(which, start, min(_CHUNK_SLOTS, cap - start))
                            part = part.astype(dtype, copy=False)   # no copy on little-endian hosts
                            f.write(part)
                            check.update(part)
                    f.write(struct.pack("<Q", check.intdigest()))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        fsync_dir(os.path.dirname(os.path.abspath(path)))

    @classmethod
    def restore(cls, path: str | os.PathLike) -> "Deduplicator":
        """A Deduplicator in the state that :meth:`snapshot` wrote to ``path``.

        Raises :class:`eventbatch.SnapshotError` (a ValueError) when the file
        is not a snapshot, of another version, truncated or extended, fails
        its checksum, or holds an inconsistent state; OSError when it cannot
        be read.
        """
        path = os.fspath(path)
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            return cls._restore(f, size, path)

    @classmethod
    def _restore(cls, f, size: int, path: str) -> "Deduplicator":
        where = f"in {path!r}"[:60]
        if size < _HEADER.size + 8:
            raise SnapshotError(f"expected a dedup snapshot of at least {_HEADER.size + 8} bytes, "
                                f"got {size} - {where}")
        head = f.read(_HEADER.size)
        if len(head) != _HEADER.size:
            raise SnapshotError(f"snapshot truncated while reading its header - {where}")
        fields = _HEADER.unpack(head)
        magic, version, header_size = fields[:3]
        if magic != _MAGIC:
            raise SnapshotError(f"expected a dedup snapshot (magic {_MAGIC!r}), got {magic!r} - {where}")
        if version != _VERSION:
            raise SnapshotError(f"expected snapshot format version {_VERSION}, got {version} - {where}")
        if header_size != _HEADER.size:
            raise SnapshotError(f"expected a header of {_HEADER.size} bytes, got {header_size} - {where}")
        (max_keys, seconds, generations, growable, capacity, gen_keys, span_ms,
         cur_seq, oldest_seq, cur_start_ms, has_start, zero_present, zero_tag, zero_fp) = fields[3:17]
        counters = dict(zip(_COUNTERS, fields[17:24]))
        counts = list(fields[24:])
        expected_size = _HEADER.size + capacity * sum(w for _, _, w in _ARRAYS) + 8
        if size != expected_size:
            raise SnapshotError(f"expected a snapshot of {expected_size} bytes for {capacity} slots, "
                                f"got {size} (truncated or extended) - {where}")
        try:
            window = Window(max_keys or None, seconds or None, generations)
        except (TypeError, ValueError) as e:
            raise SnapshotError(f"snapshot holds an invalid window: {e} - {where}") from e
        expect_growable = window.capacity is None
        if (bool(growable) != expect_growable or gen_keys != window.gen_keys
                or span_ms != window.span_ms
                or (not expect_growable and capacity != window.capacity)
                or (expect_growable and not Window.INITIAL_CAPACITY <= capacity <= 1 << 48)):
            raise SnapshotError(f"snapshot table does not match its window {window!r} - {where}")
        self = cls.__new__(cls)
        self._window = window
        self._lock = threading.Lock()
        self._core = _core.CoreDedup(capacity, expect_growable, gen_keys, span_ms, generations)
        check = _core._XXH64Stream(0)
        check.update(head)
        for which, dtype, width in _ARRAYS:
            for start in range(0, capacity, _CHUNK_SLOTS):
                count = min(_CHUNK_SLOTS, capacity - start)
                raw = f.read(count * width)
                if len(raw) != count * width:
                    raise SnapshotError(f"snapshot truncated while reading its table - {where}")
                check.update(raw)
                self._core._write(which, start, np.frombuffer(raw, dtype=dtype))
        tail = f.read(9)
        if len(tail) != 8:
            raise SnapshotError(f"snapshot truncated or extended at its checksum - {where}")
        stored = struct.unpack("<Q", tail)[0]
        if stored != check.intdigest():
            raise SnapshotError(f"snapshot checksum mismatch: stored {stored:#018x}, "
                                f"computed {check.intdigest():#018x} - {where}")
        state = dict(counters, cur_seq=cur_seq, oldest_seq=oldest_seq, cur_start_ms=cur_start_ms,
                     has_start=has_start, zero_present=zero_present, zero_tag=zero_tag,
                     zero_fp=zero_fp, counts=counts)
        problem = self._core._set_state(state)
        if problem is not None:
            raise SnapshotError(f"snapshot holds an inconsistent state: {problem} - {where}")
        return self
