/* Per-row 64-bit hashes of the rows an encoder holds, computed from its own
 * column buffers just before they are handed to Arrow (one vectorised pass,
 * no Python objects, no GIL needed).
 *
 * Two kinds:
 *  - key hash: XXH64 (seed 0) of the key field's bytes, exactly what
 *    eventbatch.hash64 gives for that Arrow column (a null hashes to 0); with
 *    several key fields, the per-field hashes are folded in order.
 *  - content hash: a hash of the row's typed values, so it is the same for
 *    any key order, whitespace, escaping or number spelling of the input.
 *    Fields are folded in schema order; `skip` excludes top-level fields
 *    (volatile ones such as a client timestamp).
 */
#ifndef EB_ROWHASH_H
#define EB_ROWHASH_H

#include "eb_buf.h"
#include "eb_xxh64.h"
#include "eb_json.h"   /* eb_count_set, eb_offs_at */

#define EB_HASH_NULL 0x6A09E667F3BCC908ull  /* the hash of a null value */

EB_INLINE uint64_t eb_fold(uint64_t h, uint64_t v) {
    return eb_rotl64(h ^ (v * EB_P64_2), 31) * EB_P64_1 + EB_P64_4;
}

EB_INLINE int eb_is_valid(const eb_node *n, int64_t i) {
    return (n->valid.p[i >> 3] >> (i & 7)) & 1;
}

/* Up to 8 bytes at p as a little-endian word (bit i of a bitmap = bit i). */
EB_INLINE uint64_t eb_load_le(const uint8_t *p, size_t nbytes) {
    uint64_t x = 0;
    if (nbytes == 8) {
        for (int k = 0; k < 8; k++) x |= (uint64_t)p[k] << (8 * k);   /* one load on x86 */
        return x;
    }
    for (size_t k = 0; k < nbytes; k++) x |= (uint64_t)p[k] << (8 * k);
    return x;
}

/* Validity bits [64w, 64w + 64) of n's slots; bits at or past len are 0. */
EB_INLINE uint64_t eb_valid_word(const eb_node *n, int64_t w) {
    const int64_t nbytes = (n->len + 7) >> 3, off = w * 8;
    const int64_t rem = n->len - w * 64;
    uint64_t x = eb_load_le(n->valid.p + off, (size_t)(off + 8 <= nbytes ? 8 : nbytes - off));
    return rem >= 64 ? x : (x & ((1ull << rem) - 1));
}

/* Run BODY with int64_t `i` set to each valid slot of n, in order: one word
 * of the validity bitmap at a time, so a sparse column costs little more
 * than a pass over its bitmap. */
#define EB_FOR_VALID(n, i, ...)                                                  \
    for (int64_t eb_w_ = 0, eb_nw_ = ((n)->len + 63) >> 6; eb_w_ < eb_nw_; eb_w_++) { \
        uint64_t eb_b_ = eb_valid_word((n), eb_w_);                              \
        while (eb_b_) {                                                          \
            const int64_t i = (eb_w_ << 6) + __builtin_ctzll(eb_b_);             \
            eb_b_ &= eb_b_ - 1;                                                  \
            __VA_ARGS__                                                          \
        }                                                                        \
    }

/* The hash input of the valid leaf slot i: strings and binary are hashed
 * (XXH64 seeded by the kind), a bool or fixed-width value is its
 * little-endian bits; the fold that takes it mixes it. */
EB_INLINE uint64_t eb_leaf_value(const eb_node *n, int64_t i, uint64_t salt) {
    switch (n->kind) {
    case EB_STRING: case EB_BINARY: case EB_JSON: {
        int32_t a = eb_offs_at(n, i), b = eb_offs_at(n, i + 1);
        return eb_xxh64(n->data.p + a, (size_t)(b - a), salt);
    }
    case EB_BOOL:
        return salt + 1 + ((n->data.p[i >> 3] >> (i & 7)) & 1);
    default: {
        uint64_t v = 0;
        const int w = n->width;
        if (w == 8) v = eb_load_le(n->data.p + (size_t)i * 8, 8);
        else v = eb_load_le(n->data.p + (size_t)i * (size_t)w, (size_t)w);
        return v ^ salt;
    }
    }
}

static int eb_value_hashes(const eb_node *n, uint64_t *out);

/* Fold the hash of every valid slot i of n into acc[i], tagged with mix (the
 * field's position), and leave the null slots' acc alone.  Skipping nulls
 * is what makes sparse structs cheap; the position tag keeps {a: 1, b: null}
 * apart from {a: null, b: 1}.  Returns 0, or -1 when out of memory. */
static int eb_hash_fold(const eb_node *n, uint64_t *acc, uint64_t mix) {
    const uint64_t salt = (uint64_t)n->kind * EB_P64_3;
    switch (n->kind) {
    case EB_STRUCT: case EB_LIST: {
        /* a nested value: its own hash (nulls included), folded where valid */
        uint64_t *tmp = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(n->len ? n->len : 1));
        if (!tmp) return -1;
        if (eb_value_hashes(n, tmp)) { free(tmp); return -1; }
        EB_FOR_VALID(n, i, { acc[i] = eb_fold(acc[i], tmp[i] ^ mix); })
        free(tmp);
        return 0;
    }
    case EB_STRING: case EB_BINARY: case EB_JSON:
        EB_FOR_VALID(n, i, { acc[i] = eb_fold(acc[i], eb_leaf_value(n, i, salt) ^ mix); })
        return 0;
    default:
        EB_FOR_VALID(n, i, { acc[i] = eb_fold(acc[i], eb_leaf_value(n, i, salt) ^ mix); })
        return 0;
    }
}

/* Value hashes of node n's slots [0, n->len) into out: EB_HASH_NULL for a
 * null, else an avalanched hash of the value (a struct folds its non-null
 * fields, tagged by position; a list folds its count and every item, nulls
 * included).  Returns 0, or -1 when a temporary array cannot be allocated. */
static int eb_value_hashes(const eb_node *n, uint64_t *out) {
    const int64_t len = n->len;
    const uint64_t salt = (uint64_t)n->kind * EB_P64_3;
    switch (n->kind) {
    case EB_STRUCT: {
        for (int64_t i = 0; i < len; i++) out[i] = salt;
        for (int c = 0; c < n->nchild; c++)
            if (eb_hash_fold(n->child[c], out, (uint64_t)(c + 1) * EB_P64_2)) return -1;
        break;
    }
    case EB_LIST: {
        const eb_node *item = n->child[0];
        uint64_t *tmp = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(item->len ? item->len : 1));
        if (!tmp) return -1;
        if (eb_value_hashes(item, tmp)) { free(tmp); return -1; }
        EB_FOR_VALID(n, i, {
            int32_t a = eb_offs_at(n, i), b = eb_offs_at(n, i + 1);
            uint64_t h = salt + (uint64_t)(b - a);
            for (int32_t k = a; k < b; k++) h = eb_fold(h, tmp[k]);
            out[i] = h;
        })
        free(tmp);
        break;
    }
    default:
        EB_FOR_VALID(n, i, { out[i] = eb_leaf_value(n, i, salt); })
        break;
    }
    /* avalanche the valid slots, mark the null ones */
    for (int64_t w = 0, nw = (len + 63) >> 6; w < nw; w++) {
        const uint64_t b = eb_valid_word(n, w);
        const int64_t lo = w << 6, hi = lo + 64 < len ? lo + 64 : len;
        for (int64_t i = lo; i < hi; i++)
            out[i] = ((b >> (i - lo)) & 1) ? eb_xxh64_avalanche(out[i]) : EB_HASH_NULL;
    }
    return 0;
}

/* Key hash of one top-level field: what hash64 gives for its Arrow column. */
static void eb_key_hashes(const eb_node *n, uint64_t *out) {
    const int64_t len = n->len;
    for (int64_t i = 0; i < len; i++) {
        if (!eb_is_valid(n, i)) { out[i] = 0; continue; }
        if (n->kind == EB_STRING || n->kind == EB_BINARY || n->kind == EB_JSON) {
            int32_t a = eb_offs_at(n, i), b = eb_offs_at(n, i + 1);
            out[i] = eb_xxh64(n->data.p + a, (size_t)(b - a), 0);
        } else if (n->kind == EB_BOOL) {
            uint8_t v = (n->data.p[i >> 3] >> (i & 7)) & 1;
            out[i] = eb_xxh64(&v, 1, 0);
        } else {
            out[i] = eb_xxh64(n->data.p + (size_t)i * (size_t)n->width, (size_t)n->width, 0);
        }
    }
}

/* Row hashes of the root's rows into out (root->len of them).
 * keys: indexes of the key fields (nkeys > 0: key hash), else content hash
 * of every top-level field whose skip[i] is 0.  Returns 0 or -1 (memory). */
static int eb_row_hashes(const eb_node *root, const int *keys, int nkeys, const uint8_t *skip,
                         uint64_t *out) {
    const int64_t len = root->len;
    if (nkeys == 1) {
        eb_key_hashes(root->child[keys[0]], out);
        return 0;
    }
    if (nkeys > 1) {
        uint64_t *tmp = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(len ? len : 1));
        if (!tmp) return -1;
        /* fold like Producer._key_hashes: h ^= k + golden + (h << 6) + (h >> 2) */
        eb_key_hashes(root->child[keys[0]], out);
        for (int j = 1; j < nkeys; j++) {
            eb_key_hashes(root->child[keys[j]], tmp);
            for (int64_t i = 0; i < len; i++)
                out[i] ^= tmp[i] + 0x9E3779B97F4A7C15ull + (out[i] << 6) + (out[i] >> 2);
        }
        free(tmp);
        return 0;
    }
    /* content: the non-null top-level fields folded in schema order, each
     * tagged by its position (a null or absent field adds nothing) */
    for (int64_t i = 0; i < len; i++) out[i] = EB_P64_5;
    for (int c = 0; c < root->nchild; c++) {
        if (skip && skip[c]) continue;
        if (eb_hash_fold(root->child[c], out, (uint64_t)(c + 1) * EB_P64_2)) return -1;
    }
    for (int64_t i = 0; i < len; i++) out[i] = eb_xxh64_avalanche(out[i]);
    return 0;
}

/* Bits [src, src + m) of bitmap p, m <= 56, as the low bits of a word. */
EB_INLINE uint64_t eb_bits_get(const uint8_t *p, int64_t src, int m) {
    const int off = (int)(src & 7);
    uint64_t x = eb_load_le(p + (src >> 3), (size_t)((off + m + 7) >> 3));
    return (x >> off) & ((1ull << m) - 1);
}

/* Store the low m bits of v (m <= 56) at bits [dst, dst + m) of bitmap p;
 * the other bits of the bytes touched are kept. */
EB_INLINE void eb_bits_put(uint8_t *p, int64_t dst, int m, uint64_t v) {
    const int off = (int)(dst & 7);
    const size_t nbytes = (size_t)((off + m + 7) >> 3);
    uint8_t *q = p + (dst >> 3);
    const uint64_t mask = ((1ull << m) - 1) << off;
    uint64_t x = (eb_load_le(q, nbytes) & ~mask) | ((v << off) & mask);
    for (size_t k = 0; k < nbytes; k++) q[k] = (uint8_t)(x >> (8 * k));
}

/* Move bits [src, src + n) of bitmap p down to [dst, dst + n), dst <= src,
 * in place: each chunk is read before a write can reach it (a write ends at
 * dst + m <= src + m, the end of what has been read). */
static void eb_bits_move(uint8_t *p, int64_t dst, int64_t src, int64_t n) {
    if (dst == src) return;
    while (n > 0) {
        const int m = n < 56 ? (int)n : 56;
        eb_bits_put(p, dst, m, eb_bits_get(p, src, m));
        dst += m;
        src += m;
        n -= m;
    }
}

/* Keep the slots i of n (i < n->len) with keep[i] set, in order, moving
 * values down in place, one run of kept slots at a time (with a few
 * percent of re-sends the runs are tens of rows long: one memmove each).
 * A slot only ever moves to a lower index, and each offset is read before
 * any write can reach it.  Children of a struct hold the struct's length
 * (the tree is synced first); a list's items follow the list's rows.
 * Returns 0 or -1 (memory for a list's item mask). */
static int eb_compact(eb_node *n, const uint8_t *keep) {
    const int64_t len = n->len;
    int r;
    /* rows before the first dropped one stay where they are */
    const uint8_t *z = len ? (const uint8_t *)memchr(keep, 0, (size_t)len) : NULL;
    if (!z) return 0;
    const int64_t first = z - keep;
    if (n->kind == EB_STRUCT) {
        for (int c = 0; c < n->nchild; c++)
            if ((r = eb_compact(n->child[c], keep))) return r;
    } else if (n->kind == EB_LIST) {
        eb_node *item = n->child[0];
        int64_t items = eb_offs_at(n, len);
        uint8_t *ik = (uint8_t *)malloc((size_t)(items ? items : 1));
        if (!ik) return -1;
        for (int64_t i = 0; i < len; i++) {
            int32_t a = eb_offs_at(n, i), b = eb_offs_at(n, i + 1);
            if (b > a) memset(ik + a, keep[i] ? 1 : 0, (size_t)(b - a));
        }
        r = eb_compact(item, ik);
        free(ik);
        if (r) return r;
    }
    /* validity needs moving only when the column has a null */
    const int move_valid = eb_count_set(n->valid.p, len) != len;
    const int has_offs = n->kind == EB_STRING || n->kind == EB_BINARY || n->kind == EB_JSON
                         || n->kind == EB_LIST;
    const int has_data = n->kind != EB_STRUCT && n->kind != EB_LIST;
    const size_t w = (size_t)n->width;
    int64_t i = first, j = first;      /* j: slots kept so far */
    int32_t pos = has_offs ? eb_offs_at(n, first) : 0;   /* end of the kept data */
    while (i < len) {
        while (i < len && !keep[i]) i++;
        if (i == len) break;
        int64_t k = i + 1;
        while (k < len && keep[k]) k++;
        /* the run [i, k) moves to [j, j + k - i) */
        if (has_offs) {
            const int32_t a = eb_offs_at(n, i), b = eb_offs_at(n, k);
            const int32_t delta = a - pos;
            if (has_data && b > a && delta) memmove(n->data.p + pos, n->data.p + a, (size_t)(b - a));
            for (int64_t t = 1; t <= k - i; t++) {
                int32_t o = eb_offs_at(n, i + t) - delta;
                memcpy(n->offs.p + 4 * (size_t)(j + t), &o, 4);
            }
            pos += b - a;
        } else if (n->kind == EB_BOOL) {
            eb_bits_move(n->data.p, j, i, k - i);
        } else if (has_data) {
            memmove(n->data.p + (size_t)j * w, n->data.p + (size_t)i * w, (size_t)(k - i) * w);
        }
        if (move_valid) eb_bits_move(n->valid.p, j, i, k - i);
        j += k - i;
        i = k;
    }
    if (has_offs) {
        if (has_data) n->data.len = (size_t)pos;
        n->offs.len = 4 * (size_t)(j + 1);
    } else if (n->kind == EB_BOOL) {
        n->data.len = (size_t)((j + 7) >> 3);
    } else if (has_data) {
        n->data.len = (size_t)j * w;
    }
    n->valid.len = (size_t)((j + 7) >> 3);
    n->len = j;
    return 0;
}

#endif
