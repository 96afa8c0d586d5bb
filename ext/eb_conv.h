/* Value conversions shared by the JSON and dict paths: UTF-8 validation,
 * RFC 3339 timestamps, dates, base64, and minimal JSON string escaping.
 * Pure C, no Python: safe without the GIL. */
#ifndef EB_CONV_H
#define EB_CONV_H

#include "eb_buf.h"

/* Length of the valid UTF-8 sequence that starts at p (lead byte >= 0x80),
 * or 0 when it is invalid: overlong forms, UTF-16 surrogates (ED A0..BF),
 * code points above U+10FFFF and truncated sequences are all invalid
 * (RFC 3629, section 4). */
EB_INLINE int eb_utf8_seq(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    ptrdiff_t avail = end - p;
    if (c >= 0xC2 && c <= 0xDF) {
        if (avail >= 2 && (p[1] & 0xC0) == 0x80) return 2;
        return 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}

/* Offset of the first invalid UTF-8 byte in [p, p+n), or -1 if all valid. */
static ptrdiff_t eb_utf8_check(const uint8_t *p, size_t n) {
    const uint8_t *s = p, *end = p + n;
    while (p < end) {
        if (*p < 0x80) { p++; continue; }
        int k = eb_utf8_seq(p, end);
        if (!k) return p - s;
        p += k;
    }
    return -1;
}

EB_INLINE int eb_utf8_put(eb_buf *out, uint32_t cp) {
    uint8_t b[4];
    int n;
    if (cp < 0x80) { b[0] = (uint8_t)cp; n = 1; }
    else if (cp < 0x800) { b[0] = 0xC0 | (cp >> 6); b[1] = 0x80 | (cp & 0x3F); n = 2; }
    else if (cp < 0x10000) {
        b[0] = 0xE0 | (cp >> 12); b[1] = 0x80 | ((cp >> 6) & 0x3F); b[2] = 0x80 | (cp & 0x3F); n = 3;
    } else {
        b[0] = 0xF0 | (cp >> 18); b[1] = 0x80 | ((cp >> 12) & 0x3F);
        b[2] = 0x80 | ((cp >> 6) & 0x3F); b[3] = 0x80 | (cp & 0x3F); n = 4;
    }
    return eb_buf_put(out, b, (size_t)n);
}

/* Write valid UTF-8 bytes as the body of a JSON string with the least
 * escaping (docs/SEMANTICS.md, "Compact JSON text"). No quotes. */
static int eb_escape_put(eb_buf *out, const uint8_t *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *run = s, *end = s + n;
    for (const uint8_t *p = s; p < end; p++) {
        uint8_t c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (eb_buf_put(out, run, (size_t)(p - run))) return -1;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t k = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u'; e[2] = '0'; e[3] = '0'; e[4] = hex[c >> 4]; e[5] = hex[c & 15]; k = 6;
        }
        if (eb_buf_put(out, e, k)) return -1;
        run = p + 1;
    }
    return eb_buf_put(out, run, (size_t)(end - run));
}

/* ---- calendar ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (the well-known
 * era-based civil-to-days formula). */
static int64_t eb_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int eb_days_in_month(int64_t y, unsigned m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

EB_INLINE int eb_digits(const uint8_t *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

enum { EB_CONV_OK = 0, EB_CONV_INVALID = 1, EB_CONV_RANGE = 2 };

/* `YYYY-MM-DD` -> days since the epoch. */
static int eb_parse_date(const uint8_t *s, size_t n, int64_t *days) {
    int y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-') return EB_CONV_INVALID;
    if (eb_digits(s, 4, &y) || eb_digits(s + 5, 2, &m) || eb_digits(s + 8, 2, &d)) return EB_CONV_INVALID;
    if (m < 1 || m > 12 || d < 1 || d > eb_days_in_month(y, (unsigned)m)) return EB_CONV_INVALID;
    *days = eb_days_from_civil(y, (unsigned)m, (unsigned)d);
    return EB_CONV_OK;
}

static const int64_t eb_unit_per_s[4] = {1, 1000, 1000000, 1000000000};

/* RFC 3339 `YYYY-MM-DD(T|t| )hh:mm:ss[.f{1,9}][Z|z|(+|-)hh:mm]` -> count of
 * `unit` since the epoch, UTC.  Digits finer than the unit must be zero. */
static int eb_parse_rfc3339(const uint8_t *s, size_t n, int unit, int64_t *out) {
    int64_t days;
    int hh, mi, ss;
    if (n < 19) return EB_CONV_INVALID;
    if (eb_parse_date(s, 10, &days)) return EB_CONV_INVALID;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return EB_CONV_INVALID;
    if (s[13] != ':' || s[16] != ':') return EB_CONV_INVALID;
    if (eb_digits(s + 11, 2, &hh) || eb_digits(s + 14, 2, &mi) || eb_digits(s + 17, 2, &ss))
        return EB_CONV_INVALID;
    if (hh > 23 || mi > 59 || ss > 59) return EB_CONV_INVALID;
    size_t i = 19;
    int64_t frac_ns = 0;
    int nfrac = 0;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (nfrac == 9) return EB_CONV_INVALID;
            frac_ns = frac_ns * 10 + (s[i] - '0');
            nfrac++;
            i++;
        }
        if (nfrac == 0) return EB_CONV_INVALID;
        for (int k = nfrac; k < 9; k++) frac_ns *= 10;
    }
    int64_t off_s = 0;
    if (i < n) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
            i++;
        } else if ((s[i] == '+' || s[i] == '-') && i + 6 == n && s[i + 3] == ':') {
            int oh, om;
            if (eb_digits(s + i + 1, 2, &oh) || eb_digits(s + i + 4, 2, &om)) return EB_CONV_INVALID;
            if (oh > 23 || om > 59) return EB_CONV_INVALID;
            off_s = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
            i += 6;
        } else {
            return EB_CONV_INVALID;
        }
    }
    if (i != n) return EB_CONV_INVALID;
    int64_t per = 1000000000 / eb_unit_per_s[unit];   /* ns per unit */
    if (frac_ns % per) return EB_CONV_INVALID;           /* would lose digits */
    int64_t secs = days * 86400 + hh * 3600 + mi * 60 + ss - off_s;
    /* in 128 bits: near the int64 minimum, secs * unit alone overflows even
     * though adding the (positive) fraction brings the sum back in range */
    __int128 v = (__int128)secs * eb_unit_per_s[unit] + frac_ns / per;
    if (v < INT64_MIN || v > INT64_MAX) return EB_CONV_RANGE;
    *out = (int64_t)v;
    return EB_CONV_OK;
}

/* ---- base64 -------------------------------------------------------------- */

/* Standard alphabet with `=` padding, length a multiple of 4, no whitespace.
 * Appends the decoded bytes to out.  Returns EB_CONV_OK, EB_CONV_INVALID or -1
 * (out of memory). */
static int eb_base64_decode(const uint8_t *s, size_t n, eb_buf *out) {
    /* the standard alphabet's values; -1: not base64 (a constant table: no
     * lazy initialisation to race on between threads) */
    static const int8_t tab[256] = {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
        52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
        -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
        15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
        -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
        41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    };
    if (n % 4) return EB_CONV_INVALID;
    if (eb_buf_reserve(out, n / 4 * 3)) return -1;
    uint8_t *o = out->p + out->len;
    for (size_t i = 0; i < n; i += 4) {
        int a = tab[s[i]], b = tab[s[i + 1]], c = tab[s[i + 2]], d = tab[s[i + 3]];
        int last = (i + 4 == n);
        if (a < 0 || b < 0) return EB_CONV_INVALID;
        if (c < 0 || d < 0) {
            if (!last) return EB_CONV_INVALID;
            if (s[i + 2] == '=' && s[i + 3] == '=') {
                *o++ = (uint8_t)(a << 2 | b >> 4);
                break;
            }
            if (c >= 0 && s[i + 3] == '=') {
                *o++ = (uint8_t)(a << 2 | b >> 4);
                *o++ = (uint8_t)(b << 4 | c >> 2);
                break;
            }
            return EB_CONV_INVALID;
        }
        *o++ = (uint8_t)(a << 2 | b >> 4);
        *o++ = (uint8_t)(b << 4 | c >> 2);
        *o++ = (uint8_t)(c << 6 | d);
    }
    out->len = (size_t)(o - out->p);
    return EB_CONV_OK;
}

#endif
