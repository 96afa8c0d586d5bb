# CoreEncoder: the state of one encoder, its NDJSON entry points, flush and
# counters.  The Python class eventbatch.Encoder subclasses it.

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.pythread cimport PyThread_get_thread_ident
from libc.stdint cimport INT64_MAX

cdef extern from "eb_rowhash.h" nogil:
    int eb_row_hashes(const eb_node *root, const int *keys, int nkeys, const uint8_t *skip,
                      uint64_t *out)
    int eb_compact(eb_node *n, const uint8_t *keep)

import numpy as np

cdef object _REASONS = {
    1: "invalid_json", 2: "invalid_utf8", 3: "not_an_object", 4: "type_mismatch",
    5: "out_of_range", 6: "invalid_value", 7: "missing_required", 8: "unknown_field",
    9: "too_deep", 10: "line_too_long"}

REJECTED_SCHEMA = pa.schema([
    pa.field("raw", pa.binary(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("line", pa.int64()),
    pa.field("offset", pa.int64(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("path", pa.string(), nullable=False),
    pa.field("message", pa.string(), nullable=False),
])

cdef list _REJ_TYPES = [pa.binary(), pa.int32(), pa.int64(), pa.int64(), pa.int8(),
                        pa.string(), pa.string()]

cdef int _WIDTH[19]
_WIDTH[:] = [0, 0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 0, 0, 8, 4, 0, 0, 0]


cdef int _init_leaf(eb_node *n, int kind, int nullable, int ident) except -1:
    n.kind = kind
    n.nullable = nullable
    n.width = _WIDTH[kind]
    n.id = ident
    if kind == EB_STRING or kind == EB_BINARY or kind == EB_JSON or kind == EB_LIST:
        if eb_offs_init(n):
            raise MemoryError()
    return 0


cdef void _free_node(eb_node *n) noexcept:
    eb_buf_free(&n.valid)
    eb_buf_free(&n.data)
    eb_buf_free(&n.offs)
    free(n.child)
    free(n.names)
    free(n.name_lens)
    free(n.htab)
    free(n.seen)
    free(n.slot)
    free(n.next)


cdef class CoreEncoder:
    """The compiled encoder state.  Use :class:`eventbatch.Encoder`."""

    cdef eb_enc e
    cdef list _types          # pyarrow type of each node, by node id
    cdef list _keep           # bytes objects the C side points into
    cdef list _fieldnames     # struct node id -> tuple of field names (str)
    cdef list _fieldindex     # struct node id -> {name: child index}
    cdef object _schema_arrow
    cdef list _sealed         # batches cut early by the 2 GiB offset limit
    cdef list _sources        # source names, by source id
    cdef dict _source_ids
    cdef long _owner          # thread ident while a call runs, else 0
    cdef list _xframes        # dict path, _extra: [segment, opened, has_members]
    cdef object _xout         # dict path, _extra: list of str pieces
    cdef int64_t _xcount
    cdef int64_t _big         # dict path: string bytes since the last capacity check
    cdef int _json_limit      # dict path: deepest nesting _py_json accepts
    cdef list _epath          # dict path: error path segments, innermost first
    cdef int _ereason
    cdef object _eexpected, _egot
    cdef object _hash_keys, _hash_skip    # row hashes: key field indexes, content skip mask
    cdef int _hash_key_col, _hash_content_col
    cdef bint _hash_signed
    cdef object _row_filter
    cdef int _time_index

    def __cinit__(self, *args, **kwargs):
        memset(&self.e, 0, sizeof(eb_enc))
        self._sealed = []
        self._sources = []
        self._source_ids = {}
        self._owner = 0

    def _setup(self, list plan, int policy, int max_depth, size_t max_line, object arrow_schema):
        """Build the C column tree from Schema.compile()'s node list."""
        cdef int i, j, nn = len(plan), depth
        cdef eb_node *n
        cdef uint32_t cap, h
        cdef bytes nm
        if self.e.nodes != NULL:
            raise RuntimeError("encoder already set up")
        self._types = []
        self._keep = []
        self._fieldnames = []
        self._fieldindex = []
        self._schema_arrow = arrow_schema
        self.e.nodes = <eb_node **>calloc(nn, sizeof(eb_node *))
        if self.e.nodes == NULL:
            raise MemoryError()
        for i in range(nn):
            self.e.nodes[i] = <eb_node *>calloc(1, sizeof(eb_node))
            if self.e.nodes[i] == NULL:
                raise MemoryError()
            self.e.nnodes = i + 1
        for i in range(nn):
            kind, nullable, unit, has_tz, child_ids, names, dtype, path = plan[i]
            n = self.e.nodes[i]
            _init_leaf(n, kind, nullable, i)
            n.unit = unit
            tname = dtype.kind if kind in (EB_STRUCT, EB_LIST, EB_JSON) else str(dtype)
            tb = tname.encode()
            self._keep.append(tb)
            n.type_name = <const char *>tb
            self._types.append(dtype.to_arrow() if i else None)
            self._fieldnames.append(tuple(x.decode("utf-8") for x in names))
            self._fieldindex.append({x.decode("utf-8"): k for k, x in enumerate(names)})
            n.nchild = len(child_ids)
            if n.nchild:
                n.child = <eb_node **>calloc(n.nchild, sizeof(eb_node *))
                if n.child == NULL:
                    raise MemoryError()
                for j in range(n.nchild):
                    n.child[j] = self.e.nodes[child_ids[j]]
                    if not plan[child_ids[j]][1]:
                        n.nreq += 1
            if kind == EB_STRUCT:
                n.names = <const uint8_t **>calloc(n.nchild + 1, sizeof(uint8_t *))
                n.name_lens = <uint32_t *>calloc(n.nchild + 1, sizeof(uint32_t))
                n.seen = <uint64_t *>calloc(n.nchild + 1, sizeof(uint64_t))
                n.slot = <int32_t *>calloc(n.nchild + 1, sizeof(int32_t))
                n.next = <int32_t *>calloc(n.nchild + 1, sizeof(int32_t))
                cap = 8
                while cap < <uint32_t>(2 * n.nchild + 2):
                    cap *= 2
                n.htab = <uint32_t *>calloc(cap, sizeof(uint32_t))
                n.hmask = cap - 1
                if not (n.names and n.name_lens and n.seen and n.slot and n.htab and n.next):
                    raise MemoryError()
                for j in range(n.nchild):
                    nm = names[j]
                    self._keep.append(nm)
                    n.names[j] = <const uint8_t *><const char *>nm
                    n.name_lens[j] = len(nm)
                    h = eb_key_hash(n.names[j], len(nm)) & n.hmask
                    while n.htab[h] != 0:
                        h = (h + 1) & n.hmask
                    n.htab[h] = j + 1
        self.e.root = self.e.nodes[0]
        self.e.policy = policy
        self.e.max_depth = max_depth
        self._json_limit = max_depth
        self.e.max_line = max_line
        depth = _schema_depth(plan, 0)
        self.e.frame_cap = depth + 2
        self.e.frames = <eb_frame *>calloc(self.e.frame_cap, sizeof(eb_frame))
        self.e.cstack = <uint8_t *>calloc(max_depth + 2, 1)
        if self.e.frames == NULL or self.e.cstack == NULL:
            raise MemoryError()
        if policy == EB_POLICY_EXTRA:
            self.e.extra = <eb_node *>calloc(1, sizeof(eb_node))
            if self.e.extra == NULL:
                raise MemoryError()
            _init_leaf(self.e.extra, EB_STRING, 1, nn)
            self._types.append(pa.string())
        _init_leaf(&self.e.rej.raw, EB_BINARY, 0, 0)
        _init_leaf(&self.e.rej.source, EB_I32, 0, 1)
        _init_leaf(&self.e.rej.line, EB_I64, 1, 2)
        _init_leaf(&self.e.rej.offset, EB_I64, 0, 3)
        _init_leaf(&self.e.rej.reason, EB_I8, 0, 4)
        _init_leaf(&self.e.rej.path, EB_STRING, 0, 5)
        _init_leaf(&self.e.rej.message, EB_STRING, 0, 6)
        self.e.stop_rows = INT64_MAX
        self._time_index = -1
        if eb_enc_init_locale(&self.e):
            raise MemoryError("cannot create the C locale")
        self._set_source("<ndjson>")

    def __dealloc__(self):
        cdef int i
        if self.e.nodes != NULL:
            for i in range(self.e.nnodes):
                if self.e.nodes[i] != NULL:
                    _free_node(self.e.nodes[i])
                    free(self.e.nodes[i])
            free(self.e.nodes)
        if self.e.extra != NULL:
            _free_node(self.e.extra)
            free(self.e.extra)
        _free_node(&self.e.rej.raw)
        _free_node(&self.e.rej.source)
        _free_node(&self.e.rej.line)
        _free_node(&self.e.rej.offset)
        _free_node(&self.e.rej.reason)
        _free_node(&self.e.rej.path)
        _free_node(&self.e.rej.message)
        free(self.e.frames)
        free(self.e.cstack)
        eb_buf_free(&self.e.scratch)
        eb_buf_free(&self.e.members)
        eb_buf_free(&self.e.keys)
        eb_buf_free(&self.e.table)
        eb_buf_free(&self.e.pathbuf)
        eb_buf_free(&self.e.skip_head)
        eb_enc_free_locale(&self.e)

    # -- ownership: one thread at a time ------------------------------------
    cdef int _enter(self) except -1:
        if self.e.nodes == NULL:
            raise RuntimeError("the encoder is not set up")
        if self._owner != 0:
            raise RuntimeError("this encoder is in use by another thread; use one encoder per thread")
        self._owner = <long>PyThread_get_thread_ident()
        return 0

    cdef void _leave(self) noexcept:
        self._owner = 0

    cdef int _set_source(self, object source) except -1:
        sid = self._source_ids.get(source)
        if sid is None:
            sid = len(self._sources)
            self._sources.append(source)
            self._source_ids[source] = sid
        self.e.source_id = sid
        return 0

    # -- NDJSON -----------------------------------------------------------------
    def extend_ndjson(self, block, bint final=False, source=None, max_rows=None):
        """Encode the lines of a block of NDJSON bytes.

        Returns the bytes not consumed: the unfinished last line (after the
        last newline), which the caller puts in front of the next block;
        with ``final=True`` that line is encoded too and ``b""`` is
        returned.  With ``max_rows``, it stops before the next line once
        the pending batch holds that many rows, and returns the rest.
        The GIL is released while the block is scanned.
        """
        cdef Py_ssize_t done = self._consume_ndjson(block, final, source, max_rows)
        cdef Py_buffer view
        PyObject_GetBuffer(block, &view, PyBUF_SIMPLE)
        try:
            if done >= view.len:
                return b""
            return PyBytes_FromStringAndSize(<const char *>view.buf + done, view.len - done)
        finally:
            PyBuffer_Release(&view)

    def _consume_ndjson(self, block, bint final=False, source=None, max_rows=None):
        """extend_ndjson, returning how many bytes it consumed instead of a
        copy of the rest (callers that go on from an offset)."""
        cdef Py_buffer view
        cdef int64_t done
        cdef int status = 0
        cdef const uint8_t *p
        cdef size_t n, pos = 0
        self._enter()
        try:
            self._set_source("<ndjson>" if source is None else str(source))
            self.e.stop_rows = INT64_MAX if max_rows is None else max(<int64_t>max_rows, 0)
            PyObject_GetBuffer(block, &view, PyBUF_SIMPLE)
            try:
                p = <const uint8_t *>view.buf
                n = <size_t>view.len
                while True:
                    with nogil:
                        done = eb_ndjson(&self.e, p + pos, n - pos, final, &status)
                    if done < 0:
                        raise MemoryError("out of memory while encoding NDJSON")
                    pos += <size_t>done
                    if status == EB_EFULL:
                        self._seal()
                        continue
                    break
                return pos
            finally:
                PyBuffer_Release(&view)
        finally:
            self._leave()

    def append_json(self, doc, source=None):
        """Encode one JSON document (newlines inside are whitespace)."""
        cdef Py_buffer view
        cdef int r
        self._enter()
        try:
            self._set_source("<json>" if source is None else str(source))
            PyObject_GetBuffer(doc, &view, PyBUF_SIMPLE)
            try:
                if eb_near_full(&self.e):
                    self._seal()
                r = self._json_doc(<const uint8_t *>view.buf, <size_t>view.len)
                if r == EB_EFULL:
                    self._seal()
                    r = self._json_doc(<const uint8_t *>view.buf, <size_t>view.len)
                if r:
                    raise MemoryError("out of memory while encoding JSON")
            finally:
                PyBuffer_Release(&view)
        finally:
            self._leave()

    cdef int _json_doc(self, const uint8_t *p, size_t n) noexcept:
        cdef size_t s = 0, t = n
        cdef char msg[160]
        cdef int m
        if t >= 3 and p[0] == 0xEF and p[1] == 0xBB and p[2] == 0xBF:
            s = 3
        if t > s and p[t - 1] == 13:    # a trailing CR, as at the end of an NDJSON line
            t -= 1
        if _all_ws(p + s, t - s):
            self.e.blank_lines += 1
            return 0
        if t - s > self.e.max_line:
            self.e.inputs += 1
            m = snprintf(msg, 160, "document of %zu bytes is longer than max_line_bytes=%zu",
                         t - s, self.e.max_line)
            return eb_reject(&self.e, EB_R_LINE_TOO_LONG, p + s, min(t - s, 4096), -1, 0,
                             "$", 1, msg, m)
        with nogil:
            m = eb_document(&self.e, p + s, t - s, p + s, t - s, -1, 0)
        return m

    # -- dicts ---------------------------------------------------------------------
    def append(self, obj, source=None):
        """Encode one Python dict."""
        self._enter()
        try:
            self._set_source("<dicts>" if source is None else str(source))
            _py_event(self, obj, 0)
        finally:
            self._leave()

    def extend(self, objs, source=None):
        """Encode each dict of an iterable; a rejected one records its index."""
        cdef Py_ssize_t i, n
        self._enter()
        try:
            self._set_source("<dicts>" if source is None else str(source))
            if type(objs) is list:
                n = PyList_GET_SIZE(objs)
                for i in range(n):
                    _py_event(self, <object>PyList_GET_ITEM(objs, i), i)
            else:
                for i, obj in enumerate(objs):
                    _py_event(self, obj, i)
        finally:
            self._leave()

    # -- output ------------------------------------------------------------------
    cdef _seal(self):
        """Cut the rows so far into a pending batch (offset limit reached)."""
        self._sealed.append(self._build_batch())

    cdef _build_batch(self):
        cdef eb_node *root = self.e.root
        cdef int i
        cdef int64_t rows = root.len
        if eb_sync_tree(root):
            raise MemoryError()
        hashes = self._row_hashes(rows)   # from the buffers, before Arrow takes them
        if self._row_filter is not None and rows:
            hashes = self._filter_rows(hashes, rows)
        arrays = [_node_array(root.child[i], self._types) for i in range(root.nchild)]
        if self.e.extra != NULL:
            arrays.append(_node_array(self.e.extra, self._types))
        arrays.extend(hashes)
        root.len = 0
        root.mark = 0
        root.valid.len = 0
        self.e.batch_bytes = 0
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema_arrow)

    def _set_hashing(self, keys, skip, int key_column, int content_column, bint signed):
        """Row hashes as extra columns: key hash (of the top-level fields
        `keys`, or the content hash when empty) and/or content hash
        (skipping the top-level fields flagged in `skip`)."""
        self._hash_keys = np.asarray(keys, dtype=np.intc)
        self._hash_skip = np.asarray(skip, dtype=np.uint8)
        self._hash_key_col = key_column
        self._hash_content_col = content_column
        self._hash_signed = signed

    def _set_row_filter(self, callback, int time_index=-1):
        """callback(key_hash, content_hash, key_present) -> numpy bool mask
        (or None to keep all): rows to keep, applied to every batch before
        Arrow sees it (the producer's dedup).  Arguments are numpy arrays of
        the hash columns set up by _set_hashing (None when absent)."""
        self._row_filter = callback
        self._time_index = time_index

    cdef object _times_ms(self, int64_t rows):
        """Event times (ms since the epoch) from the top-level time field, or None."""
        cdef eb_node *tn
        if self._time_index < 0:
            return None
        tn = self.e.root.child[self._time_index]
        if tn.width == 8:
            t = np.frombuffer((<char *>tn.data.p)[:rows * 8], dtype=np.int64).copy()
        elif tn.width == 4:
            t = np.frombuffer((<char *>tn.data.p)[:rows * 4], dtype=np.int32).astype(np.int64)
        else:
            return None
        if tn.kind == EB_TIMESTAMP:
            t = t * 1000 if tn.unit == 0 else (t // 1000 if tn.unit == 2 else (t // 1000000 if tn.unit == 3 else t))
        elif tn.kind == EB_DATE32:
            t = t * 86400000
        bits = np.frombuffer((<char *>tn.valid.p)[:(rows + 7) >> 3], dtype=np.uint8)
        valid = np.unpackbits(bits, bitorder="little", count=rows).astype(bool)
        t[~valid] = 0
        return t

    cdef list _filter_rows(self, list hashes, int64_t rows):
        cdef int i
        cdef uint8_t[::1] keep
        cdef eb_node *root = self.e.root
        cdef eb_node *kn
        cdef int64_t r
        key = hashes[0] if self._hash_key_col else None
        content = hashes[-1] if self._hash_content_col else None
        present = None
        if self._hash_key_col and len(self._hash_keys):
            present = np.zeros(rows, dtype=bool)
            for i in self._hash_keys:
                kn = root.child[i]
                bits = np.frombuffer((<char *>kn.valid.p)[:(rows + 7) >> 3], dtype=np.uint8)
                present |= np.unpackbits(bits, bitorder="little", count=rows).astype(bool)
        mask = self._row_filter(None if key is None else key.to_numpy(),
                                None if content is None else content.to_numpy(), present,
                                self._times_ms(rows))
        if mask is None:
            return hashes
        mask = np.ascontiguousarray(mask, dtype=np.uint8)
        if mask.shape[0] != rows:
            raise ValueError(f"row filter returned {mask.shape[0]} flags for {rows} rows")
        if mask.all():
            return hashes
        keep = mask
        with nogil:
            r = eb_compact(root, &keep[0])
            if r == 0 and self.e.extra != NULL:
                r = eb_compact(self.e.extra, &keep[0])
        if r:
            raise MemoryError()
        sel = mask.astype(bool)
        return [pa.array(h.to_numpy()[sel]) for h in hashes]

    cdef list _row_hashes(self, int64_t rows):
        cdef int[::1] keys
        cdef uint8_t[::1] skip
        cdef uint64_t[::1] out
        cdef int r = 0, nkeys, nk
        cdef const int *kp
        cdef const uint8_t *sp
        res = []
        if not self._hash_key_col and not self._hash_content_col:
            return res
        keys = self._hash_keys
        skip = self._hash_skip
        nkeys = keys.shape[0]
        sp = &skip[0] if skip.shape[0] else NULL
        for want, nkw in ((self._hash_key_col, nkeys), (self._hash_content_col, 0)):
            if not want:
                continue
            nk = nkw
            kp = &keys[0] if nk else NULL
            arr = np.empty(rows, dtype=np.uint64)
            out = arr
            with nogil:
                if rows:
                    r = eb_row_hashes(self.e.root, kp, nk, sp, &out[0])
            if r:
                raise MemoryError()
            res.append(pa.array(arr.view(np.int64) if self._hash_signed else arr))
        return res

    def flush_batches(self):
        """Every accepted row since the last flush, as a list of batches
        (more than one only when a column passed 1 GiB)."""
        self._enter()
        try:
            out = self._sealed
            self._sealed = []
            if self.e.root.len or not out:
                out.append(self._build_batch())
            return out
        finally:
            self._leave()

    def flush_rejected(self):
        """Every rejected input since the last flush, as a RecordBatch."""
        cdef eb_rejects *j = &self.e.rej
        self._enter()
        try:
            raw = _node_array(&j.raw, _REJ_TYPES)
            sids = _node_array(&j.source, _REJ_TYPES)
            line = _node_array(&j.line, _REJ_TYPES)
            offset = _node_array(&j.offset, _REJ_TYPES)
            codes = _node_array(&j.reason, _REJ_TYPES)
            path = _node_array(&j.path, _REJ_TYPES)
            message = _node_array(&j.message, _REJ_TYPES)
            srcs = pa.array(self._sources, pa.string())
            source = srcs.take(sids) if len(sids) else pa.array([], pa.string())
            reason = pa.array([_REASONS[c] for c in codes.to_pylist()], pa.string())
            return pa.RecordBatch.from_arrays(
                [raw, source, line, offset, reason, path, message], schema=REJECTED_SCHEMA)
        finally:
            self._leave()

    def _nsealed(self):
        return len(self._sealed)

    def _counters(self):
        return {
            "inputs": self.e.inputs,
            "accepted": self.e.accepted,
            "rejected": self.e.rejected,
            "blank_lines": self.e.blank_lines,
            "extra_fields": self.e.extra_fields,
            "lines": self.e.lines,
            "bytes": self.e.consumed,
            "pending_rows": self.e.root.len if self.e.root != NULL else 0,
        }


cdef bint _all_ws(const uint8_t *p, size_t n) noexcept:
    cdef size_t i
    for i in range(n):
        if p[i] != 32 and p[i] != 9 and p[i] != 13 and p[i] != 10:
            return False
    return True


cdef int _schema_depth(list plan, int i):
    kind = plan[i][0]
    if kind != EB_STRUCT and kind != EB_LIST:
        return 0
    best = 0
    for c in plan[i][4]:
        d = _schema_depth(plan, c)
        if d > best:
            best = d
    return best + 1


cdef extern from "stdio.h" nogil:
    int snprintf(char *s, size_t n, const char *fmt, ...)
