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

/* Value hashes of node n's slots [0, n->len) into out.  Returns 0, or -1
 * when a temporary array cannot be allocated. */
static int eb_value_hashes(const eb_node *n, uint64_t *out) {
    const int64_t len = n->len;
    const uint64_t salt = (uint64_t)n->kind * EB_P64_3;
    switch (n->kind) {
    case EB_STRING: case EB_BINARY: case EB_JSON: {
        for (int64_t i = 0; i < len; i++) {
            if (!eb_is_valid(n, i)) { out[i] = EB_HASH_NULL; continue; }
            int32_t a = eb_offs_at(n, i), b = eb_offs_at(n, i + 1);
            out[i] = eb_xxh64(n->data.p + a, (size_t)(b - a), salt);
        }
        return 0;
    }
    case EB_BOOL:
        for (int64_t i = 0; i < len; i++)
            out[i] = eb_is_valid(n, i) ? eb_xxh64_avalanche(salt + ((n->data.p[i >> 3] >> (i & 7)) & 1))
                                       : EB_HASH_NULL;
        return 0;
    case EB_STRUCT: {
        uint64_t *tmp = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(len ? len : 1));
        if (!tmp) return -1;
        for (int64_t i = 0; i < len; i++) out[i] = salt;
        for (int c = 0; c < n->nchild; c++) {
            if (eb_value_hashes(n->child[c], tmp)) { free(tmp); return -1; }
            for (int64_t i = 0; i < len; i++) out[i] = eb_fold(out[i], tmp[i]);
        }
        free(tmp);
        for (int64_t i = 0; i < len; i++) out[i] = eb_is_valid(n, i) ? eb_xxh64_avalanche(out[i]) : EB_HASH_NULL;
        return 0;
    }
    case EB_LIST: {
        const eb_node *item = n->child[0];
        uint64_t *tmp = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(item->len ? item->len : 1));
        if (!tmp) return -1;
        if (eb_value_hashes(item, tmp)) { free(tmp); return -1; }
        for (int64_t i = 0; i < len; i++) {
            if (!eb_is_valid(n, i)) { out[i] = EB_HASH_NULL; continue; }
            int32_t a = eb_offs_at(n, i), b = eb_offs_at(n, i + 1);
            uint64_t h = salt + (uint64_t)(b - a);
            for (int32_t k = a; k < b; k++) h = eb_fold(h, tmp[k]);
            out[i] = eb_xxh64_avalanche(h);
        }
        free(tmp);
        return 0;
    }
    default: {  /* fixed width: the value's little-endian bytes */
        const int w = n->width;
        for (int64_t i = 0; i < len; i++) {
            uint64_t v = 0;
            if (!eb_is_valid(n, i)) { out[i] = EB_HASH_NULL; continue; }
            memcpy(&v, n->data.p + (size_t)i * (size_t)w, (size_t)w);
            out[i] = eb_xxh64_avalanche((v ^ salt) + EB_P64_5);
        }
        return 0;
    }
    }
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
    uint64_t *tmp = (uint64_t *)malloc(sizeof(uint64_t) * (size_t)(len ? len : 1));
    if (!tmp) return -1;
    if (nkeys > 1) {
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
    for (int64_t i = 0; i < len; i++) out[i] = EB_P64_5;
    for (int c = 0; c < root->nchild; c++) {
        if (skip && skip[c]) continue;
        if (eb_value_hashes(root->child[c], tmp)) { free(tmp); return -1; }
        for (int64_t i = 0; i < len; i++) out[i] = eb_fold(out[i], tmp[i] ^ ((uint64_t)c * EB_P64_2));
    }
    for (int64_t i = 0; i < len; i++) out[i] = eb_xxh64_avalanche(out[i]);
    free(tmp);
    return 0;
}

/* Keep the slots i of n (i < n->len) with keep[i] set, in order, moving
 * values down in place (a slot only ever moves to a lower index, and each
 * offset is read before any write can reach it).  Children of a struct hold
 * the struct's length (the tree is synced first); a list's items follow the
 * list's rows.  Returns 0 or -1 (memory for a list's item mask). */
static int eb_compact(eb_node *n, const uint8_t *keep) {
    const int64_t len = n->len;
    int r;
    /* rows before the first dropped one stay where they are */
    const uint8_t *z = len ? (const uint8_t *)memchr(keep, 0, (size_t)len) : NULL;
    if (!z) return 0;
    const int64_t first = z - keep;
    int64_t j = first;
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
    switch (n->kind) {
    case EB_STRING: case EB_BINARY: case EB_JSON: case EB_LIST: {
        int32_t s0 = eb_offs_at(n, first), pos = s0;
        for (int64_t i = first; i < len; i++) {
            int32_t e = eb_offs_at(n, i + 1);   /* read before offs[j + 1] is written */
            if (keep[i]) {
                int32_t k = e - s0;
                if (n->kind != EB_LIST && k && pos != s0) memmove(n->data.p + pos, n->data.p + s0, (size_t)k);
                pos += k;
                memcpy(n->offs.p + 4 * (size_t)(j + 1), &pos, 4);
                j++;
            }
            s0 = e;
        }
        if (n->kind != EB_LIST) n->data.len = (size_t)pos;
        n->offs.len = 4 * (size_t)(j + 1);
        break;
    }
    case EB_BOOL:
        for (int64_t i = first; i < len; i++) {
            if (!keep[i]) continue;
            uint8_t bit = (n->data.p[i >> 3] >> (i & 7)) & 1, m = (uint8_t)(1u << (j & 7));
            if (bit) n->data.p[j >> 3] |= m; else n->data.p[j >> 3] &= (uint8_t)~m;
            j++;
        }
        n->data.len = (size_t)((j + 7) >> 3);
        break;
    case EB_STRUCT:
        for (int64_t i = first; i < len; i++) j += keep[i] != 0;
        break;
    default: {
        const size_t w = (size_t)n->width;
        for (int64_t i = first; i < len; i++) {
            if (!keep[i]) continue;
            memcpy(n->data.p + (size_t)j * w, n->data.p + (size_t)i * w, w);
            j++;
        }
        n->data.len = (size_t)j * w;
    }
    }
    /* validity, the same way; a column without nulls keeps all ones */
    if (eb_count_set(n->valid.p, len) != len) {
        int64_t v = first;
        for (int64_t i = first; i < len; i++) {
            if (!keep[i]) continue;
            uint8_t bit = (n->valid.p[i >> 3] >> (i & 7)) & 1, m = (uint8_t)(1u << (v & 7));
            if (bit) n->valid.p[v >> 3] |= m; else n->valid.p[v >> 3] &= (uint8_t)~m;
            v++;
        }
    }
    n->valid.len = (size_t)((j + 7) >> 3);
    n->len = j;
    return 0;
}

#endif
