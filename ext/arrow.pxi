# Core buffers -> pyarrow arrays.  Buffers are handed over, not copied:
# each becomes a pyarrow foreign buffer whose base (_Mem) frees it.

cdef extern from "eb_json.h" nogil:
    int64_t eb_count_set(const uint8_t *p, int64_t nbits)


# Blocks that Arrow has let go of, kept for the next batches' buffers: a
# fresh malloc of a large block is fresh pages from the kernel, which fault
# (and are zeroed) on first write -- a few percent of the encoder's time in a
# Producer, whose batches are framed and dropped one after another.  Bounded:
# at most _POOL_SLOTS blocks and _POOL_MAX_BYTES bytes per process; a block
# that does not fit is freed.  Only touched with the GIL held (_take, and
# _Mem.__dealloc__: pyarrow takes the GIL to release a foreign buffer's base).
cdef enum:
    _POOL_SLOTS = 256
cdef size_t _POOL_MAX_BYTES = 64 << 20
cdef uint8_t *_pool_p[256]
cdef size_t _pool_cap[256]
cdef int _pool_n = 0
cdef size_t _pool_bytes = 0


cdef uint8_t *_pool_get(size_t want, size_t *cap) noexcept:
    """A block of at least want bytes (the smallest pooled one up to 4x want,
    else a new malloc); its size in *cap (0 when out of memory)."""
    global _pool_n, _pool_bytes
    cdef int i, best = -1
    cdef size_t c
    cdef uint8_t *p
    for i in range(_pool_n):
        c = _pool_cap[i]
        if c >= want and c <= 4 * want and (best < 0 or c < _pool_cap[best]):
            best = i
    if best < 0:
        p = <uint8_t *>malloc(want)
        cap[0] = want if p != NULL else 0
        return p
    p = _pool_p[best]
    cap[0] = _pool_cap[best]
    _pool_n -= 1
    _pool_p[best] = _pool_p[_pool_n]
    _pool_cap[best] = _pool_cap[_pool_n]
    _pool_bytes -= cap[0]
    return p


cdef void _pool_put(uint8_t *p, size_t cap) noexcept:
    global _pool_n, _pool_bytes
    if p == NULL:
        return
    if cap >= 4096 and _pool_n < _POOL_SLOTS and _pool_bytes + cap <= _POOL_MAX_BYTES:
        _pool_p[_pool_n] = p
        _pool_cap[_pool_n] = cap
        _pool_n += 1
        _pool_bytes += cap
    else:
        free(p)


def _buffer_pool_stats():
    """(blocks, bytes) held for reuse now -- for tests."""
    return _pool_n, _pool_bytes


cdef class _Mem:
    """Owner of one malloc'd block that a pyarrow buffer points into."""
    cdef uint8_t *p
    cdef size_t cap

    def __dealloc__(self):
        _pool_put(self.p, self.cap)
        self.p = NULL


cdef object _EMPTY = pa.py_buffer(b"\0" * 8)


cdef object _take(eb_buf *b, size_t nbytes):
    """Hand b's storage to Arrow as a buffer of nbytes; b restarts empty
    with at least the same capacity (the next batch will likely need as
    much), from the pool when it has a block that fits."""
    cdef size_t hint = b.cap, cap = 0
    cdef uint8_t *p
    cdef _Mem m
    if b.p == NULL or nbytes == 0:
        b.len = 0
        return _EMPTY.slice(0, 0)
    p = b.p
    m = _Mem.__new__(_Mem)
    m.p = p
    m.cap = b.cap
    b.p = _pool_get(hint, &cap) if hint else NULL
    b.cap = cap
    b.len = 0
    return pa.foreign_buffer(<uintptr_t>p, nbytes, m)


cdef object _validity(eb_node *n, int64_t *nulls):
    """The validity bitmap, or None when no slot is null."""
    cdef int64_t length = n.len
    if length == 0:
        nulls[0] = 0
        n.valid.len = 0
        return None
    nulls[0] = length - eb_count_set(n.valid.p, length)
    if nulls[0] == 0:
        n.valid.len = 0
        return None
    return _take(&n.valid, <size_t>((length + 7) >> 3))


cdef object _node_array(eb_node *n, list types):
    """Build the array of node n from its buffers and reset the node."""
    cdef int64_t length = n.len, nulls = 0
    cdef int32_t last
    cdef int i
    t = types[n.id]
    valid = _validity(n, &nulls)
    kind = n.kind
    if kind == EB_STRUCT:
        children = [_node_array(n.child[i], types) for i in range(n.nchild)]
        arr = pa.Array.from_buffers(t, length, [valid], null_count=nulls, children=children)
    elif kind == EB_LIST:
        last = (<int32_t *>n.offs.p)[length]
        offs = _take(&n.offs, <size_t>(4 * (length + 1)))
        child = _node_array(n.child[0], types)
        arr = pa.Array.from_buffers(t, length, [valid, offs], null_count=nulls, children=[child])
    elif kind == EB_STRING or kind == EB_BINARY or kind == EB_JSON:
        last = (<int32_t *>n.offs.p)[length]
        offs = _take(&n.offs, <size_t>(4 * (length + 1)))
        data = _take(&n.data, <size_t>last)
        arr = pa.Array.from_buffers(t, length, [valid, offs, data], null_count=nulls)
    elif kind == EB_BOOL:
        data = _take(&n.data, <size_t>((length + 7) >> 3))
        arr = pa.Array.from_buffers(t, length, [valid, data], null_count=nulls)
    else:
        data = _take(&n.data, <size_t>(length * n.width))
        arr = pa.Array.from_buffers(t, length, [valid, data], null_count=nulls)
    n.len = 0
    n.mark = 0
    n.data.len = 0
    n.valid.len = 0
    if kind == EB_STRING or kind == EB_BINARY or kind == EB_JSON or kind == EB_LIST:
        if eb_offs_init(n):
            raise MemoryError()
    return arr
