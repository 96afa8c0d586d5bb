"""Producer: encoder + dedup + batch policy + framing + a sink, with retries.

Pipeline, per route (one batch stream per route)::

    add / add_many / add_ndjson
        -> Encoder (rejects kept, never raised)
        -> cut a batch at max_rows, max_bytes (estimated frame size) or linger_ms
        -> dedup on the event hashes (first occurrence wins)
        -> encode_frame (seq per route)            [caller's thread]
        -> Outbox (bounded: frames and bytes)      [backpressure: when_full]
        -> sender thread: sink.write, retries with exponential backoff and
           full jitter up to a deadline, then the dead-letter sink
        -> on_delivery(header, error) for every frame

The :class:`Outbox` is the seam for a durable spool: an implementation that
appends frames to disk in ``put`` and removes them in ``ack`` replaces the
in-memory one without any change to the rest (frames carry their own
sequence numbers and checksums, so replay after a restart is in order and
idempotent downstream).

Counters (``stats()``), per route and in total, always balance::

    received == delivered + dead_lettered + deduplicated + rejected + dropped + pending

Threading: every public method may be called from any thread; ``add*`` calls
are serialised by one lock (the encoders are single-threaded), the sink is
called from one sender thread, in order.  ``on_delivery`` runs on the sender
thread (or on the caller's for ``drop_newest``) and must not block for long.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa

from .encoder import REJECTED_SCHEMA, Encoder
from .errors import EventBatchError, SinkError
from .frames import FrameHeader, _assemble, _encode_body, encode_frame, peek_header
from .schema import Field, Schema

__all__ = ["Producer", "RetryPolicy", "BufferFullError", "Outbox"]

_FIRST_BATCH_ROWS = 4096

_HASH = "__eventbatch_hash"        # internal columns, dropped (or renamed) before framing
_CONTENT = "__eventbatch_content"


class BufferFullError(EventBatchError, TimeoutError):
    """The producer's in-flight bound is reached (``when_full="raise"``, or
    ``"block"`` past its timeout)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by a deadline per frame.

    Attempt ``k`` (from 0) sleeps ``uniform(0, min(max_backoff_s,
    initial_backoff_s * multiplier**k))``; when the next sleep would pass
    ``deadline_s`` since the first attempt, the frame goes to the dead letter.
    """

    initial_backoff_s: float = 0.05
    max_backoff_s: float = 2.0
    multiplier: float = 2.0
    deadline_s: float = 30.0


class Outbox:
    """Bounded FIFO of cut batches between the adding threads and the sender.

    Bounds: at most ``max_frames`` batches (each becomes one frame, or a few
    when it turns out over ``max_bytes``) and ``max_bytes`` bytes of Arrow
    data are queued or in flight; a single batch larger than ``max_bytes``
    is still admitted when the outbox is empty, so it cannot deadlock.
    """

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._q: collections.deque[tuple[pa.RecordBatch, str]] = collections.deque()
        self._items = 0           # queued + in flight
        self._bytes = 0
        self._rows: collections.Counter[str] = collections.Counter()
        # rows that left the outbox, by (route, outcome): counted under the
        # same lock as the queued rows, so a snapshot never sees a row twice
        self.done: collections.Counter[tuple[str, str]] = collections.Counter()
        self._cv = threading.Condition()
        self._closed = False

    def has_room(self, size: int) -> bool:
        return self._items == 0 or (self._items < self.max_frames and self._bytes + size <= self.max_bytes)

    def put(self, batch: pa.RecordBatch, route: str, timeout: float | None) -> bool:
        """Queue a batch; False when no room came within timeout (0: don't wait)."""
        size = batch.nbytes
        with self._cv:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self.has_room(size):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cv.wait(remaining)
            self._q.append((batch, route))
            self._items += 1
            self._bytes += size
            self._rows[route] += batch.num_rows
            self._cv.notify_all()
            return True

    def take(self, max_n: int) -> list[tuple[pa.RecordBatch, str]]:
        """Up to max_n batches (they stay counted until done); [] once closed and empty."""
        with self._cv:
            while not self._q and not self._closed:
                self._cv.wait()
            out = []
            while self._q and len(out) < max_n:
                out.append(self._q.popleft())
            return out

    def done_with(self, item: tuple[pa.RecordBatch, str], outcome: str) -> None:
        """The batch's frames were delivered (or dead-lettered: outcome)."""
        batch, route = item
        with self._cv:
            self._items -= 1
            self._bytes -= batch.nbytes
            self._rows[route] -= batch.num_rows
            self.done[(route, outcome)] += batch.num_rows
            self._cv.notify_all()

    def snapshot(self) -> tuple[dict, dict]:
        """(queued rows by route, done rows by (route, outcome)), consistent."""
        with self._cv:
            return dict(self._rows), dict(self.done)

    def wait_empty(self, timeout: float | None) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: self._items == 0, timeout)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()


class _Route:
    """One batch stream: its encoder, sequence and counters."""

    def __init__(self, name: str, stream_id: int, schema: Schema, enc_kw: dict) -> None:
        self.name = name
        self.stream_id = stream_id
        self.schema = schema
        self.encoder = Encoder(schema, **enc_kw)
        self.overhead: int | None = None   # bytes of a frame with no rows (header + schema)
        self.seq = 0
        self.first_add = 0.0            # monotonic time of the oldest pending event
        self.c = collections.Counter()  # received, rejected, deduplicated, delivered, dropped, dead_lettered
        self.rejected: list[pa.RecordBatch] = []

    def pending_rows(self) -> int:
        return self.encoder.stats()["pending_rows"]


class Producer:
    """Batch events into frames and deliver them to a sink, losing none.

    Parameters
    ----------
    schema : Schema or pyarrow.Schema
        The events' schema (the default route's, when routing).
    sink : Sink or AsyncSink
    dedup_key : str or sequence of str, optional
        Field(s) whose values identify an event; re-sends within
        ``dedup_window`` are dropped (the first occurrence is kept).
    dedup_window : Window, optional
        Bounds of the dedup memory (default: 1M keys).
    max_rows, max_bytes, linger_ms :
        A batch is cut when it has ``max_rows`` rows, when its frame is
        estimated to reach ``max_bytes`` (from the bytes per row of earlier
        frames; a frame found more than 5% over is split), or when its oldest
        event is ``linger_ms`` old (checked on every add, by :meth:`poll`, and
        by a background timer when ``timer=True``).
    on_delivery : callable(FrameHeader, Exception | None), optional
        Called once for every frame: ``None`` when the sink accepted it, the
        error when it was dead-lettered or dropped.
    route_by : str, optional
        Field that picks the route (e.g. ``"event_type"``); ``routes`` maps
        its values to schemas, each with its own batch stream.
    unknown_route : {"reject", "default"}
        An event whose route is not in ``routes``: a rejected row, or the
        default route (``schema``).
    max_in_flight_frames, max_in_flight_bytes : int
        Bounds of frames queued or in flight to the sink.
    when_full : {"block", "raise", "drop_newest"}
        At the bound: wait up to ``block_timeout_s`` then raise
        :class:`BufferFullError`; raise at once; or drop the new frame
        (its rows are counted as ``dropped``).
    retry : RetryPolicy
    dead_letter : Sink, optional
        Where frames go when retries are exhausted or the error is not
        retryable.  Default: an in-memory list, :attr:`dead_letters`.

    Examples
    --------
    >>> import pyarrow as pa, eventbatch as eb
    >>> sink = eb.MemorySink()
    >>> schema = pa.schema([("event_id", pa.string()), ("n", pa.int64())])
    >>> with eb.Producer(schema, sink, dedup_key="event_id", max_rows=2) as p:
    ...     p.add_many([{"event_id": "a", "n": 1}, {"event_id": "a", "n": 1}, {"event_id": "b", "n": 2}])
    >>> [eb.decode_frame(f).batch.num_rows for f in sink.frames]
    [1, 1]
    >>> s = p.stats()["total"]; (s["received"], s["delivered"], s["deduplicated"])
    (3, 2, 1)
    """

    def __init__(self, schema: "Schema | pa.Schema", sink: Any, *, dedup_key: "str | Sequence[str] | None" = None,
                 dedup_window: Any = None, max_rows: int = 65_536, max_bytes: int = 1 << 20,
                 linger_ms: float = 5.0, on_delivery: Callable[[FrameHeader, Exception | None], Any] | None = None,
                 codec: str = "lz4", time_field: str | None = None, route_by: str | None = None,
                 routes: "dict[str, Schema | pa.Schema] | None" = None, unknown_route: str = "reject",
                 producer_id: "uuid.UUID | str | None" = None, max_in_flight_frames: int = 64,
                 max_in_flight_bytes: int = 64 << 20, when_full: str = "block", block_timeout_s: float = 30.0,
                 retry: RetryPolicy | None = None, dead_letter: Any = None, timer: bool = False,
                 hash_column: str | None = None, volatile_fields: Sequence[str] = (),
                 max_depth: int = 128, max_line_bytes: int = 16 << 20) -> None:
        if isinstance(schema, pa.Schema):
            schema = Schema.from_arrow(schema)
        if when_full not in ("block", "raise", "drop_newest"):
            raise ValueError(f"expected when_full in block, raise, drop_newest; got {when_full!r}")
        if unknown_route not in ("reject", "default"):
            raise ValueError(f"expected unknown_route in reject, default; got {unknown_route!r}")
        if not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"expected max_rows >= 1, got {max_rows!r}")
        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"expected max_bytes >= 1, got {max_bytes!r}")
        self.schema = schema
        self.sink = sink
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.linger_s = linger_ms / 1000.0
        self.codec = codec
        self.time_field = time_field
        self.on_delivery = on_delivery
        self.when_full = when_full
        self.block_timeout_s = block_timeout_s
        self.retry = retry or RetryPolicy()
        self.dead_letter = dead_letter
        self.dead_letters: list[bytes] = []
        self.producer_id = uuid.UUID(str(producer_id)) if producer_id is not None else uuid.uuid4()
        self._dedup_fields = [dedup_key] if isinstance(dedup_key, str) else list(dedup_key or [])
        self.hash_column = hash_column
        # the encoders hash every event while they build the batch: the key
        # hash (or, without a key, the content hash) and the content hash
        self._enc_kw = {"max_depth": max_depth, "max_line_bytes": max_line_bytes,
                        "hash_exclude": tuple(volatile_fields)}
        if self._dedup_fields or hash_column:
            self._enc_kw.update(hash_key=self._dedup_fields or None, hash_column=_HASH)
        if self._dedup_fields:
            self._enc_kw.update(content_hash_column=_CONTENT)
        self._dedup = None
        if self._dedup_fields:
            from .dedup import Deduplicator, Window
            self._dedup = Deduplicator(dedup_window or Window(max_keys=1_000_000))
        self._bpr: float | None = None   # frame bytes per row, learned by the sender
        self._lock = threading.RLock()     # add paths and batch state
        self._seq_lock = threading.Lock()  # sequence numbers (sender, and drops)
        self._closed = False
        self.route_by = route_by
        self.unknown_route = unknown_route
        self._routes: dict[str, _Route] = {}
        self._route_order: list[str] = []
        default = self._add_route("default", schema)
        self._default = default
        for name, sch in (routes or {}).items():
            self._add_route(str(name), Schema.from_arrow(sch) if isinstance(sch, pa.Schema) else sch)
        if route_by is not None:
            self._router = Encoder(Schema([Field(route_by, "string")]))
        self._unknown = collections.Counter()       # rejected for an unknown route
        self._unknown_rejected: list[pa.RecordBatch] = []
        self.outbox = Outbox(max_in_flight_frames, max_in_flight_bytes)
        self._loop: asyncio.AbstractEventLoop | None = None   # used by the sender thread, then close()
        self._sender = threading.Thread(target=self._send_loop, name="eventbatch-sender", daemon=True)
        self._sender.start()
        self._timer = None
        self._stop_timer = threading.Event()
        if timer:
            self._timer = threading.Thread(target=self._timer_loop, name="eventbatch-linger", daemon=True)
            self._timer.start()

    # -- routes ------------------------------------------------------------------
    def _add_route(self, name: str, schema: Schema) -> _Route:
        for f in self._dedup_fields:
            if f not in schema.names:
                raise ValueError(f"dedup_key field `{f}` is not in the schema of route `{name}`")
        r = _Route(name, len(self._route_order), schema, self._enc_kw)
        if self._dedup is not None:
            # the encoder drops re-sends from its own buffers before Arrow sees them
            tidx = schema.names.index(self.time_field) if self.time_field in schema.names else -1
            r.encoder._set_row_filter(
                lambda key, content, present, times, r=r: self._dedup_rows(r, key, content, present, times),
                tidx)
        self._routes[name] = r
        self._route_order.append(name)
        return r

    def _route_for(self, value: Any) -> _Route | None:
        if value is not None:
            r = self._routes.get(str(value))
            if r is not None and r is not self._default:
                return r
        return self._default if self.unknown_route == "default" else None

    # -- adding --------------------------------------------------------------------
    def add(self, event: Any) -> None:
        """Add one event (a dict)."""
        self.add_many((event,))

    def add_many(self, events: Iterable[Any]) -> None:
        """Add dicts; batches are cut as they fill."""
        self._check_open()
        events = events if isinstance(events, list) else list(events)
        with self._lock:
            if self.route_by is None:
                self._feed_dicts(self._default, events)
            else:
                groups: dict[str, list] = collections.defaultdict(list)
                for ev in events:
                    value = ev.get(self.route_by) if isinstance(ev, dict) else None
                    r = self._route_for(value)
                    if r is None:
                        self._reject_unknown_route(ev, value)
                    else:
                        groups[r.name].append(ev)
                for name, evs in groups.items():
                    self._feed_dicts(self._routes[name], evs)
            self._poll_locked()

    def add_ndjson(self, block: bytes, final: bool = False) -> bytes:
        """Add a block of NDJSON; returns the unfinished last line (see Encoder)."""
        self._check_open()
        with self._lock:
            if self.route_by is None:
                tail = self._feed_ndjson(self._default, block, final)
            else:
                tail = self._route_ndjson(block, final)
            self._poll_locked()
            return tail

    def _room(self, r: _Route) -> int:
        """Rows that still fit in the route's current batch."""
        limit = self.max_rows
        if self._bpr:
            budget = (self.max_bytes - (r.overhead or 0)) * 0.98
            limit = min(limit, max(1, int(budget / self._bpr)))
        else:
            # no frame yet to learn the bytes per row from: start small, so the
            # sender learns it early instead of splitting one huge first batch
            limit = min(limit, _FIRST_BATCH_ROWS)
        return limit - r.pending_rows()

    def _note_add(self, r: _Route, before: dict) -> None:
        after = r.encoder.stats()
        r.c["received"] += after["inputs"] - before["inputs"]
        if after["rejected"] != before["rejected"]:
            r.c["rejected"] += after["rejected"] - before["rejected"]
            r.rejected.append(r.encoder.flush_rejected())
        if after["pending_rows"] and not r.first_add:
            r.first_add = time.monotonic()

    def _feed_dicts(self, r: _Route, events: list) -> None:
        i, n = 0, len(events)
        while i < n:
            room = self._room(r)
            if room <= 0:
                self._cut(r)
                continue
            chunk = events[i:i + room]
            before = r.encoder.stats()
            r.encoder.extend(chunk)
            self._note_add(r, before)
            i += len(chunk)
            if self._room(r) <= 0:
                self._cut(r)

    def _feed_ndjson(self, r: _Route, block: bytes, final: bool) -> bytes:
        view = memoryview(block)
        while True:
            room = self._room(r)
            if room <= 0:
                self._cut(r)
                continue
            before = r.encoder.stats()
            limit = r.pending_rows() + room
            used = r.encoder._consume_ndjson(view, final, None, limit)
            self._note_add(r, before)
            view = view[used:]       # a view: the rest is never copied
            # decide from what the encoder did, not from _room() again: the
            # sender may have changed the bytes-per-row estimate meanwhile
            stopped = r.pending_rows() >= limit
            if stopped or self._room(r) <= 0:
                self._cut(r)
            if not stopped or not len(view):
                return bytes(view)   # the unfinished last line (or nothing)

    def _route_ndjson(self, block: bytes, final: bool) -> bytes:
        end = len(block) if final else block.rfind(b"\n") + 1
        lines = block[:end].split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        groups: dict[str, list[bytes]] = collections.defaultdict(list)
        self._router.extend_ndjson(b"")  # keep the router's counters aligned
        for line in lines:
            before = self._router.stats()
            self._router.append_json(line)
            after = self._router.stats()
            value = None
            if after["accepted"] > before["accepted"]:
                value = self._router.flush().column(0)[0].as_py()
            else:
                self._router.flush_rejected()
            r = self._route_for(value)
            if r is None:
                if after["blank_lines"] == before["blank_lines"]:
                    self._reject_unknown_route(line, value)
            else:
                groups[r.name].append(line)
        for name, ls in groups.items():
            self._feed_ndjson(self._routes[name], b"\n".join(ls) + b"\n", True)
        return block[end:]

    def _reject_unknown_route(self, event: Any, value: Any) -> None:
        import json
        raw = event if isinstance(event, (bytes, bytearray)) else json.dumps(event, default=repr).encode()
        self._unknown["received"] += 1
        self._unknown["rejected"] += 1
        self._unknown_rejected.append(pa.RecordBatch.from_pylist([{
            "raw": bytes(raw), "source": "<route>", "line": None, "offset": 0, "reason": "invalid_value",
            "path": f"$.{self.route_by}",
            "message": f"expected a route in {sorted(self._routes)[:10]}, got `{str(value)[:40]}` at `$.{self.route_by}`",
        }], schema=REJECTED_SCHEMA))

    # -- cutting batches -------------------------------------------------------------
    def poll(self) -> None:
        """Cut batches whose oldest event is older than linger_ms."""
        with self._lock:
            self._poll_locked()

    def _poll_locked(self) -> None:
        now = time.monotonic()
        for r in self._routes.values():
            if r.first_add and now - r.first_add >= self.linger_s:
                self._cut(r)

    def _cut(self, r: _Route) -> None:
        batches = r.encoder.flush_batches()
        r.first_add = 0.0
        for batch in batches:
            if batch.num_rows == 0:
                continue
            self._emit(r, self._settle_columns(batch))

    def _settle_columns(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Drop the internal hash columns, or keep the key hash as hash_column."""
        names = batch.schema.names
        keep = [i for i, n in enumerate(names) if n not in (_HASH, _CONTENT)]
        if len(keep) == len(names):
            return batch
        arrays = [batch.column(i) for i in keep]
        fields = [batch.schema.field(i) for i in keep]
        if self.hash_column and _HASH in names:
            arrays.append(batch.column(_HASH))
            fields.append(pa.field(self.hash_column, pa.uint64(), nullable=False))
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))

    def _dedup_rows(self, r: _Route, key: np.ndarray, content: np.ndarray, present: np.ndarray,
                    times: np.ndarray | None) -> np.ndarray:
        """Keep-mask of a batch being cut: first occurrences in the window
        (event time from ``time_field`` in ms, else wall time).  A row
        without a key (all key fields null) is never dropped."""
        mask = np.ones(len(key), dtype=bool)
        if present.all():
            mask = self._dedup.filter(key, times=times, content=content)
        elif present.any():
            mask[present] = self._dedup.filter(key[present], times=None if times is None else times[present],
                                               content=content[present])
        r.c["deduplicated"] += int(len(mask) - mask.sum())
        return mask

    def _emit(self, r: _Route, batch: pa.RecordBatch) -> None:
        """Queue a cut batch for the sender (which frames it), or drop it at the bound."""
        timeout = 0 if self.when_full != "block" else self.block_timeout_s
        if self.outbox.put(batch, r.name, timeout):
            return
        # not queued: account for its rows as dropped, tell on_delivery, then raise or go on
        r.c["dropped"] += batch.num_rows
        header = peek_header(self._frame(r, batch))
        if self.when_full == "drop_newest":
            self._deliver_cb(header, BufferFullError("in-flight bound reached: frame dropped"))
            return
        self._deliver_cb(header, BufferFullError("in-flight bound reached"))
        raise BufferFullError(f"in-flight bound reached ({self.outbox.max_frames} frames / "
                              f"{self.outbox.max_bytes} bytes); {batch.num_rows} rows dropped")

    def _frame(self, r: _Route, batch: pa.RecordBatch) -> bytes:
        """One frame, with the route's next sequence number."""
        return encode_frame(batch, producer_id=self.producer_id, stream_id=r.stream_id,
                            seq=self._next_seq(r), codec=self.codec,
                            time_column=self._time_column(batch))

    def _frames(self, r: _Route, batch: pa.RecordBatch) -> list[bytes]:
        """Frames of a batch, each within a few percent of max_bytes: a batch
        whose frame is found over is cut into as many slices as its size
        asks for.  Each batch is encoded once, then given its sequence number
        as the frame is assembled (the body is copied once, into the frame);
        only an oversize one is encoded again, in slices."""
        rows = batch.num_rows
        body = _encode_body(batch, codec=self.codec, time_column=self._time_column(batch))
        if r.overhead is None:   # header + schema message: every frame of the route pays it
            empty = pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in batch.schema],
                                               schema=batch.schema)
            r.overhead = _encode_body(empty, codec=self.codec).frame_length
        size = body.frame_length
        bpr = max(size - r.overhead, 1) / rows
        self._bpr = bpr if self._bpr is None else 0.8 * self._bpr + 0.2 * bpr
        if size <= self.max_bytes * 1.05 or rows == 1:
            return [_assemble(body, producer_id=self.producer_id, stream_id=r.stream_id,
                              seq=self._next_seq(r))]
        per = max(1, int((self.max_bytes - r.overhead) * 0.98 / bpr))
        out: list[bytes] = []
        for i in range(0, rows, per):
            out.extend(self._fitted(r, batch.slice(i, per)))
        return out

    def _fitted(self, r: _Route, batch: pa.RecordBatch) -> list[bytes]:
        """Frames of a slice cut by the average bytes per row: its rows may
        be bigger than the average, so a slice still over is halved until
        each frame fits (or holds a single row)."""
        body = _encode_body(batch, codec=self.codec, time_column=self._time_column(batch))
        if body.frame_length <= self.max_bytes * 1.05 or batch.num_rows == 1:
            return [_assemble(body, producer_id=self.producer_id, stream_id=r.stream_id,
                              seq=self._next_seq(r))]
        half = batch.num_rows // 2
        return self._fitted(r, batch.slice(0, half)) + self._fitted(r, batch.slice(half))

    def _next_seq(self, r: _Route) -> int:
        with self._seq_lock:
            seq = r.seq
            r.seq += 1
            return seq

    def _time_column(self, batch: pa.RecordBatch) -> str | None:
        if self.time_field and self.time_field in batch.schema.names:
            t = batch.schema.field(self.time_field).type
            if pa.types.is_timestamp(t) or pa.types.is_date(t):
                return self.time_field
        return None

    # -- delivery ----------------------------------------------------------------------
    def _deliver_cb(self, header: FrameHeader, error: Exception | None) -> None:
        if self.on_delivery is not None:
            try:
                self.on_delivery(header, error)
            except Exception:  # a failing callback must not stop delivery
                pass

    def _run_async(self, coro: Any) -> Any:
        """Run a coroutine of an AsyncSink on the producer's own event loop
        (one loop for the producer's life: async clients bind to their loop)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    def _sink_write(self, sink: Any, frames: list[bytes]) -> None:
        if inspect.iscoroutinefunction(getattr(sink, "write", None)):
            self._run_async(sink.write(frames))
        else:
            sink.write(frames)

    def _send_loop(self) -> None:
        # never takes the producer's lock: an add blocked on a full outbox
        # holds it while this thread drains the outbox
        while True:
            items = self.outbox.take(16)
            if not items:
                return
            for item in items:
                batch, route = item
                frames = self._frames(self._routes[route], batch)
                self._send(item, frames)

    def _send(self, item: tuple, frames: list[bytes]) -> None:
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                self._sink_write(self.sink, frames)
                self.outbox.done_with(item, "delivered")
                for f in frames:
                    self._deliver_cb(peek_header(f), None)
                return
            except Exception as e:  # noqa: BLE001 - every failure is accounted for below
                err = e if isinstance(e, SinkError) else \
                    SinkError(f"{type(e).__name__}: {e}", retryable=isinstance(e, OSError))
                p = self.retry
                sleep = random.uniform(0, min(p.max_backoff_s, p.initial_backoff_s * p.multiplier ** attempt))
                if err.retryable and time.monotonic() + sleep - start < p.deadline_s:
                    time.sleep(sleep)
                    attempt += 1
                    continue
                self._to_dead_letter(item, frames, err)
                return

    def _to_dead_letter(self, item: tuple, frames: list[bytes], err: Exception) -> None:
        if self.dead_letter is not None:
            try:
                self._sink_write(self.dead_letter, frames)
            except Exception:
                self.dead_letters.extend(frames)   # never silently away
        else:
            self.dead_letters.extend(frames)
        self.outbox.done_with(item, "dead_lettered")
        for f in frames:
            self._deliver_cb(peek_header(f), err)

    def _timer_loop(self) -> None:
        period = max(self.linger_s / 2, 0.001)
        while not self._stop_timer.wait(period):
            try:
                self.poll()
            except BufferFullError:
                pass

    # -- lifecycle -----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the producer is closed")

    def flush(self, timeout: float | None = None) -> bool:
        """Cut every pending batch and wait until the sink has every frame
        (or it was dead-lettered).  Returns False if ``timeout`` passed first."""
        with self._lock:
            for r in self._routes.values():
                self._cut(r)
        return self.outbox.wait_empty(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop the threads and close the sink (and dead letter)."""
        if self._closed:
            return
        try:
            self.flush(timeout)
        finally:
            self._closed = True
            self._stop_timer.set()
            self.outbox.close()
            self._sender.join(timeout)
            if self._timer is not None:
                self._timer.join(timeout)
            for s in (self.sink, self.dead_letter):
                if s is not None and hasattr(s, "close"):
                    if inspect.iscoroutinefunction(s.close):
                        self._run_async(s.close())
                    else:
                        s.close()
            if self._loop is not None:
                self._loop.close()

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def rejected(self) -> pa.Table:
        """Every rejected input so far (the encoders' rejected rows and
        unknown routes), in the encoders' rejected-row schema."""
        with self._lock:
            parts = [b for r in self._routes.values() for b in r.rejected] + self._unknown_rejected
        return pa.Table.from_batches(parts, schema=REJECTED_SCHEMA) if parts else REJECTED_SCHEMA.empty_table()

    def stats(self) -> dict[str, dict[str, int]]:
        """Exact counters per route and in total; each balances:
        received == delivered + dead_lettered + deduplicated + rejected + dropped + pending."""
        keys = ("received", "delivered", "dead_lettered", "deduplicated", "rejected", "dropped", "pending")
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            queued, done = self.outbox.snapshot()
            for name in self._route_order:
                r = self._routes[name]
                d = {k: r.c[k] for k in keys}
                d["delivered"] = done.get((name, "delivered"), 0)
                d["dead_lettered"] = done.get((name, "dead_lettered"), 0)
                d["pending"] = r.pending_rows() + queued.get(name, 0)
                d["frames"] = r.seq
                out[name] = d
            if self._unknown:
                out["<unknown route>"] = {k: self._unknown[k] for k in keys}
        total = {k: sum(d.get(k, 0) for d in out.values()) for k in keys + ("frames",)}
        out["total"] = total
        return out
