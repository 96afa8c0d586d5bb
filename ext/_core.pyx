# cython: language_level=3
"""eventbatch._core: the compiled core.

One root module that includes its parts:
  core.pxd.pxi  C declarations of ext/eb_*.h (buffers, scanner, conversions)
  arrow.pxi     core buffers -> pyarrow arrays, without copies
  dicts.pxi     the Python-object (dict) path of the encoder
  encoder.pxi   CoreEncoder: state, NDJSON entry points, flush, counters
  hashing.pxi   hash64 (XXH64 of values and of Arrow/numpy arrays)
  dedup.pxi     CoreDedup: the windowed dedup table of ext/eb_dedup.h
"""

include "core.pxd.pxi"

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport PyObject
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy, memset
from libc.stdint cimport uintptr_t

import pyarrow as pa

include "arrow.pxi"
include "dicts.pxi"
include "encoder.pxi"
include "hashing.pxi"
include "dedup.pxi"
