/* Growable byte buffers and column nodes.
 *
 * Every buffer is malloc'd memory that the Cython layer hands to Arrow
 * without a copy at flush time (eb_buf_steal), then starts afresh.
 */
#ifndef EB_BUF_H
#define EB_BUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define EB_LIKELY(x) __builtin_expect(!!(x), 1)
#define EB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define EB_INLINE static inline __attribute__((always_inline))
#else
#define EB_LIKELY(x) (x)
#define EB_UNLIKELY(x) (x)
#define EB_INLINE static inline
#endif

typedef struct {
    uint8_t *p;   /* malloc'd storage, or NULL before the first write */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated */
} eb_buf;

/* Grow so that `extra` more bytes fit.  Returns 0, or -1 when out of memory
 * (the buffer is then unchanged). */
static int eb_buf_grow(eb_buf *b, size_t extra) {
    size_t need = b->len + extra;
    if (need < b->len) return -1; /* overflow */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > ((size_t)1 << 62)) return -1;
        cap *= 2;
    }
    uint8_t *p = (uint8_t *)realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

EB_INLINE int eb_buf_reserve(eb_buf *b, size_t extra) {
    if (EB_LIKELY(b->p && b->cap - b->len >= extra)) return 0;  /* never NULL + 0 */
    return eb_buf_grow(b, extra);
}

/* memcpy for the short strings events are made of: overlapping word
 * copies that touch only [src, src + n), no call for n <= 32. */
EB_INLINE void eb_copy(uint8_t *d, const uint8_t *s, size_t n) {
    uint64_t a, b, c, e;
    if (n >= 16) {
        if (n > 32) { memcpy(d, s, n); return; }
        memcpy(&a, s, 8); memcpy(&b, s + 8, 8);
        memcpy(&c, s + n - 16, 8); memcpy(&e, s + n - 8, 8);
        memcpy(d, &a, 8); memcpy(d + 8, &b, 8);
        memcpy(d + n - 16, &c, 8); memcpy(d + n - 8, &e, 8);
    } else if (n >= 8) {
        memcpy(&a, s, 8); memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8); memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4); memcpy(&y, s + n - 4, 4);
        memcpy(d, &x, 4); memcpy(d + n - 4, &y, 4);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    }
}

EB_INLINE int eb_buf_put(eb_buf *b, const void *src, size_t n) {
    if (eb_buf_reserve(b, n)) return -1;
    eb_copy(b->p + b->len, (const uint8_t *)src, n);
    b->len += n;
    return 0;
}

EB_INLINE int eb_buf_putc(eb_buf *b, uint8_t c) {
    if (eb_buf_reserve(b, 1)) return -1;
    b->p[b->len++] = c;
    return 0;
}

static void eb_buf_free(eb_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Hand the storage to the caller (who frees it) and start empty, with a
 * first allocation of `hint` bytes so the next batch does not regrow. */
static uint8_t *eb_buf_steal(eb_buf *b, size_t hint) {
    uint8_t *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    if (hint) {
        b->p = (uint8_t *)malloc(hint);
        if (b->p) b->cap = hint;
    }
    return p;
}

/* Column kinds: the same codes as eventbatch.schema.KIND_CODES. */
enum eb_kind {
    EB_BOOL = 1, EB_I8, EB_I16, EB_I32, EB_I64, EB_U8, EB_U16, EB_U32, EB_U64,
    EB_F32, EB_F64, EB_STRING, EB_BINARY, EB_TIMESTAMP, EB_DATE32, EB_STRUCT,
    EB_LIST, EB_JSON
};

/* One column builder.  Structs and lists own children; every other kind is
 * a leaf.  Invariant: each buffer describes exactly `len` slots:
 *   valid  - bitmap, bit i set when slot i is not null (bits >= len are junk);
 *   data   - fixed-width values (len * width bytes), bool bits, or the bytes
 *            of variable-width values;
 *   offs   - int32 offsets, len + 1 of them, offs[0] == 0 (string, binary,
 *            json, list). */
typedef struct eb_node {
    int kind;
    int nullable;
    int width;          /* bytes per value for fixed-width kinds, else 0 */
    int unit;           /* timestamp unit: 0 s, 1 ms, 2 us, 3 ns */
    int64_t len;        /* slots appended */
    int64_t mark;       /* len at the start of the current row (rollback) */
    eb_buf valid;
    eb_buf data;
    eb_buf offs;
    /* struct: children with their UTF-8 names and an open-addressing table
     * of name -> index + 1 (0 is empty), size hmask + 1, a power of two. */
    int nchild;
    struct eb_node **child;
    const uint8_t **names;
    uint32_t *name_lens;
    uint32_t *htab;
    uint32_t hmask;
    uint64_t *seen;     /* per child: the object generation that last set it
                         * (64-bit: it never wraps, so a stamp is never stale) */
    int32_t *slot;      /* per child: its member index in the slow walk */
    int id;             /* index in the encoder's node list */
    int nreq;           /* struct: children that are not nullable */
    int guess;          /* the child most likely to come next */
    int32_t *next;      /* per child (and nchild: start): the child that
                         * followed it last time */
    const char *type_name; /* for messages: `int64`, `timestamp[ms]` ... */
} eb_node;

EB_INLINE int eb_valid_set(eb_node *n, int valid) {
    int64_t i = n->len;
    size_t need = (size_t)(i >> 3) + 1;
    if (need > n->valid.len) {
        if (eb_buf_reserve(&n->valid, need - n->valid.len + 64)) return -1;
        memset(n->valid.p + n->valid.len, 0, need - n->valid.len);
        n->valid.len = need;
    }
    uint8_t m = (uint8_t)(1u << (i & 7));
    if (valid) n->valid.p[i >> 3] |= m; else n->valid.p[i >> 3] &= (uint8_t)~m;
    return 0;
}

/* Close a variable-width slot: record the end offset of the bytes just put
 * in data.  Fails when the batch would pass the int32 offset limit. */
EB_INLINE int eb_offs_push(eb_node *n, size_t end) {
    if (EB_UNLIKELY(end > 0x7fffffffu)) return -2;
    if (eb_buf_reserve(&n->offs, 4)) return -1;
    int32_t v = (int32_t)end;
    memcpy(n->offs.p + n->offs.len, &v, 4);
    n->offs.len += 4;
    return 0;
}

/* Reset offsets to the single leading zero. */
static int eb_offs_init(eb_node *n) {
    n->offs.len = 0;
    return eb_offs_push(n, 0);
}

EB_INLINE int32_t eb_offs_at(const eb_node *n, int64_t i) {
    int32_t v;
    memcpy(&v, n->offs.p + 4 * (size_t)i, 4);
    return v;
}

/* Undo every slot after `len` (row rollback). */
static void eb_node_truncate(eb_node *n, int64_t len) {
    /* always recompute: a failed append may have left bytes past len */
    n->len = len;
    switch (n->kind) {
    case EB_STRING: case EB_BINARY: case EB_JSON:
        n->offs.len = 4 * (size_t)(len + 1);
        n->data.len = (size_t)eb_offs_at(n, len);
        break;
    case EB_LIST:
        n->offs.len = 4 * (size_t)(len + 1);
        break;
    case EB_BOOL:
        n->data.len = (size_t)((len + 7) >> 3);
        break;
    case EB_STRUCT:
        break;
    default:
        n->data.len = (size_t)len * (size_t)n->width;
    }
    n->valid.len = (size_t)((len + 7) >> 3);
}

#endif
