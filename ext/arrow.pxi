# Core buffers -> pyarrow arrays.  Buffers are handed over, not copied:
# each becomes a pyarrow foreign buffer whose base (_Mem) frees it.

cdef extern from "eb_json.h" nogil:
    int64_t eb_count_set(const uint8_t *p, int64_t nbits)


cdef class _Mem:
    """Owner of one malloc'd block that a pyarrow buffer points into."""
    cdef uint8_t *p

    def __dealloc__(self):
        free(self.p)
        self.p = NULL


cdef object _EMPTY = pa.py_buffer(b"\0" * 8)


cdef object _take(eb_buf *b, size_t nbytes):
    """Hand b's storage to Arrow as a buffer of nbytes; b restarts empty
    with the same capacity (the next batch will likely need as much)."""
    cdef size_t hint = b.cap
    cdef uint8_t *p
    cdef _Mem m
    if b.p == NULL or nbytes == 0:
        b.len = 0
        return _EMPTY.slice(0, 0)
    p = eb_buf_steal(b, hint)
    m = _Mem.__new__(_Mem)
    m.p = p
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
