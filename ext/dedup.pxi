# CoreDedup: the windowed dedup table of ext/eb_dedup.h.  The Python side
# (eventbatch.dedup) owns the window arithmetic, the argument checks, the lock
# and the snapshot file; this class owns the C state and runs the loop.

from libc.stdint cimport uint16_t

cdef extern from "eb_dedup.h" nogil:
    enum:
        EB_DD_MAX_GENERATIONS
        EB_DD_STATE_BYTES
        EB_DD_SLOT_BYTES

    ctypedef struct eb_dedup:
        uint64_t *keys
        uint8_t *tags
        uint16_t *fps
        uint64_t cap
        uint64_t grow_at
        int growable
        uint32_t ngen
        uint64_t gen_keys
        int64_t span_ms
        uint64_t cur_seq
        uint8_t cur_tag
        uint64_t oldest_seq
        int64_t cur_start_ms
        int has_start
        uint64_t live
        uint64_t counts[256]
        int zero_present
        uint8_t zero_tag
        uint16_t zero_fp
        uint64_t seen, unique, duplicates, resends, conflicts, evicted

    int eb_dedup_init(eb_dedup *d, uint64_t cap, int growable, uint64_t gen_keys,
                      int64_t span_ms, uint32_t ngen)
    void eb_dedup_free(eb_dedup *d)
    int64_t eb_dedup_filter(eb_dedup *d, const uint64_t *keys, const int64_t *times,
                            int64_t now_ms, const uint64_t *content, int64_t n, uint8_t *out)
    const char *eb_dedup_check(const eb_dedup *d)
    uint8_t eb_dd_tag(uint64_t seq)

DEDUP_STATE_BYTES = EB_DD_STATE_BYTES
DEDUP_SLOT_BYTES = EB_DD_SLOT_BYTES
DEDUP_MAX_GENERATIONS = EB_DD_MAX_GENERATIONS
DEDUP_STATE_SIZEOF = sizeof(eb_dedup)

# Names of the counters and of the state fields a snapshot carries, in file order.
_DD_COUNTERS = ("seen", "unique", "duplicates", "resends", "conflicts", "evicted")


cdef class CoreDedup:
    """The table and its generations (see ext/eb_dedup.h).

    One thread at a time: a call made while another thread is inside
    ``filter`` raises RuntimeError (eventbatch.Deduplicator serialises calls
    with a lock, so its users never see that)."""
    cdef eb_dedup d
    cdef bint _busy     # a call is running with the GIL released
    cdef bint _broken   # a restore failed half-way: the state is not to be used

    def __cinit__(self, uint64_t capacity, bint growable, uint64_t gen_keys, int64_t span_ms,
                  uint32_t generations):
        if generations < 2 or generations > EB_DD_MAX_GENERATIONS:
            raise ValueError(f"generations must be in [2, {EB_DD_MAX_GENERATIONS}], got {generations}")
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if span_ms < 0:
            raise ValueError("span_ms must not be negative")
        rc = eb_dedup_init(&self.d, capacity, growable, gen_keys, span_ms, generations)
        if rc == -2:
            raise ValueError(f"{gen_keys} keys per generation x {generations} generations do not "
                             f"fit {capacity} slots at a load of 0.7")
        if rc != 0:
            raise MemoryError(f"cannot allocate a dedup table of {capacity} slots "
                              f"({capacity * EB_DD_SLOT_BYTES} bytes)")

    def __dealloc__(self):
        eb_dedup_free(&self.d)

    cdef int _enter(self) except -1:
        if self._broken:
            raise RuntimeError("this CoreDedup holds a state that failed its checks")
        if self._busy:
            raise RuntimeError("this CoreDedup is in use by another thread")
        self._busy = True
        return 0

    def filter(self, const uint64_t[::1] keys not None, const int64_t[::1] times, int64_t now_ms,
               const uint64_t[::1] content):
        """uint8 mask: 1 for keys not in the window (now added), 0 for the others.

        times (or None: now_ms for every key) and content (or None) have the
        length of keys; the caller checks that."""
        cdef Py_ssize_t n = keys.shape[0]
        cdef const int64_t *tp = NULL
        cdef const uint64_t *cp = NULL
        cdef const uint64_t *kp = NULL
        cdef uint8_t *op = NULL
        cdef int64_t done
        if times is not None:
            if times.shape[0] != n:
                raise ValueError(f"times: expected {n} values, got {times.shape[0]}")
            if n:
                tp = &times[0]
        if content is not None:
            if content.shape[0] != n:
                raise ValueError(f"content: expected {n} values, got {content.shape[0]}")
            if n:
                cp = &content[0]
        out = _np.empty(n, dtype=_np.uint8)
        if n == 0:
            return out
        cdef uint8_t[::1] ov = out
        kp = &keys[0]
        op = &ov[0]
        self._enter()
        try:
            with nogil:
                done = eb_dedup_filter(&self.d, kp, tp, now_ms, cp, n, op)
        finally:
            self._busy = False
        if done != n:
            raise MemoryError(f"out of memory growing the dedup table past {self.d.cap} slots; "
                              f"the first {done} keys of this call were recorded")
        return out

    def stats(self):
        return {
            "seen": self.d.seen,
            "unique": self.d.unique,
            "duplicates": self.d.duplicates,
            "resends": self.d.resends,
            "conflicts": self.d.conflicts,
            "evicted": self.d.evicted,
            "keys": self.d.live,
            "generations": self.d.cur_seq - self.d.oldest_seq + 1,
        }

    @property
    def capacity(self):
        return self.d.cap

    def _check(self):
        """Check every invariant of the table (a full pass; for tests).
        Returns None, or what is wrong."""
        cdef const char *err
        self._enter()
        try:
            with nogil:
                err = eb_dedup_check(&self.d)
        finally:
            self._busy = False
        return None if err == NULL else (<bytes>err).decode()

    # -- snapshot support ---------------------------------------------------------
    def _get_state(self):
        """Every field besides the arrays, as a dict of ints."""
        state = {
            "capacity": self.d.cap,
            "growable": self.d.growable,
            "generations": self.d.ngen,
            "gen_keys": self.d.gen_keys,
            "span_ms": self.d.span_ms,
            "cur_seq": self.d.cur_seq,
            "oldest_seq": self.d.oldest_seq,
            "cur_start_ms": self.d.cur_start_ms,
            "has_start": self.d.has_start,
            "live": self.d.live,
            "zero_present": self.d.zero_present,
            "zero_tag": self.d.zero_tag,
            "zero_fp": self.d.zero_fp,
            "counts": [self.d.counts[i] for i in range(256)],
        }
        stats = self.stats()
        for name in _DD_COUNTERS:
            state[name] = stats[name]
        return state

    def _set_state(self, dict state):
        """Set the fields that _get_state returned (capacity, growable,
        generations, gen_keys and span_ms come from the constructor), then
        check the invariants.  Returns None, or what is wrong; after a
        failure (returned or raised) the object refuses every further call."""
        cdef int i
        cdef const char *err = NULL
        self._enter()
        self._broken = True
        try:
            counts = state["counts"]
            if len(counts) != 256:
                return "expected 256 generation counts"
            for i in range(256):
                self.d.counts[i] = counts[i]
            self.d.cur_seq = state["cur_seq"]
            self.d.cur_tag = eb_dd_tag(self.d.cur_seq)
            self.d.oldest_seq = state["oldest_seq"]
            self.d.cur_start_ms = state["cur_start_ms"]
            self.d.has_start = 1 if state["has_start"] else 0
            self.d.live = state["live"]
            self.d.zero_present = 1 if state["zero_present"] else 0
            self.d.zero_tag = state["zero_tag"]
            self.d.zero_fp = state["zero_fp"]
            self.d.seen = state["seen"]
            self.d.unique = state["unique"]
            self.d.duplicates = state["duplicates"]
            self.d.resends = state["resends"]
            self.d.conflicts = state["conflicts"]
            self.d.evicted = state["evicted"]
            self._busy = True
            with nogil:
                err = eb_dedup_check(&self.d)
            if err != NULL:
                return (<bytes>err).decode()
            self._broken = False
            return None
        finally:
            self._busy = False

    cdef char *_array(self, int which, uint64_t start, uint64_t count, size_t *width) except NULL:
        cdef size_t w = 8 if which == 0 else (1 if which == 1 else 2)
        if which < 0 or which > 2:
            raise ValueError(f"array must be 0, 1 or 2, got {which}")
        if start > self.d.cap or count > self.d.cap - start:
            raise ValueError(f"slots [{start}, {start + count}) are outside the table of {self.d.cap}")
        width[0] = w
        if which == 0:
            return <char *>(self.d.keys + start)
        if which == 1:
            return <char *>(self.d.tags + start)
        return <char *>(self.d.fps + start)

    def _read(self, int which, uint64_t start, uint64_t count):
        """A copy of slots [start, start + count) of keys (0), tags (1) or
        fingerprints (2), as a native-order numpy array."""
        cdef size_t w
        cdef char *p
        cdef uint8_t[::1] ov
        dtype = (_np.uint64, _np.uint8, _np.uint16)[which]
        out = _np.empty(count, dtype=dtype)
        ov = out.view(_np.uint8)
        self._enter()   # a filter running elsewhere could grow (move) the arrays
        try:
            p = self._array(which, start, count, &w)
            if count:
                memcpy(&ov[0], p, count * w)
        finally:
            self._busy = False
        return out

    def _write(self, int which, uint64_t start, data):
        """Copy a native-order numpy array into slots from start on."""
        cdef size_t w
        cdef const uint8_t[::1] bv
        dtype = (_np.uint64, _np.uint8, _np.uint16)[which]
        arr = _np.ascontiguousarray(data, dtype=dtype)
        cdef uint64_t count = arr.shape[0]
        cdef char *p
        self._enter()
        try:
            p = self._array(which, start, count, &w)
            if count:
                bv = arr.view(_np.uint8)
                memcpy(p, &bv[0], count * w)
        finally:
            self._busy = False
