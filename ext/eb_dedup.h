/* Windowed exact dedup of 64-bit key hashes (pure C, no Python).
 *
 * One open-addressing, linear-probing table of `cap` slots, held as three
 * parallel arrays:
 *   keys[i]  the 8-byte key hash; 0 means the slot is empty
 *   tags[i]  the generation of the key: 1 + its sequence number % 255; 0 means
 *            the slot is empty (tags[i] == 0 exactly when keys[i] == 0)
 *   fps[i]   a 16-bit fingerprint of the content hash seen with the key when it
 *            was inserted; 0 means none was given, and every empty slot has 0
 * The key 0 cannot live in a slot, so it is kept aside (zero_*), exactly.
 *
 * Keys are inserted into the current generation.  The current generation
 * rotates when it holds gen_keys keys (count bound) or when an event's time is
 * span_ms or more past its start (time bound).  A rotation opens a new
 * generation and evicts every generation that falls out of the last `ngen`.
 * Eviction is one sweep of the table that clears the evicted slots and, in the
 * same pass, moves back the survivors that a cleared slot cut off from their
 * home slot.  There are no tombstones and no second table.
 *
 * Invariants (the probe invariant makes every lookup exact):
 *   - probe: for every occupied slot i with home slot h, the slots h..i
 *     (circularly) are all occupied;
 *   - at least one slot is empty (live <= 0.7 * cap < cap), so probes end;
 *   - live generations are the sequence numbers oldest_seq..cur_seq, at most
 *     ngen <= 255 of them, so their tags are distinct; counts[tag] is 0 for
 *     every other tag (and for tag 0);
 *   - live == sum(counts) == occupied slots + zero_present;
 *   - the fingerprint of an empty slot is 0 (an insert without content then
 *     needs no write to fps).
 */
#ifndef EB_DEDUP_H
#define EB_DEDUP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EB_DD_MAX_GENERATIONS 255
/* Bytes of state besides the three arrays: a bound on sizeof(eb_dedup). */
#define EB_DD_STATE_BYTES 4096
/* Keys per prefetch batch: the home slots of the next batch are prefetched
 * while this one is probed (8 measured best for lookups; inserts are even). */
#ifndef EB_DD_BATCH
#define EB_DD_BATCH 8
#endif

#if defined(__GNUC__)
#define EB_DD_PREFETCH_R(p) __builtin_prefetch((p), 0, 3)
#define EB_DD_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#define EB_DD_INLINE static inline __attribute__((always_inline))
#define EB_DD_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define EB_DD_LIKELY(x) (x)
#define EB_DD_PREFETCH_R(p) ((void)0)
#define EB_DD_PREFETCH_W(p) ((void)0)
#define EB_DD_INLINE static inline
#endif

typedef struct {
    uint64_t *keys;        /* cap slots, 0 = empty */
    uint8_t *tags;         /* cap generation tags */
    uint16_t *fps;         /* cap content fingerprints, 0 = none */
    uint64_t cap;          /* slots */
    uint64_t grow_at;      /* growable: live keys that trigger a doubling */
    int growable;          /* no count bound: the table doubles as needed */
    uint32_t ngen;         /* generations kept, 2..255 */
    uint64_t gen_keys;     /* keys per generation, 0 = no count bound */
    int64_t span_ms;       /* time span of a generation, 0 = no time bound */
    uint64_t cur_seq;      /* sequence number of the current generation */
    uint8_t cur_tag;       /* its tag, eb_dd_tag(cur_seq) */
    uint64_t oldest_seq;   /* of the oldest live generation */
    int64_t cur_start_ms;  /* when the current generation started (has_start) */
    int has_start;
    uint64_t live;         /* keys remembered, the zero key included */
    uint64_t counts[256];  /* keys per generation tag */
    int zero_present;      /* the key 0 is remembered ... */
    uint8_t zero_tag;      /* ... in this generation ... */
    uint16_t zero_fp;      /* ... with this fingerprint */
    /* counters */
    uint64_t seen, unique, duplicates, resends, conflicts, evicted;
} eb_dedup;

_Static_assert(sizeof(eb_dedup) <= EB_DD_STATE_BYTES, "EB_DD_STATE_BYTES is a bound on the state");

/* Tag of the generation with sequence number seq: 1..255, 0 marks an empty
 * slot.  Up to 255 consecutive generations have distinct tags. */
EB_DD_INLINE uint8_t eb_dd_tag(uint64_t seq) {
    return (uint8_t)(seq % 255 + 1);
}

/* Slot bytes: key 8 + tag 1 + fingerprint 2. */
#define EB_DD_SLOT_BYTES 11

/* High 64 bits of a * b: maps a mixed key onto [0, cap) without a division
 * and without asking cap to be a power of two (so the table is sized to the
 * window, not rounded up to the next power). */
EB_DD_INLINE uint64_t eb_dd_mulhi(uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__)
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
#else
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32, b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi, p2 = a_hi * b_lo, p3 = a_hi * b_hi;
    uint64_t mid = (p0 >> 32) + (uint32_t)p1 + (uint32_t)p2;
    return p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
#endif
}

/* Home slot of a key.  The key is mixed first: callers may pass hashes that
 * are not uniform (small integers), and the map uses the high bits. */
EB_DD_INLINE uint64_t eb_dd_home(uint64_t k, uint64_t cap) {
    uint64_t x = k ^ (k >> 29);
    x *= 0xBF58476D1CE4E5B9ULL;
    return eb_dd_mulhi(x, cap);
}

/* 16-bit content fingerprint, never 0 (0 marks "no content recorded"). */
EB_DD_INLINE uint16_t eb_dd_fp(uint64_t c) {
    uint16_t f = (uint16_t)((c * 0x9E3779B97F4A7C15ULL) >> 48);
    return f ? f : 1;
}

/* Zeroed memory for a table array.  On Linux, arrays of 2 MiB and more are
 * mapped directly, marked for transparent huge pages (probes land on random
 * slots: with 4 KiB pages nearly every probe would also miss the TLB), and
 * touched page by page at once.  So the memory is committed at construction
 * (running out shows there, not in the middle of a stream) and filter never
 * stops on a page fault. */
#if defined(__linux__)
#include <sys/mman.h>
#define EB_DD_MMAP_MIN ((size_t)2 << 20)
#endif

static void *eb_dd_zalloc(size_t n) {
#if defined(__linux__) && defined(MAP_ANONYMOUS)
    if (n >= EB_DD_MMAP_MIN) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
#if defined(MADV_HUGEPAGE)
        (void)madvise(p, n, MADV_HUGEPAGE);   /* a hint: failure is harmless */
#endif
        for (size_t off = 0; off < n; off += 4096) ((volatile uint8_t *)p)[off] = 0;
        return p;
    }
#endif
    return calloc(n, 1);
}

static void eb_dd_zfree(void *p, size_t n) {
    if (!p) return;
#if defined(__linux__) && defined(MAP_ANONYMOUS)
    if (n >= EB_DD_MMAP_MIN) {
        munmap(p, n);
        return;
    }
#endif
    (void)n;
    free(p);
}

/* Free the arrays of a table of cap slots. */
static void eb_dd_free_arrays(uint64_t cap, uint64_t *keys, uint8_t *tags, uint16_t *fps) {
    eb_dd_zfree(keys, (size_t)cap * 8);
    eb_dd_zfree(tags, (size_t)cap);
    eb_dd_zfree(fps, (size_t)cap * 2);
}

static void eb_dedup_free(eb_dedup *d) {
    eb_dd_free_arrays(d->cap, d->keys, d->tags, d->fps);
    d->keys = NULL;
    d->tags = NULL;
    d->fps = NULL;
    d->cap = 0;
}

/* Allocate zeroed arrays of cap slots.  Returns 0, or -1 (out of memory, or
 * cap too large to address) with *keys etc. untouched. */
static int eb_dd_alloc(uint64_t cap, uint64_t **keys, uint8_t **tags, uint16_t **fps) {
    if (cap == 0 || cap > ((uint64_t)SIZE_MAX / 8)) return -1;
    uint64_t *k = (uint64_t *)eb_dd_zalloc((size_t)cap * 8);
    uint8_t *t = (uint8_t *)eb_dd_zalloc((size_t)cap);
    uint16_t *f = (uint16_t *)eb_dd_zalloc((size_t)cap * 2);
    if (!k || !t || !f) {
        eb_dd_free_arrays(cap, k, t, f);
        return -1;
    }
    *keys = k;
    *tags = t;
    *fps = f;
    return 0;
}

/* Set up an empty deduplicator.  cap >= 1 slots; gen_keys and span_ms as in
 * the struct; growable tables start at cap slots and double at 70% load.
 * Returns 0, -1 when out of memory or -2 for parameters that break the
 * invariants (d then holds no arrays). */
static int eb_dedup_init(eb_dedup *d, uint64_t cap, int growable, uint64_t gen_keys,
                         int64_t span_ms, uint32_t ngen) {
    memset(d, 0, sizeof *d);
    if (ngen < 2 || ngen > EB_DD_MAX_GENERATIONS || span_ms < 0) return -2;
    /* a fixed table must keep the load at or under 0.7: some slot stays empty */
    if (!growable && (gen_keys < 1 || gen_keys > cap || gen_keys * ngen > cap * 7 / 10)) return -2;
    if (eb_dd_alloc(cap, &d->keys, &d->tags, &d->fps)) return -1;
    d->cap = cap;
    d->growable = growable;
    d->grow_at = cap * 7 / 10;
    d->ngen = ngen;
    d->gen_keys = gen_keys;
    d->span_ms = span_ms;
    d->cur_tag = eb_dd_tag(0);
    return 0;
}

/* ---- eviction sweep ------------------------------------------------------
 *
 * One pass over the table, starting just after a slot that is empty before
 * the pass (an "originally empty" slot).  No probe path crosses such a slot,
 * so every key met has its home between that start and itself.  The pass
 * clears the slots of evicted generations and moves back each survivor that
 * a cleared slot cut off from its home: to the first empty slot from its
 * home, which lies behind it (already walked).  Slots ahead are only read
 * until the walk reaches them, so the walk stays valid.
 *
 * The walk goes 64 slots at a time, on bit masks of the block:
 *   occ   occupied before the pass        (from the tags: 0 = empty)
 *   ev    evicted: to clear               (tags of evicted generations)
 *   D     survivors to check: those after a cleared slot with no originally
 *         empty slot in between ("dirty" runs).  A run that began at an
 *         originally empty slot keeps every key reachable, so only D needs
 *         its homes computed.  Moves never change D: a key only moves into
 *         a cleared or vacated slot of its own dirty run.
 * D is computed without a loop: adding G (the slots just after a cleared
 * one, plus the slot after a dirty end of the previous block) to occ carries
 * through each run of occupied slots from G up to the run's end, so
 * occ & ~(occ + G) marks those runs (G itself restores the starts that a
 * second carry in the same run skipped).
 * E tracks the empty slots of the block as the walk changes them, so the
 * first empty slot from a home in the same block is one count of trailing
 * zeros; a home in an earlier block (rare: about dist/64 of the checks)
 * walks the slots instead. */

#if defined(__SSE2__)
#include <emmintrin.h>
/* Bit j set when p[j] == v, for the 64 bytes at p. */
EB_DD_INLINE uint64_t eb_dd_eq64(const uint8_t *p, uint8_t v) {
    const __m128i x = _mm_set1_epi8((char)v);
    uint64_t m0 = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), x));
    uint64_t m1 = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), x));
    uint64_t m2 = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), x));
    uint64_t m3 = (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), x));
    return m0 | (m1 << 16) | (m2 << 32) | (m3 << 48);
}
#else
EB_DD_INLINE uint64_t eb_dd_eq64(const uint8_t *p, uint8_t v) {
    uint64_t m = 0;
    for (int j = 0; j < 64; j++) m |= (uint64_t)(p[j] == v) << j;
    return m;
}
#endif

/* Evicted generations, as the sweep reads them. */
typedef struct {
    uint8_t lut[256];     /* lut[tag] = 1 when evicted; lut[0] = 0 */
    uint8_t list[256];    /* the evicted tags */
    int n;
} eb_dd_evict;

#define EB_DD_EVICT_SIMD 4  /* up to this many evicted tags: compare, not look up */
#ifndef EB_DD_SWEEP_AHEAD
#define EB_DD_SWEEP_AHEAD 2 /* blocks of keys prefetched ahead of the sweep */
#endif

/* Sweep one block: slots base + j for the bits j of `valid` (a contiguous
 * range).  carry: the walk arrives in a dirty run.  Returns whether it leaves
 * in one. */
static int eb_dd_sweep_block(eb_dedup *d, uint64_t base, uint64_t valid, int carry,
                             const eb_dd_evict *ev) {
    /* locals: a byte store could alias d's fields, so d->keys would be
     * reloaded after every store */
    uint64_t *const all_keys = d->keys;
    uint8_t *const all_tags = d->tags;
    uint16_t *const all_fps = d->fps;
    uint64_t *keys = all_keys + base;
    uint8_t *tags = all_tags + base;
    uint16_t *fps = all_fps + base;
    uint64_t cap = d->cap, occ = 0, evm = 0, m, g, fill, dmask, empty, lowest;
    int hi, i;
    /* keys and fingerprints are read sparsely (only cleared and checked
     * slots), too sparsely for the hardware prefetcher: fetch the lines of
     * the block EB_DD_SWEEP_AHEAD blocks ahead */
    if (base + (EB_DD_SWEEP_AHEAD + 1) * 64 <= cap) {
        const uint8_t *kp = (const uint8_t *)(keys + EB_DD_SWEEP_AHEAD * 64);
        const uint8_t *fp = (const uint8_t *)(fps + EB_DD_SWEEP_AHEAD * 64);
        for (i = 0; i < 512; i += 64) EB_DD_PREFETCH_W(kp + i);
        EB_DD_PREFETCH_W(fp);
        EB_DD_PREFETCH_W(fp + 64);
    }
    /* the masks */
    if (valid == ~(uint64_t)0) {
        occ = ~eb_dd_eq64(tags, 0);
        if (ev->n <= EB_DD_EVICT_SIMD) {
            for (i = 0; i < ev->n; i++) evm |= eb_dd_eq64(tags, ev->list[i]);
        } else {
            for (i = 0; i < 64; i++) evm |= (uint64_t)ev->lut[tags[i]] << i;
        }
    } else {
        for (m = valid; m; m &= m - 1) {
            int j = __builtin_ctzll(m);
            occ |= (uint64_t)(tags[j] != 0) << j;
            evm |= (uint64_t)ev->lut[tags[j]] << j;
        }
        occ &= valid;
    }
    hi = 63 - __builtin_clzll(valid);
    if (!evm && !carry) return 0;   /* nothing cleared, no dirty run: untouched */
    /* clear the evicted slots */
    for (m = evm; m; m &= m - 1) {
        int j = __builtin_ctzll(m);
        keys[j] = 0;
        tags[j] = 0;
        fps[j] = 0;
    }
    /* the survivors in dirty runs */
    lowest = valid & (0 - valid);
    g = ((evm << 1) | (carry ? lowest : 0)) & occ;
    fill = (occ & ~(occ + g)) | g;
    dmask = fill & ~evm;
    carry = (int)(((fill | evm) >> hi) & 1);
    /* check each, in slot order; E: empty slots of the block right now */
    empty = (~occ | evm) & valid;
    for (; dmask; dmask &= dmask - 1) {
        int j = __builtin_ctzll(dmask);
        uint64_t slot = base + (uint64_t)j, k = keys[j], h = eb_dd_home(k, cap), tgt, off;
        if (EB_DD_LIKELY(h >= base && h <= slot)) {
            /* first empty slot from h, the slot itself counting as empty */
            tgt = h + (uint64_t)__builtin_ctzll((empty | ((uint64_t)1 << j)) >> (h - base));
        } else {
            tgt = h;
            while (tgt != slot && all_keys[tgt] != 0) {
                if (++tgt == cap) tgt = 0;
            }
        }
        /* move (or rewrite in place when tgt == slot): no branch to mispredict */
        uint8_t t = tags[j];
        uint16_t f = fps[j];
        keys[j] = 0;
        tags[j] = 0;
        fps[j] = 0;
        all_keys[tgt] = k;
        all_tags[tgt] = t;
        all_fps[tgt] = f;
        off = tgt - base;   /* >= 64 (wrapped) when tgt is in an earlier block */
        empty |= (uint64_t)1 << j;
        empty &= ~((uint64_t)(off < 64) << (off & 63));
    }
    return carry;
}

/* Valid bits of block b of a table of cap slots (the last may be short). */
EB_DD_INLINE uint64_t eb_dd_block_bits(uint64_t b, uint64_t cap) {
    uint64_t rest = cap - b * 64;
    return rest >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << rest) - 1);
}

/* Evict every slot whose generation is marked in ev, in one pass. */
static void eb_dd_sweep(eb_dedup *d, const eb_dd_evict *ev) {
    uint64_t cap = d->cap, e = 0, nblk = (cap + 63) / 64, sb, b, sbit;
    int carry = 0;
    while (d->tags[e] != 0) e++;   /* exists: live < cap */
    sb = e / 64;
    sbit = e % 64;
    /* the walk: block sb after e, the blocks after it, those before it
     * (wrapping), then block sb before e */
    if (sbit < 63) {
        uint64_t v = eb_dd_block_bits(sb, cap) & (~(uint64_t)0 << (sbit + 1));
        if (v) carry = eb_dd_sweep_block(d, sb * 64, v, carry, ev);
    }
    for (b = sb + 1; b < nblk; b++) carry = eb_dd_sweep_block(d, b * 64, eb_dd_block_bits(b, cap), carry, ev);
    for (b = 0; b < sb; b++) carry = eb_dd_sweep_block(d, b * 64, eb_dd_block_bits(b, cap), carry, ev);
    if (sbit > 0) eb_dd_sweep_block(d, sb * 64, ((uint64_t)1 << sbit) - 1, carry, ev);
}

/* Open n new generations (n >= 1) and evict the ones that fall out of the
 * last ngen.  Intermediate generations of a long time gap are empty: with
 * n >= ngen every generation is evicted, so n is clamped there. */
static void eb_dd_rotate(eb_dedup *d, uint64_t n) {
    eb_dd_evict ev;
    uint64_t freed = 0, slot_freed, s, new_cur, new_oldest;
    memset(ev.lut, 0, sizeof ev.lut);
    ev.n = 0;
    if (n > d->ngen) n = d->ngen;
    new_cur = d->cur_seq + n;
    new_oldest = new_cur + 1 > d->ngen ? new_cur + 1 - d->ngen : 0;
    for (s = d->oldest_seq; s < new_oldest && s <= d->cur_seq; s++) {
        uint8_t tag = eb_dd_tag(s);
        if (!d->counts[tag]) continue;
        ev.lut[tag] = 1;
        ev.list[ev.n++] = tag;
        freed += d->counts[tag];
        d->counts[tag] = 0;
    }
    if (new_oldest > d->oldest_seq) d->oldest_seq = new_oldest;
    d->cur_seq = new_cur;
    d->cur_tag = eb_dd_tag(new_cur);
    slot_freed = freed;
    if (d->zero_present && ev.lut[d->zero_tag]) {
        d->zero_present = 0;
        d->zero_fp = 0;
        slot_freed--;
    }
    d->live -= freed;
    d->evicted += freed;
    if (slot_freed) eb_dd_sweep(d, &ev);
}

/* Double a growable table.  Returns 0, or -1 when out of memory (the table is
 * then unchanged). */
static int eb_dd_grow(eb_dedup *d) {
    uint64_t *keys;
    uint8_t *tags;
    uint16_t *fps;
    uint64_t cap = d->cap * 2, i;
    if (cap < d->cap || eb_dd_alloc(cap, &keys, &tags, &fps)) return -1;
    for (i = 0; i < d->cap; i++) {
        uint64_t k = d->keys[i];
        if (k == 0) continue;
        uint64_t p = eb_dd_home(k, cap);
        while (keys[p] != 0) {
            if (++p == cap) p = 0;
        }
        keys[p] = k;
        tags[p] = d->tags[i];
        fps[p] = d->fps[i];
    }
    eb_dedup_free(d);
    d->keys = keys;
    d->tags = tags;
    d->fps = fps;
    d->cap = cap;
    d->grow_at = cap * 7 / 10;
    return 0;
}

/* Move the window to time t (ms) before the event at t is looked up. */
EB_DD_INLINE void eb_dd_clock(eb_dedup *d, int64_t t) {
    if (!d->has_start) {
        d->cur_start_ms = t;
        d->has_start = 1;
        return;
    }
    /* unsigned: t - start cannot overflow; an earlier t counts as "now" */
    if (t > d->cur_start_ms) {
        uint64_t gap = (uint64_t)t - (uint64_t)d->cur_start_ms;
        if (gap >= (uint64_t)d->span_ms) {
            uint64_t steps = gap / (uint64_t)d->span_ms;
            /* boundaries stay on the grid start + k * span_ms */
            d->cur_start_ms = (int64_t)((uint64_t)d->cur_start_ms + steps * (uint64_t)d->span_ms);
            eb_dd_rotate(d, steps);
        }
    }
}

/* A key was found: count it as a duplicate, and as a re-send or a conflict
 * when both its stored and its given fingerprints are known. */
EB_DD_INLINE void eb_dd_dup(eb_dedup *d, uint16_t stored, uint16_t given) {
    d->duplicates++;
    if (stored && given) {
        if (stored == given) d->resends++;
        else d->conflicts++;
    }
}

/* The key was new: count it in the current generation, rotating when full. */
EB_DD_INLINE void eb_dd_added(eb_dedup *d) {
    uint8_t tag = d->cur_tag;
    d->unique++;
    d->live++;
    if (++d->counts[tag] >= d->gen_keys && d->gen_keys) {
        eb_dd_rotate(d, 1);
        d->has_start = 0;   /* the next event starts the new generation */
    }
}

/* Look up and insert one key; returns 1 (new: keep) or 0 (duplicate).
 * Without CONTENT the fingerprint is 0, which an empty slot already holds. */
EB_DD_INLINE int eb_dd_one(eb_dedup *d, uint64_t k, uint64_t h, uint16_t fp, const int CONTENT) {
    if (k == 0) {
        if (d->zero_present) {
            eb_dd_dup(d, d->zero_fp, fp);
            return 0;
        }
        d->zero_present = 1;
        d->zero_tag = d->cur_tag;
        d->zero_fp = fp;
        eb_dd_added(d);
        return 1;
    }
    uint64_t *keys = d->keys, cap = d->cap, p = h;
    for (;;) {
        uint64_t kk = keys[p];
        if (kk == k) {
            if (CONTENT) eb_dd_dup(d, d->fps[p], fp);
            else d->duplicates++;
            return 0;
        }
        if (kk == 0) break;
        if (++p == cap) p = 0;
    }
    keys[p] = k;
    d->tags[p] = d->cur_tag;
    if (CONTENT) d->fps[p] = fp;
    eb_dd_added(d);
    return 1;
}

/* The filter loop, specialised by the constant flags TIME (the window has a
 * time bound), CONTENT (content hashes were given) and GROW (the table may
 * grow): each variant is compiled without the tests it does not need, which
 * keeps the per-key path short (about 1.6x faster than one generic loop).
 *
 * Keys are processed in batches of EB_DD_BATCH whose home slots are computed
 * and prefetched one batch ahead, so that the cache misses of a batch
 * overlap with the probing of the one before. */
EB_DD_INLINE int64_t eb_dd_filter_impl(eb_dedup *d, const uint64_t *restrict keys,
                                       const int64_t *restrict times, int64_t now_ms,
                                       const uint64_t *restrict content, int64_t n,
                                       uint8_t *restrict out,
                                       const int TIME, const int CONTENT, const int GROW) {
    uint64_t homes[2][EB_DD_BATCH];
    uint64_t home_cap[2];
    int cur = 0;
    int64_t b0, i, j, end;
    /* home slots of the first batch */
    end = n < EB_DD_BATCH ? n : EB_DD_BATCH;
    home_cap[0] = d->cap;
    for (j = 0; j < end; j++) {
        uint64_t h = eb_dd_home(keys[j], d->cap);
        homes[0][j] = h;
        EB_DD_PREFETCH_R(&d->keys[h]);
    }
    for (b0 = 0; b0 < n; b0 += EB_DD_BATCH) {
        int64_t b1 = b0 + EB_DD_BATCH;
        end = b1 < n ? b1 : n;
        /* compute and prefetch the next batch's home slots */
        if (b1 < n) {
            int64_t e1 = b1 + EB_DD_BATCH < n ? b1 + EB_DD_BATCH : n;
            uint64_t *hn = homes[cur ^ 1];
            uint64_t cap = d->cap;
            home_cap[cur ^ 1] = cap;
            for (j = b1; j < e1; j++) {
                uint64_t h = eb_dd_home(keys[j], cap);
                hn[j - b1] = h;
                EB_DD_PREFETCH_R(&d->keys[h]);
                EB_DD_PREFETCH_W(&d->tags[h]);
                if (CONTENT) EB_DD_PREFETCH_W(&d->fps[h]);
            }
        }
        /* probe this batch */
        for (i = b0; i < end; i++) {
            uint64_t k = keys[i], h;
            if (TIME && d->span_ms > 0) eb_dd_clock(d, times ? times[i] : now_ms);
            if (GROW && d->live >= d->grow_at && eb_dd_grow(d)) return i;
            h = homes[cur][i - b0];
            /* a grow since the prefetch moved every home */
            if (GROW && home_cap[cur] != d->cap) h = eb_dd_home(k, d->cap);
            d->seen++;
            out[i] = (uint8_t)eb_dd_one(d, k, h, CONTENT ? eb_dd_fp(content[i]) : 0, CONTENT);
        }
        cur ^= 1;
    }
    return n;
}

#define EB_DD_VARIANT(name, T, C, G)                                                        \
    __attribute__((noinline)) static int64_t name(eb_dedup *d, const uint64_t *keys,       \
            const int64_t *times, int64_t now_ms, const uint64_t *content, int64_t n,       \
            uint8_t *out) {                                                                 \
        return eb_dd_filter_impl(d, keys, times, now_ms, content, n, out, T, C, G);         \
    }
EB_DD_VARIANT(eb_dd_filter_000, 0, 0, 0)
EB_DD_VARIANT(eb_dd_filter_010, 0, 1, 0)
EB_DD_VARIANT(eb_dd_filter_100, 1, 0, 0)
EB_DD_VARIANT(eb_dd_filter_110, 1, 1, 0)
EB_DD_VARIANT(eb_dd_filter_101, 1, 0, 1)
EB_DD_VARIANT(eb_dd_filter_111, 1, 1, 1)

/* Filter n keys: out[i] = 1 when keys[i] is not in the window (it is then
 * added), 0 when it is.  times: event times in ms, or NULL for now_ms for
 * all; content: content hashes, or NULL.
 * Returns n, or the index of the key that could not be added when a growable
 * table ran out of memory (keys before it are done). */
static int64_t eb_dedup_filter(eb_dedup *d, const uint64_t *keys, const int64_t *times,
                               int64_t now_ms, const uint64_t *content, int64_t n,
                               uint8_t *out) {
    /* a growable table always has a time bound (a window has at least one) */
    if (d->growable)
        return content ? eb_dd_filter_111(d, keys, times, now_ms, content, n, out)
                       : eb_dd_filter_101(d, keys, times, now_ms, content, n, out);
    if (d->span_ms)
        return content ? eb_dd_filter_110(d, keys, times, now_ms, content, n, out)
                       : eb_dd_filter_100(d, keys, times, now_ms, content, n, out);
    return content ? eb_dd_filter_010(d, keys, times, now_ms, content, n, out)
                   : eb_dd_filter_000(d, keys, times, now_ms, content, n, out);
}

/* Check a state read from a snapshot before it is used: the invariants in
 * the header comment, so that no later operation can loop or run past an
 * array.  Returns NULL, or what is wrong. */
static const char *eb_dedup_check(const eb_dedup *d) {
    uint64_t tally[256], occupied = 0, i, e, s, last_empty, step, limit;
    uint8_t live_tag[256];
    if (d->cap < 1 || !d->keys) return "no table";
    if (d->ngen < 2 || d->ngen > EB_DD_MAX_GENERATIONS) return "generations out of range";
    if (d->cur_seq < d->oldest_seq || d->cur_seq - d->oldest_seq >= d->ngen)
        return "generation sequence numbers out of range";
    if (d->span_ms < 0) return "negative generation span";
    memset(live_tag, 0, sizeof live_tag);
    memset(tally, 0, sizeof tally);
    if (d->cur_tag != eb_dd_tag(d->cur_seq)) return "current generation tag does not match";
    for (s = d->oldest_seq; s <= d->cur_seq; s++) live_tag[eb_dd_tag(s)] = 1;
    for (i = 0; i < 256; i++)
        if (!live_tag[i] && d->counts[i]) return "keys counted in a generation that is not live";
    if (d->zero_present) {
        if (!live_tag[d->zero_tag]) return "the zero key is in a generation that is not live";
        tally[d->zero_tag]++;
    }
    for (i = 0; i < d->cap; i++) {
        if (d->keys[i] == 0) {
            if (d->fps[i] != 0 || d->tags[i] != 0) return "an empty slot holds a tag or fingerprint";
            continue;
        }
        if (!live_tag[d->tags[i]]) return "a key is in a generation that is not live";
        tally[d->tags[i]]++;
        occupied++;
    }
    for (i = 0; i < 256; i++)
        if (tally[i] != d->counts[i]) return "generation key counts do not match the table";
    if (occupied + (d->zero_present ? 1 : 0) != d->live) return "live key count does not match the table";
    limit = d->growable ? d->grow_at : d->gen_keys * d->ngen;
    if (d->live > limit || occupied >= d->cap) return "the table is fuller than its window allows";
    if (d->gen_keys)
        for (i = 0; i < 256; i++)
            if (d->counts[i] > d->gen_keys) return "a generation holds more keys than its bound";
    /* the probe invariant: walking from an empty slot, each key's home lies
     * after the latest empty slot */
    e = 0;
    while (d->keys[e] != 0) e++;
    last_empty = e;
    i = e;
    for (step = 1; step < d->cap; step++) {
        if (++i == d->cap) i = 0;
        uint64_t k = d->keys[i];
        if (k == 0) {
            last_empty = i;
            continue;
        }
        uint64_t h = eb_dd_home(k, d->cap);
        uint64_t back_h = i >= h ? i - h : i + d->cap - h;
        uint64_t back_e = i >= last_empty ? i - last_empty : i + d->cap - last_empty;
        if (back_h >= back_e) return "a key is not reachable from its home slot";
    }
    return NULL;
}

#endif
