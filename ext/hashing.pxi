# 64-bit hashing: hash64 (XXH64, ext/eb_xxh64.h) of one value or of every
# value of an Arrow array, a numpy array or a sequence.
#
# Buffers of Arrow and numpy arrays are walked without the GIL, after their
# sizes (and Arrow offsets) have been checked against what the array claims,
# so a corrupt array raises instead of reading out of bounds.  Sequences of
# Python objects are hashed under the GIL: each item is a Python object.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_SIMPLE

cdef extern from "eb_xxh64.h" nogil:
    ctypedef struct eb_xxh64_state:
        pass
    int EB_BIG_ENDIAN
    uint64_t eb_xxh64(const void *p, size_t n, uint64_t seed)
    void eb_xxh64_reset(eb_xxh64_state *s, uint64_t seed)
    void eb_xxh64_update(eb_xxh64_state *s, const void *p, size_t n)
    uint64_t eb_xxh64_digest(const eb_xxh64_state *s)
    int64_t eb_offs_check(const uint8_t *offs, int width, int64_t n, int64_t data_len)
    void eb_xxh64_var(const uint8_t *data, const uint8_t *offs, int width,
                      const uint8_t *valid, int64_t valid_off, int64_t n,
                      uint64_t seed, uint64_t *out)
    void eb_xxh64_fixed(const uint8_t *data, int width, int swap,
                        const uint8_t *valid, int64_t valid_off, int64_t n,
                        uint64_t seed, uint64_t *out)

cdef extern from "Python.h":
    object PyUnicode_AsUTF8String(object s)

import numpy as _np

# Single buffers at least this long are hashed with the GIL released.
cdef enum:
    _HASH_NOGIL_BYTES = 1 << 16

cdef object _U64_LIMIT = 1 << 64
cdef object _pa_types = pa.types


cdef str _hcut(object v):
    """A value for a message, cut to about 40 characters."""
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


cdef uint64_t _hash_seed(object seed) except? 0:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"hash64: expected `int` seed, got `{type(seed).__name__}`")
    if seed < 0 or seed >= _U64_LIMIT:
        raise ValueError(f"hash64: seed must be in [0, 2**64), got {_hcut(seed)}")
    return <uint64_t>seed


cdef uint64_t _hash_str(object s, uint64_t seed, Py_ssize_t index) except? 0:
    """The XXH64 of a str's UTF-8 bytes."""
    cdef const char *p
    cdef Py_ssize_t n
    cdef uint64_t h
    if PyUnicode_IS_COMPACT_ASCII(s):   # its data is the UTF-8; nothing to encode
        p = <const char *>PyUnicode_DATA(s)
        n = PyUnicode_GET_LENGTH(s)
        if n >= _HASH_NOGIL_BYTES:
            with nogil:   # a str is immutable: p stays valid
                h = eb_xxh64(p, <size_t>n, seed)
            return h
        return eb_xxh64(p, <size_t>n, seed)
    try:
        # a temporary, not PyUnicode_AsUTF8AndSize: that one caches the UTF-8
        # copy in the str for its lifetime
        b = PyUnicode_AsUTF8String(s)
    except UnicodeEncodeError as e:
        where = "" if index < 0 else f" at index {index}"
        raise ValueError(f"hash64: expected a str encodable as UTF-8, got a lone surrogate "
                         f"at position {e.start}{where}: {_hcut(s)}") from e
    return _hash_bytes(b, seed)


cdef uint64_t _hash_bytes(bytes b, uint64_t seed) except? 0:
    cdef const char *p = PyBytes_AS_STRING(b)
    cdef size_t n = <size_t>PyBytes_GET_SIZE(b)
    cdef uint64_t h
    if n >= _HASH_NOGIL_BYTES:
        with nogil:   # bytes are immutable and b is referenced by the caller
            h = eb_xxh64(p, n, seed)
        return h
    return eb_xxh64(p, n, seed)


cdef uint64_t _hash_buffer(object o, uint64_t seed) except? 0:
    """bytearray / memoryview (or a subclass): the bytes of its buffer."""
    cdef Py_buffer view
    cdef uint64_t h
    if isinstance(o, memoryview) and not (<object>o).c_contiguous:
        return _hash_bytes(o.tobytes(), seed)
    PyObject_GetBuffer(o, &view, PyBUF_SIMPLE)
    try:
        if view.len >= _HASH_NOGIL_BYTES:
            with nogil:   # the exported buffer cannot be resized or freed meanwhile
                h = eb_xxh64(view.buf, <size_t>view.len, seed)
        else:
            h = eb_xxh64(view.buf, <size_t>view.len, seed)
    finally:
        PyBuffer_Release(&view)
    return h


cdef int _hash_item(object o, uint64_t seed, uint64_t *out, Py_ssize_t index) except -1:
    """One item of a sequence or object array; None (a null) hashes to 0."""
    if PyUnicode_CheckExact(o):
        out[0] = _hash_str(o, seed, index)
    elif type(o) is bytes:
        out[0] = _hash_bytes(<bytes>o, seed)
    elif o is None:
        out[0] = 0
    elif isinstance(o, str):
        out[0] = _hash_str(o, seed, index)
    elif isinstance(o, bytes):
        out[0] = _hash_bytes(bytes(o), seed)
    elif isinstance(o, (bytearray, memoryview)):
        out[0] = _hash_buffer(o, seed)
    else:
        raise TypeError(f"hash64: expected `bytes`, `str` or None at index {index}, "
                        f"got `{type(o).__name__}`: {_hcut(o)}")
    return 0


cdef object _hash_seq(object seq, uint64_t seed):
    """A list / tuple / 1-D object array of bytes-like or str items."""
    cdef Py_ssize_t i, n = len(seq)
    out = _np.empty(n, dtype=_np.uint64)
    cdef uint64_t[::1] ov = out
    for i in range(n):
        # seq[i], not iteration: a list is indexed with a bounds check each time
        _hash_item(seq[i], seed, &ov[i], i)
    return out


cdef tuple _arrow_buf(object buf, str what, int64_t need):
    """(address, size) of an Arrow buffer that must hold `need` bytes."""
    if buf is None:
        if need > 0:
            raise ValueError(f"hash64: corrupt Arrow array: the {what} buffer is missing, "
                             f"expected {need} bytes")
        return 0, 0
    if not getattr(buf, "is_cpu", True):
        raise TypeError(f"hash64: expected an Arrow array in CPU memory, got its {what} "
                        f"buffer on another device")
    size = buf.size
    if size < need:
        raise ValueError(f"hash64: corrupt Arrow array: the {what} buffer holds {size} bytes, "
                         f"expected at least {need}")
    return buf.address, size


cdef int _arrow_fixed_width(object t) except -2:
    """Bytes per value of a fixed-width Arrow type that hash64 supports,
    -1 for the variable-width binary kinds (string/binary/large_*)."""
    if (_pa_types.is_string(t) or _pa_types.is_binary(t)
            or _pa_types.is_large_string(t) or _pa_types.is_large_binary(t)):
        return -1
    if _pa_types.is_fixed_size_binary(t):
        return t.byte_width
    if (_pa_types.is_integer(t) or _pa_types.is_floating(t) or _pa_types.is_timestamp(t)
            or _pa_types.is_date(t) or _pa_types.is_time(t) or _pa_types.is_duration(t)):
        return t.bit_width // 8
    hint = ""
    if _pa_types.is_dictionary(t):
        hint = " (decode it first: arr.dictionary_decode())"
    elif _pa_types.is_boolean(t):
        hint = " (booleans are bit-packed; cast to int8 first)"
    raise TypeError(f"hash64: expected an Arrow array of string, binary, large_string, "
                    f"large_binary, fixed_size_binary, integer, floating, timestamp, date, time "
                    f"or duration values, got `{t}`{hint}")


cdef object _hash_arrow(object arr, uint64_t seed):
    """Every value of a pyarrow Array; nulls hash to 0."""
    cdef int width = _arrow_fixed_width(arr.type)
    cdef int vwidth
    cdef int64_t n = len(arr), off = arr.offset, bad = -1, data_len
    cdef const uint8_t *valid = NULL
    cdef const uint8_t *data
    cdef const uint8_t *offs
    cdef int swap = 0
    out = _np.empty(n, dtype=_np.uint64)
    if n == 0:
        return out
    cdef uint64_t[::1] ov = out
    bufs = arr.buffers()
    if off < 0:
        raise ValueError(f"hash64: corrupt Arrow array: negative offset {off}")
    if bufs[0] is not None:
        addr, _ = _arrow_buf(bufs[0], "validity", (off + n + 7) >> 3)
        valid = <const uint8_t *><uintptr_t>addr
    if width == -1:
        # offsets[off .. off + n] must lie in the data buffer, non-decreasing
        vwidth = 8 if (_pa_types.is_large_string(arr.type) or _pa_types.is_large_binary(arr.type)) else 4
        addr, _ = _arrow_buf(bufs[1], "offsets", (off + n + 1) * vwidth)
        offs = <const uint8_t *><uintptr_t>addr + off * vwidth
        addr, size = _arrow_buf(bufs[2], "data", 0)
        data = <const uint8_t *><uintptr_t>addr
        data_len = size
        with nogil:
            bad = eb_offs_check(offs, vwidth, n, data_len)
            if bad < 0:
                eb_xxh64_var(data, offs, vwidth, valid, off, n, seed, &ov[0])
        if bad >= 0:
            raise ValueError(f"hash64: corrupt Arrow array: offset {off + bad} is out of order "
                             f"or outside the data buffer of {data_len} bytes")
        return out
    addr, _ = _arrow_buf(bufs[1], "data", (off + n) * width)
    data = <const uint8_t *><uintptr_t>addr + off * width
    # numbers are stored in host order; fixed_size_binary is bytes
    swap = EB_BIG_ENDIAN and not _pa_types.is_fixed_size_binary(arr.type)
    with nogil:
        eb_xxh64_fixed(data, width, swap, valid, off, n, seed, &ov[0])
    return out


cdef object _hash_numpy(object a, uint64_t seed):
    """Every element of a numpy array, in the array's shape."""
    cdef const uint8_t[::1] bv
    cdef int width
    cdef Py_ssize_t n
    kind = a.dtype.kind
    if kind == "O":
        return _hash_seq(a.ravel(), seed).reshape(a.shape)
    if kind not in "biufcmM":
        raise TypeError(f"hash64: expected a numpy array of numbers, datetimes or objects "
                        f"(bytes/str), got dtype `{a.dtype}` (convert fixed-width `S`/`U` "
                        f"strings with .astype(object))")
    # the little-endian bytes of each element, contiguous
    a = _np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    n = a.size
    out = _np.empty(n, dtype=_np.uint64)
    cdef uint64_t[::1] ov = out
    width = a.dtype.itemsize
    if n > 0:
        bv = a.reshape(-1).view(_np.uint8)
        with nogil:
            eb_xxh64_fixed(&bv[0], width, 0, NULL, 0, n, seed, &ov[0])
    return out.reshape(a.shape)


def hash64(data, seed=0):
    """XXH64 of a value, or of every value of an array.

    The digest is XXH64 as published (bit-exact with ``xxhash.xxh64_intdigest``).

    Parameters
    ----------
    data : bytes, bytearray, memoryview, str, pyarrow.Array, pyarrow.ChunkedArray,
           numpy.ndarray, list or tuple
        * bytes-like: its bytes; ``str``: its UTF-8 bytes (a lone surrogate
          raises ``ValueError``).  Returns an ``int`` in ``[0, 2**64)``.
        * pyarrow ``string``/``binary``/``large_string``/``large_binary``/
          ``fixed_size_binary`` array: each value's bytes; integer, floating,
          timestamp, date, time and duration arrays: each value's
          little-endian bytes (floats as stored: ``-0.0`` and ``0.0`` differ).
          **A null hashes to 0.**  Returns a ``numpy.uint64`` array of the
          array's length (a chunked array gives one array for all chunks).
        * numpy array of numbers, bools or datetimes: each element's
          little-endian bytes; of dtype ``object``: each item as in a list.
          Returns a ``numpy.uint64`` array of the same shape.
        * list or tuple of bytes-like or str items (``None`` hashes to 0).
          Returns a ``numpy.uint64`` array.
    seed : int
        In ``[0, 2**64)``.

    Arrow and numpy buffers are hashed with the GIL released; lists and
    object arrays under the GIL.

    Examples
    --------
    >>> import eventbatch as eb, pyarrow as pa
    >>> eb.hash64(b"abc")
    4952883123889572249
    >>> eb.hash64("abc") == eb.hash64(b"abc")
    True
    >>> eb.hash64(pa.array(["abc", None])).tolist()
    [4952883123889572249, 0]
    """
    cdef uint64_t s = _hash_seed(seed)
    cdef uint64_t h
    if type(data) is bytes:
        return _hash_bytes(<bytes>data, s)
    if isinstance(data, str):
        return _hash_str(data, s, -1)
    if isinstance(data, bytes):
        return _hash_bytes(bytes(data), s)
    if isinstance(data, (bytearray, memoryview)):
        return _hash_buffer(data, s)
    if isinstance(data, pa.Array):
        return _hash_arrow(data, s)
    if isinstance(data, pa.ChunkedArray):
        _arrow_fixed_width(data.type)   # the type error even with no chunks
        parts = [_hash_arrow(c, s) for c in data.chunks]
        return _np.concatenate(parts) if parts else _np.empty(0, dtype=_np.uint64)
    if isinstance(data, _np.ndarray):
        return _hash_numpy(data, s)
    if isinstance(data, (list, tuple)):
        return _hash_seq(data, s)
    raise TypeError(f"hash64: expected bytes, bytearray, memoryview, str, a pyarrow Array or "
                    f"ChunkedArray, a numpy array, or a list/tuple of bytes/str, got "
                    f"`{type(data).__name__}`")


cdef class _XXH64Stream:
    """Streaming XXH64 (internal: the snapshot checksum).  The digest equals
    hash64 of the concatenation of everything passed to update()."""
    cdef eb_xxh64_state st

    def __cinit__(self, seed=0):
        eb_xxh64_reset(&self.st, _hash_seed(seed))

    def update(self, data):
        cdef Py_buffer view
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            # under the GIL: the state is not safe to share between threads
            eb_xxh64_update(&self.st, view.buf, <size_t>view.len)
        finally:
            PyBuffer_Release(&view)

    def intdigest(self):
        return eb_xxh64_digest(&self.st)
