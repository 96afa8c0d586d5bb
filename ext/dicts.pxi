# The dict path: Python objects -> column builders, under the GIL.
#
# Same contract as the JSON path (docs/SEMANTICS.md).  Walk functions return
# 0 (appended), 1 (the event is rejected; the error is in the encoder's _e*
# fields and _epath) or -1 with a Python exception (misuse, out of memory).

cimport cpython.datetime as cdt
from cpython.mem cimport PyMem_Free
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.math cimport isinf, isnan

cdef extern from "Python.h":
    bint PyDict_Next(object d, Py_ssize_t *pos, PyObject **key, PyObject **value)
    PyObject *PyDict_GetItem(object d, object key)
    Py_ssize_t PyDict_GET_SIZE(object d)
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size)
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    unsigned long long PyLong_AsUnsignedLongLong(object o) except? -1
    double PyLong_AsDouble(object o) except? -1.0
    double PyFloat_AS_DOUBLE(object o)
    char *PyOS_double_to_string(double val, char format_code, int precision, int flags, int *ptype) except NULL
    int Py_DTSF_ADD_DOT_0
    PyObject *PyErr_Occurred()
    void PyErr_Clear()
    int PyObject_GetBuffer(object obj, Py_buffer *view, int flags) except -1
    void PyBuffer_Release(Py_buffer *view)

cdef extern from "eb_json.h" nogil:
    uint64_t eb_next_gen(eb_enc *e)
    int eb_append_null_fast(eb_node *n)
    bint eb_key_eq(const uint8_t *a, const uint8_t *b, size_t n)

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyUnicode_Check(object o)
    bint PyLong_CheckExact(object o)
    bint PyFloat_CheckExact(object o)
    bint PyDict_CheckExact(object o)

# Bytes of strings put since the last capacity check (see _py_event).
DEF _CHECK_BYTES = 64 << 20
# raw of a rejected dict is its JSON up to this depth (C recursion bound), else repr().
DEF _RAW_DEPTH = 1000

cdt.import_datetime()

cdef object _datetime = __import__("datetime").datetime
cdef object _date = __import__("datetime").date


cdef str _py_kind(object v):
    """The name of a Python value's type, for `got` in messages."""
    if v is None:
        return "null"
    return type(v).__name__


cdef inline int _perr(CoreEncoder self, int reason, object expected, object got) except -1:
    self._ereason = reason
    self._eexpected = expected
    self._egot = got
    self._epath = []
    return 1


cdef int _mismatch(CoreEncoder self, eb_node *n, object v, int depth) except -1:
    if depth + 1 > self.e.max_depth and isinstance(v, (dict, list, tuple)):
        # as in JSON text, nesting past the limit is decided before the type
        return _perr(self, EB_R_TOO_DEEP, "object", "nesting deeper than %d" % self.e.max_depth)
    return _perr(self, EB_R_TYPE_MISMATCH, (<bytes>n.type_name).decode(), _py_kind(v))


cdef inline int _check(int r) except -1:
    """Map a C append status to the walk's return convention."""
    if r == EB_OK:
        return 0
    if r == EB_EOOM:
        raise MemoryError()
    raise AssertionError(r)


cdef str _cut(str s):
    return s if len(s) <= 40 else s[:37] + "..."


cdef inline int _py_utf8(CoreEncoder self, object s, const char **p, Py_ssize_t *n) except -1:
    if PyUnicode_IS_COMPACT_ASCII(s):   # the common case: its data is the UTF-8
        p[0] = <const char *>PyUnicode_DATA(s)
        n[0] = PyUnicode_GET_LENGTH(s)
        return 0
    p[0] = PyUnicode_AsUTF8AndSize(s, n)
    if p[0] == NULL:
        PyErr_Clear()
        return _perr(self, EB_R_INVALID_UTF8, "string", "a lone surrogate")
    return 0


cdef int _py_int_value(CoreEncoder self, eb_node *n, object v) except -1:
    """An int (not bool) into an integer, float, timestamp or date column."""
    cdef int overflow = 0, r
    cdef long long x = PyLong_AsLongLongAndOverflow(v, &overflow)
    cdef unsigned long long u
    cdef double d
    if overflow == 0 and n.width == 8 and (n.kind == EB_I64 or n.kind == EB_TIMESTAMP):
        r = eb_put_i64(n, x)                 # the common case: no range to check
        return 0 if r == 0 else _check(r)
    if overflow == 0:
        if x < 0:
            r = eb_put_int(n, 1, <uint64_t>(-(x + 1)) + 1)
        else:
            r = eb_put_int(n, 0, <uint64_t>x)
    elif n.kind == EB_F64 or n.kind == EB_F32:
        try:
            d = PyLong_AsDouble(v)
        except OverflowError:
            r = EB_RANGE
        else:
            r = eb_put_double(n, d)
    elif overflow > 0 and n.kind == EB_U64:
        try:
            u = PyLong_AsUnsignedLongLong(v)
        except OverflowError:
            r = EB_RANGE
        else:
            r = eb_put_int(n, 0, u)
    else:
        r = EB_RANGE
    if r == EB_RANGE:
        return _perr(self, EB_R_OUT_OF_RANGE, (<bytes>n.type_name).decode(), _cut(repr(v)))
    return _check(r)


cdef int _py_time_us(CoreEncoder self, eb_node *n, object v, int64_t t_us) except -1:
    """A time in microseconds into a timestamp column of any unit."""
    cdef int64_t out
    cdef int unit = n.unit
    if unit == 3:
        if t_us > 9223372036854775 or t_us < -9223372036854775:
            return _perr(self, EB_R_OUT_OF_RANGE, (<bytes>n.type_name).decode(), _cut(repr(v)))
        out = t_us * 1000
    elif unit == 2:
        out = t_us
    else:
        div = 1000000 if unit == 0 else 1000
        if t_us % div:
            return _perr(self, EB_R_INVALID_VALUE, (<bytes>n.type_name).decode(), _cut(repr(v)))
        out = t_us // div
    return _check(eb_put_fixed(n, &out))


cdef int _py_datetime(CoreEncoder self, eb_node *n, object v) except -1:
    cdef int64_t days, t_us
    days = eb_days_from_civil(cdt.datetime_year(v), cdt.datetime_month(v), cdt.datetime_day(v))
    t_us = ((days * 86400 + cdt.datetime_hour(v) * 3600 + cdt.datetime_minute(v) * 60
             + cdt.datetime_second(v)) * 1000000 + cdt.datetime_microsecond(v))
    if cdt.datetime_tzinfo(v) is not None:
        off = v.utcoffset()
        if off is not None:
            t_us -= (off.days * 86400 + off.seconds) * 1000000 + off.microseconds
    return _py_time_us(self, n, v, t_us)


cdef int _py_string_parse(CoreEncoder self, eb_node *n, object v) except -1:
    """A str into a timestamp, date32 or binary column."""
    cdef const char *p
    cdef Py_ssize_t sl
    cdef int64_t out = 0
    cdef int32_t d32
    cdef int r
    cdef size_t before
    if _py_utf8(self, v, &p, &sl):
        return 1
    if n.kind == EB_BINARY:
        before = n.data.len
        r = eb_base64_decode(<const uint8_t *>p, sl, &n.data)
        if r < 0:
            raise MemoryError()
        if r:
            n.data.len = before
            return _perr(self, EB_R_INVALID_VALUE, "binary", _cut(repr(v)))
        return _check(eb_close_var(n))
    if n.kind == EB_DATE32:
        r = eb_parse_date(<const uint8_t *>p, sl, &out)
    else:
        r = eb_parse_rfc3339(<const uint8_t *>p, sl, n.unit, &out)
    if r == EB_CONV_RANGE:
        return _perr(self, EB_R_OUT_OF_RANGE, (<bytes>n.type_name).decode(), _cut(repr(v)))
    if r:
        return _perr(self, EB_R_INVALID_VALUE, (<bytes>n.type_name).decode(), _cut(repr(v)))
    if n.kind == EB_DATE32:
        d32 = <int32_t>out
        return _check(eb_put_fixed(n, &d32))
    return _check(eb_put_fixed(n, &out))


cdef int _py_value(CoreEncoder self, eb_node *n, object v, int depth) except -1:
    cdef int kind = n.kind, r
    cdef const char *p
    cdef Py_ssize_t sl
    cdef double d
    if v is None:
        if not n.nullable:
            return _perr(self, EB_R_MISSING_REQUIRED, (<bytes>n.type_name).decode(), "null")
        return _check(eb_append_null_fast(n))
    if kind == EB_STRING:
        if not PyUnicode_Check(v):
            return _mismatch(self, n, v, depth)
        if _py_utf8(self, v, &p, &sl):
            return 1
        if eb_buf_put(&n.data, p, sl):
            raise MemoryError()
        self._big += sl
        return _check(eb_close_var(n))
    if EB_I8 <= kind <= EB_U64:
        if v is True or v is False or not isinstance(v, int):
            return _mismatch(self, n, v, depth)
        return _py_int_value(self, n, v)
    if kind == EB_F64:
        if isinstance(v, float):
            d = PyFloat_AS_DOUBLE(v)
            return _check(eb_put_fixed(n, &d))
        if v is True or v is False or not isinstance(v, int):
            return _mismatch(self, n, v, depth)
        return _py_int_value(self, n, v)
    if kind == EB_BOOL:
        if v is True:
            return _check(eb_put_bool(n, 1))
        if v is False:
            return _check(eb_put_bool(n, 0))
        return _mismatch(self, n, v, depth)
    if kind == EB_STRUCT:
        if not isinstance(v, dict):
            return _mismatch(self, n, v, depth)
        return _py_struct(self, n, v, depth + 1)
    if kind == EB_LIST:
        if not isinstance(v, (list, tuple)):
            return _mismatch(self, n, v, depth)
        return _py_list(self, n, v, depth + 1)
    return _py_value_rare(self, n, v, depth)


cdef int _py_value_rare(CoreEncoder self, eb_node *n, object v, int depth) except -1:
    """_py_value for the kinds that are not on its fast path (kept apart so
    that _py_value stays small: its prologue runs for every value)."""
    cdef int kind = n.kind, r
    cdef Py_ssize_t sl
    cdef double d
    cdef float f
    cdef Py_buffer view
    cdef int32_t d32
    if kind == EB_F32:
        if isinstance(v, float):
            d = PyFloat_AS_DOUBLE(v)
            f = <float>d
            if isinf(f) and not isinf(d):
                return _perr(self, EB_R_OUT_OF_RANGE, (<bytes>n.type_name).decode(), _cut(repr(v)))
            return _check(eb_put_fixed(n, &f))
        if v is True or v is False or not isinstance(v, int):
            return _mismatch(self, n, v, depth)
        return _py_int_value(self, n, v)
    if kind == EB_JSON:
        sl = n.data.len
        r = _py_json(self, &n.data, v, depth)
        if r:
            return r
        self._big += n.data.len - sl
        return _check(eb_close_var(n))
    if kind == EB_BINARY:
        if isinstance(v, str):
            return _py_string_parse(self, n, v)
        if isinstance(v, (bytes, bytearray, memoryview)):
            PyObject_GetBuffer(v, &view, PyBUF_SIMPLE)
            try:
                if eb_buf_put(&n.data, <const char *>view.buf, view.len):
                    raise MemoryError()
            finally:
                PyBuffer_Release(&view)
            return _check(eb_close_var(n))
        return _mismatch(self, n, v, depth)
    if kind == EB_TIMESTAMP:
        if isinstance(v, _datetime):
            return _py_datetime(self, n, v)
        if isinstance(v, str):
            return _py_string_parse(self, n, v)
        if v is True or v is False or not isinstance(v, int):
            return _mismatch(self, n, v, depth)
        return _py_int_value(self, n, v)
    if kind == EB_DATE32:
        if isinstance(v, _datetime):
            return _mismatch(self, n, v, depth)
        if isinstance(v, _date):
            d32 = <int32_t>eb_days_from_civil(cdt.date_year(v), cdt.date_month(v), cdt.date_day(v))
            return _check(eb_put_fixed(n, &d32))
        if isinstance(v, str):
            return _py_string_parse(self, n, v)
        if v is True or v is False or not isinstance(v, int):
            return _mismatch(self, n, v, depth)
        return _py_int_value(self, n, v)
    return _mismatch(self, n, v, depth)




# -- _extra frames (dict path): [segment (bytes, a JSON string), opened, has_members]

cdef inline void _xpush(CoreEncoder self, bytes seg):
    self._xframes.append([seg, False, False])


cdef int _xpop(CoreEncoder self) except -1:
    fr = self._xframes.pop()
    if fr[1] and eb_buf_putc(&self.e.extra.data, b'}'):
        raise MemoryError()
    return 0


cdef int _xmember(CoreEncoder self, object key, object value, int depth) except -1:
    """Write an unknown member into _extra, opening the levels above it."""
    cdef eb_buf *out = &self.e.extra.data
    cdef const char *p
    cdef Py_ssize_t sl
    cdef int k, r
    frames = self._xframes
    if not isinstance(key, str):
        return _perr(self, EB_R_TYPE_MISMATCH, "string", _py_kind(key))
    for k in range(len(frames)):
        fr = frames[k]
        if fr[1]:
            continue
        if k > 0:
            up = frames[k - 1]
            if up[2] and eb_buf_putc(out, b','):
                raise MemoryError()
            seg = <bytes>fr[0]
            if eb_buf_put(out, <const char *>seg, len(seg)) or eb_buf_putc(out, b':'):
                raise MemoryError()
            up[2] = True
        if eb_buf_putc(out, b'{'):
            raise MemoryError()
        fr[1] = True
    fr = frames[len(frames) - 1]
    if fr[2] and eb_buf_putc(out, b','):
        raise MemoryError()
    fr[2] = True
    if _py_utf8(self, key, &p, &sl):
        return 1
    if eb_buf_putc(out, b'"') or eb_escape_put(out, <const uint8_t *>p, sl) or eb_buf_putc(out, b'"') \
            or eb_buf_putc(out, b':'):
        raise MemoryError()
    r = _py_json(self, out, value, depth)
    if r:
        return r
    self._xcount += 1
    return 0


cdef int _py_struct(CoreEncoder self, eb_node *n, object d, int depth) except -1:
    cdef Py_ssize_t pos = 0
    cdef PyObject *k
    cdef PyObject *v
    cdef PyObject *pidx
    cdef int idx, g, r, i, prev, matched = 0
    cdef uint64_t gen
    cdef tuple names = <tuple>self._fieldnames[n.id]
    cdef dict index = <dict>self._fieldindex[n.id]
    cdef int extra = self.e.policy == EB_POLICY_EXTRA
    if depth > self.e.max_depth:
        return _perr(self, EB_R_TOO_DEEP, "object", "nesting deeper than %d" % self.e.max_depth)
    gen = eb_next_gen(&self.e)
    prev = n.nchild
    g = n.next[prev]
    while PyDict_Next(d, &pos, &k, &v):
        # the key that followed the previous one last time, by identity or
        # by its ASCII bytes; else the C name table; else the dict of names
        # (PyUnicode_IS_COMPACT_ASCII and PyUnicode_DATA only on a str: on
        # another key type they would read past the object)
        idx = -1
        key = <object>k
        if g < n.nchild and <PyObject *>PyTuple_GET_ITEM(names, g) == k:
            idx = g
        elif PyUnicode_Check(key):
            if PyUnicode_IS_COMPACT_ASCII(key):
                if g < n.nchild and PyUnicode_GET_LENGTH(key) == n.name_lens[g] and \
                        eb_key_eq(<const uint8_t *>PyUnicode_DATA(key), n.names[g], n.name_lens[g]):
                    idx = g
                else:
                    idx = eb_lookup(n, <const uint8_t *>PyUnicode_DATA(key), PyUnicode_GET_LENGTH(key))
            else:
                pidx = PyDict_GetItem(index, key)
                idx = -1 if pidx == NULL else <int><object>pidx
        if idx >= 0:
            n.seen[idx] = gen
            n.next[prev] = idx
            prev = idx
            g = n.next[idx]
            matched += 1
            _check(eb_sync(n.child[idx], n.len))
            if extra:
                r = _py_child(self, n, idx, <object>v, depth, extra)
            else:
                r = _py_value(self, n.child[idx], <object>v, depth)
            if r:
                self._epath.append("." + names[idx])
                return r
        else:
            if not PyUnicode_Check(key):
                return _perr(self, EB_R_TYPE_MISMATCH, "string", _py_kind(key))
            if self.e.policy == EB_POLICY_ERROR:
                r = _perr(self, EB_R_UNKNOWN_FIELD, None, _cut(str(<object>k)))
                self._epath.append("." + str(<object>k))
                return r
            if extra:
                r = _xmember(self, <object>k, <object>v, depth)
                if r:
                    self._epath.append("." + str(<object>k))
                    return r
    if n.nreq and matched != n.nchild:
        for i in range(n.nchild):
            if n.seen[i] == gen or n.child[i].nullable:
                continue
            r = _perr(self, EB_R_MISSING_REQUIRED, (<bytes>n.child[i].type_name).decode(), None)
            self._epath.append("." + names[i])
            return r
    if eb_valid_set(n, 1):
        raise MemoryError()
    n.len += 1
    return 0


cdef int _py_child(CoreEncoder self, eb_node *n, int idx, object v, int depth, int extra) except -1:
    """Child idx of struct n; under _extra, containers get a frame."""
    cdef eb_node *ch = n.child[idx]
    cdef int r
    if extra:
        if v is not None and (ch.kind == EB_STRUCT or ch.kind == EB_LIST):
            _xpush(self, _json_key(self._fieldnames[n.id][idx]))
            r = _py_value(self, ch, v, depth)
            _xpop(self)
            return r
    return _py_value(self, ch, v, depth)


cdef bytes _json_key(str s):
    """A str as a compact JSON string (bytes)."""
    cdef eb_buf b
    cdef bytes u = s.encode("utf-8", "surrogatepass")
    cdef const char *p = u
    cdef Py_ssize_t n = len(u)
    memset(&b, 0, sizeof(eb_buf))
    try:
        if eb_buf_putc(&b, b'"') or eb_escape_put(&b, <const uint8_t *>p, n) or eb_buf_putc(&b, b'"'):
            raise MemoryError()
        return PyBytes_FromStringAndSize(<const char *>b.p, b.len)
    finally:
        eb_buf_free(&b)


cdef int _py_list(CoreEncoder self, eb_node *n, object items, int depth) except -1:
    cdef eb_node *item = n.child[0]
    cdef Py_ssize_t i, count = len(items)
    cdef int r, extra = self.e.policy == EB_POLICY_EXTRA
    if depth > self.e.max_depth:
        return _perr(self, EB_R_TOO_DEEP, "array", "nesting deeper than %d" % self.e.max_depth)
    for i in range(count):
        v = items[i]
        if extra and v is not None and (item.kind == EB_STRUCT or item.kind == EB_LIST):
            _xpush(self, b'"%d"' % i)
            r = _py_value(self, item, v, depth)
            _xpop(self)
        else:
            r = _py_value(self, item, v, depth)
        if r:
            self._epath.append("[%d]" % i)
            return r
    r = eb_put_offs_list(n, <size_t>item.len)
    if r:
        return _check(r)
    if eb_valid_set(n, 1):
        raise MemoryError()
    n.len += 1
    return 0


cdef extern from *:
    """
    static int eb_put_offs_list(eb_node *n, size_t end) {
        int r = eb_offs_push(n, end);
        return r == 0 ? EB_OK : (r == -2 ? EB_EFULL : EB_EOOM);
    }
    """
    int eb_put_offs_list(eb_node *n, size_t end)


cdef int _py_json(CoreEncoder self, eb_buf *out, object v, int depth) except -1:
    """Compact JSON of a Python value (json columns, _extra, raw of rejects).
    Containers may nest to self._json_limit; an error inside names the
    element's path."""
    cdef const char *p
    cdef Py_ssize_t sl, i
    cdef char *s
    cdef double d
    cdef int r, first
    cdef PyObject *k
    cdef PyObject *val
    cdef Py_ssize_t pos = 0
    if v is None:
        return eb_buf_put(out, b"null", 4) and _oom()
    if v is True:
        return eb_buf_put(out, b"true", 4) and _oom()
    if v is False:
        return eb_buf_put(out, b"false", 5) and _oom()
    if isinstance(v, str):
        if _py_utf8(self, v, &p, &sl):
            return 1
        if eb_buf_putc(out, b'"') or eb_escape_put(out, <const uint8_t *>p, sl) or eb_buf_putc(out, b'"'):
            raise MemoryError()
        return 0
    if isinstance(v, int):
        t = str(int(v)).encode()
        return eb_buf_put(out, <const char *>t, len(t)) and _oom()
    if isinstance(v, float):
        d = PyFloat_AS_DOUBLE(v)
        if isnan(d) or isinf(d):
            return _perr(self, EB_R_TYPE_MISMATCH, "json", "float")
        s = PyOS_double_to_string(d, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
        try:
            r = eb_buf_put(out, s, len(<bytes>s))
        finally:
            PyMem_Free(s)
        return r and _oom()
    if isinstance(v, dict):
        if depth + 1 > self._json_limit:
            return _perr(self, EB_R_TOO_DEEP, "json", "nesting deeper than %d" % self._json_limit)
        if eb_buf_putc(out, b'{'):
            raise MemoryError()
        first = 1
        while PyDict_Next(v, &pos, &k, &val):
            if not isinstance(<object>k, str):
                return _perr(self, EB_R_TYPE_MISMATCH, "string", _py_kind(<object>k))
            if not first and eb_buf_putc(out, b','):
                raise MemoryError()
            first = 0
            if _py_utf8(self, <object>k, &p, &sl):
                self._epath.append("." + <str>(<object>k))   # the path names the bad key
                return 1
            if eb_buf_putc(out, b'"') or eb_escape_put(out, <const uint8_t *>p, sl) or \
                    eb_buf_putc(out, b'"') or eb_buf_putc(out, b':'):
                raise MemoryError()
            r = _py_json(self, out, <object>val, depth + 1)
            if r:
                self._epath.append("." + <str>(<object>k))
                return r
        return eb_buf_putc(out, b'}') and _oom()
    if isinstance(v, (list, tuple)):
        if depth + 1 > self._json_limit:
            return _perr(self, EB_R_TOO_DEEP, "json", "nesting deeper than %d" % self._json_limit)
        if eb_buf_putc(out, b'['):
            raise MemoryError()
        for i in range(len(v)):
            if i and eb_buf_putc(out, b','):
                raise MemoryError()
            r = _py_json(self, out, v[i], depth + 1)
            if r:
                self._epath.append("[%d]" % i)
                return r
        return eb_buf_putc(out, b']') and _oom()
    return _perr(self, EB_R_TYPE_MISMATCH, "json", _py_kind(v))


cdef int _oom() except -1:
    raise MemoryError()


cdef bytes _raw_of(CoreEncoder self, object obj):
    """raw of a rejected object: compact JSON, else repr()."""
    cdef eb_buf b
    memset(&b, 0, sizeof(eb_buf))
    saved = (self._ereason, self._eexpected, self._egot, self._epath)
    self._json_limit = max(self.e.max_depth, _RAW_DEPTH)
    try:
        if _py_json(self, &b, obj, 0) == 0:
            return PyBytes_FromStringAndSize(<const char *>b.p, b.len)
    except RecursionError:
        pass
    finally:
        self._json_limit = self.e.max_depth
        eb_buf_free(&b)
        self._ereason, self._eexpected, self._egot, self._epath = saved
    try:
        return repr(obj).encode("utf-8", "backslashreplace")
    except Exception:
        return ("<unrepresentable %s>" % type(obj).__name__).encode()


cdef str _message(int reason, object expected, object got, str path):
    if reason == EB_R_MISSING_REQUIRED:
        if got is None:
            return "expected `%s`, got nothing at `%s`" % (expected, path)
        return "expected `%s`, got `null` at `%s`" % (expected, path)
    if reason == EB_R_UNKNOWN_FIELD:
        return "unexpected field `%s` at `%s`" % (got, path)
    if reason == EB_R_INVALID_UTF8:
        return "invalid UTF-8: `%s` has %s at `%s`" % (expected, got, path)
    if reason == EB_R_TOO_DEEP:
        return "%s at `%s`" % (got, path)
    if reason == EB_R_OUT_OF_RANGE:
        return "expected `%s`, got `%s` (out of range) at `%s`" % (expected, got, path)
    return "expected `%s`, got `%s` at `%s`" % (expected, got, path)


cdef int _py_event(CoreEncoder self, object obj, Py_ssize_t index) except -1:
    """Encode one Python object as one input."""
    cdef int r
    cdef eb_enc *e = &self.e
    if self._big > _CHECK_BYTES or (e.inputs & 63) == 0:
        self._big = 0
        if eb_near_full(e):
            self._seal()
    eb_mark(e)
    self._xcount = 0
    if not isinstance(obj, dict):
        r = _perr(self, EB_R_NOT_AN_OBJECT, "object", _py_kind(obj))
    else:
        if e.policy == EB_POLICY_EXTRA:
            self._xframes = [[None, False, False]]
        try:
            r = _py_struct(self, e.root, obj, 1)
            if r == 0 and e.extra != NULL:
                _xpop(self)
                if self._xcount:
                    r = eb_close_var(e.extra)
                else:
                    r = eb_append_null(e.extra)
                if r == EB_EFULL:
                    r = _perr(self, EB_R_OUT_OF_RANGE, "string", "more than 1 GiB in `_extra`")
                else:
                    _check(r)
        except BaseException:
            eb_rollback(e)
            raise
    e.inputs += 1
    if r == 0:
        e.accepted += 1
        e.extra_fields += self._xcount
        return 0
    eb_rollback(e)
    path = "$" + "".join(reversed(self._epath))
    msg = _message(self._ereason, self._eexpected, self._egot, path)
    raw = _raw_of(self, obj)
    pb = path.encode("utf-8", "backslashreplace")
    mb = msg.encode("utf-8", "backslashreplace")
    r = eb_reject(e, self._ereason, <const uint8_t *><const char *>raw, len(raw), -1, index,
                  <const char *>pb, len(pb), <const char *>mb, len(mb))
    return _check(r)
