# C declarations of the core (ext/eb_*.h).  Included first by _core.pyx.

from libc.stdint cimport uint8_t, int8_t, int32_t, uint32_t, int64_t, uint64_t

cdef extern from "eb_json.h" nogil:
    ctypedef struct eb_buf:
        uint8_t *p
        size_t len
        size_t cap

    ctypedef struct eb_node:
        int kind
        int nullable
        int width
        int unit
        int64_t len
        int64_t mark
        eb_buf valid
        eb_buf data
        eb_buf offs
        int nchild
        eb_node **child
        const uint8_t **names
        uint32_t *name_lens
        uint32_t *htab
        uint32_t hmask
        uint64_t *seen
        int32_t *slot
        int guess
        int nreq
        int32_t *next
        int id
        const char *type_name

    ctypedef struct eb_frame:
        eb_node *node
        int field
        int64_t index

    ctypedef struct eb_rejects:
        eb_node raw, source, line, offset, reason, path, message

    ctypedef struct eb_enc:
        eb_node *root
        eb_node **nodes
        int nnodes
        eb_node *extra
        int policy
        int max_depth
        size_t max_line
        int frame_cap
        eb_frame *frames
        uint8_t *cstack
        uint64_t gen
        eb_buf scratch
        eb_buf members
        eb_buf keys
        eb_buf table
        eb_buf pathbuf
        int64_t inputs, accepted, rejected, blank_lines, extra_fields
        int64_t lines
        int64_t consumed
        int skipping
        eb_buf skip_head
        int64_t batch_bytes
        int64_t stop_rows
        int32_t source_id
        eb_rejects rej

    enum:
        EB_BOOL, EB_I8, EB_I16, EB_I32, EB_I64, EB_U8, EB_U16, EB_U32, EB_U64
        EB_F32, EB_F64, EB_STRING, EB_BINARY, EB_TIMESTAMP, EB_DATE32, EB_STRUCT
        EB_LIST, EB_JSON

    enum:
        EB_OK, EB_ESYNTAX, EB_ESCHEMA, EB_EDUP, EB_ENOTOBJ, EB_EOOM, EB_EFULL
        EB_RANGE
        EB_CONV_OK, EB_CONV_INVALID, EB_CONV_RANGE
        EB_POLICY_IGNORE, EB_POLICY_ERROR, EB_POLICY_EXTRA
        EB_R_INVALID_JSON, EB_R_INVALID_UTF8, EB_R_NOT_AN_OBJECT, EB_R_TYPE_MISMATCH
        EB_R_OUT_OF_RANGE, EB_R_INVALID_VALUE, EB_R_MISSING_REQUIRED
        EB_R_UNKNOWN_FIELD, EB_R_TOO_DEEP, EB_R_LINE_TOO_LONG

    int eb_buf_reserve(eb_buf *b, size_t extra)
    int eb_buf_put(eb_buf *b, const char *src, size_t n)
    int eb_buf_putc(eb_buf *b, uint8_t c)
    void eb_buf_free(eb_buf *b)
    uint8_t *eb_buf_steal(eb_buf *b, size_t hint)
    int eb_offs_init(eb_node *n)
    void eb_node_truncate(eb_node *n, int64_t len)
    int eb_valid_set(eb_node *n, int valid)

    int eb_escape_put(eb_buf *out, const uint8_t *s, size_t n)
    int eb_parse_date(const uint8_t *s, size_t n, int64_t *days)
    int eb_parse_rfc3339(const uint8_t *s, size_t n, int unit, int64_t *out)
    int eb_base64_decode(const uint8_t *s, size_t n, eb_buf *out)
    int64_t eb_days_from_civil(int64_t y, unsigned m, unsigned d)
    ptrdiff_t eb_utf8_check(const uint8_t *p, size_t n)

    int eb_append_null(eb_node *n)
    int eb_sync(eb_node *ch, int64_t to)
    int eb_sync_tree(eb_node *n)
    int eb_put_fixed(eb_node *n, const void *v)
    int eb_put_bool(eb_node *n, int v)
    int eb_close_var(eb_node *n)
    int eb_put_int(eb_node *n, int neg, uint64_t mag)
    int eb_put_i64(eb_node *n, int64_t v)
    int eb_put_double(eb_node *n, double d)
    int eb_put_str(eb_node *n, const char *s, size_t len)
    int eb_lookup(eb_node *n, const uint8_t *k, size_t klen) nogil
    uint32_t eb_key_hash(const uint8_t *k, size_t n)
    void eb_mark(eb_enc *e)
    void eb_rollback(eb_enc *e)
    int eb_near_full(eb_enc *e)
    int eb_document(eb_enc *e, const uint8_t *s, size_t n, const uint8_t *raw, size_t rawlen,
                    int64_t line, int64_t offset)
    int64_t eb_ndjson(eb_enc *e, const uint8_t *buf, size_t len, int final, int *status)
    int eb_reject(eb_enc *e, int reason, const uint8_t *raw, size_t rawlen, int64_t line,
                  int64_t offset, const char *path, size_t pathlen, const char *msg, size_t msglen)
    int eb_enc_init_locale(eb_enc *e)
    void eb_enc_free_locale(eb_enc *e)
