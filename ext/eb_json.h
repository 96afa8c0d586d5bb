/* Schema-directed RFC 8259 scanner: NDJSON lines straight into column
 * builders, with no intermediate tree.
 *
 * Two walks implement docs/SEMANTICS.md:
 *  - the fast walk appends values in document order as it scans; it bails
 *    out (and the row is rolled back) on a duplicate key or any schema error;
 *  - the slow walk, run only after a full syntax check of the line passed,
 *    gives objects dict semantics (last value wins, first-occurrence order)
 *    and decides the row.
 * Containers that are not schema-driven (json columns, unknown fields) are
 * scanned iteratively with an explicit stack, so no input can exhaust the C
 * stack.  Recursion depth of the schema walk is bounded by the schema depth.
 *
 * Everything here is plain C and runs without the GIL.
 */
#ifndef EB_JSON_H
#define EB_JSON_H

#include <locale.h>
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include "eb_buf.h"
#include "eb_conv.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Reason codes: the same numbers as eventbatch.errors.Reason. */
enum {
    EB_R_INVALID_JSON = 1, EB_R_INVALID_UTF8 = 2, EB_R_NOT_AN_OBJECT = 3,
    EB_R_TYPE_MISMATCH = 4, EB_R_OUT_OF_RANGE = 5, EB_R_INVALID_VALUE = 6,
    EB_R_MISSING_REQUIRED = 7, EB_R_UNKNOWN_FIELD = 8, EB_R_TOO_DEEP = 9,
    EB_R_LINE_TOO_LONG = 10
};

/* Return codes of the walk functions. */
enum {
    EB_OK = 0,
    EB_ESYNTAX = 1,  /* scan error: INVALID_JSON, INVALID_UTF8 or TOO_DEEP */
    EB_ESCHEMA = 2,  /* the value does not fit the schema */
    EB_EDUP = 3,     /* duplicate key met by the fast walk */
    EB_ENOTOBJ = 4,  /* top-level value is not an object (fast walk) */
    EB_EOOM = 5,     /* out of memory */
    EB_EFULL = 6     /* a column would pass its 32-bit offset limit */
};

enum { EB_POLICY_IGNORE = 0, EB_POLICY_ERROR = 1, EB_POLICY_EXTRA = 2 };

#define EB_RAW_CUT 4096          /* bytes of an oversize line kept as raw */
#define EB_FULL_BYTES (1u << 30) /* seal the batch when a column passes this */

/* One level of the schema walk: a struct or a list being filled. */
typedef struct {
    eb_node *node;
    int field;               /* struct: child being filled, -1: unknown key */
    const uint8_t *keytok;   /* struct, field -1: the key token (at its `"`) */
    int64_t index;           /* list: item being filled */
    int opened;              /* _extra: this level's object has been opened */
    int has_members;         /* _extra: a member was written at this level */
} eb_frame;

/* A member of an object in the slow walk. */
typedef struct {
    const uint8_t *keytok;
    const uint8_t *val;
    int32_t field;           /* child index, or -1 for an unknown key */
    uint32_t khash;          /* unknown keys: hash of the decoded key */
    uint32_t kofs, klen;     /* unknown keys: decoded key in the key arena */
} eb_member;

typedef struct {
    eb_node raw, source, line, offset, reason, path, message;
} eb_rejects;

typedef struct {
    eb_node *root;         /* struct of the top-level fields */
    eb_node **nodes;       /* every node, root first (pre-order) */
    int nnodes;
    eb_node *extra;        /* the _extra string column, or NULL */
    int policy;
    int max_depth;
    size_t max_line;
    int frame_cap;         /* frames: schema depth + 2 */
    eb_frame *frames;
    uint8_t *cstack;       /* container kinds for the iterative scanner */
    uint64_t gen;          /* object generation for duplicate detection */
    eb_buf scratch;        /* decoded keys, strings to parse, number text */
    eb_buf members;        /* slow walk: stack of eb_member */
    eb_buf keys;           /* slow walk: decoded unknown keys */
    eb_buf table;          /* slow walk: hash table of unknown keys */
    eb_buf pathbuf;        /* message scratch */
    locale_t cloc;         /* "C" locale for strtod_l */
    /* counters, cumulative */
    int64_t inputs, accepted, rejected, blank_lines, extra_fields;
    int64_t lines;         /* `\n` consumed so far */
    int64_t consumed;      /* bytes consumed so far */
    int skipping;          /* inside an oversize line that spans blocks */
    int64_t batch_bytes;   /* input bytes since the columns were last emptied */
    int64_t root_mark;     /* rows committed before the current one */
    int64_t stop_rows;     /* eb_ndjson stops when the batch has this many rows */
    int skip_blank;        /* ... and it is all whitespace so far */
    int skip_cr;           /* ... and its last byte so far is a CR */
    size_t skip_len;       /* ... its length so far */
    int64_t skip_line, skip_offset;
    eb_buf skip_head;      /* ... its first EB_RAW_CUT bytes */
    int32_t source_id;
    eb_rejects rej;
} eb_enc;

/* The state of one line's walk. */
typedef struct {
    eb_enc *e;
    const uint8_t *base, *end, *p;
    int depth;
    int slow;
    int ftop;              /* index of the innermost frame, -1: none */
    int64_t extra_count;
    /* the error, when a walk returns non-zero */
    int reason;
    size_t epos;
    const char *expected;
    char got[96];
    int has_path;
} eb_ctx;

/* ---- errors ---------------------------------------------------------------- */

static void eb_show_byte(char *dst, size_t cap, const eb_ctx *c, const uint8_t *at) {
    if (at >= c->end) { snprintf(dst, cap, "end of line"); return; }
    uint8_t ch = *at;
    if (ch >= 0x21 && ch < 0x7f && ch != '`') snprintf(dst, cap, "`%c`", ch);
    else snprintf(dst, cap, "byte 0x%02x", ch);
}

/* Record a scan error (reason, position in the line, what was expected);
 * the caller fills c->got.  Scan errors have no field path. */
static int eb_scan_error(eb_ctx *c, int reason, const uint8_t *at, const char *expected) {
    c->reason = reason;
    c->epos = (size_t)(at - c->base);
    c->expected = expected;
    c->got[0] = 0;
    c->has_path = 0;
    return EB_ESYNTAX;
}

static int eb_bad_utf8(eb_ctx *c, const uint8_t *at) {
    eb_scan_error(c, EB_R_INVALID_UTF8, at, NULL);
    snprintf(c->got, sizeof c->got, "0x%02x", *at);
    return EB_ESYNTAX;
}

/* A syntax error at `at`; a byte there that starts no valid UTF-8 sequence
 * makes it an encoding error instead (docs/SEMANTICS.md, order of checks). */
static int eb_syntax(eb_ctx *c, const uint8_t *at, const char *expected) {
    if (at < c->end && *at >= 0x80 && !eb_utf8_seq(at, c->end)) return eb_bad_utf8(c, at);
    eb_scan_error(c, EB_R_INVALID_JSON, at, expected);
    eb_show_byte(c->got, sizeof c->got, c, at);
    return EB_ESYNTAX;
}

static int eb_too_deep(eb_ctx *c, const uint8_t *at) {
    return eb_scan_error(c, EB_R_TOO_DEEP, at, NULL);
}

/* A schema error at the current frame path.  `got` is what was found. */
static int eb_schema(eb_ctx *c, int reason, const char *expected, const char *got) {
    c->reason = reason;
    c->epos = (size_t)(c->p - c->base);
    c->expected = expected;
    snprintf(c->got, sizeof c->got, "%s", got ? got : "");
    c->has_path = 1;
    return EB_ESCHEMA;
}

/* Length of the longest prefix of valid UTF-8 text p[0, n) that does not
 * end inside a multi-byte sequence (messages must stay valid UTF-8). */
EB_INLINE size_t eb_utf8_floor(const uint8_t *p, size_t n, size_t full) {
    if (n >= full) return full;
    while (n > 0 && (p[n] & 0xC0) == 0x80) n--;
    return n;
}

/* The literal text of the value at p, cut to about 40 bytes, for messages. */
static void eb_snippet(char *dst, size_t cap, const uint8_t *p, const uint8_t *stop) {
    size_t n = (size_t)(stop - p);
    if (n > 40) snprintf(dst, cap, "%.*s...", (int)eb_utf8_floor(p, 37, n), (const char *)p);
    else snprintf(dst, cap, "%.*s", (int)n, (const char *)p);
}

/* ---- low-level scanning ------------------------------------------------------ */

#define EB_PEEK(c) ((c)->p < (c)->end ? *(c)->p : 0)

EB_INLINE void eb_ws(eb_ctx *c) {
    const uint8_t *p = c->p, *end = c->end;
    if (EB_LIKELY(p < end && *p > ' ')) return;  /* compact JSON: no whitespace */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    c->p = p;
}

/* First byte in [p, end) that a string scan must look at: `"`, `\`, a
 * control character or a non-ASCII byte. */
EB_INLINE const uint8_t *eb_find_special(const uint8_t *p, const uint8_t *end) {
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), lim = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        /* signed compare: bytes >= 0x80 are negative, so `< 0x20` also
         * catches them */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                 _mm_cmplt_epi8(v, lim));
        int mask = _mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end) {
        uint8_t ch = *p;
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80) return p;
        p++;
    }
    return end;
}

/* Parse 4 hex digits at p; returns -1 and the index of the first bad one. */
EB_INLINE int eb_hex4(const uint8_t *p, const uint8_t *end, uint32_t *out, int *bad) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (p + i >= end) { *bad = i; return -1; }
        uint8_t ch = p[i];
        uint32_t d;
        if (ch >= '0' && ch <= '9') d = ch - '0';
        else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
        else { *bad = i; return -1; }
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Decode the escape at c->p (a `\`) to a code point; advance past it.
 * Errors point at the first byte that breaks the grammar, or at the `\`
 * of a surrogate that has no partner. */
static int eb_escape(eb_ctx *c, uint32_t *cp) {
    const uint8_t *at = c->p, *end = c->end;
    int bad = 0;
    if (end - at < 2) return eb_syntax(c, end, "an escape sequence");
    switch (at[1]) {
    case '"': *cp = '"'; break;
    case '\\': *cp = '\\'; break;
    case '/': *cp = '/'; break;
    case 'b': *cp = '\b'; break;
    case 'f': *cp = '\f'; break;
    case 'n': *cp = '\n'; break;
    case 'r': *cp = '\r'; break;
    case 't': *cp = '\t'; break;
    case 'u': {
        uint32_t u, lo;
        if (eb_hex4(at + 2, end, &u, &bad)) return eb_syntax(c, at + 2 + bad, "4 hex digits after `\\u`");
        if (u >= 0xDC00 && u <= 0xDFFF) return eb_syntax(c, at, "a high surrogate before a low one");
        if (u >= 0xD800 && u <= 0xDBFF) {
            const char *want = "a low surrogate `\\uDC00`-`\\uDFFF` after a high one";
            if (at + 6 >= end || at[6] != '\\') return eb_syntax(c, at + 6, want);
            if (at + 7 >= end || at[7] != 'u') return eb_syntax(c, at + 7, want);
            if (eb_hex4(at + 8, end, &lo, &bad)) return eb_syntax(c, at + 8 + bad, want);
            if (lo < 0xDC00 || lo > 0xDFFF) return eb_syntax(c, at, want);
            *cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            c->p = at + 12;
            return EB_OK;
        }
        *cp = u;
        c->p = at + 6;
        return EB_OK;
    }
    default:
        return eb_syntax(c, at + 1, "an escape sequence (one of `\\\"\\\\/bfnrtu`)");
    }
    c->p = at + 2;
    return EB_OK;
}

/* String modes: check only; decode the content into out; or re-encode it
 * as a compact JSON string (with quotes) into out. */
enum { EB_STR_CHECK = 0, EB_STR_DECODE = 1, EB_STR_COMPACT = 2 };

/* Scan the string at c->p (at its opening `"`). */
static int eb_string(eb_ctx *c, eb_buf *out, int mode) {
    const uint8_t *end = c->end;
    const uint8_t *p = c->p + 1, *run = p;
    if (mode == EB_STR_COMPACT && eb_buf_putc(out, '"')) return EB_EOOM;
    for (;;) {
        p = eb_find_special(p, end);
        if (EB_UNLIKELY(p >= end)) return eb_syntax(c, end, "a closing `\"`");
        uint8_t ch = *p;
        if (ch == '"') {
            if (mode && eb_buf_put(out, run, (size_t)(p - run))) return EB_EOOM;
            if (mode == EB_STR_COMPACT && eb_buf_putc(out, '"')) return EB_EOOM;
            c->p = p + 1;
            return EB_OK;
        }
        if (ch == '\\') {
            uint32_t cp = 0;
            if (mode && eb_buf_put(out, run, (size_t)(p - run))) return EB_EOOM;
            c->p = p;
            int r = eb_escape(c, &cp);
            if (r) return r;
            p = run = c->p;
            if (mode == EB_STR_DECODE) {
                if (eb_utf8_put(out, cp)) return EB_EOOM;
            } else if (mode == EB_STR_COMPACT) {
                int rr;
                if (cp < 0x80) {
                    uint8_t b = (uint8_t)cp;
                    rr = eb_escape_put(out, &b, 1);
                } else {
                    rr = eb_utf8_put(out, cp);
                }
                if (rr) return EB_EOOM;
            }
            continue;
        }
        if (ch < 0x20) return eb_syntax(c, p, "an escaped control character");
        int k = eb_utf8_seq(p, end);
        if (!k) return eb_bad_utf8(c, p);
        p += k;
    }
}

/* A scanned number.  `mag` holds up to 19 significant digits exactly. */
typedef struct {
    const uint8_t *start, *stop;
    int neg, is_int;
    int big;            /* integer part does not fit in uint64 */
    uint64_t mag;       /* integer literal: its magnitude */
} eb_num;

static int eb_number(eb_ctx *c, eb_num *num) {
    const uint8_t *p = c->p, *end = c->end;
    num->start = p;
    num->neg = 0;
    num->big = 0;
    num->is_int = 1;
    uint64_t m = 0;
    if (p < end && *p == '-') { num->neg = 1; p++; }
    if (p >= end || *p < '0' || *p > '9') return eb_syntax(c, p, "a digit");
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9') return eb_syntax(c, p, "no leading zero");
    } else {
        /* 19 digits always fit in uint64; past that, check each step.
         * Eight digits at a time while they fit (SWAR: test that all 8
         * bytes are '0'..'9', then combine pairs, quads and the halves). */
        const uint8_t *d0 = p;
        while (end - p >= 8 && p - d0 <= 11) {
            uint64_t v;
            memcpy(&v, p, 8);
            if ((((v & 0xF0F0F0F0F0F0F0F0ull) |
                  (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) != 0x3333333333333333ull))
                break;
            v -= 0x3030303030303030ull;
            v = (v * 10) + (v >> 8);
            v = (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
                 (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
            m = m * 100000000ull + (uint32_t)v;
            p += 8;
        }
        while (p < end && *p >= '0' && *p <= '9' && p - d0 < 19) m = m * 10 + (uint64_t)(*p++ - '0');
        while (p < end && *p >= '0' && *p <= '9') {
            uint64_t d = (uint64_t)(*p - '0');
            if (num->big || m > (UINT64_MAX - d) / 10) num->big = 1;
            else m = m * 10 + d;
            p++;
        }
    }
    if (p < end && *p == '.') {
        num->is_int = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9') return eb_syntax(c, p, "a digit after `.`");
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        num->is_int = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return eb_syntax(c, p, "a digit in the exponent");
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    num->mag = m;
    num->stop = p;
    c->p = p;
    return EB_OK;
}

static const double eb_pow10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The double nearest to the literal (correctly rounded).  Exact small
 * cases are computed directly (both operands exact, one IEEE operation);
 * everything else goes to strtod_l in the "C" locale. */
static int eb_num_double(eb_ctx *c, const eb_num *num, double *out, int as_float32, float *out32) {
    const uint8_t *p = num->start + num->neg, *stop = num->stop;
    uint64_t m = 0;
    int digits = 0, exp10 = 0, ok = 1;
    while (p < stop && *p >= '0' && *p <= '9') {
        if (digits < 19) { m = m * 10 + (uint64_t)(*p - '0'); if (m) digits++; }
        else { ok = 0; }
        p++;
    }
    if (p < stop && *p == '.') {
        p++;
        while (p < stop && *p >= '0' && *p <= '9') {
            if (digits < 19) { m = m * 10 + (uint64_t)(*p - '0'); if (m) digits++; exp10--; }
            else if (*p != '0') ok = 0;
            p++;
        }
    }
    if (p < stop) {  /* exponent */
        p++;
        int eneg = 0, e = 0;
        if (*p == '+' || *p == '-') { eneg = *p == '-'; p++; }
        while (p < stop) { if (e < 100000) e = e * 10 + (*p - '0'); p++; }
        exp10 += eneg ? -e : e;
    }
    if (ok && !as_float32 && m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 < 0 ? d / eb_pow10[-exp10] : d * eb_pow10[exp10];
        *out = num->neg ? -d : d;
        return EB_OK;
    }
    if (ok && as_float32 && m <= ((uint64_t)1 << 24) && exp10 >= -10 && exp10 <= 10) {
        float f = (float)m;
        f = exp10 < 0 ? f / (float)eb_pow10[-exp10] : f * (float)eb_pow10[exp10];
        *out32 = num->neg ? -f : f;
        return EB_OK;
    }
    /* strtod needs a NUL-terminated copy */
    eb_buf *s = &c->e->scratch;
    size_t n = (size_t)(num->stop - num->start);
    s->len = 0;
    if (eb_buf_reserve(s, n + 1)) return EB_EOOM;
    memcpy(s->p, num->start, n);
    s->p[n] = 0;
    if (as_float32) *out32 = strtof_l((const char *)s->p, NULL, c->e->cloc);
    else *out = strtod_l((const char *)s->p, NULL, c->e->cloc);
    return EB_OK;
}

/* Match `lit` at c->p. */
EB_INLINE int eb_literal(eb_ctx *c, const char *lit, size_t n) {
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, lit, n) == 0) { c->p += n; return EB_OK; }
    /* point at the first byte that differs */
    const uint8_t *q = c->p;
    size_t i = 0;
    while (q + i < c->end && i < n && q[i] == (uint8_t)lit[i]) i++;
    return eb_syntax(c, q + i, n == 4 && lit[0] == 'n' ? "`null`" : n == 4 ? "`true`" : "`false`");
}

/* Validate (out == NULL) or compact-copy into out the value at c->p, of
 * any shape.  Iterative: containers are tracked in e->cstack, never on the
 * C stack. */
static int eb_any(eb_ctx *c, eb_buf *out) {
    const int base = c->depth;
    uint8_t *cs = c->e->cstack;
    int r;
    eb_num num;
value:
    eb_ws(c);
    switch (EB_PEEK(c)) {
    case '{':
    case '[': {
        uint8_t open = *c->p;
        if (c->depth + 1 > c->e->max_depth) return eb_too_deep(c, c->p);
        cs[++c->depth] = open;
        if (out && eb_buf_putc(out, open)) return EB_EOOM;
        c->p++;
        eb_ws(c);
        uint8_t close = open == '{' ? '}' : ']';
        if (EB_PEEK(c) == close) {
            c->p++;
            c->depth--;
            if (out && eb_buf_putc(out, close)) return EB_EOOM;
            goto after;
        }
        if (open == '{') goto key;
        goto value;
    }
    case '"':
        if ((r = eb_string(c, out, out ? EB_STR_COMPACT : EB_STR_CHECK))) return r;
        goto after;
    case 't': if ((r = eb_literal(c, "true", 4))) return r; if (out && eb_buf_put(out, "true", 4)) return EB_EOOM; goto after;
    case 'f': if ((r = eb_literal(c, "false", 5))) return r; if (out && eb_buf_put(out, "false", 5)) return EB_EOOM; goto after;
    case 'n': if ((r = eb_literal(c, "null", 4))) return r; if (out && eb_buf_put(out, "null", 4)) return EB_EOOM; goto after;
    default:
        if (EB_PEEK(c) == '-' || (EB_PEEK(c) >= '0' && EB_PEEK(c) <= '9')) {
            if ((r = eb_number(c, &num))) return r;
            if (out && eb_buf_put(out, num.start, (size_t)(num.stop - num.start))) return EB_EOOM;
            goto after;
        }
        return eb_syntax(c, c->p, "a value");
    }
key:
    eb_ws(c);
    if (EB_PEEK(c) != '"') return eb_syntax(c, c->p, "`\"` (a key)");
    if ((r = eb_string(c, out, out ? EB_STR_COMPACT : EB_STR_CHECK))) return r;
    eb_ws(c);
    if (EB_PEEK(c) != ':') return eb_syntax(c, c->p, "`:`");
    c->p++;
    if (out && eb_buf_putc(out, ':')) return EB_EOOM;
    goto value;
after:
    if (c->depth == base) return EB_OK;
    eb_ws(c);
    {
        uint8_t open = cs[c->depth];
        uint8_t close = open == '{' ? '}' : ']';
        uint8_t ch = EB_PEEK(c);
        if (ch == ',') {
            c->p++;
            if (out && eb_buf_putc(out, ',')) return EB_EOOM;
            if (open == '{') goto key;
            goto value;
        }
        if (ch == close) {
            c->p++;
            c->depth--;
            if (out && eb_buf_putc(out, close)) return EB_EOOM;
            goto after;
        }
        return eb_syntax(c, c->p, open == '{' ? "`,` or `}`" : "`,` or `]`");
    }
}

/* The JSON type name of the value at c->p, for "got" in messages. */
static const char *eb_got_kind(eb_ctx *c) {
    switch (EB_PEEK(c)) {
    case '{': return "object";
    case '[': return "array";
    case '"': return "string";
    case 't': case 'f': return "bool";
    case 'n': return "null";
    default: {
        eb_num num;
        eb_ctx tmp = *c;
        if (eb_number(&tmp, &num)) return "invalid value";
        return num.is_int ? "int" : "float";
    }
    }
}

/* ---- appending to columns ------------------------------------------------------ */

/* Clear bits [from, from + k) of a bitmap buffer, growing it as needed
 * (bytes past the old end start at zero). */
static int eb_bits_clear(eb_buf *b, int64_t from, int64_t k) {
    size_t old = b->len, need = (size_t)((from + k + 7) >> 3);
    if (need > old) {  /* new bytes start at zero: those bits are cleared */
        if (eb_buf_reserve(b, need - old + 64)) return -1;
        memset(b->p + old, 0, need - old);
        b->len = need;
    }
    int64_t stop = from + k, lim = (int64_t)old * 8;
    if (stop > lim) stop = lim;
    for (int64_t i = from; i < stop; i++) b->p[i >> 3] &= (uint8_t)~(1u << (i & 7));
    return 0;
}

/* Append k null slots.  Structs stay lazy: their children are brought up
 * to the struct's length only when next written (eb_sync) or at flush. */
static int eb_fill_nulls(eb_node *n, int64_t k) {
    if (k <= 0) return EB_OK;
    if (eb_bits_clear(&n->valid, n->len, k)) return EB_EOOM;
    switch (n->kind) {
    case EB_STRUCT:
        break;
    case EB_STRING: case EB_BINARY: case EB_JSON: case EB_LIST: {
        int32_t last = eb_offs_at(n, n->len);
        if (eb_buf_reserve(&n->offs, 4 * (size_t)k)) return EB_EOOM;
        for (int64_t i = 0; i < k; i++) {
            memcpy(n->offs.p + n->offs.len, &last, 4);
            n->offs.len += 4;
        }
        break;
    }
    case EB_BOOL:
        if (eb_bits_clear(&n->data, n->len, k)) return EB_EOOM;
        break;
    default:
        if (eb_buf_reserve(&n->data, (size_t)n->width * (size_t)k)) return EB_EOOM;
        memset(n->data.p + n->data.len, 0, (size_t)n->width * (size_t)k);
        n->data.len += (size_t)n->width * (size_t)k;
    }
    n->len += k;
    return EB_OK;
}

static int eb_append_null(eb_node *n) { return eb_fill_nulls(n, 1); }

/* Invariant: a struct's child has at most as many slots as the struct; the
 * missing ones are nulls not yet written.  Write them before appending. */
EB_INLINE int eb_append_null_fast(eb_node *n);
EB_INLINE int eb_sync(eb_node *ch, int64_t to) {
    if (EB_LIKELY(ch->len >= to)) return EB_OK;
    if (to - ch->len == 1) return eb_append_null_fast(ch);
    return eb_fill_nulls(ch, to - ch->len);
}

/* Bring every lazy child of the tree up to date (before building arrays). */
static int eb_sync_tree(eb_node *n) {
    int r;
    if (n->kind == EB_STRUCT) {
        for (int i = 0; i < n->nchild; i++) {
            if ((r = eb_sync(n->child[i], n->len))) return r;
            if ((r = eb_sync_tree(n->child[i]))) return r;
        }
    } else if (n->kind == EB_LIST) {
        return eb_sync_tree(n->child[0]);
    }
    return EB_OK;
}

/* eb_append_null with the common leaf kinds inline. */
EB_INLINE int eb_append_null_fast(eb_node *n) {
    int k = n->kind;
    if (k == EB_STRING || k == EB_JSON || k == EB_BINARY) {
        if (eb_valid_set(n, 0) || eb_buf_reserve(&n->offs, 4)) return EB_EOOM;
        memcpy(n->offs.p + n->offs.len, n->offs.p + n->offs.len - 4, 4);
        n->offs.len += 4;
        n->len++;
        return EB_OK;
    }
    if (n->width) {
        if (eb_valid_set(n, 0) || eb_buf_reserve(&n->data, 8)) return EB_EOOM;
        memset(n->data.p + n->data.len, 0, 8);
        n->data.len += (size_t)n->width;
        n->len++;
        return EB_OK;
    }
    return eb_append_null(n);
}

EB_INLINE int eb_put_fixed(eb_node *n, const void *v) {
    if (eb_buf_reserve(&n->data, 8)) return EB_EOOM;
    uint8_t *d = n->data.p + n->data.len;
    switch (n->width) {  /* constant sizes: no call to memcpy */
    case 8: memcpy(d, v, 8); break;
    case 4: memcpy(d, v, 4); break;
    case 2: memcpy(d, v, 2); break;
    default: memcpy(d, v, 1);
    }
    n->data.len += (size_t)n->width;
    if (eb_valid_set(n, 1)) return EB_EOOM;
    n->len++;
    return EB_OK;
}

static int eb_put_bool(eb_node *n, int v) {
    size_t need = (size_t)(n->len >> 3) + 1;
    if (need > n->data.len) {
        if (eb_buf_reserve(&n->data, need - n->data.len + 64)) return EB_EOOM;
        n->data.p[n->data.len++] = 0;
    }
    uint8_t m = (uint8_t)(1u << (n->len & 7));
    if (v) n->data.p[n->len >> 3] |= m; else n->data.p[n->len >> 3] &= (uint8_t)~m;
    if (eb_valid_set(n, 1)) return EB_EOOM;
    n->len++;
    return EB_OK;
}

/* Close a variable-width slot whose bytes were just appended to n->data. */
EB_INLINE int eb_close_var(eb_node *n) {
    int r = eb_offs_push(n, n->data.len);
    if (r) return r == -2 ? EB_EFULL : EB_EOOM;
    if (eb_valid_set(n, 1)) return EB_EOOM;
    n->len++;
    return EB_OK;
}

/* Integer with sign and magnitude into an integer, float or time column.
 * Returns EB_OK, EB_CONV_RANGE (as 100) or an error code. */
#define EB_RANGE 100
/* An int64 into an int64 or timestamp column: the dict path's common case,
 * without eb_put_int's range switch. */
EB_INLINE int eb_put_i64(eb_node *n, int64_t v) {
    if (eb_buf_reserve(&n->data, 8)) return EB_EOOM;
    memcpy(n->data.p + n->data.len, &v, 8);
    n->data.len += 8;
    if (eb_valid_set(n, 1)) return EB_EOOM;
    n->len++;
    return EB_OK;
}

static int eb_put_int(eb_node *n, int neg, uint64_t mag) {
    union { int8_t i8; int16_t i16; int32_t i32; int64_t i64; uint8_t u8; uint16_t u16;
            uint32_t u32; uint64_t u64; float f32; double f64; } v;
    if (neg && mag == 0 && n->kind != EB_F32 && n->kind != EB_F64) neg = 0;  /* -0 is 0, but -0.0 */
    switch (n->kind) {
    case EB_I8:  if (neg ? mag > 128 : mag > 127) return EB_RANGE; v.i8 = (int8_t)(neg ? -(int64_t)mag : (int64_t)mag); break;
    case EB_I16: if (neg ? mag > 32768 : mag > 32767) return EB_RANGE; v.i16 = (int16_t)(neg ? -(int64_t)mag : (int64_t)mag); break;
    case EB_I32: case EB_DATE32:
        if (neg ? mag > 2147483648u : mag > 2147483647u) return EB_RANGE;
        v.i32 = (int32_t)(neg ? -(int64_t)mag : (int64_t)mag); break;
    case EB_I64: case EB_TIMESTAMP:
        if (neg ? mag > ((uint64_t)1 << 63) : mag > (uint64_t)INT64_MAX) return EB_RANGE;
        v.i64 = neg ? (int64_t)(0 - mag) : (int64_t)mag; break;
    case EB_U8:  if (neg || mag > 255) return EB_RANGE; v.u8 = (uint8_t)mag; break;
    case EB_U16: if (neg || mag > 65535) return EB_RANGE; v.u16 = (uint16_t)mag; break;
    case EB_U32: if (neg || mag > 4294967295u) return EB_RANGE; v.u32 = (uint32_t)mag; break;
    case EB_U64: if (neg) return EB_RANGE; v.u64 = mag; break;
    case EB_F32: v.f32 = (float)mag; if (neg) v.f32 = -v.f32; break;   /* u64 -> float rounds once */
    case EB_F64: v.f64 = (double)mag; if (neg) v.f64 = -v.f64; break;
    default: return EB_RANGE;
    }
    return eb_put_fixed(n, &v);
}

static int eb_put_double(eb_node *n, double d) {
    if (isinf(d)) return EB_RANGE;
    if (n->kind == EB_F32) {
        float f = (float)d;
        if (isinf(f)) return EB_RANGE;
        return eb_put_fixed(n, &f);
    }
    return eb_put_fixed(n, &d);
}

/* ---- the schema walk --------------------------------------------------------- */

static int eb_value(eb_ctx *c, eb_node *n);

EB_INLINE eb_frame *eb_push(eb_ctx *c, eb_node *n) {
    eb_frame *f = &c->e->frames[++c->ftop];
    f->node = n;
    f->field = -1;
    f->keytok = NULL;
    f->index = 0;
    f->opened = 0;
    f->has_members = 0;
    return f;
}

/* _extra: write the key that leads from frame k-1 into frame k. */
static int eb_extra_seg(eb_ctx *c, eb_buf *out, const eb_frame *f) {
    if (f->node->kind == EB_LIST) {
        char tmp[32];
        int n = snprintf(tmp, sizeof tmp, "\"%lld\"", (long long)f->index);
        return eb_buf_put(out, tmp, (size_t)n) ? EB_EOOM : EB_OK;
    }
    if (f->field >= 0) {
        if (eb_buf_putc(out, '"') || eb_escape_put(out, f->node->names[f->field], f->node->name_lens[f->field]) ||
            eb_buf_putc(out, '"'))
            return EB_EOOM;
        return EB_OK;
    }
    eb_ctx tmp = *c;
    tmp.p = f->keytok;
    return eb_string(&tmp, out, EB_STR_COMPACT);
}

/* _extra: open every level down to the current frame, then write the
 * unknown member whose key token is f->keytok and whose value is at c->p. */
static int eb_extra_member(eb_ctx *c) {
    eb_buf *out = &c->e->extra->data;
    eb_frame *fr = c->e->frames;
    int r;
    for (int k = 0; k <= c->ftop; k++) {
        if (fr[k].opened) continue;
        if (k > 0) {
            if (fr[k - 1].has_members && eb_buf_putc(out, ',')) return EB_EOOM;
            if ((r = eb_extra_seg(c, out, &fr[k - 1]))) return r;
            if (eb_buf_putc(out, ':')) return EB_EOOM;
            fr[k - 1].has_members = 1;
        }
        if (eb_buf_putc(out, '{')) return EB_EOOM;
        fr[k].opened = 1;
    }
    eb_frame *f = &fr[c->ftop];
    if (f->has_members && eb_buf_putc(out, ',')) return EB_EOOM;
    f->has_members = 1;
    eb_ctx tmp = *c;
    tmp.p = f->keytok;
    if ((r = eb_string(&tmp, out, EB_STR_COMPACT))) return r;
    if (eb_buf_putc(out, ':')) return EB_EOOM;
    if ((r = eb_any(c, out))) return r;
    c->extra_count++;
    return EB_OK;
}

EB_INLINE int eb_pop(eb_ctx *c) {
    eb_frame *f = &c->e->frames[c->ftop--];
    if (f->opened && eb_buf_putc(&c->e->extra->data, '}')) return EB_EOOM;
    return EB_OK;
}

/* Find the child named by the key bytes.  Keys are short: compare them as
 * two overlapping 8-byte (or 4-byte) words instead of calling memcmp. */
EB_INLINE int eb_key_eq(const uint8_t *a, const uint8_t *b, size_t n) {
    uint64_t x, y, u, v;
    if (n >= 8) {
        if (n > 16) return memcmp(a, b, n) == 0;
        memcpy(&x, a, 8); memcpy(&y, b, 8);
        memcpy(&u, a + n - 8, 8); memcpy(&v, b + n - 8, 8);
        return ((x ^ y) | (u ^ v)) == 0;
    }
    if (n >= 4) {
        uint32_t p, q, r, t;
        memcpy(&p, a, 4); memcpy(&q, b, 4);
        memcpy(&r, a + n - 4, 4); memcpy(&t, b + n - 4, 4);
        return ((p ^ q) | (r ^ t)) == 0;
    }
    for (size_t i = 0; i < n; i++) if (a[i] != b[i]) return 0;
    return 1;
}

/* Hash of a key: its length, first and last bytes mixed (collisions only
 * cost a probe; the table holds at most a few hundred names). */
EB_INLINE uint32_t eb_key_hash(const uint8_t *k, size_t n) {
    uint32_t h = (uint32_t)n * 0x9E3779B1u;
    if (n) {
        uint32_t a = 0, b = 0;
        size_t m = n < 4 ? n : 4;
        memcpy(&a, k, m);
        memcpy(&b, k + n - m, m);
        h ^= a * 0x85EBCA77u;
        h ^= (b + 0x27d4eb2fu) * 0xC2B2AE3Du;
        h ^= h >> 15;
    }
    return h;
}

/* The child named k, or -1.  n->guess holds the child that followed the
 * previous key last time (fields mostly come in the same order). */
EB_INLINE int eb_lookup(eb_node *n, const uint8_t *k, size_t klen) {
    int g = n->guess;
    if (g < n->nchild && n->name_lens[g] == klen && eb_key_eq(n->names[g], k, klen)) return g;
    uint32_t i = eb_key_hash(k, klen) & n->hmask;
    for (;;) {
        uint32_t v = n->htab[i];
        if (!v) return -1;
        int idx = (int)v - 1;
        if (n->name_lens[idx] == klen && eb_key_eq(n->names[idx], k, klen)) return idx;
        i = (i + 1) & n->hmask;
    }
}

/* Read a key token at c->p; *k and *klen give its decoded bytes (in the
 * line when it has no escape, else in e->scratch). */
EB_INLINE int eb_key(eb_ctx *c, const uint8_t **k, size_t *klen) {
    const uint8_t *s = c->p + 1;
    const uint8_t *q = eb_find_special(s, c->end);
    if (EB_LIKELY(q < c->end && *q == '"')) {
        *k = s;
        *klen = (size_t)(q - s);
        c->p = q + 1;
        return EB_OK;
    }
    eb_buf *sc = &c->e->scratch;
    sc->len = 0;
    int r = eb_string(c, sc, EB_STR_DECODE);
    if (r) return r;
    *k = sc->p;
    *klen = sc->len;
    return EB_OK;
}

/* Absent fields: nullable ones stay lazy nulls; a required one rejects. */
static int eb_missing(eb_ctx *c, eb_node *n, eb_frame *f, uint64_t gen) {
    for (int i = 0; i < n->nchild; i++) {
        if (n->seen[i] == gen || n->child[i]->nullable) continue;
        f->field = i;
        return eb_schema(c, EB_R_MISSING_REQUIRED, n->child[i]->type_name, NULL);
    }
    return EB_OK;
}

static uint64_t eb_next_gen(eb_enc *e) { return ++e->gen; }

/* Unknown member: the key token is at f->keytok, the value at c->p. */
static int eb_unknown(eb_ctx *c, eb_frame *f) {
    switch (c->e->policy) {
    case EB_POLICY_ERROR: {
        char key[64];
        eb_ctx tmp = *c;
        eb_buf *sc = &c->e->scratch;
        tmp.p = f->keytok;
        sc->len = 0;
        if (eb_string(&tmp, sc, EB_STR_DECODE) || eb_buf_putc(sc, 0)) return EB_EOOM;
        eb_snippet(key, sizeof key, sc->p, sc->p + sc->len - 1);
        return eb_schema(c, EB_R_UNKNOWN_FIELD, NULL, key);
    }
    case EB_POLICY_EXTRA:
        return eb_extra_member(c);
    default:
        return eb_any(c, NULL);
    }
}

/* Fast walk of an object at c->p into struct n. */
static int eb_object_fast(eb_ctx *c, eb_node *n) {
    int r;
    if (c->depth + 1 > c->e->max_depth) return eb_too_deep(c, c->p);
    c->depth++;
    eb_frame *f = eb_push(c, n);
    uint64_t gen = eb_next_gen(c->e);
    int matched = 0, prev = n->nchild, nunknown = 0;
    const size_t kbase = c->e->keys.len;  /* _extra: this object's unknown keys */
    n->guess = n->next[prev];
    c->p++;
    eb_ws(c);
    if (EB_PEEK(c) == '}') {
        c->p++;
    } else {
        for (;;) {
            if (EB_PEEK(c) != '"') return eb_syntax(c, c->p, "`\"` (a key)");
            const uint8_t *keytok = c->p, *k;
            size_t klen;
            if ((r = eb_key(c, &k, &klen))) return r;
            eb_ws(c);
            if (EB_PEEK(c) != ':') return eb_syntax(c, c->p, "`:`");
            c->p++;
            eb_ws(c);
            int idx = eb_lookup(n, k, klen);
            if (idx >= 0) {
                if (n->seen[idx] == gen) return EB_EDUP;
                n->seen[idx] = gen;
                n->next[prev] = idx;
                prev = idx;
                n->guess = n->next[idx];
                matched++;
                f->field = idx;
                if ((r = eb_sync(n->child[idx], n->len))) return r;
                if ((r = eb_value(c, n->child[idx]))) return r;
            } else {
                if (c->e->policy == EB_POLICY_EXTRA) {
                    /* a repeated unknown key must keep only its last value:
                     * leave that to the slow walk (also past 8 unknown keys,
                     * to keep this check linear) */
                    const uint8_t *kp = nunknown ? c->e->keys.p + kbase : NULL;
                    uint32_t kl = (uint32_t)klen;
                    if (nunknown == 8) return EB_EDUP;
                    for (int u = 0; u < nunknown; u++) {
                        uint32_t L;
                        memcpy(&L, kp, 4);
                        if (L == kl && memcmp(kp + 4, k, kl) == 0) return EB_EDUP;
                        kp += 4 + L;
                    }
                    if (eb_buf_put(&c->e->keys, &kl, 4) || eb_buf_put(&c->e->keys, k, klen)) return EB_EOOM;
                    nunknown++;
                }
                f->field = -1;
                f->keytok = keytok;
                if ((r = eb_unknown(c, f))) return r;
            }
            eb_ws(c);
            uint8_t ch = EB_PEEK(c);
            if (ch == ',') { c->p++; eb_ws(c); continue; }
            if (ch == '}') { c->p++; break; }
            return eb_syntax(c, c->p, "`,` or `}`");
        }
    }
    c->e->keys.len = kbase;
    if (n->nreq && matched != n->nchild && (r = eb_missing(c, n, f, gen))) return r;
    if ((r = eb_pop(c))) return r;
    c->depth--;
    if (eb_valid_set(n, 1)) return EB_EOOM;
    n->len++;
    return EB_OK;
}

/* Slow walk of an object (the line's syntax is known to be valid). */
static int eb_object_slow(eb_ctx *c, eb_node *n) {
    eb_enc *e = c->e;
    int r;
    if (c->depth + 1 > e->max_depth) return eb_too_deep(c, c->p);
    c->depth++;
    eb_frame *f = eb_push(c, n);
    const size_t mbase = e->members.len, kbase = e->keys.len;
    size_t count = 0, nunknown = 0;
    /* 1. collect members in text order */
    c->p++;
    eb_ws(c);
    if (EB_PEEK(c) != '}') {
        for (;;) {
            if (EB_PEEK(c) != '"') return eb_syntax(c, c->p, "`\"` (a key)");
            eb_member m;
            const uint8_t *k;
            size_t klen;
            m.keytok = c->p;
            if ((r = eb_key(c, &k, &klen))) return r;
            m.field = eb_lookup(n, k, klen);
            m.kofs = m.klen = 0;
            m.khash = 0;
            if (m.field < 0) {
                m.kofs = (uint32_t)(e->keys.len - kbase);
                m.klen = (uint32_t)klen;
                m.khash = eb_key_hash(k, klen);
                if (eb_buf_put(&e->keys, k, klen)) return EB_EOOM;
                nunknown++;
            }
            eb_ws(c);
            if (EB_PEEK(c) != ':') return eb_syntax(c, c->p, "`:`");
            c->p++;
            eb_ws(c);
            m.val = c->p;
            if ((r = eb_any(c, NULL))) return r;
            if (eb_buf_put(&e->members, &m, sizeof m)) return EB_EOOM;
            count++;
            eb_ws(c);
            uint8_t ch = EB_PEEK(c);
            if (ch == ',') { c->p++; eb_ws(c); continue; }
            if (ch == '}') { c->p++; break; }
            return eb_syntax(c, c->p, "`,` or `}`");
        }
    } else {
        c->p++;
    }
    const uint8_t *after = c->p;
    /* 2. dict semantics: a later duplicate moves its value into the first
     * occurrence, which stays in place; the later one is marked dead
     * (field -2).  Known keys use the seen stamps; unknown keys a hash
     * table over their decoded bytes. */
    uint64_t gen = eb_next_gen(e);
    size_t tcap = 1;
    while (tcap < 2 * nunknown + 2) tcap <<= 1;
    e->table.len = 0;
    if (nunknown && eb_buf_reserve(&e->table, tcap * sizeof(uint32_t))) return EB_EOOM;
    uint32_t *tab = (uint32_t *)e->table.p;
    if (nunknown) memset(tab, 0, tcap * sizeof(uint32_t));
    for (size_t i = 0; i < count; i++) {
        eb_member *m = (eb_member *)(e->members.p + mbase) + i;
        eb_member *ms = (eb_member *)(e->members.p + mbase);
        if (m->field >= 0) {
            if (n->seen[m->field] == gen) {
                ms[n->slot[m->field]].val = m->val;
                m->field = -2;
            } else {
                n->seen[m->field] = gen;
                n->slot[m->field] = (int32_t)i;
            }
            continue;
        }
        const uint8_t *kb = e->keys.p + kbase;
        uint32_t h = m->khash & (uint32_t)(tcap - 1);
        for (;;) {
            if (!tab[h]) { tab[h] = (uint32_t)i + 1; break; }
            eb_member *o = &ms[tab[h] - 1];
            if (o->klen == m->klen && memcmp(kb + o->kofs, kb + m->kofs, m->klen) == 0) {
                o->val = m->val;
                m->field = -2;
                break;
            }
            h = (h + 1) & (uint32_t)(tcap - 1);
        }
    }
    /* 3. walk the surviving members in order */
    for (size_t i = 0; i < count; i++) {
        eb_member m = ((eb_member *)(e->members.p + mbase))[i];  /* copy: the stack may move */
        if (m.field == -2) continue;
        c->p = m.val;
        if (m.field >= 0) {
            f->field = m.field;
            if ((r = eb_sync(n->child[m.field], n->len))) return r;
            if ((r = eb_value(c, n->child[m.field]))) return r;
        } else {
            f->field = -1;
            f->keytok = m.keytok;
            if ((r = eb_unknown(c, f))) return r;
        }
    }
    e->members.len = mbase;
    e->keys.len = kbase;
    /* 4. absent fields */
    if (n->nreq && (r = eb_missing(c, n, f, gen))) return r;
    if ((r = eb_pop(c))) return r;
    c->depth--;
    c->p = after;
    if (eb_valid_set(n, 1)) return EB_EOOM;
    n->len++;
    return EB_OK;
}

static int eb_array(eb_ctx *c, eb_node *n) {
    int r;
    if (c->depth + 1 > c->e->max_depth) return eb_too_deep(c, c->p);
    c->depth++;
    eb_frame *f = eb_push(c, n);
    eb_node *item = n->child[0];
    int64_t count = 0;
    c->p++;
    eb_ws(c);
    if (EB_PEEK(c) == ']') {
        c->p++;
    } else {
        for (;;) {
            f->index = count;
            if ((r = eb_value(c, item))) return r;
            count++;
            eb_ws(c);
            uint8_t ch = EB_PEEK(c);
            if (ch == ',') { c->p++; eb_ws(c); continue; }
            if (ch == ']') { c->p++; break; }
            return eb_syntax(c, c->p, "`,` or `]`");
        }
    }
    if ((r = eb_pop(c))) return r;
    c->depth--;
    r = eb_offs_push(n, (size_t)item->len);
    if (r) return r == -2 ? EB_EFULL : EB_EOOM;
    if (eb_valid_set(n, 1)) return EB_EOOM;
    n->len++;
    return EB_OK;
}

/* Type mismatch at the value at c->p; checks the value's syntax first, so
 * that the fast walk never reports a schema error on broken text. */
static int eb_mismatch(eb_ctx *c, eb_node *n) {
    return eb_schema(c, EB_R_TYPE_MISMATCH, n->type_name, eb_got_kind(c));
}

/* A string value decoded into e->scratch (for parsing, not storing). */
static int eb_scratch_string(eb_ctx *c) {
    c->e->scratch.len = 0;
    return eb_string(c, &c->e->scratch, EB_STR_DECODE);
}

/* An integer literal into an integer, timestamp or date column (exact,
 * range-checked; a fraction or exponent is a type mismatch). */
/* A number that does not fit column n: out_of_range, with the number as found. */
static int eb_num_range(eb_ctx *c, eb_node *n, const eb_num *num, const uint8_t *start) {
    char got[64];
    eb_snippet(got, sizeof got, num->start, num->stop);
    c->p = start;
    return eb_schema(c, EB_R_OUT_OF_RANGE, n->type_name, got);
}

static int eb_int_value(eb_ctx *c, eb_node *n, const uint8_t *start) {
    int r;
    uint8_t ch = EB_PEEK(c);
    if (ch != '-' && (ch < '0' || ch > '9')) return eb_mismatch(c, n);
    eb_num num;
    if ((r = eb_number(c, &num))) return r;
    if (!num.is_int) { c->p = start; return eb_schema(c, EB_R_TYPE_MISMATCH, n->type_name, "float"); }
    if (EB_LIKELY(!num.big && n->width == 8 && (n->kind == EB_I64 || n->kind == EB_TIMESTAMP)
                  && num.mag <= (uint64_t)INT64_MAX))   /* the common case: fits, no switch */
        return eb_put_i64(n, num.neg ? -(int64_t)num.mag : (int64_t)num.mag);
    r = num.big ? EB_RANGE : eb_put_int(n, num.neg, num.mag);
    return r == EB_RANGE ? eb_num_range(c, n, &num, start) : r;
}

static int eb_value(eb_ctx *c, eb_node *n) {
    int r;
    const uint8_t *start = c->p;
    uint8_t ch = EB_PEEK(c);
    if (ch == 'n') {
        if ((r = eb_literal(c, "null", 4))) return r;
        if (!n->nullable) { c->p = start; return eb_schema(c, EB_R_MISSING_REQUIRED, n->type_name, "null"); }
        return eb_append_null_fast(n);
    }
    switch (n->kind) {
    case EB_STRING: {
        if (ch != '"') return eb_mismatch(c, n);
        /* the common case inline: ASCII without escapes up to the quote */
        const uint8_t *s = c->p + 1, *q = eb_find_special(s, c->end);
        if (EB_LIKELY(q < c->end && *q == '"')) {
            if (eb_buf_put(&n->data, s, (size_t)(q - s))) return EB_EOOM;
            c->p = q + 1;
            return eb_close_var(n);
        }
        if ((r = eb_string(c, &n->data, EB_STR_DECODE))) return r;
        return eb_close_var(n);
    }
    case EB_I8: case EB_I16: case EB_I32: case EB_I64:
    case EB_U8: case EB_U16: case EB_U32: case EB_U64:
        return eb_int_value(c, n, start);
    case EB_F32: case EB_F64: {
        if (ch != '-' && (ch < '0' || ch > '9')) return eb_mismatch(c, n);
        eb_num num;
        if ((r = eb_number(c, &num))) return r;
        if (num.is_int && !num.big) {
            r = eb_put_int(n, num.neg, num.mag);
        } else if (n->kind == EB_F32) {
            float f = 0;
            double unused;
            if ((r = eb_num_double(c, &num, &unused, 1, &f))) return r;
            r = isinf(f) ? EB_RANGE : eb_put_fixed(n, &f);
        } else {
            double d = 0;
            if ((r = eb_num_double(c, &num, &d, 0, NULL))) return r;
            r = eb_put_double(n, d);
        }
        return r == EB_RANGE ? eb_num_range(c, n, &num, start) : r;
    }
    case EB_BOOL:
        if (ch == 't') { if ((r = eb_literal(c, "true", 4))) return r; return eb_put_bool(n, 1); }
        if (ch == 'f') { if ((r = eb_literal(c, "false", 5))) return r; return eb_put_bool(n, 0); }
        return eb_mismatch(c, n);
    case EB_STRUCT:
        if (ch != '{') return eb_mismatch(c, n);
        return c->slow ? eb_object_slow(c, n) : eb_object_fast(c, n);
    case EB_LIST:
        if (ch != '[') return eb_mismatch(c, n);
        return eb_array(c, n);
    case EB_JSON:
        if ((r = eb_any(c, &n->data))) return r;
        return eb_close_var(n);
    case EB_BINARY: {
        if (ch != '"') return eb_mismatch(c, n);
        if ((r = eb_scratch_string(c))) return r;
        size_t before = n->data.len;
        r = eb_base64_decode(c->e->scratch.p, c->e->scratch.len, &n->data);
        if (r < 0) return EB_EOOM;
        if (r) {
            char got[64];
            n->data.len = before;
            eb_snippet(got, sizeof got, start, c->p);
            c->p = start;
            return eb_schema(c, EB_R_INVALID_VALUE, n->type_name, got);
        }
        return eb_close_var(n);
    }
    case EB_TIMESTAMP: case EB_DATE32: {
        if (ch == '"') {
            if ((r = eb_scratch_string(c))) return r;
            int64_t v = 0;
            const uint8_t *s = c->e->scratch.p;
            size_t sl = c->e->scratch.len;
            int cr = n->kind == EB_DATE32 ? eb_parse_date(s, sl, &v) : eb_parse_rfc3339(s, sl, n->unit, &v);
            if (cr == EB_CONV_OK) {
                if (n->kind == EB_DATE32) {
                    int32_t d = (int32_t)v;  /* years 0..9999 fit */
                    return eb_put_fixed(n, &d);
                }
                return eb_put_fixed(n, &v);
            }
            char got[64];
            eb_snippet(got, sizeof got, start, c->p);
            c->p = start;
            return eb_schema(c, cr == EB_CONV_RANGE ? EB_R_OUT_OF_RANGE : EB_R_INVALID_VALUE, n->type_name, got);
        }
        return eb_int_value(c, n, start);
    }
    }
    return eb_mismatch(c, n);
}

/* ---- one document -------------------------------------------------------------- */

/* Row transactions.  Nothing is saved per node at row start: a row only
 * ever appends at or past its parent's committed length, so the committed
 * length of every node follows from its parent's (a struct's children:
 * at most the struct's; a list's item: the list's end offset). */
static void eb_mark(eb_enc *e) { e->root_mark = e->root->len; }

static void eb_rollback_node(eb_node *n, int64_t len) {
    if (len > n->len) len = n->len;  /* a lagging child keeps its length */
    eb_node_truncate(n, len);
    if (n->kind == EB_STRUCT) {
        for (int i = 0; i < n->nchild; i++) eb_rollback_node(n->child[i], len);
    } else if (n->kind == EB_LIST) {
        eb_rollback_node(n->child[0], eb_offs_at(n, len));
    }
}

static void eb_rollback(eb_enc *e) {
    eb_rollback_node(e->root, e->root_mark);
    if (e->extra) eb_node_truncate(e->extra, e->root_mark);
}

static void eb_ctx_init(eb_ctx *c, eb_enc *e, const uint8_t *s, size_t n, int slow) {
    e->keys.len = 0;     /* arenas restart with every walk */
    e->members.len = 0;
    c->e = e;
    c->base = c->p = s;
    c->end = s + n;
    c->depth = 0;
    c->slow = slow;
    c->ftop = -1;
    c->extra_count = 0;
    c->reason = 0;
    c->has_path = 0;
    c->got[0] = 0;
    c->expected = NULL;
}

/* Walk the whole document [s, s+n) into the columns. */
static int eb_walk_doc(eb_ctx *c) {
    int r;
    eb_enc *e = c->e;
    eb_ws(c);
    if (EB_PEEK(c) != '{') return EB_ENOTOBJ;
    r = c->slow ? eb_object_slow(c, e->root) : eb_object_fast(c, e->root);
    if (r) return r;
    eb_ws(c);
    if (c->p != c->end) return eb_syntax(c, c->p, "end of line");
    if (e->extra) {
        /* the root frame closed the object if it was opened */
        if (c->extra_count) return eb_close_var(e->extra);
        return eb_append_null(e->extra);
    }
    return EB_OK;
}

/* Check the document's syntax only; returns EB_OK or EB_ESYNTAX. */
static int eb_validate_doc(eb_ctx *c) {
    int r;
    eb_ws(c);
    if ((r = eb_any(c, NULL))) return r;
    eb_ws(c);
    if (c->p != c->end) return eb_syntax(c, c->p, "end of line");
    return EB_OK;
}

/* ---- rejected rows ---------------------------------------------------------------- */

static int eb_put_str(eb_node *n, const void *s, size_t len) {
    if (eb_buf_put(&n->data, s, len)) return EB_EOOM;
    return eb_close_var(n);
}

/* Format the frame path ($.a.b[3]) into out. */
static int eb_format_path(eb_ctx *c, eb_buf *out) {
    eb_frame *fr = c->e->frames;
    if (eb_buf_putc(out, '$')) return EB_EOOM;
    for (int k = 0; k <= c->ftop; k++) {
        eb_frame *f = &fr[k];
        if (f->node->kind == EB_LIST) {
            char tmp[32];
            int m = snprintf(tmp, sizeof tmp, "[%lld]", (long long)f->index);
            if (eb_buf_put(out, tmp, (size_t)m)) return EB_EOOM;
        } else if (f->field >= 0) {
            if (eb_buf_putc(out, '.') || eb_buf_put(out, f->node->names[f->field], f->node->name_lens[f->field]))
                return EB_EOOM;
        } else if (f->keytok) {
            eb_ctx tmp = *c;
            tmp.p = f->keytok;
            size_t at = out->len;
            if (eb_buf_putc(out, '.')) return EB_EOOM;
            if (eb_string(&tmp, out, EB_STR_DECODE) != EB_OK) out->len = at;
        }
    }
    return EB_OK;
}

static int eb_reject(eb_enc *e, int reason, const uint8_t *raw, size_t rawlen, int64_t line,
                     int64_t offset, const char *path, size_t pathlen, const char *msg, size_t msglen) {
    eb_rejects *j = &e->rej;
    int8_t rc = (int8_t)reason;
    int r;
    if ((r = eb_put_str(&j->raw, raw, rawlen))) return r;
    if ((r = eb_put_fixed(&j->source, &e->source_id))) return r;
    if (line >= 0) { if ((r = eb_put_fixed(&j->line, &line))) return r; }
    else if ((r = eb_append_null(&j->line))) return r;
    if ((r = eb_put_fixed(&j->offset, &offset))) return r;
    if ((r = eb_put_fixed(&j->reason, &rc))) return r;
    if ((r = eb_put_str(&j->path, path, pathlen))) return r;
    if ((r = eb_put_str(&j->message, msg, msglen))) return r;
    e->rejected++;
    return EB_OK;
}

/* Reject the document the walk `c` failed on. */
static int eb_reject_ctx(eb_ctx *c, const uint8_t *raw, size_t rawlen, int64_t line, int64_t offset) {
    eb_enc *e = c->e;
    eb_buf *pb = &e->pathbuf;
    char msg[512];
    int m;
    pb->len = 0;
    if (c->has_path) {
        if (eb_format_path(c, pb)) return EB_EOOM;
    } else if (eb_buf_putc(pb, '$')) {
        return EB_EOOM;
    }
    int plen = (int)eb_utf8_floor(pb->p, 200, pb->len);
    switch (c->reason) {
    case EB_R_INVALID_JSON:
        m = snprintf(msg, sizeof msg, "invalid JSON: expected %s, got %s at byte %zu", c->expected, c->got, c->epos);
        break;
    case EB_R_INVALID_UTF8:
        m = snprintf(msg, sizeof msg, "invalid UTF-8: byte %s at byte %zu", c->got, c->epos);
        break;
    case EB_R_TOO_DEEP:
        m = snprintf(msg, sizeof msg, "nesting deeper than %d at byte %zu", e->max_depth, c->epos);
        break;
    case EB_R_UNKNOWN_FIELD:
        m = snprintf(msg, sizeof msg, "unexpected field `%s` at `%.*s`", c->got, plen, (const char *)pb->p);
        break;
    case EB_R_NOT_AN_OBJECT:
        m = snprintf(msg, sizeof msg, "expected `object`, got `%s` at `$`", c->got);
        break;
    case EB_R_MISSING_REQUIRED:
        if (c->got[0]) m = snprintf(msg, sizeof msg, "expected `%s`, got `null` at `%.*s`", c->expected, plen, (const char *)pb->p);
        else m = snprintf(msg, sizeof msg, "expected `%s`, got nothing at `%.*s`", c->expected, plen, (const char *)pb->p);
        break;
    case EB_R_OUT_OF_RANGE:
        m = snprintf(msg, sizeof msg, "expected `%s`, got `%s` (out of range) at `%.*s`", c->expected, c->got, plen, (const char *)pb->p);
        break;
    default:
        m = snprintf(msg, sizeof msg, "expected `%s`, got `%s` at `%.*s`", c->expected, c->got, plen, (const char *)pb->p);
    }
    if (m < 0) m = 0;
    if ((size_t)m >= sizeof msg) m = sizeof msg - 1;
    return eb_reject(e, c->reason, raw, rawlen, line, offset, (const char *)pb->p, pb->len, msg, (size_t)m);
}

/* Encode one document.  Returns EB_OK (accepted or rejected: the counters
 * say which), EB_EOOM or EB_EFULL (nothing recorded: retry after a seal). */
static int eb_document(eb_enc *e, const uint8_t *s, size_t n, const uint8_t *raw, size_t rawlen,
                       int64_t line, int64_t offset) {
    eb_ctx c;
    int r;
    eb_mark(e);
    eb_ctx_init(&c, e, s, n, 0);
    r = eb_walk_doc(&c);
    if (r == EB_OK) goto accept;
    eb_rollback(e);
    if (r == EB_EOOM || r == EB_EFULL) return r;
    if (r != EB_ESYNTAX) {
        /* the fast walk gave up: check the whole line, then decide with the
         * slow walk */
        eb_ctx_init(&c, e, s, n, 0);
        r = eb_validate_doc(&c);
        if (r == EB_ESYNTAX) goto reject;
        if (r) return r;
        eb_ctx_init(&c, e, s, n, 1);
        eb_ws(&c);
        if (EB_PEEK(&c) != '{') {
            c.reason = EB_R_NOT_AN_OBJECT;
            snprintf(c.got, sizeof c.got, "%s", eb_got_kind(&c));
            c.has_path = 0;
            goto reject;
        }
        eb_ctx_init(&c, e, s, n, 1);
        r = eb_walk_doc(&c);
        if (r == EB_OK) goto accept;
        eb_rollback(e);
        if (r == EB_EOOM || r == EB_EFULL) return r;
    }
reject:
    e->inputs++;
    return eb_reject_ctx(&c, raw, rawlen, line, offset);
accept:
    e->inputs++;
    e->accepted++;
    e->extra_fields += c.extra_count;
    return EB_OK;
}

/* Is any column close to its 32-bit offset limit? */
static int eb_near_full(eb_enc *e) {
    for (int i = 0; i < e->nnodes; i++) {
        eb_node *n = e->nodes[i];
        if (n->data.len > EB_FULL_BYTES || n->offs.len > EB_FULL_BYTES * 2) return 1;
    }
    if (e->extra && e->extra->data.len > EB_FULL_BYTES) return 1;
    if (e->rej.raw.data.len > EB_FULL_BYTES) return 1;
    return 0;
}

EB_INLINE int eb_all_ws(const uint8_t *p, const uint8_t *t) {
    while (p < t && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p == t;
}

static int eb_reject_long(eb_enc *e, const uint8_t *head, size_t headlen, size_t total, int64_t line,
                          int64_t offset) {
    char msg[160];
    int m = snprintf(msg, sizeof msg, "line of %zu bytes is longer than max_line_bytes=%zu", total, e->max_line);
    e->inputs++;
    return eb_reject(e, EB_R_LINE_TOO_LONG, head, headlen, line, offset, "$", 1, msg, (size_t)m);
}

/* End of an oversize line that spanned blocks: blank, or rejected with the
 * head kept when it started. */
static int eb_skip_done(eb_enc *e) {
    e->skipping = 0;
    if (e->skip_cr && e->skip_head.len == e->skip_len + 1) e->skip_head.len--;
    if (e->skip_blank) { e->blank_lines++; return EB_OK; }
    return eb_reject_long(e, e->skip_head.p, e->skip_head.len, e->skip_len, e->skip_line, e->skip_offset);
}

/* Encode the lines of [buf, buf+len).  Without `final`, stops before an
 * unfinished last line, unless that line is already longer than the limit:
 * then its first EB_RAW_CUT bytes are kept and the rest is dropped as it
 * arrives, so memory never holds an oversize line.  Returns the bytes
 * consumed, or a negative code (-EB_EOOM); *status is EB_EFULL when it
 * stopped early to let the caller seal the batch. */
static int64_t eb_ndjson(eb_enc *e, const uint8_t *buf, size_t len, int final, int *status) {
    const uint8_t *p = buf, *end = buf + len;
    int r;
    *status = EB_OK;
    if (e->skipping) {  /* the rest of an oversize line from an earlier block */
        const uint8_t *nl = (const uint8_t *)memchr(p, '\n', len);
        const uint8_t *stop = nl ? nl : end;
        if (e->skip_head.len < EB_RAW_CUT) {  /* raw keeps the line's first EB_RAW_CUT bytes */
            size_t want = EB_RAW_CUT - e->skip_head.len, have = (size_t)(stop - p);
            if (eb_buf_put(&e->skip_head, p, have < want ? have : want)) return -EB_EOOM;
        }
        if (e->skip_blank && !eb_all_ws(p, stop)) e->skip_blank = 0;
        e->skip_len += (size_t)(stop - p);
        if (stop > p) e->skip_cr = stop[-1] == '\r';
        if (!nl && !final) {
            e->consumed += (int64_t)len;
            return (int64_t)len;
        }
        e->skip_len -= (size_t)e->skip_cr;
        if ((r = eb_skip_done(e))) return -r;
        if (nl) e->lines++;
        p = nl ? nl + 1 : end;
    }
    while (p < end) {
        /* a line adds at most its own length to any variable-width column */
        if (e->batch_bytes > EB_FULL_BYTES && eb_near_full(e)) { *status = EB_EFULL; break; }
        if (e->root->len >= e->stop_rows) break;  /* the caller's batch is full */
        const uint8_t *nl = (const uint8_t *)memchr(p, '\n', (size_t)(end - p));
        const uint8_t *stop = nl ? nl : end;
        int64_t line_no = e->lines + 1;
        int64_t offset = e->consumed + (p - buf);
        const uint8_t *s = p, *t = stop;
        if (t - s >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) s += 3;
        if (!nl && !final) {
            /* unfinished: hand it back, unless it is already too long (room
             * is left for a CR that may still be removed) */
            if ((size_t)(t - s) <= e->max_line + 1) break;
            e->skipping = 1;
            e->skip_blank = eb_all_ws(s, t);
            e->skip_len = (size_t)(t - s);
            e->skip_cr = t[-1] == '\r';
            e->skip_line = line_no;
            e->skip_offset = offset;
            e->skip_head.len = 0;
            if (eb_buf_put(&e->skip_head, s, (size_t)(t - s) < EB_RAW_CUT ? (size_t)(t - s) : EB_RAW_CUT))
                return -EB_EOOM;
            p = end;
            break;
        }
        if (t > s && t[-1] == '\r') t--;
        size_t n = (size_t)(t - s);
        if (eb_all_ws(s, t)) {
            e->blank_lines++;
        } else if (n > e->max_line) {
            if ((r = eb_reject_long(e, s, n < EB_RAW_CUT ? n : EB_RAW_CUT, n, line_no, offset))) return -r;
        } else {
            r = eb_document(e, s, n, s, n, line_no, offset);
            if (r == EB_EFULL) { *status = EB_EFULL; break; }
            if (r) return -r;
        }
        if (nl) e->lines++;
        e->batch_bytes += (int64_t)(stop - p);
        p = nl ? nl + 1 : end;
    }
    e->consumed += (int64_t)(p - buf);
    return (int64_t)(p - buf);
}

/* ---- setup ------------------------------------------------------------------ */

static int eb_enc_init_locale(eb_enc *e) {
    e->cloc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    return e->cloc ? 0 : -1;
}

static void eb_enc_free_locale(eb_enc *e) {
    if (e->cloc) freelocale(e->cloc);
    e->cloc = (locale_t)0;
}

/* Set bits among the first nbits of a bitmap. */
static int64_t eb_count_set(const uint8_t *p, int64_t nbits) {
    int64_t full = nbits >> 3, n = 0, i = 0;
    for (; i + 8 <= full; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        n += __builtin_popcountll(w);
    }
    for (; i < full; i++) n += __builtin_popcount(p[i]);
    if (nbits & 7) n += __builtin_popcount(p[full] & ((1u << (nbits & 7)) - 1));
    return n;
}

#endif
