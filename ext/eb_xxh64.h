/* XXH64, written from the published specification (Yann Collet,
 * "xxHash fast digest algorithm", doc/xxhash_spec.md, XXH64 section):
 * five 64-bit primes, 32-byte stripes folded into four accumulators, a merge
 * of the accumulators, the tail in 8-, 4- and 1-byte steps, and an avalanche.
 * Input words are read little-endian whatever the host, through memcpy (no
 * alignment assumption).
 *
 * Also here: a streaming state (same digest as the one-shot over the
 * concatenated input) and the array loops behind eventbatch.hash64, which
 * walk Arrow and numpy buffers without the GIL.  Every loop trusts lengths
 * and offsets that the caller has validated (eb_offs*_check below).
 */
#ifndef EB_XXH64_H
#define EB_XXH64_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EB_P64_1 0x9E3779B185EBCA87ULL
#define EB_P64_2 0xC2B2AE3D27D4EB4FULL
#define EB_P64_3 0x165667B19E3779F9ULL
#define EB_P64_4 0x85EBCA77C2B2AE63ULL
#define EB_P64_5 0x27D4EB2F165667C5ULL

#if defined(__GNUC__)
#define EB_XXH_INLINE static inline __attribute__((always_inline))
#else
#define EB_XXH_INLINE static inline
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define EB_BIG_ENDIAN 1
EB_XXH_INLINE uint64_t eb_le64(uint64_t v) { return __builtin_bswap64(v); }
EB_XXH_INLINE uint32_t eb_le32(uint32_t v) { return __builtin_bswap32(v); }
#else
#define EB_BIG_ENDIAN 0
EB_XXH_INLINE uint64_t eb_le64(uint64_t v) { return v; }
EB_XXH_INLINE uint32_t eb_le32(uint32_t v) { return v; }
#endif

EB_XXH_INLINE uint64_t eb_rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return eb_le64(v);
}

EB_XXH_INLINE uint32_t eb_rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return eb_le32(v);
}

EB_XXH_INLINE uint64_t eb_rotl64(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

/* One lane of a stripe: accumulate, rotate, multiply. */
EB_XXH_INLINE uint64_t eb_xxh64_round(uint64_t acc, uint64_t lane) {
    acc += lane * EB_P64_2;
    acc = eb_rotl64(acc, 31);
    return acc * EB_P64_1;
}

/* Fold one accumulator into the converged value. */
EB_XXH_INLINE uint64_t eb_xxh64_merge(uint64_t h, uint64_t acc) {
    h ^= eb_xxh64_round(0, acc);
    return h * EB_P64_1 + EB_P64_4;
}

EB_XXH_INLINE uint64_t eb_xxh64_avalanche(uint64_t h) {
    h ^= h >> 33;
    h *= EB_P64_2;
    h ^= h >> 29;
    h *= EB_P64_3;
    h ^= h >> 32;
    return h;
}

/* The last (n < 32) bytes, after h has received the total length. */
EB_XXH_INLINE uint64_t eb_xxh64_tail(uint64_t h, const uint8_t *p, size_t n) {
    while (n >= 8) {
        h ^= eb_xxh64_round(0, eb_rd64(p));
        h = eb_rotl64(h, 27) * EB_P64_1 + EB_P64_4;
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        h ^= (uint64_t)eb_rd32(p) * EB_P64_1;
        h = eb_rotl64(h, 23) * EB_P64_2 + EB_P64_3;
        p += 4;
        n -= 4;
    }
    while (n > 0) {
        h ^= (uint64_t)(*p) * EB_P64_5;
        h = eb_rotl64(h, 11) * EB_P64_1;
        p++;
        n--;
    }
    return eb_xxh64_avalanche(h);
}

/* One-shot XXH64 of p[0..n).  p may be NULL when n == 0. */
EB_XXH_INLINE uint64_t eb_xxh64(const void *data, size_t n, uint64_t seed) {
    const uint8_t *p = (const uint8_t *)data;
    size_t len = n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v1 = seed + EB_P64_1 + EB_P64_2;
        uint64_t v2 = seed + EB_P64_2;
        uint64_t v3 = seed;
        uint64_t v4 = seed - EB_P64_1;
        do {
            v1 = eb_xxh64_round(v1, eb_rd64(p));
            v2 = eb_xxh64_round(v2, eb_rd64(p + 8));
            v3 = eb_xxh64_round(v3, eb_rd64(p + 16));
            v4 = eb_xxh64_round(v4, eb_rd64(p + 24));
            p += 32;
            n -= 32;
        } while (n >= 32);
        h = eb_rotl64(v1, 1) + eb_rotl64(v2, 7) + eb_rotl64(v3, 12) + eb_rotl64(v4, 18);
        h = eb_xxh64_merge(h, v1);
        h = eb_xxh64_merge(h, v2);
        h = eb_xxh64_merge(h, v3);
        h = eb_xxh64_merge(h, v4);
    } else {
        h = seed + EB_P64_5;
    }
    h += (uint64_t)len;
    return eb_xxh64_tail(h, p, n);
}

/* ---- streaming ----------------------------------------------------------- */

typedef struct {
    uint64_t v[4];      /* the four stripe accumulators */
    uint64_t seed;
    uint64_t total;     /* bytes fed so far */
    uint8_t buf[32];    /* a partial stripe */
    uint32_t nbuf;      /* bytes in buf, < 32 */
} eb_xxh64_state;

static void eb_xxh64_reset(eb_xxh64_state *s, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->v[0] = seed + EB_P64_1 + EB_P64_2;
    s->v[1] = seed + EB_P64_2;
    s->v[2] = seed;
    s->v[3] = seed - EB_P64_1;
}

EB_XXH_INLINE void eb_xxh64_stripe(uint64_t *v, const uint8_t *p) {
    v[0] = eb_xxh64_round(v[0], eb_rd64(p));
    v[1] = eb_xxh64_round(v[1], eb_rd64(p + 8));
    v[2] = eb_xxh64_round(v[2], eb_rd64(p + 16));
    v[3] = eb_xxh64_round(v[3], eb_rd64(p + 24));
}

static void eb_xxh64_update(eb_xxh64_state *s, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    if (n == 0) return;
    s->total += n;
    if (s->nbuf) {
        size_t take = 32 - s->nbuf;
        if (take > n) take = n;
        memcpy(s->buf + s->nbuf, p, take);
        s->nbuf += (uint32_t)take;
        p += take;
        n -= take;
        if (s->nbuf < 32) return;
        eb_xxh64_stripe(s->v, s->buf);
        s->nbuf = 0;
    }
    while (n >= 32) {
        eb_xxh64_stripe(s->v, p);
        p += 32;
        n -= 32;
    }
    if (n) {
        memcpy(s->buf, p, n);
        s->nbuf = (uint32_t)n;
    }
}

static uint64_t eb_xxh64_digest(const eb_xxh64_state *s) {
    uint64_t h;
    if (s->total >= 32) {
        const uint64_t *v = s->v;
        h = eb_rotl64(v[0], 1) + eb_rotl64(v[1], 7) + eb_rotl64(v[2], 12) + eb_rotl64(v[3], 18);
        h = eb_xxh64_merge(h, v[0]);
        h = eb_xxh64_merge(h, v[1]);
        h = eb_xxh64_merge(h, v[2]);
        h = eb_xxh64_merge(h, v[3]);
    } else {
        h = s->seed + EB_P64_5;
    }
    h += s->total;
    return eb_xxh64_tail(h, s->buf, s->nbuf);
}

/* ---- array loops ----------------------------------------------------------- */

/* Arrow offsets are read through memcpy: a sliced or foreign buffer need not
 * be aligned to its offset width. */
EB_XXH_INLINE int64_t eb_offs32_at(const uint8_t *offs, int64_t i) {
    int32_t v;
    memcpy(&v, offs + 4 * (size_t)i, 4);
    return (int64_t)v;
}

EB_XXH_INLINE int64_t eb_offs64_at(const uint8_t *offs, int64_t i) {
    int64_t v;
    memcpy(&v, offs + 8 * (size_t)i, 8);
    return v;
}

EB_XXH_INLINE int eb_bit_is_set(const uint8_t *bits, int64_t i) {
    return (bits[i >> 3] >> (i & 7)) & 1;
}

/* Check the n + 1 offsets offs[0..n] (already shifted by the array offset)
 * of a variable-width Arrow array: each in [0, data_len], none smaller than
 * the one before.  width is 4 or 8.  Returns -1 when they are sound, else the
 * index of the first bad offset.  The caller has checked that the offsets
 * buffer holds n + 1 entries. */
static int64_t eb_offs_check(const uint8_t *offs, int width, int64_t n, int64_t data_len) {
    int64_t prev = width == 4 ? eb_offs32_at(offs, 0) : eb_offs64_at(offs, 0);
    if (prev < 0 || prev > data_len) return 0;
    for (int64_t i = 1; i <= n; i++) {
        int64_t cur = width == 4 ? eb_offs32_at(offs, i) : eb_offs64_at(offs, i);
        if (cur < prev || cur > data_len) return i;
        prev = cur;
    }
    return -1;
}

/* Hash each value of a string/binary array: value i is
 * data[offs[i] .. offs[i + 1]).  valid is the validity bitmap (NULL: no
 * nulls) read from bit valid_off; a null hashes to 0.  Offsets must have
 * passed eb_offs_check with the same arguments. */
static void eb_xxh64_var(const uint8_t *data, const uint8_t *offs, int width,
                         const uint8_t *valid, int64_t valid_off, int64_t n,
                         uint64_t seed, uint64_t *out) {
    static const uint8_t empty[1] = {0};
    if (data == NULL) data = empty;   /* every value is then empty (data_len 0) */
    if (width == 4) {
        int64_t start = eb_offs32_at(offs, 0);
        for (int64_t i = 0; i < n; i++) {
            int64_t end = eb_offs32_at(offs, i + 1);
            out[i] = (valid && !eb_bit_is_set(valid, valid_off + i))
                         ? 0 : eb_xxh64(data + start, (size_t)(end - start), seed);
            start = end;
        }
    } else {
        int64_t start = eb_offs64_at(offs, 0);
        for (int64_t i = 0; i < n; i++) {
            int64_t end = eb_offs64_at(offs, i + 1);
            out[i] = (valid && !eb_bit_is_set(valid, valid_off + i))
                         ? 0 : eb_xxh64(data + start, (size_t)(end - start), seed);
            start = end;
        }
    }
}

/* Hash each of n fixed-width values of `width` bytes (>= 1) at data.  With
 * swap set (numbers stored big-endian on a big-endian host; width <= 32) the
 * bytes of each value are reversed first, so that the digest is of its
 * little-endian bytes everywhere.  Nulls as in eb_xxh64_var. */
static void eb_xxh64_fixed(const uint8_t *data, int width, int swap,
                           const uint8_t *valid, int64_t valid_off, int64_t n,
                           uint64_t seed, uint64_t *out) {
    uint8_t tmp[32];
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *v = data + (size_t)i * (size_t)width;
        if (valid && !eb_bit_is_set(valid, valid_off + i)) {
            out[i] = 0;
            continue;
        }
        if (swap && width <= 32) {
            for (int j = 0; j < width; j++) tmp[j] = v[width - 1 - j];
            v = tmp;
        }
        switch (width) {   /* constant lengths let the compiler unroll the tail */
        case 1: out[i] = eb_xxh64(v, 1, seed); break;
        case 2: out[i] = eb_xxh64(v, 2, seed); break;
        case 4: out[i] = eb_xxh64(v, 4, seed); break;
        case 8: out[i] = eb_xxh64(v, 8, seed); break;
        case 16: out[i] = eb_xxh64(v, 16, seed); break;
        default: out[i] = eb_xxh64(v, (size_t)width, seed);
        }
    }
}

#endif
