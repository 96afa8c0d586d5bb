"""hash64: XXH64, bit-exact with the python-xxhash oracle, over every input kind.

Known-answer vectors are pinned as literals: a change to any of them can only
be deliberate.
"""
from __future__ import annotations

import random
import struct
import sys

import numpy as np
import pyarrow as pa
import pytest
import xxhash
from hypothesis import given, strategies as st

import eventbatch as eb
from eventbatch import _core
from eventbatch import hash64

GOLDEN = 0x9E3779B97F4A7C15
SEEDS = [0, 1, 2**64 - 1, GOLDEN]


def ref(data, seed=0):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return xxhash.xxh64_intdigest(bytes(data), seed)


def refs(items, seed=0):
    return np.array([0 if x is None else ref(x, seed) for x in items], dtype=np.uint64)


# --- the compiled core is the one in use ---------------------------------------------

def test_hash64_is_compiled_and_exported():
    assert _core.__file__.endswith((".so", ".pyd"))
    assert eb.hash64 is _core.hash64
    assert type(eb.hash64).__name__ == "builtin_function_or_method"


def test_stub_lists_hash64():
    import os
    stub = open(os.path.join(os.path.dirname(eb.__file__), "_core.pyi")).read()
    assert "def hash64(" in stub


# --- known answers ----------------------------------------------------------------------

# (input, seed, XXH64) computed once with xxhash.xxh64_intdigest and pasted here.
KNOWN = [
    (b"", 0, 17241709254077376921),
    (b"", GOLDEN, 14138100816866770944),
    (b"a", 0, 15154266338359012955),
    (b"a", GOLDEN, 11131892426046007497),
    (b"abc", 0, 4952883123889572249),
    (b"abc", GOLDEN, 3373466177358769291),
    (bytes(range(32)), 0, 14696824831085589172),
    (bytes(range(32)), GOLDEN, 11657728266853484368),
    (bytes(range(33)), 0, 888155921178136237),
    (bytes(range(33)), GOLDEN, 16619338211304882293),
    (bytes(range(100)), 0, 7692681977284421015),
    (bytes(range(100)), GOLDEN, 4294139495714121605),
]


@pytest.mark.parametrize("data,seed,expected", KNOWN)
def test_known_answers(data, seed, expected):
    assert hash64(data, seed) == expected
    assert hash64(data, seed=seed) == expected
    assert hash64([data], seed).tolist() == [expected]
    assert hash64(pa.array([data], pa.binary()), seed).tolist() == [expected]
    assert ref(data, seed) == expected   # the oracle agrees with the pinned value


def test_empty_hash_is_the_published_value():
    assert hash64(b"") == 0xEF46DB3751D8E999


# --- bit-exact against the oracle -------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_every_length_0_to_1024(seed, rng):
    for n in range(1025):
        data = rng.randbytes(n)
        assert hash64(data, seed) == ref(data, seed), f"length {n}, seed {seed}"


def test_random_data_and_seeds(rng):
    for _ in range(500):
        data = rng.randbytes(rng.randrange(0, 5000))
        seed = rng.getrandbits(64)
        assert hash64(data, seed) == ref(data, seed)


def test_large_input_hashed_without_the_gil(rng):
    data = rng.randbytes((1 << 20) + 17)
    assert hash64(data) == ref(data)
    assert hash64(bytearray(data)) == ref(data)
    assert hash64(memoryview(data)) == ref(data)
    text = "x" * (1 << 17)
    assert hash64(text) == ref(text)


@given(st.binary(max_size=600), st.integers(0, 2**64 - 1))
def test_hypothesis_bytes(data, seed):
    assert hash64(data, seed) == xxhash.xxh64_intdigest(data, seed)


@given(st.text(max_size=200))
def test_hypothesis_str_is_utf8(text):
    assert hash64(text) == xxhash.xxh64_intdigest(text.encode("utf-8"))


# --- single values ------------------------------------------------------------------------

def test_bytes_like_and_str():
    data = "héllo wörld ✓ 𝄞".encode()
    expected = ref(data)
    assert hash64(data) == expected
    assert hash64(bytearray(data)) == expected
    assert hash64(memoryview(data)) == expected
    assert hash64(data.decode()) == expected
    assert hash64("abc") == hash64(b"abc")

    class B(bytes):
        pass

    class S(str):
        pass

    assert hash64(B(b"abc")) == hash64(b"abc")
    assert hash64(S("abc")) == hash64(b"abc")


def test_memoryview_slices_and_formats():
    data = bytes(range(256))
    assert hash64(memoryview(data)[10:50]) == ref(data[10:50])
    strided = memoryview(data)[::3]
    assert hash64(strided) == ref(data[::3])
    ints = memoryview(np.arange(10, dtype="<i4"))
    assert hash64(ints) == ref(np.arange(10, dtype="<i4").tobytes())


def test_returns_int_in_range():
    h = hash64(b"x", 2**64 - 1)
    assert type(h) is int and 0 <= h < 2**64


def test_lone_surrogate_is_a_value_error():
    with pytest.raises(ValueError, match="lone surrogate"):
        hash64("ab\ud800cd")
    with pytest.raises(ValueError, match="index 1"):
        hash64(["ok", "\udfff"])


@pytest.mark.parametrize("bad", [1, 1.5, None, True, {"a": 1}, {b"a"}, object(), iter([b"a"]),
                                 pa.scalar("a")])
def test_wrong_types_raise_type_error(bad):
    with pytest.raises(TypeError, match="hash64: expected"):
        hash64(bad)


@pytest.mark.parametrize("items", [[b"a", 1], (b"a", 2.0), ["a", ["b"]], [True]])
def test_wrong_item_types_raise_type_error(items):
    with pytest.raises(TypeError, match="index"):
        hash64(items)


@pytest.mark.parametrize("seed,exc", [(-1, ValueError), (2**64, ValueError), (1.0, TypeError),
                                      ("1", TypeError), (True, TypeError), (None, TypeError)])
def test_bad_seed(seed, exc):
    with pytest.raises(exc, match="seed"):
        hash64(b"a", seed)


# --- Arrow ----------------------------------------------------------------------------------

def _ids(rng, n, null_rate=0.0):
    out = []
    for _ in range(n):
        if rng.random() < null_rate:
            out.append(None)
        else:
            out.append("".join(rng.choice("abcdefghé0123456789-✓") for _ in range(rng.randrange(0, 40))))
    return out


@pytest.mark.parametrize("typ", [pa.string(), pa.large_string(), pa.binary(), pa.large_binary()])
def test_arrow_variable_width(typ, rng):
    values = _ids(rng, 500, null_rate=0.1)
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        values = [None if v is None else v.encode() for v in values]
    arr = pa.array(values, typ)
    out = hash64(arr, 7)
    assert out.dtype == np.uint64 and out.shape == (500,)
    assert np.array_equal(out, refs(values, 7))
    # sliced arrays: the offset applies to offsets and to the validity bitmap
    for start, stop in [(1, 500), (3, 11), (7, 8), (250, 250), (13, 497)]:
        sl = arr[start:stop]
        assert sl.offset == start or len(sl) == 0
        assert np.array_equal(hash64(sl, 7), refs(values[start:stop], 7)), (start, stop)


def test_arrow_nulls_hash_to_zero():
    arr = pa.array([None, "a", None], pa.string())
    assert hash64(arr).tolist() == [0, ref("a"), 0]
    assert hash64(pa.nulls(3, pa.large_binary())).tolist() == [0, 0, 0]


def test_arrow_empty_and_all_empty_strings():
    assert hash64(pa.array([], pa.string())).shape == (0,)
    assert hash64(pa.array(["", ""], pa.string())).tolist() == [ref(b"")] * 2
    assert hash64(pa.array([], pa.int64())).dtype == np.uint64


def test_arrow_chunked(rng):
    values = _ids(rng, 300, null_rate=0.05)
    s = pa.string()
    chunked = pa.chunked_array([pa.array(values[:100], s), pa.array(values[100:101], s),
                                pa.array([], s), pa.array(values[101:], s)])
    assert np.array_equal(hash64(chunked), refs(values))
    sl = chunked.slice(50, 200)
    assert np.array_equal(hash64(sl), refs(values[50:250]))
    large = pa.chunked_array([pa.array(values[:10], pa.large_string())])
    assert np.array_equal(hash64(large), refs(values[:10]))
    assert hash64(pa.chunked_array([], pa.string())).shape == (0,)
    with pytest.raises(TypeError):
        hash64(pa.chunked_array([], pa.bool_()))


@pytest.mark.parametrize("typ,np_dtype", [
    (pa.int8(), "i1"), (pa.int16(), "i2"), (pa.int32(), "i4"), (pa.int64(), "i8"),
    (pa.uint8(), "u1"), (pa.uint16(), "u2"), (pa.uint32(), "u4"), (pa.uint64(), "u8"),
    (pa.float16(), "f2"), (pa.float32(), "f4"), (pa.float64(), "f8"),
    (pa.timestamp("ms"), "i8"), (pa.timestamp("us", tz="UTC"), "i8"),
    (pa.date32(), "i4"), (pa.date64(), "i8"), (pa.duration("s"), "i8"), (pa.time32("ms"), "i4"),
    (pa.time64("us"), "i8"),
])
def test_arrow_fixed_width(typ, np_dtype, rng):
    nprng = np.random.default_rng(rng.getrandbits(32))
    raw = nprng.integers(0, 256, size=200 * np.dtype(np_dtype).itemsize, dtype=np.uint8)
    values = raw.view("<" + np_dtype)
    if pa.types.is_date64(typ):
        values = values - values % 86_400_000        # date64 holds whole days
    if pa.types.is_time(typ):
        values = values % 86_400_000                 # times of day stay in range
    if np_dtype.startswith("f"):
        values = np.nan_to_num(values)
    mask = np.arange(200) % 17 == 3
    storage = pa.array(values, mask=mask)
    arr = storage if storage.type == typ else storage.view(typ)
    assert arr.type == typ and arr.null_count == mask.sum()
    expected = np.array([0 if m else ref(values[i:i + 1].tobytes()) for i, m in enumerate(mask)],
                        dtype=np.uint64)
    assert np.array_equal(hash64(arr), expected)
    assert np.array_equal(hash64(arr[5:150]), expected[5:150])
    assert np.array_equal(hash64(arr[9:]), expected[9:])


def test_arrow_fixed_size_binary():
    arr = pa.array([b"abcd", None, b"wxyz"], pa.binary(4))
    assert hash64(arr).tolist() == [ref(b"abcd"), 0, ref(b"wxyz")]
    assert hash64(arr[1:]).tolist() == [0, ref(b"wxyz")]


def test_arrow_numbers_agree_with_numpy():
    values = np.arange(-50, 50, dtype=np.int64) * 1_000_003
    assert np.array_equal(hash64(pa.array(values)), hash64(values))
    assert np.array_equal(hash64(pa.array(values.astype(np.float32))), hash64(values.astype(np.float32)))


@pytest.mark.parametrize("arr", [
    pa.array([True, False]),
    pa.array(["a", "b"]).dictionary_encode(),
    pa.array([[1], [2]]),
    pa.array([{"a": 1}]),
    pa.array([1], pa.decimal128(5, 2)),
])
def test_arrow_unsupported_types(arr):
    with pytest.raises(TypeError, match="hash64: expected an Arrow array"):
        hash64(arr)


def test_arrow_corrupt_offsets_raise_instead_of_crashing():
    data = pa.py_buffer(b"abcdef")
    # out of order (pyarrow's cheap validation only looks at the last offset)
    offs = pa.py_buffer(struct.pack("<4i", 0, 5, 3, 6))
    arr = pa.Array.from_buffers(pa.string(), 3, [None, offs, data])
    with pytest.raises(ValueError, match="corrupt Arrow array: offset 2"):
        hash64(arr)
    # a middle offset far past the data buffer
    offs = pa.py_buffer(struct.pack("<4i", 0, 1 << 30, 5, 6))
    arr = pa.Array.from_buffers(pa.binary(), 3, [None, offs, data])
    with pytest.raises(ValueError, match="corrupt Arrow array"):
        hash64(arr)
    # a negative offset, 64-bit
    offs = pa.py_buffer(struct.pack("<3q", 0, -(1 << 40), 6))
    arr = pa.Array.from_buffers(pa.large_binary(), 2, [None, offs, data])
    with pytest.raises(ValueError, match="corrupt Arrow array: offset 1"):
        hash64(arr)


def test_arrow_corrupt_sliced_offsets():
    data = pa.py_buffer(b"abcdef")
    offs = pa.py_buffer(struct.pack("<5i", 0, 9, 2, 4, 6))   # bad entry only before the slice
    arr = pa.Array.from_buffers(pa.string(), 4, [None, offs, data])
    sl = arr[2:]
    assert hash64(sl).tolist() == [ref(b"cd"), ref(b"ef")]
    with pytest.raises(ValueError):
        hash64(arr)


# --- numpy ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["<i1", "<i2", "<i4", "<i8", "<u2", "<u8", "<f4", "<f8", ">i4", ">f8",
                                   ">u8", "<c16", "bool", "datetime64[ms]", "timedelta64[ns]"])
def test_numpy_fixed_width(dtype, rng):
    a = np.array([rng.randrange(0, 100) for _ in range(64)]).astype(dtype)
    le = a.astype(np.dtype(dtype).newbyteorder("<"))
    expected = [ref(le[i:i + 1].tobytes()) for i in range(len(a))]
    assert hash64(a).tolist() == expected
    assert hash64(a[::3]).tolist() == expected[::3]          # strided
    assert hash64(a.reshape(8, 8)).shape == (8, 8)
    assert hash64(a.reshape(8, 8)).ravel().tolist() == expected
    assert hash64(a.reshape(8, 8).T).ravel().tolist() == np.array(expected, dtype=np.uint64).reshape(8, 8).T.ravel().tolist()


def test_numpy_readonly_and_empty():
    a = np.arange(5, dtype=np.uint64)
    a.setflags(write=False)
    assert hash64(a).tolist() == [ref(struct.pack("<Q", i)) for i in range(5)]
    assert hash64(np.empty(0, dtype=np.int32)).shape == (0,)
    assert hash64(np.empty((0, 3), dtype=np.int32)).shape == (0, 3)


def test_numpy_object_arrays():
    a = np.array(["a", b"bc", None, bytearray(b"d")], dtype=object)
    assert hash64(a).tolist() == [ref("a"), ref("bc"), 0, ref("d")]
    assert hash64(a.reshape(2, 2)).shape == (2, 2)
    with pytest.raises(TypeError):
        hash64(np.array([1, "a"], dtype=object))


@pytest.mark.parametrize("a", [np.array([b"ab"], dtype="S2"), np.array(["ab"]), np.zeros(2, dtype="V4")])
def test_numpy_fixed_strings_are_refused(a):
    with pytest.raises(TypeError, match="dtype"):
        hash64(a)


# --- sequences -------------------------------------------------------------------------------

def test_lists_and_tuples(rng):
    values = _ids(rng, 200, null_rate=0.1)
    assert np.array_equal(hash64(values, 3), refs(values, 3))
    assert np.array_equal(hash64(tuple(values), 3), refs(values, 3))
    mixed = [b"a", "b", bytearray(b"c"), memoryview(b"d"), None]
    assert hash64(mixed).tolist() == [ref("a"), ref("b"), ref("c"), ref("d"), 0]
    assert hash64([]).shape == (0,)


def test_same_value_same_hash_across_inputs():
    value = "user-42-✓"
    h = hash64(value)
    assert hash64(value.encode()) == h
    assert hash64([value])[0] == h
    assert hash64(pa.array([value]))[0] == h
    assert hash64(pa.array([value], pa.large_binary()))[0] == h
    assert hash64(np.array([value], dtype=object))[0] == h


# --- streaming (the snapshot checksum) ------------------------------------------------------

def test_stream_matches_one_shot(rng):
    for _ in range(50):
        data = rng.randbytes(rng.randrange(0, 400))
        seed = rng.getrandbits(64)
        s = _core._XXH64Stream(seed)
        pos = 0
        while pos < len(data):
            step = rng.randrange(0, 70)
            s.update(data[pos:pos + step])
            pos += step
        assert s.intdigest() == hash64(data, seed) == ref(data, seed)


def test_big_endian_host_is_not_this_one():
    # the byte-swap path is compiled out here; say so, so a port notices
    assert sys.byteorder == "little"
