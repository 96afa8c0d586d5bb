/* libFuzzer harness for the schema-directed NDJSON scanner (ext/eb_json.h).
 *
 * Build and run: see fuzz/Makefile.  The encoder is set up by hand here the
 * way ext/encoder.pxi `_setup` does it (no Python involved), over a schema
 * that covers every column kind.
 *
 * Input format (tests/test_fuzz_smoke.py decodes the same header):
 *   byte 0  bits 0-1  policy: (b & 3) % 3 -> 0 ignore, 1 error, 2 extra
 *           bit 2     mode: 0 NDJSON blocks (eb_ndjson), 1 one JSON document
 *                     (what CoreEncoder._json_doc / append_json does)
 *           bit 3     1: every piece with final=0, then one more final=1 call
 *                     with the tail; 0: the last piece itself has final=1
 *           bit 4     top-level field `id` is required (not nullable)
 *           bits 5-6  flush: 0 only at the end, 1 and 3 after every call,
 *                     2 when the buffers pass 16 KiB
 *           bit 7     max_rows (extend_ndjson(max_rows=...), e->stop_rows):
 *                     1 + (byte 3 >> 2) % 8; a call stops when the batch is
 *                     full, the driver flushes and calls again with the rest
 *   byte 1  max_depth: b < 0xF0 ? 1 + b % 24 : 128
 *   byte 2  bits 0-2  max_line: {1<<20, 4096, 300, 100, 64, 40, 16, 1}[b % 8]
 *           bits 3-7  k != 0: start the object generation (e->gen) at
 *                     2^32 - k, so that it wraps within the first k objects
 *                     (a long-running encoder gets there after 2^32 objects)
 *   byte 3  pieces: 1 + b % 3
 *   byte 4, 5  split points, as fractions b/256 of the payload length
 *   rest    the payload (NDJSON bytes, or the document)
 * Missing header bytes count as 0.
 *
 * After every call the encoder state is checked (see check_enc) and any
 * broken invariant calls abort().  In NDJSON mode the same payload is also
 * fed in one piece to a second encoder, and every column and every rejected
 * row must come out the same (splitting a stream must not change results).
 *
 * Some checks guard bugs that are already known (fuzz/crashes/README.md);
 * compile with -DFUZZ_NO_<NAME>=1 to switch one off and look for others.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "../ext/eb_json.h"

#ifndef FUZZ_NO_STACKS          /* e->members / e->keys do not grow across documents */
#define FUZZ_NO_STACKS 0
#endif
#ifndef FUZZ_NO_EXTRA_DUPS      /* _extra mirrors dict semantics (no duplicate keys) */
#define FUZZ_NO_EXTRA_DUPS 0
#endif
#ifndef FUZZ_NO_MSG_UTF8        /* rejected `message`/`path` are valid UTF-8 */
#define FUZZ_NO_MSG_UTF8 0
#endif
#ifndef FUZZ_NO_GEN_WRAP        /* let the header start e->gen near 2^32 */
#define FUZZ_NO_GEN_WRAP 0
#endif
#ifndef FUZZ_NO_DIFF            /* split vs unsplit stream give the same columns */
#define FUZZ_NO_DIFF 0
#endif
#ifndef FUZZ_NO_DIFF_RAW        /* ... including `raw` of oversize lines */
#define FUZZ_NO_DIFF_RAW 0
#endif

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "\nINVARIANT FAILED (%s:%d): ", __FILE__, __LINE__);   \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        abort();                                                               \
    } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

/* ---- the schema --------------------------------------------------------- */

typedef struct fspec {
    const char *name;
    int kind, nullable, unit;
    int nchild;
    const struct fspec *child;  /* struct: fields; list: the item */
} fspec;

#define LEAF(nm, k) {nm, k, 1, 0, 0, NULL}

static const fspec IN_L_ITEM = {"item", EB_F64, 1, 0, 0, NULL};
static const fspec IN_FIELDS[] = {LEAF("x", EB_BOOL), {"l", EB_LIST, 1, 0, 1, &IN_L_ITEM}};
static const fspec ST_FIELDS[] = {
    {"req", EB_I32, 0, 0, 0, NULL}, LEAF("opt", EB_STRING), {"in", EB_STRUCT, 1, 0, 2, IN_FIELDS}};
static const fspec LI_ITEM = {"item", EB_I32, 0, 0, 0, NULL};
static const fspec LS_FIELDS[] = {
    {"k", EB_STRING, 0, 0, 0, NULL}, LEAF("v", EB_F64), {"t", EB_TIMESTAMP, 1, 2, 0, NULL}};
static const fspec LS_ITEM = {"item", EB_STRUCT, 1, 0, 3, LS_FIELDS};
static const fspec W_FIELDS[] = {LEAF("q", EB_I64)};
static const fspec ROOT_FIELDS[] = {
    LEAF("id", EB_I64), /* nullable switched by the header */
    LEAF("b", EB_BOOL), LEAF("i8", EB_I8), LEAF("i16", EB_I16), LEAF("i32", EB_I32),
    LEAF("i64", EB_I64), LEAF("u8", EB_U8), LEAF("u16", EB_U16), LEAF("u32", EB_U32),
    LEAF("u64", EB_U64), LEAF("f32", EB_F32), LEAF("f64", EB_F64), LEAF("s", EB_STRING),
    LEAF("bin", EB_BINARY), {"ts", EB_TIMESTAMP, 1, 1, 0, NULL}, LEAF("d", EB_DATE32),
    {"st", EB_STRUCT, 1, 0, 3, ST_FIELDS},
    {"li", EB_LIST, 1, 0, 1, &LI_ITEM},
    {"ls", EB_LIST, 1, 0, 1, &LS_ITEM},
    LEAF("j", EB_JSON),
    {"w\xc3\xa9\"ird", EB_STRUCT, 1, 0, 1, W_FIELDS}, /* needs escaping in _extra */
    LEAF("event_ts", EB_I64),                     /* 8..16-byte names: eb_key_eq word compare */
    LEAF("a_much_longer_field_name", EB_STRING),  /* > 16 bytes: memcmp */
};
static const fspec ROOT = {"", EB_STRUCT, 0, 0, (int)(sizeof ROOT_FIELDS / sizeof ROOT_FIELDS[0]), ROOT_FIELDS};

static const int WIDTH[19] = {0, 0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 0, 0, 8, 4, 0, 0, 0};

static const char *type_name(int kind, int unit) {
    static const char *names[19] = {"?", "bool", "int8", "int16", "int32", "int64", "uint8",
                                    "uint16", "uint32", "uint64", "float", "double", "string",
                                    "binary", "timestamp", "date32", "struct", "list", "json"};
    static const char *ts[4] = {"timestamp[s]", "timestamp[ms]", "timestamp[us]", "timestamp[ns]"};
    if (kind == EB_TIMESTAMP) return ts[unit & 3];
    return names[kind];
}

static int is_var(int kind) {
    return kind == EB_STRING || kind == EB_BINARY || kind == EB_JSON || kind == EB_LIST;
}

static int count_nodes(const fspec *s) {
    int n = 1;
    if (s->kind == EB_STRUCT)
        for (int i = 0; i < s->nchild; i++) n += count_nodes(&s->child[i]);
    else if (s->kind == EB_LIST)
        n += count_nodes(s->child);
    return n;
}

static int schema_depth(const fspec *s) { /* as encoder.pxi _schema_depth */
    if (s->kind != EB_STRUCT && s->kind != EB_LIST) return 0;
    int best = 0;
    int k = s->kind == EB_STRUCT ? s->nchild : 1;
    for (int i = 0; i < k; i++) {
        int d = schema_depth(s->kind == EB_STRUCT ? &s->child[i] : s->child);
        if (d > best) best = d;
    }
    return best + 1;
}

/* ---- encoder setup, as encoder.pxi _setup ------------------------------- */

typedef struct {
    int policy, mode, final_call, id_required, flush_mode, max_depth;
    size_t max_line;
    int npieces;
    size_t split[2];
    int64_t max_rows;         /* 0: none */
    uint32_t gen0;            /* initial e->gen */
} fcfg;

typedef struct {
    eb_enc e;
    const fspec **spec_of;    /* node id -> spec */
    int nall;                 /* nnodes + extra + 7 rejected columns */
    eb_node **all;            /* every node we hash and check */
    uint64_t *hash;           /* per node in `all`: rolling hash of its rows */
    int64_t flushed_rows, flushed_rej;
    int64_t ret_sum;
    const uint8_t *stream;    /* NDJSON payload (NULL in document mode) */
    size_t total;
    size_t max_colons;        /* most `:` in one line (bounds e->members) */
    size_t max_linelen;
} fenc;

/* Per-line maxima of the payload (doc mode: the whole payload is one line). */
static void line_stats(fenc *f, const uint8_t *p, size_t n, int one_line) {
    size_t colons = 0, len = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || (p[i] == '\n' && !one_line)) {
            if (colons > f->max_colons) f->max_colons = colons;
            if (len > f->max_linelen) f->max_linelen = len;
            colons = len = 0;
            continue;
        }
        colons += p[i] == ':';
        len++;
    }
}

static void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz);
    if (!p) abort();
    return p;
}

static void init_leaf(eb_node *n, int kind, int nullable, int id) {
    n->kind = kind;
    n->nullable = nullable;
    n->width = WIDTH[kind];
    n->id = id;
    if (is_var(kind) && eb_offs_init(n)) abort();
}

static eb_node *build(fenc *f, const fspec *s) {
    eb_enc *e = &f->e;
    int id = e->nnodes++;
    eb_node *n = (eb_node *)xcalloc(1, sizeof *n);
    e->nodes[id] = n;
    f->spec_of[id] = s;
    init_leaf(n, s->kind, s->nullable, id);
    n->unit = s->unit;
    n->type_name = type_name(s->kind, s->unit);
    if (s->kind == EB_STRUCT) {
        int nc = s->nchild;
        n->nchild = nc;
        n->child = (eb_node **)xcalloc((size_t)nc, sizeof(eb_node *));
        n->names = (const uint8_t **)xcalloc((size_t)nc + 1, sizeof(uint8_t *));
        n->name_lens = (uint32_t *)xcalloc((size_t)nc + 1, sizeof(uint32_t));
        n->seen = (uint32_t *)xcalloc((size_t)nc + 1, sizeof(uint32_t));
        n->slot = (int32_t *)xcalloc((size_t)nc + 1, sizeof(int32_t));
        n->next = (int32_t *)xcalloc((size_t)nc + 1, sizeof(int32_t));
        uint32_t cap = 8;
        while (cap < (uint32_t)(2 * nc + 2)) cap *= 2;
        n->htab = (uint32_t *)xcalloc(cap, sizeof(uint32_t));
        n->hmask = cap - 1;
        for (int j = 0; j < nc; j++) {
            n->child[j] = build(f, &s->child[j]);
            if (!s->child[j].nullable) n->nreq++;
        }
        for (int j = 0; j < nc; j++) {
            const char *nm = s->child[j].name;
            n->names[j] = (const uint8_t *)nm;
            n->name_lens[j] = (uint32_t)strlen(nm);
            uint32_t h = eb_key_hash(n->names[j], n->name_lens[j]) & n->hmask;
            while (n->htab[h] != 0) h = (h + 1) & n->hmask;
            n->htab[h] = (uint32_t)j + 1;
        }
    } else if (s->kind == EB_LIST) {
        n->nchild = 1;
        n->child = (eb_node **)xcalloc(1, sizeof(eb_node *));
        n->child[0] = build(f, s->child);
    }
    return n;
}

static void enc_init(fenc *f, const fcfg *cfg) {
    memset(f, 0, sizeof *f);
    eb_enc *e = &f->e;
    int nn = count_nodes(&ROOT);
    e->nodes = (eb_node **)xcalloc((size_t)nn, sizeof(eb_node *));
    f->spec_of = (const fspec **)xcalloc((size_t)nn, sizeof(fspec *));
    build(f, &ROOT);
    if (e->nnodes != nn) abort();
    e->root = e->nodes[0];
    e->root->child[0]->nullable = !cfg->id_required;
    if (cfg->id_required) e->root->nreq++;
    e->policy = cfg->policy;
    e->max_depth = cfg->max_depth;
    e->max_line = cfg->max_line;
    e->stop_rows = cfg->max_rows ? cfg->max_rows : INT64_MAX;
    e->gen = cfg->gen0;
    e->frame_cap = schema_depth(&ROOT) + 2;
    e->frames = (eb_frame *)xcalloc((size_t)e->frame_cap, sizeof(eb_frame));
    e->cstack = (uint8_t *)xcalloc((size_t)cfg->max_depth + 2, 1);
    if (cfg->policy == EB_POLICY_EXTRA) {
        e->extra = (eb_node *)xcalloc(1, sizeof(eb_node));
        init_leaf(e->extra, EB_STRING, 1, nn);
        e->extra->type_name = "string";
    }
    init_leaf(&e->rej.raw, EB_BINARY, 0, 0);
    init_leaf(&e->rej.source, EB_I32, 0, 1);
    init_leaf(&e->rej.line, EB_I64, 1, 2);
    init_leaf(&e->rej.offset, EB_I64, 0, 3);
    init_leaf(&e->rej.reason, EB_I8, 0, 4);
    init_leaf(&e->rej.path, EB_STRING, 0, 5);
    init_leaf(&e->rej.message, EB_STRING, 0, 6);
    if (eb_enc_init_locale(e)) abort();
    e->source_id = 0;

    f->all = (eb_node **)xcalloc((size_t)nn + 8, sizeof(eb_node *));
    for (int i = 0; i < nn; i++) f->all[f->nall++] = e->nodes[i];
    if (e->extra) f->all[f->nall++] = e->extra;
    eb_node *rej[7] = {&e->rej.raw, &e->rej.source, &e->rej.line, &e->rej.offset,
                       &e->rej.reason, &e->rej.path, &e->rej.message};
    for (int i = 0; i < 7; i++) f->all[f->nall++] = rej[i];
    f->hash = (uint64_t *)xcalloc((size_t)f->nall, sizeof(uint64_t));
    for (int i = 0; i < f->nall; i++) f->hash[i] = 1469598103934665603ull;
}

static void free_node_bufs(eb_node *n) {
    eb_buf_free(&n->valid);
    eb_buf_free(&n->data);
    eb_buf_free(&n->offs);
    free(n->child);
    free((void *)n->names);
    free(n->name_lens);
    free(n->htab);
    free(n->seen);
    free(n->slot);
    free(n->next);
}

static void enc_free(fenc *f) {
    eb_enc *e = &f->e;
    for (int i = 0; i < e->nnodes; i++) {
        free_node_bufs(e->nodes[i]);
        free(e->nodes[i]);
    }
    free(e->nodes);
    if (e->extra) {
        free_node_bufs(e->extra);
        free(e->extra);
    }
    free_node_bufs(&e->rej.raw);
    free_node_bufs(&e->rej.source);
    free_node_bufs(&e->rej.line);
    free_node_bufs(&e->rej.offset);
    free_node_bufs(&e->rej.reason);
    free_node_bufs(&e->rej.path);
    free_node_bufs(&e->rej.message);
    free(e->frames);
    free(e->cstack);
    eb_buf_free(&e->scratch);
    eb_buf_free(&e->members);
    eb_buf_free(&e->keys);
    eb_buf_free(&e->table);
    eb_buf_free(&e->pathbuf);
    eb_buf_free(&e->skip_head);
    eb_enc_free_locale(e);
    free(f->spec_of);
    free(f->all);
    free(f->hash);
}

/* ---- independent checkers ------------------------------------------------ */

/* RFC 3629 UTF-8, written separately from eb_conv.h on purpose. */
static size_t u8_len(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { need = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 4; cp = c & 0x07; }
    else return 0;
    if ((size_t)(end - p) < need) return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return need;
}

static int u8_ok(const uint8_t *p, size_t n) {
    const uint8_t *end = p + n;
    while (p < end) {
        size_t k = u8_len(p, end);
        if (!k) return 0;
        p += k;
    }
    return 1;
}

/* Compact JSON (docs/SEMANTICS.md "Compact JSON text"): RFC 8259, no
 * insignificant whitespace, strings with the least escaping. */
typedef struct {
    const uint8_t *p, *end;
    const char *why;
} jck;

static int j_fail(jck *j, const char *why) {
    if (!j->why) j->why = why;
    return -1;
}

/* String at j->p; decoded bytes into out (may be NULL), *outlen. */
static int j_string(jck *j, uint8_t *out, size_t cap, size_t *outlen) {
    size_t o = 0;
    if (j->p >= j->end || *j->p != '"') return j_fail(j, "expected a string");
    j->p++;
    while (j->p < j->end) {
        uint8_t c = *j->p;
        if (c == '"') {
            j->p++;
            if (outlen) *outlen = o;
            return 0;
        }
        if (c < 0x20) return j_fail(j, "raw control character in a string");
        if (c == '\\') {
            if (j->end - j->p < 2) return j_fail(j, "truncated escape");
            uint8_t e = j->p[1], d;
            switch (e) {
            case '"': d = '"'; break;
            case '\\': d = '\\'; break;
            case 'b': d = '\b'; break;
            case 'f': d = '\f'; break;
            case 'n': d = '\n'; break;
            case 'r': d = '\r'; break;
            case 't': d = '\t'; break;
            case 'u': {
                if (j->end - j->p < 6) return j_fail(j, "truncated \\u escape");
                unsigned v = 0;
                for (int i = 2; i < 6; i++) {
                    uint8_t h = j->p[i];
                    if (h >= '0' && h <= '9') v = v * 16 + (h - '0');
                    else if (h >= 'a' && h <= 'f') v = v * 16 + (h - 'a' + 10);
                    else return j_fail(j, "\\u escape not in lower-case hex");
                }
                if (v >= 0x20 || v == '\b' || v == '\f' || v == '\n' || v == '\r' || v == '\t')
                    return j_fail(j, "\\u escape where a raw character or short escape is due");
                d = (uint8_t)v;
                j->p += 4;
                break;
            }
            default:
                return j_fail(j, "escape that compact text never uses");
            }
            if (out && o < cap) out[o] = d;
            o++;
            j->p += 2;
            continue;
        }
        size_t k = u8_len(j->p, j->end);
        if (!k) return j_fail(j, "invalid UTF-8 in a string");
        for (size_t i = 0; i < k; i++) {
            if (out && o < cap) out[o] = j->p[i];
            o++;
        }
        j->p += k;
    }
    return j_fail(j, "unterminated string");
}

static int j_number(jck *j) {
    const uint8_t *p = j->p, *end = j->end;
    if (p < end && *p == '-') p++;
    if (p >= end) return j_fail(j, "number without digits");
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < end && *p >= '0' && *p <= '9') p++;
    else return j_fail(j, "number without digits");
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return j_fail(j, "no digit after `.`");
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return j_fail(j, "no digit in exponent");
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    j->p = p;
    return 0;
}

static int j_value(jck *j, int depth) {
    if (depth > 5000) return j_fail(j, "too deep for the checker");
    if (j->p >= j->end) return j_fail(j, "expected a value");
    switch (*j->p) {
    case '{':
        j->p++;
        if (j->p < j->end && *j->p == '}') { j->p++; return 0; }
        for (;;) {
            if (j_string(j, NULL, 0, NULL)) return -1;
            if (j->p >= j->end || *j->p != ':') return j_fail(j, "expected `:`");
            j->p++;
            if (j_value(j, depth + 1)) return -1;
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == '}') { j->p++; return 0; }
            return j_fail(j, "expected `,` or `}`");
        }
    case '[':
        j->p++;
        if (j->p < j->end && *j->p == ']') { j->p++; return 0; }
        for (;;) {
            if (j_value(j, depth + 1)) return -1;
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == ']') { j->p++; return 0; }
            return j_fail(j, "expected `,` or `]`");
        }
    case '"':
        return j_string(j, NULL, 0, NULL);
    case 't':
        if (j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) { j->p += 4; return 0; }
        return j_fail(j, "bad literal");
    case 'f':
        if (j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) { j->p += 5; return 0; }
        return j_fail(j, "bad literal");
    case 'n':
        if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) { j->p += 4; return 0; }
        return j_fail(j, "bad literal");
    default:
        return j_number(j);
    }
}

/* _extra: an object mirroring struct/list spec s; member keys unique (dict
 * semantics), known struct/list fields recurse, unknown members verbatim.
 * Compact escaping is canonical, so equal keys have equal tokens. */
#define KEYCAP 256
static int j_mirror(jck *j, const fspec *s, int depth) {
    const uint8_t **ks = NULL;
    size_t *kn = NULL, nkeys = 0, capk = 0;
    int r = -1;
    if (depth > 64) return j_fail(j, "mirror too deep");
    if (j->p >= j->end || *j->p != '{') return j_fail(j, "_extra level is not an object");
    j->p++;
    if (j->p < j->end && *j->p == '}') return j_fail(j, "empty object in _extra");
    for (;;) {
        uint8_t kb[KEYCAP];
        size_t kl = 0;
        const uint8_t *tok = j->p;
        if (j_string(j, kb, sizeof kb, &kl)) goto out;
        size_t toklen = (size_t)(j->p - tok);
        if (j->p >= j->end || *j->p != ':') { j_fail(j, "expected `:`"); goto out; }
        j->p++;
        if (!FUZZ_NO_EXTRA_DUPS) {
            for (size_t i = 0; i < nkeys; i++)
                if (kn[i] == toklen && !memcmp(ks[i], tok, toklen)) {
                    j->p = tok;
                    j_fail(j, "duplicate key in _extra (dict semantics: one member per key)");
                    goto out;
                }
        }
        if (nkeys == capk) {
            capk = capk ? 2 * capk : 16;
            ks = (const uint8_t **)realloc(ks, capk * sizeof *ks);
            kn = (size_t *)realloc(kn, capk * sizeof *kn);
            if (!ks || !kn) abort();
        }
        ks[nkeys] = tok;
        kn[nkeys++] = toklen;
        const fspec *sub = NULL;
        if (s->kind == EB_STRUCT) {
            for (int i = 0; i < s->nchild && kl <= KEYCAP; i++) {
                const fspec *c = &s->child[i];
                if (strlen(c->name) == kl && !memcmp(c->name, kb, kl)) {
                    if (c->kind != EB_STRUCT && c->kind != EB_LIST) {
                        j->p = tok;
                        j_fail(j, "a declared leaf field in _extra");
                        goto out;
                    }
                    sub = c;
                }
            }
        } else { /* list: decimal index keys */
            if (kl == 0 || kl > 19 || (kl > 1 && kb[0] == '0')) { j->p = tok; j_fail(j, "bad list index key"); goto out; }
            for (size_t i = 0; i < kl; i++)
                if (kb[i] < '0' || kb[i] > '9') { j->p = tok; j_fail(j, "bad list index key"); goto out; }
            sub = s->child;
            if (sub->kind != EB_STRUCT && sub->kind != EB_LIST) { j->p = tok; j_fail(j, "index into a leaf list"); goto out; }
        }
        if (sub) { if (j_mirror(j, sub, depth + 1)) goto out; }
        else if (j_value(j, depth + 1)) goto out;
        if (j->p < j->end && *j->p == ',') { j->p++; continue; }
        if (j->p < j->end && *j->p == '}') { j->p++; r = 0; goto out; }
        j_fail(j, "expected `,` or `}`");
        goto out;
    }
out:
    free(ks);
    free(kn);
    return r;
}

static void dump(const char *what, const uint8_t *p, size_t n) {
    fprintf(stderr, "%s (%zu bytes): \"", what, n);
    for (size_t i = 0; i < n && i < 2000; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') fputc(c, stderr);
        else fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "\"\n");
}

static void check_json_value(const uint8_t *p, size_t n, const fspec *mirror, const char *what) {
    jck j = {p, p + n, NULL};
    int r = mirror ? j_mirror(&j, mirror, 0) : j_value(&j, 0);
    if (r == 0 && j.p != j.end) { j.why = "bytes after the value"; r = -1; }
    if (r) {
        dump(what, p, n);
        FAIL("%s is not compact JSON: %s at byte %zu", what, j.why, (size_t)(j.p - p));
    }
    /* the scanner itself must accept its own output, too */
    static eb_enc dummy;
    static uint8_t cs[8192];
    eb_ctx c;
    dummy.max_depth = 4000;
    dummy.cstack = cs;
    eb_ctx_init(&c, &dummy, p, n, 0);
    if (eb_validate_doc(&c) != EB_OK) {
        dump(what, p, n);
        FAIL("%s does not pass eb_validate_doc", what);
    }
}

/* ---- the invariants ------------------------------------------------------- */

static int bit(const eb_buf *b, int64_t i) { return (b->p[i >> 3] >> (i & 7)) & 1; }

/* data.p + off, or a dummy when nothing was ever allocated (empty values) */
static const uint8_t *dptr(const eb_node *n, size_t off) {
    static const uint8_t empty[1];
    return n->data.p ? n->data.p + off : empty;
}

static int32_t offs_at(const eb_node *n, int64_t i) {
    int32_t v;
    memcpy(&v, n->offs.p + 4 * (size_t)i, 4);
    return v;
}

/* Struct children are lazy (eb_sync): between calls a child may have fewer
 * slots than its struct, the rest being nulls not yet written; after
 * eb_sync_tree (what _build_batch does before a flush) they must be equal. */
static int g_synced;

/* peff: per slot, 1 when every enclosing struct is valid (NULL: all are). */
static void check_node(const eb_node *n, const uint8_t *peff, const char *name) {
    int64_t len = n->len;
    CHECK(len >= 0, "%s: len %lld", name, (long long)len);
    CHECK(n->mark >= 0 && n->mark <= len, "%s: mark %lld > len %lld", name, (long long)n->mark, (long long)len);
    CHECK(n->valid.len == (size_t)((len + 7) >> 3), "%s: valid.len %zu for %lld slots", name, n->valid.len,
          (long long)len);
    CHECK(n->valid.len <= n->valid.cap && n->data.len <= n->data.cap && n->offs.len <= n->offs.cap,
          "%s: a buffer's len passed its cap", name);
    uint8_t *eff = (uint8_t *)xcalloc((size_t)len, 1);
    for (int64_t i = 0; i < len; i++) {
        int v = bit(&n->valid, i);
        if (!v && !n->nullable)
            CHECK(peff && !peff[i], "%s: slot %lld is null in a non-nullable column under a valid parent", name,
                  (long long)i);
        eff[i] = (uint8_t)(v && (!peff || peff[i]));
    }
    switch (n->kind) {
    case EB_BOOL:
        CHECK(n->data.len == (size_t)((len + 7) >> 3), "%s: bool data.len %zu for %lld slots", name, n->data.len,
              (long long)len);
        break;
    case EB_STRING: case EB_BINARY: case EB_JSON: case EB_LIST: {
        CHECK(n->offs.len == 4 * (size_t)(len + 1), "%s: offs.len %zu for %lld slots", name, n->offs.len,
              (long long)len);
        CHECK(offs_at(n, 0) == 0, "%s: offs[0] = %d", name, offs_at(n, 0));
        for (int64_t i = 0; i < len; i++) {
            int32_t a = offs_at(n, i), b = offs_at(n, i + 1);
            CHECK(b >= a, "%s: offsets decrease at %lld: %d > %d", name, (long long)i, a, b);
            if (!bit(&n->valid, i)) CHECK(a == b, "%s: null slot %lld is not empty", name, (long long)i);
        }
        int64_t last = offs_at(n, len);
        if (n->kind == EB_LIST) {
            CHECK(last == n->child[0]->len, "%s: last offset %lld but %lld items", name, (long long)last,
                  (long long)n->child[0]->len);
            check_node(n->child[0], NULL, "list item");
        } else {
            CHECK((size_t)last == n->data.len, "%s: last offset %lld but data.len %zu", name, (long long)last,
                  n->data.len);
        }
        break;
    }
    case EB_STRUCT:
        for (int i = 0; i < n->nchild; i++) {
            CHECK(g_synced ? n->child[i]->len == len : n->child[i]->len <= len,
                  "%s: child %d (%.*s) has %lld slots, struct has %lld%s", name, i,
                  (int)n->name_lens[i], (const char *)n->names[i], (long long)n->child[i]->len, (long long)len,
                  g_synced ? " after eb_sync_tree" : "");
            check_node(n->child[i], eff, (const char *)n->names[i]);
        }
        break;
    default:
        CHECK(n->data.len == (size_t)len * (size_t)n->width, "%s: data.len %zu for %lld slots of %d bytes", name,
              n->data.len, (long long)len, n->width);
        if (n->kind == EB_F32 || n->kind == EB_F64)
            for (int64_t i = 0; i < len; i++) {
                if (!bit(&n->valid, i)) continue;
                double d;
                if (n->kind == EB_F32) { float f; memcpy(&f, n->data.p + 4 * i, 4); d = f; }
                else memcpy(&d, n->data.p + 8 * i, 8);
                CHECK(isfinite(d), "%s: slot %lld holds %g", name, (long long)i, d);
            }
    }
    if (n->kind == EB_STRING || n->kind == EB_JSON) {
        for (int64_t i = 0; i < len; i++) {
            if (!bit(&n->valid, i)) continue;
            int32_t a = offs_at(n, i), b = offs_at(n, i + 1);
            const uint8_t *v = dptr(n, (size_t)a);
            size_t vl = (size_t)(b - a);
            int mine = u8_ok(v, vl), theirs = eb_utf8_check(v, vl) < 0;
            CHECK(mine == theirs, "%s: UTF-8 checkers disagree on slot %lld", name, (long long)i);
            if (!mine) { dump(name, v, vl); FAIL("%s: slot %lld is not valid UTF-8", name, (long long)i); }
            if (n->kind == EB_JSON) check_json_value(v, vl, NULL, name);
        }
    }
    free(eff);
}

static int64_t count_nl(const uint8_t *p, size_t n) {
    int64_t k = 0;
    for (size_t i = 0; i < n; i++) k += p[i] == '\n';
    return k;
}

/* All the checks on one encoder.  stream/consumed: the NDJSON payload and
 * how much of it the encoder has taken (NULL in document mode). */
static void check_enc(fenc *f, const uint8_t *stream, size_t total) {
    eb_enc *e = &f->e;
    CHECK(e->inputs == e->accepted + e->rejected, "counters: inputs %lld != accepted %lld + rejected %lld",
          (long long)e->inputs, (long long)e->accepted, (long long)e->rejected);
    CHECK(e->accepted == f->flushed_rows + e->root->len, "accepted %lld but %lld rows (%lld flushed)",
          (long long)e->accepted, (long long)(f->flushed_rows + e->root->len), (long long)f->flushed_rows);
    CHECK(e->rejected == f->flushed_rej + e->rej.raw.len, "rejected %lld but %lld rejected rows",
          (long long)e->rejected, (long long)(f->flushed_rej + e->rej.raw.len));
    CHECK(e->root->nullable == 0, "root nullable");
    check_node(e->root, NULL, "$");
    if (e->extra) {
        eb_node *x = e->extra;
        CHECK(x->len == e->root->len, "_extra has %lld slots, root %lld", (long long)x->len, (long long)e->root->len);
        check_node(x, NULL, "_extra");
        for (int64_t i = 0; i < x->len; i++) {
            if (!bit(&x->valid, i)) continue;
            int32_t a = offs_at(x, i), b = offs_at(x, i + 1);
            check_json_value(dptr(x, (size_t)a), (size_t)(b - a), &ROOT, "_extra");
        }
    }
    eb_rejects *j = &e->rej;
    eb_node *rn[7] = {&j->raw, &j->source, &j->line, &j->offset, &j->reason, &j->path, &j->message};
    for (int i = 0; i < 7; i++) {
        CHECK(rn[i]->len == j->raw.len, "rejected column %d has %lld rows, raw %lld", i, (long long)rn[i]->len,
              (long long)j->raw.len);
        if (i == 5 || i == 6) {
            /* path/message are STRING: check_node checks UTF-8; allow turning it off */
            if (FUZZ_NO_MSG_UTF8) {
                eb_node tmp = *rn[i];
                tmp.kind = EB_BINARY;
                check_node(&tmp, NULL, i == 5 ? "rejected.path" : "rejected.message");
                continue;
            }
        }
        check_node(rn[i], NULL, i == 5 ? "rejected.path" : i == 6 ? "rejected.message" : "rejected");
    }
    for (int64_t i = 0; i < j->raw.len; i++) {
        int8_t rc = (int8_t)j->reason.data.p[i];
        CHECK(rc >= 1 && rc <= 10, "rejected row %lld: reason %d", (long long)i, rc);
        int32_t a = offs_at(&j->path, i), b = offs_at(&j->path, i + 1);
        CHECK(b > a && j->path.data.p[a] == '$', "rejected row %lld: path does not start with `$`", (long long)i);
        CHECK(offs_at(&j->message, i + 1) > offs_at(&j->message, i), "rejected row %lld: empty message",
              (long long)i);
        CHECK(offs_at(&j->raw, i + 1) - offs_at(&j->raw, i) <= EB_RAW_CUT, "rejected row %lld: raw too long",
              (long long)i);
        if (stream) {
            int64_t off, ln;
            memcpy(&off, j->offset.data.p + 8 * i, 8);
            memcpy(&ln, j->line.data.p + 8 * i, 8);
            CHECK(bit(&j->line.valid, i) && ln >= 1, "rejected row %lld: no line number", (long long)i);
            CHECK(off >= 0 && (size_t)off <= total, "rejected row %lld: offset %lld", (long long)i, (long long)off);
            CHECK(count_nl(stream, (size_t)off) == ln - 1, "rejected row %lld: line %lld but offset %lld is on line %lld",
                  (long long)i, (long long)ln, (long long)off, (long long)count_nl(stream, (size_t)off) + 1);
        }
    }
    if (!FUZZ_NO_STACKS) {
        /* the slow walk's member stack and key arena hold one document at
         * most: never more members than the longest line has `:`s */
        CHECK(e->members.len <= sizeof(eb_member) * f->max_colons,
              "e->members holds %zu bytes, more than one line's %zu members: the slow-walk stack grows "
              "across documents", e->members.len, f->max_colons);
        CHECK(e->keys.len <= 4 * f->max_colons + f->max_linelen,
              "e->keys holds %zu bytes, more than one line's keys: the key arena grows across documents",
              e->keys.len);
    }
    if (stream) {
        CHECK(e->consumed == f->ret_sum, "consumed %lld but calls returned %lld", (long long)e->consumed,
              (long long)f->ret_sum);
        CHECK(e->consumed >= 0 && (size_t)e->consumed <= total, "consumed %lld of %zu", (long long)e->consumed, total);
        CHECK(e->lines == count_nl(stream, (size_t)e->consumed), "lines %lld but %lld newlines consumed",
              (long long)e->lines, (long long)count_nl(stream, (size_t)e->consumed));
    }
}

static void check_enc(fenc *f, const uint8_t *stream, size_t total);

/* ---- flush: hash the rows, then empty the columns like arrow.pxi ---------- */

static void h_put(uint64_t *h, const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++) *h = (*h ^ b[i]) * 1099511628211ull;
}

static void hash_rows(fenc *f) {
    for (int k = 0; k < f->nall; k++) {
        eb_node *n = f->all[k];
        uint64_t *h = &f->hash[k];
        for (int64_t i = 0; i < n->len; i++) {
            uint8_t v = (uint8_t)bit(&n->valid, i);
            h_put(h, &v, 1);
            if (!v) continue;
            switch (n->kind) {
            case EB_STRUCT: break;
            case EB_BOOL: { uint8_t b = (uint8_t)bit(&n->data, i); h_put(h, &b, 1); break; }
            case EB_LIST: { int32_t c = offs_at(n, i + 1) - offs_at(n, i); h_put(h, &c, 4); break; }
            case EB_STRING: case EB_BINARY: case EB_JSON: {
                int32_t a = offs_at(n, i), c = offs_at(n, i + 1) - a;
                if (FUZZ_NO_DIFF_RAW && n == &f->e.rej.raw) break;
                h_put(h, &c, 4);
                h_put(h, dptr(n, (size_t)a), (size_t)c);
                break;
            }
            default: h_put(h, n->data.p + (size_t)i * (size_t)n->width, (size_t)n->width);
            }
        }
    }
}

static void reset_node(eb_node *n) {
    eb_buf_free(&n->valid);
    eb_buf_free(&n->data);
    eb_buf_free(&n->offs);
    n->len = 0;
    n->mark = 0;
    if (is_var(n->kind) && eb_offs_init(n)) abort();
}

/* FUZZ_DUMP=1 in the environment: print every rejected row at flush time. */
static void dump_rejected(fenc *f) {
    static int on = -1;
    if (on < 0) on = getenv("FUZZ_DUMP") != NULL;
    if (!on) return;
    eb_rejects *j = &f->e.rej;
    for (int64_t i = 0; i < j->raw.len; i++) {
        int64_t ln = 0, off = 0;
        memcpy(&ln, j->line.data.p + 8 * i, 8);
        memcpy(&off, j->offset.data.p + 8 * i, 8);
        fprintf(stderr, "rejected line %lld offset %lld reason %d\n", (long long)ln, (long long)off,
                (int)(int8_t)j->reason.data.p[i]);
        dump("  raw", dptr(&j->raw, (size_t)offs_at(&j->raw, i)), (size_t)(offs_at(&j->raw, i + 1) - offs_at(&j->raw, i)));
        dump("  path", dptr(&j->path, (size_t)offs_at(&j->path, i)), (size_t)(offs_at(&j->path, i + 1) - offs_at(&j->path, i)));
        dump("  message", dptr(&j->message, (size_t)offs_at(&j->message, i)),
             (size_t)(offs_at(&j->message, i + 1) - offs_at(&j->message, i)));
    }
    fprintf(stderr, "flush: %lld rows, %lld rejected; counters inputs=%lld accepted=%lld rejected=%lld blank=%lld\n",
            (long long)f->e.root->len, (long long)j->raw.len, (long long)f->e.inputs, (long long)f->e.accepted,
            (long long)f->e.rejected, (long long)f->e.blank_lines);
}

static void flush(fenc *f) {
    dump_rejected(f);
    CHECK(eb_sync_tree(f->e.root) == EB_OK, "eb_sync_tree failed");
    g_synced = 1;
    check_enc(f, f->stream, f->total);
    g_synced = 0;
    hash_rows(f);
    f->flushed_rows += f->e.root->len;
    f->flushed_rej += f->e.rej.raw.len;
    for (int k = 0; k < f->nall; k++) reset_node(f->all[k]);
    f->e.batch_bytes = 0;
}

static size_t buffered(fenc *f) {
    size_t b = 0;
    for (int k = 0; k < f->nall; k++) b += f->all[k]->data.cap + f->all[k]->offs.cap + f->all[k]->valid.cap;
    return b;
}

/* ---- driving ---------------------------------------------------------------- */

static void parse_cfg(const uint8_t *d, size_t n, fcfg *c, const uint8_t **payload, size_t *plen) {
    uint8_t h[6] = {0};
    for (size_t i = 0; i < 6 && i < n; i++) h[i] = d[i];
    static const size_t lines[8] = {1u << 20, 4096, 300, 100, 64, 40, 16, 1};
    c->policy = (h[0] & 3) % 3;
    c->mode = (h[0] >> 2) & 1;
    c->final_call = (h[0] >> 3) & 1;
    c->id_required = (h[0] >> 4) & 1;
    c->flush_mode = (h[0] >> 5) & 3;
    c->max_depth = h[1] < 0xF0 ? 1 + h[1] % 24 : 128;
    c->max_line = lines[h[2] % 8];
    c->gen0 = (h[2] >> 3) && !FUZZ_NO_GEN_WRAP ? (uint32_t)(0u - (uint32_t)(h[2] >> 3)) : 0;
    c->npieces = 1 + h[3] % 3;
    c->max_rows = (h[0] & 0x80) ? 1 + (h[3] >> 2) % 8 : 0;
    *payload = n > 6 ? d + 6 : d + n;
    *plen = n > 6 ? n - 6 : 0;
    size_t a = *plen * h[4] / 256, b = *plen * h[5] / 256;
    if (a > b) { size_t t = a; a = b; b = t; }
    c->split[0] = a;
    c->split[1] = b;
}

static void flush(fenc *f);

/* eb_ndjson on an exact-size heap copy of tail + piece (so that ASan sees
 * any read past the end), as extend_ndjson's caller does: when a call stops
 * because the batch holds max_rows rows, flush and go on with the rest.
 * Returns the new tail. */
static uint8_t *call_ndjson(fenc *f, uint8_t *tail, size_t *tlen, const uint8_t *piece, size_t plen, int final) {
    size_t n = *tlen + plen, pos = 0;
    uint8_t *buf = (uint8_t *)malloc(n ? n : 1);
    if (!buf) abort();
    if (*tlen) memcpy(buf, tail, *tlen);
    if (plen) memcpy(buf + *tlen, piece, plen);
    free(tail);
    for (int rounds = 0;; rounds++) {
        CHECK(rounds <= 100000, "eb_ndjson makes no progress");
        int status = -1;
        size_t left = n - pos;
        uint8_t *b = (uint8_t *)malloc(left ? left : 1);
        if (!b) abort();
        if (left) memcpy(b, buf + pos, left);
        int64_t r = eb_ndjson(&f->e, b, left, final, &status);
        free(b);
        CHECK(r >= 0, "eb_ndjson returned %lld", (long long)r);
        CHECK(status == EB_OK, "eb_ndjson status %d", status);
        CHECK((size_t)r <= left, "eb_ndjson consumed %lld of %zu", (long long)r, left);
        f->ret_sum += r;
        pos += (size_t)r;
        if (pos < n && f->e.root->len >= f->e.stop_rows) {
            CHECK(f->e.root->len == f->e.stop_rows, "batch of %lld rows for max_rows %lld",
                  (long long)f->e.root->len, (long long)f->e.stop_rows);
            check_enc(f, f->stream, f->total);
            flush(f);
            continue;
        }
        break;
    }
    if (final) CHECK(pos == n, "final call left %zu bytes", n - pos);
    *tlen = n - pos;
    uint8_t *nt = (uint8_t *)malloc(*tlen ? *tlen : 1);
    if (!nt) abort();
    if (*tlen) memcpy(nt, buf + pos, *tlen);
    free(buf);
    return nt;
}

static void maybe_flush(fenc *f, const fcfg *c) {
    if (c->flush_mode == 1 || c->flush_mode == 3 || (c->flush_mode == 2 && buffered(f) > 16384)) flush(f);
}

/* What CoreEncoder._json_doc does with one document. */
static void json_doc(fenc *f, const uint8_t *d, size_t n) {
    eb_enc *e = &f->e;
    uint8_t *buf = (uint8_t *)malloc(n ? n : 1);
    if (!buf) abort();
    if (n) memcpy(buf, d, n);
    size_t s = 0;
    if (n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF) s = 3;
    size_t i = s;
    while (i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) i++;
    if (i == n) {
        e->blank_lines++;
    } else if (n - s > e->max_line) {
        char msg[160];
        e->inputs++;
        int m = snprintf(msg, sizeof msg, "document of %zu bytes is longer than max_line_bytes=%zu", n - s,
                         e->max_line);
        CHECK(eb_reject(e, EB_R_LINE_TOO_LONG, buf + s, n - s < 4096 ? n - s : 4096, -1, 0, "$", 1, msg,
                        (size_t)m) == EB_OK, "eb_reject failed");
    } else {
        int r = eb_document(e, buf + s, n - s, buf + s, n - s, -1, 0);
        CHECK(r == EB_OK, "eb_document returned %d", r);
        CHECK(e->inputs == 1, "one document, %lld inputs", (long long)e->inputs);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fcfg cfg;
    const uint8_t *pl;
    size_t plen;
    parse_cfg(data, size, &cfg, &pl, &plen);
    fenc *f = (fenc *)xcalloc(1, sizeof(fenc));
    enc_init(f, &cfg);

    line_stats(f, pl, plen, cfg.mode == 1);
    if (cfg.mode == 1) {
        json_doc(f, pl, plen);
        check_enc(f, NULL, 0);
        flush(f);
        check_enc(f, NULL, 0);
        enc_free(f);
        free(f);
        return 0;
    }

    f->stream = pl;
    f->total = plen;
    size_t cuts[4] = {0, 0, 0, plen};
    int np = cfg.npieces;
    if (np == 2) cuts[1] = cfg.split[0];
    if (np == 3) { cuts[1] = cfg.split[0]; cuts[2] = cfg.split[1]; }
    size_t bounds[4];
    int k = 0;
    bounds[k++] = 0;
    for (int i = 1; i < np; i++) bounds[k++] = cuts[i];
    bounds[k] = plen;
    uint8_t *tail = (uint8_t *)malloc(1);
    size_t tlen = 0;
    for (int i = 0; i < np; i++) {
        int last = i == np - 1;
        tail = call_ndjson(f, tail, &tlen, pl + bounds[i], bounds[i + 1] - bounds[i], last && !cfg.final_call);
        check_enc(f, pl, plen);
        maybe_flush(f, &cfg);
        check_enc(f, pl, plen);
    }
    if (cfg.final_call) {
        tail = call_ndjson(f, tail, &tlen, NULL, 0, 1);
        check_enc(f, pl, plen);
    }
    CHECK(tlen == 0, "a tail of %zu bytes after the final call", tlen);
    free(tail);
    eb_enc *e = &f->e;
    CHECK(e->skipping == 0, "still skipping after the final call");
    CHECK((size_t)e->consumed == plen, "consumed %lld of %zu", (long long)e->consumed, plen);
    int64_t nlines = count_nl(pl, plen) + (plen && pl[plen - 1] != '\n');
    CHECK(e->inputs + e->blank_lines == nlines, "%lld inputs + %lld blank lines for %lld lines",
          (long long)e->inputs, (long long)e->blank_lines, (long long)nlines);
    flush(f);
    check_enc(f, pl, plen);

    if (!FUZZ_NO_DIFF) {
        /* the same payload in one piece */
        fenc *g = (fenc *)xcalloc(1, sizeof(fenc));
        enc_init(g, &cfg);
        g->stream = pl;
        g->total = plen;
        line_stats(g, pl, plen, 0);
        uint8_t *t2 = (uint8_t *)malloc(1);
        size_t t2len = 0;
        t2 = call_ndjson(g, t2, &t2len, pl, plen, 1);
        free(t2);
        check_enc(g, pl, plen);
        flush(g);
#define SAME(fld) CHECK(f->e.fld == g->e.fld, "split/unsplit differ: " #fld " %lld vs %lld", \
                        (long long)f->e.fld, (long long)g->e.fld)
        SAME(inputs); SAME(accepted); SAME(rejected); SAME(blank_lines); SAME(extra_fields);
        SAME(lines); SAME(consumed);
        static const char *rejnames[7] = {"raw", "source", "line", "offset", "reason", "path", "message"};
        for (int i = 0; i < f->nall; i++) {
            if (f->hash[i] == g->hash[i]) continue;
            int nn = f->e.nnodes + (f->e.extra ? 1 : 0);
            if (i < f->e.nnodes) FAIL("split/unsplit differ: column node %d (%s)", i, f->spec_of[i]->name);
            if (i < nn) FAIL("split/unsplit differ: _extra");
            FAIL("split/unsplit differ: rejected.%s", rejnames[i - nn]);
        }
        enc_free(g);
        free(g);
    }
    enc_free(f);
    free(f);
    return 0;
}
