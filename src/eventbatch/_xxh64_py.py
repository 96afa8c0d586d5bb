"""XXH64 in pure Python: the slow, readable twin of ``eventbatch._core.hash64``.

It follows the published algorithm (Yann Collet, "xxHash fast digest
algorithm", doc/xxhash_spec.md, section "XXH64 Algorithm Description") step
by step, with the spec's names.  It is the fallback when the compiled core has
no ``hash64`` and the documentation of what the frame checksums are.  It
hashes some 20 MB/s on CPython 3.11: fine for headers and tests, slow
for large bodies.

Known answers (checked against the xxhash package):

>>> hex(xxh64(b""))
'0xef46db3751d8e999'
>>> hex(xxh64(b"a"))
'0xd24ec4f1a98c6e5b'
>>> hex(xxh64(b"abc"))
'0x44bc2cf5ad770999'
>>> hex(xxh64(b"", seed=1))
'0xd5afba1336a3be4b'
"""

from __future__ import annotations

import struct

__all__ = ["xxh64"]

PRIME64_1 = 0x9E3779B185EBCA87
PRIME64_2 = 0xC2B2AE3D27D4EB4F
PRIME64_3 = 0x165667B19E3779F9
PRIME64_4 = 0x85EBCA77C2B2AE63
PRIME64_5 = 0x27D4EB2F165667C5

_MASK64 = (1 << 64) - 1
_STRIPE = struct.Struct("<4Q")    # 32 bytes: one lane value for each accumulator
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK64


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * PRIME64_2) & _MASK64
    acc = _rotl(acc, 31)
    return (acc * PRIME64_1) & _MASK64


def _merge_accumulator(acc: int, acc_n: int) -> int:
    acc ^= _round(0, acc_n)
    return (acc * PRIME64_1 + PRIME64_4) & _MASK64


def xxh64(data, seed: int = 0) -> int:
    """XXH64 of ``data`` (any contiguous bytes-like object) as an unsigned
    64-bit int.  ``seed`` is taken modulo 2**64."""
    mv = memoryview(data).cast("B")
    n = len(mv)
    seed &= _MASK64
    i = 0

    if n >= 32:
        # Step 1: initialise four accumulators.
        v1 = (seed + PRIME64_1 + PRIME64_2) & _MASK64
        v2 = (seed + PRIME64_2) & _MASK64
        v3 = seed
        v4 = (seed - PRIME64_1) & _MASK64
        # Step 2: process whole 32-byte stripes, one 8-byte lane per accumulator.
        i = n - n % 32
        for l1, l2, l3, l4 in _STRIPE.iter_unpack(mv[:i]):
            v1 = _round(v1, l1)
            v2 = _round(v2, l2)
            v3 = _round(v3, l3)
            v4 = _round(v4, l4)
        # Step 3: converge the accumulators.
        acc = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _MASK64
        acc = _merge_accumulator(acc, v1)
        acc = _merge_accumulator(acc, v2)
        acc = _merge_accumulator(acc, v3)
        acc = _merge_accumulator(acc, v4)
    else:
        # Short input: a single accumulator.
        acc = (seed + PRIME64_5) & _MASK64

    # Step 4: add the input length (in bytes).
    acc = (acc + n) & _MASK64

    # Step 5: consume the remaining 0..31 bytes: 8, then 4, then 1 at a time.
    while i + 8 <= n:
        (lane,) = _U64.unpack_from(mv, i)
        acc ^= _round(0, lane)
        acc = (_rotl(acc, 27) * PRIME64_1 + PRIME64_4) & _MASK64
        i += 8
    if i + 4 <= n:
        (lane,) = _U32.unpack_from(mv, i)
        acc ^= (lane * PRIME64_1) & _MASK64
        acc = (_rotl(acc, 23) * PRIME64_2 + PRIME64_3) & _MASK64
        i += 4
    while i < n:
        acc ^= (mv[i] * PRIME64_5) & _MASK64
        acc = (_rotl(acc, 11) * PRIME64_1) & _MASK64
        i += 1

    # Step 6: final mix (avalanche).
    acc ^= acc >> 33
    acc = (acc * PRIME64_2) & _MASK64
    acc ^= acc >> 29
    acc = (acc * PRIME64_3) & _MASK64
    acc ^= acc >> 32
    return acc
