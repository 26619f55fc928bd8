/*
 * wire_decode.c - protocol version 1: names, messages, and decoding (wire_encode.c encodes).
 *
 * Decoding: ct_wire_scan() bounds the frame, msgpack_unpack_next() builds the object tree
 * (strings in it point into the frame), and the functions below copy what they need into
 * the caller's struct ct_msg. Every array of maps in a message (updates, catalog, rejected,
 * warnings) goes through decode_list(), so all are bounded, reserved and named alike. Any
 * error names the field, e.g. "updates[3].seq: not a positive integer".
 */
#include "wire.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- names */

static const char *const reject_codes[] = {
    [CT_REJECT_NONE] = "",
    [CT_REJECT_UNKNOWN_INDICATOR] = "unknown_indicator",
    [CT_REJECT_NOT_REPORTABLE_BY_DISTRICT] = "not_reportable_by_district",
    [CT_REJECT_BAD_VALUE] = "bad_value",
    [CT_REJECT_BAD_PERIOD] = "bad_period",
    [CT_REJECT_BAD_OP] = "bad_op",
    [CT_REJECT_BAD_TIME] = "bad_time",
    [CT_REJECT_BAD_NOTE] = "bad_note",
};

static const char *const error_codes[] = {
    [CT_WERR_NONE] = "",
    [CT_WERR_MALFORMED] = "malformed",
    [CT_WERR_UNSUPPORTED_VERSION] = "unsupported_version",
    [CT_WERR_UNKNOWN_AGENT] = "unknown_agent",
    [CT_WERR_WRONG_DISTRICT] = "wrong_district",
    [CT_WERR_SEQ_GAP] = "seq_gap",
    [CT_WERR_TOO_LARGE] = "too_large",
    [CT_WERR_UNAVAILABLE] = "unavailable",
    [CT_WERR_AGENT_IN_USE] = "agent_in_use",
    [CT_WERR_OTHER] = "other",
};

static const char *const type_names[] = {
    [CT_MSG_HELLO] = "hello", [CT_MSG_BATCH] = "batch", [CT_MSG_WELCOME] = "welcome",
    [CT_MSG_ACK] = "ack",     [CT_MSG_ERROR] = "error",
};

const char *ct_op_name(enum ct_op op)
{
    return op == CT_OP_SET ? "set" : op == CT_OP_ADD ? "add" : "?";
}

enum ct_op ct_op_parse(const char *text)
{
    if (strcmp(text, "set") == 0)
        return CT_OP_SET;
    if (strcmp(text, "add") == 0)
        return CT_OP_ADD;
    return CT_OP_INVALID;
}

const char *ct_reject_code(enum ct_reject r)
{
    return (size_t)r < sizeof(reject_codes) / sizeof(reject_codes[0]) ? reject_codes[r] : "";
}

const char *ct_wire_error_code(enum ct_wire_error e)
{
    return (size_t)e < sizeof(error_codes) / sizeof(error_codes[0]) ? error_codes[e] : "other";
}

enum ct_wire_error ct_wire_error_parse(const char *code)
{
    for (size_t i = CT_WERR_MALFORMED; i < CT_WERR_OTHER; i++) {
        if (strcmp(code, error_codes[i]) == 0)
            return (enum ct_wire_error)i;
    }
    return CT_WERR_OTHER;
}

const char *ct_msg_type_name(enum ct_msg_type type)
{
    if (type >= CT_MSG_HELLO && type <= CT_MSG_ERROR)
        return type_names[type];
    return "?";
}

/* ---------------------------------------------------------------- messages */

struct ct_msg *ct_msg_new(void)
{
    return calloc(1, sizeof(struct ct_msg));
}

void ct_msg_free(struct ct_msg *msg)
{
    if (msg == NULL)
        return;
    free(msg->batch.updates);
    free(msg->welcome.catalog);
    free(msg->ack.rejected);
    free(msg->ack.warnings);
    free(msg->due.missing);
    free(msg);
}

static int grow(void **array, size_t *cap, size_t want, size_t elem_size)
{
    void *bigger;

    if (want <= *cap)
        return 0;
    bigger = realloc(*array, want * elem_size);
    if (bigger == NULL)
        return -1;
    *array = bigger;
    *cap = want;
    return 0;
}

int ct_msg_reserve(struct ct_msg *msg, enum ct_msg_type type, size_t n)
{
    switch (type) {
    case CT_MSG_BATCH:
        return grow((void **)&msg->batch.updates, &msg->cap_updates, n, sizeof(struct ct_update));
    case CT_MSG_WELCOME:
        return grow((void **)&msg->welcome.catalog, &msg->cap_catalog, n,
                    sizeof(struct ct_catalog_entry));
    case CT_MSG_ACK:
        return grow((void **)&msg->ack.rejected, &msg->cap_rejected, n,
                    sizeof(struct ct_rejection));
    default:
        return 0;
    }
}

int ct_msg_reserve_warnings(struct ct_msg *msg, size_t n)
{
    return grow((void **)&msg->ack.warnings, &msg->cap_warnings, n, sizeof(struct ct_warning));
}

int ct_msg_reserve_missing(struct ct_msg *msg, size_t n)
{
    return grow((void **)&msg->due.missing, &msg->cap_missing, n, sizeof(*msg->due.missing));
}

/* ---------------------------------------------------------------- decoding helpers */

__attribute__((format(printf, 3, 4))) static int
decode_fail(struct ct_wire_fault *fault, enum ct_wire_error error, const char *fmt, ...)
{
    va_list ap;

    fault->error = error;
    va_start(ap, fmt);
    vsnprintf(fault->msg, sizeof(fault->msg), fmt, ap);
    va_end(ap);
    return -1;
}

struct field {
    const char *name;
    const msgpack_object *value; /* NULL until seen */
};

/* Fills `fields` from the map `obj`; keys not listed are ignored. A non-string key or a
 * listed key given twice is malformed, since two readers could pick different values. */
static int collect(const msgpack_object *obj, struct field *fields, size_t n_fields,
                   const char *where, struct ct_wire_fault *fault)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return decode_fail(fault, CT_WERR_MALFORMED, "%s: not a map", where);
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *key = &obj->via.map.ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            return decode_fail(fault, CT_WERR_MALFORMED, "%s: map key is not a string", where);
        for (size_t f = 0; f < n_fields; f++) {
            size_t name_len = strlen(fields[f].name);
            if (key->via.str.size != name_len ||
                memcmp(key->via.str.ptr, fields[f].name, name_len) != 0)
                continue;
            if (fields[f].value != NULL)
                return decode_fail(fault, CT_WERR_MALFORMED, "%s: duplicate key '%s'", where,
                                   fields[f].name);
            fields[f].value = &obj->via.map.ptr[i].val;
            break;
        }
    }
    return 0;
}

static int require(const struct field *f, const char *where, struct ct_wire_fault *fault)
{
    if (f->value == NULL)
        return decode_fail(fault, CT_WERR_MALFORMED, "%s: missing key '%s'", where, f->name);
    return 0;
}

static int get_uint(const struct field *f, const char *where, uint64_t *out,
                    struct ct_wire_fault *fault)
{
    if (require(f, where, fault) != 0)
        return -1;
    if (f->value->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return decode_fail(fault, CT_WERR_MALFORMED, "%s.%s: not a non-negative integer", where,
                           f->name);
    *out = f->value->via.u64;
    return 0;
}

/* Integer that may be negative; *in_range is false for positives above INT64_MAX. */
static int get_int(const struct field *f, const char *where, int64_t *out, bool *in_range,
                   struct ct_wire_fault *fault)
{
    /* outputs are set on every path: callers read them only on success, but at -O3 GCC
     * cannot see that decode_fail() never returns 0 */
    *out = 0;
    *in_range = false;
    if (require(f, where, fault) != 0)
        return -1;
    *in_range = true;
    if (f->value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = f->value->via.i64;
        return 0;
    }
    if (f->value->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (f->value->via.u64 > INT64_MAX) {
            *in_range = false;
            *out = INT64_MAX;
        } else {
            *out = (int64_t)f->value->via.u64;
        }
        return 0;
    }
    return decode_fail(fault, CT_WERR_MALFORMED, "%s.%s: not an integer", where, f->name);
}

static int get_str(const struct field *f, const char *where, const char **ptr, size_t *len,
                   struct ct_wire_fault *fault)
{
    *ptr = NULL; /* as in get_int() */
    *len = 0;
    if (require(f, where, fault) != 0)
        return -1;
    if (f->value->type != MSGPACK_OBJECT_STR)
        return decode_fail(fault, CT_WERR_MALFORMED, "%s.%s: not a string", where, f->name);
    *ptr = f->value->via.str.ptr;
    *len = f->value->via.str.size;
    return 0;
}

/* A required id ([a-z0-9_-], 1..64 bytes), copied into out[CT_ID_MAX + 1]. */
static int get_id(const struct field *f, const char *where, char *out, struct ct_wire_fault *fault)
{
    const char *p;
    size_t len;

    if (get_str(f, where, &p, &len, fault) != 0)
        return -1;
    if (!ct_id_valid(p, len))
        return decode_fail(fault, CT_WERR_MALFORMED,
                           "%s.%s: not an id (1-64 bytes of a-z, 0-9, '_', '-')", where, f->name);
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

/* Valid UTF-8 of at most `max` bytes (longer text is malformed when !truncate, else cut at
 * a character boundary), copied into out[max + 1]. */
static int get_text(const struct field *f, const char *where, char *out, size_t max, bool truncate,
                    struct ct_wire_fault *fault)
{
    const char *p;
    size_t len;

    if (get_str(f, where, &p, &len, fault) != 0)
        return -1;
    if (!ct_utf8_valid(p, len))
        return decode_fail(fault, CT_WERR_MALFORMED, "%s.%s: not valid UTF-8", where, f->name);
    if (len > max) {
        if (!truncate)
            return decode_fail(fault, CT_WERR_MALFORMED, "%s.%s: longer than %zu bytes", where,
                               f->name, max);
        len = max;
        while (len > 0 && ((unsigned char)p[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

static int get_array(const struct field *f, const char *where, size_t max,
                     enum ct_wire_error too_many, struct ct_wire_fault *fault)
{
    if (require(f, where, fault) != 0)
        return -1;
    if (f->value->type != MSGPACK_OBJECT_ARRAY)
        return decode_fail(fault, CT_WERR_MALFORMED, "%s.%s: not an array", where, f->name);
    if (f->value->via.array.size > max)
        return decode_fail(fault, too_many, "%s.%s: %u items, at most %zu allowed", where, f->name,
                           f->value->via.array.size, max);
    return 0;
}

static void set_fault(struct ct_update *u, enum ct_reject why, const char *msg)
{
    if (u->fault != CT_REJECT_NONE)
        return;
    u->fault = why;
    u->fault_msg = msg;
}

/* ---------------------------------------------------------------- frames and lists */

/* Bounds, scans and unpacks one frame. On success the caller owns `unpacked` and destroys
 * it; on failure nothing is left to destroy. */
static int unpack_frame(const void *frame, size_t len, msgpack_unpacked *unpacked,
                        struct ct_wire_fault *fault)
{
    size_t offset = 0;

    fault->error = CT_WERR_NONE;
    fault->msg[0] = '\0';
    if (len > CT_WIRE_MAX_MESSAGE)
        return decode_fail(fault, CT_WERR_TOO_LARGE, "message of %zu bytes exceeds 1 MiB", len);
    if (ct_wire_scan(frame, len, fault->msg, sizeof(fault->msg)) != 0) {
        fault->error = CT_WERR_MALFORMED;
        return -1;
    }
    msgpack_unpacked_init(unpacked);
    if (msgpack_unpack_next(unpacked, frame, len, &offset) != MSGPACK_UNPACK_SUCCESS ||
        offset != len) {
        msgpack_unpacked_destroy(unpacked);
        return decode_fail(fault, CT_WERR_MALFORMED, "msgpack could not be decoded");
    }
    return 0;
}

/* An array under a top-level key whose items go one by one into an array of the message
 * (updates, catalog, rejected, warnings). */
struct list {
    const char *where; /* the message type, for faults about the array as a whole */
    size_t max;
    enum ct_wire_error too_many;
    int (*reserve)(struct ct_msg *msg, size_t n);
    /* Decodes item `i`, named `where` ("updates[3]") in faults, into the message. */
    int (*item)(const msgpack_object *obj, const char *where, uint32_t i, struct ct_msg *out,
                struct ct_wire_fault *fault);
};

/* Decodes the array under `f` by `list`, counting the items decoded in `*count`. */
static int decode_list(const struct field *f, const struct list *list, size_t *count,
                       struct ct_msg *out, struct ct_wire_fault *fault)
{
    const msgpack_object *array = f->value;

    *count = 0;
    if (get_array(f, list->where, list->max, list->too_many, fault) != 0)
        return -1;
    if (list->reserve(out, array->via.array.size) != 0)
        return decode_fail(fault, CT_WERR_MALFORMED, "%s: out of memory", list->where);
    for (uint32_t i = 0; i < array->via.array.size; i++) {
        char where[32];

        snprintf(where, sizeof(where), "%s[%u]", f->name, i);
        if (list->item(&array->via.array.ptr[i], where, i, out, fault) != 0)
            return -1;
        (*count)++;
    }
    return 0;
}

/* ---------------------------------------------------------------- message bodies */

/* The keys of an update, by their place in the table decode_update() fills. */
enum update_key {
    UPDATE_SEQ,
    UPDATE_IND,
    UPDATE_PERIOD,
    UPDATE_OP,
    UPDATE_VALUE,
    UPDATE_AT,
    UPDATE_NOTE,
    UPDATE_QUEUED,
    N_UPDATE_KEYS,
};

static int decode_value(const struct field *f, const char *where, struct ct_update *u,
                        struct ct_wire_fault *fault)
{
    if (require(f, where, fault) != 0)
        return -1;
    switch (f->value->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (f->value->via.u64 > INT64_MAX) {
            u->value.kind = CT_VALUE_UINT;
            u->value.as.u = f->value->via.u64;
        } else {
            u->value.kind = CT_VALUE_INT;
            u->value.as.i = (int64_t)f->value->via.u64;
        }
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        u->value.kind = CT_VALUE_INT;
        u->value.as.i = f->value->via.i64;
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        u->value.kind = CT_VALUE_FLOAT;
        u->value.as.f = f->value->via.f64;
        if (!isfinite(u->value.as.f))
            set_fault(u, CT_REJECT_BAD_VALUE, "value is not a finite number");
        return 0;
    default:
        return decode_fail(fault, CT_WERR_MALFORMED, "%s.value: not a number", where);
    }
}

/* Item `i` of a batch's "updates": its seq must follow the one before it. */
static int decode_update(const msgpack_object *obj, const char *where, uint32_t i,
                         struct ct_msg *out, struct ct_wire_fault *fault)
{
    struct field f[N_UPDATE_KEYS] = {
        [UPDATE_SEQ] = {"seq", NULL},       [UPDATE_IND] = {"ind", NULL},
        [UPDATE_PERIOD] = {"period", NULL}, [UPDATE_OP] = {"op", NULL},
        [UPDATE_VALUE] = {"value", NULL},   [UPDATE_AT] = {"at", NULL},
        [UPDATE_NOTE] = {"note", NULL},     [UPDATE_QUEUED] = {"queued", NULL},
    };
    struct ct_update *u = &out->batch.updates[i];
    const char *text;
    size_t len;
    bool in_range;

    memset(u, 0, offsetof(struct ct_update, ind));
    u->ind[0] = u->note[0] = '\0';
    if (collect(obj, f, N_UPDATE_KEYS, where, fault) != 0)
        return -1;

    if (get_uint(&f[UPDATE_SEQ], where, &u->seq, fault) != 0)
        return -1;
    if (u->seq == 0)
        return decode_fail(fault, CT_WERR_MALFORMED, "%s.seq: must be at least 1", where);

    if (get_str(&f[UPDATE_IND], where, &text, &len, fault) != 0)
        return -1;
    if (ct_id_valid(text, len)) {
        memcpy(u->ind, text, len);
        u->ind[len] = '\0';
    } else {
        set_fault(u, CT_REJECT_UNKNOWN_INDICATOR, "indicator is not a code (a-z, 0-9, _, -)");
    }

    if (get_int(&f[UPDATE_PERIOD], where, &u->period, &in_range, fault) != 0)
        return -1;
    if (!in_range || u->period < CT_WIRE_PERIOD_MIN || u->period > CT_WIRE_PERIOD_MAX)
        set_fault(u, CT_REJECT_BAD_PERIOD, "period is not a year in 2000..2100");

    if (get_str(&f[UPDATE_OP], where, &text, &len, fault) != 0)
        return -1;
    if (len == 3 && memcmp(text, "set", 3) == 0)
        u->op = CT_OP_SET;
    else if (len == 3 && memcmp(text, "add", 3) == 0)
        u->op = CT_OP_ADD;
    else
        set_fault(u, CT_REJECT_BAD_OP, "op is neither \"set\" nor \"add\"");

    if (decode_value(&f[UPDATE_VALUE], where, u, fault) != 0)
        return -1;

    if (get_int(&f[UPDATE_AT], where, &u->at_ms, &in_range, fault) != 0)
        return -1;
    if (!in_range || u->at_ms < CT_WIRE_AT_MIN_MS || u->at_ms >= CT_WIRE_AT_MAX_MS)
        set_fault(u, CT_REJECT_BAD_TIME, "observation time is not within 2000..2099");

    if (f[UPDATE_NOTE].value != NULL && f[UPDATE_NOTE].value->type != MSGPACK_OBJECT_NIL) {
        if (get_str(&f[UPDATE_NOTE], where, &text, &len, fault) != 0)
            return -1;
        if (len > CT_WIRE_MAX_NOTE) {
            set_fault(u, CT_REJECT_BAD_NOTE, "note is longer than 256 bytes");
        } else if (!ct_utf8_valid(text, len)) {
            set_fault(u, CT_REJECT_BAD_NOTE, "note is not valid UTF-8");
        } else {
            memcpy(u->note, text, len);
            u->note[len] = '\0';
            u->has_note = true;
        }
    }

    /* Only timeliness reads it, so an implausible time is dropped, not the update. */
    if (f[UPDATE_QUEUED].value != NULL && f[UPDATE_QUEUED].value->type != MSGPACK_OBJECT_NIL) {
        int64_t queued;
        if (get_int(&f[UPDATE_QUEUED], where, &queued, &in_range, fault) != 0)
            return -1;
        if (in_range && queued >= CT_WIRE_AT_MIN_MS && queued < CT_WIRE_AT_MAX_MS)
            u->queued_ms = queued;
    }

    if (i > 0 && u->seq != out->batch.updates[i - 1].seq + 1)
        return decode_fail(fault, CT_WERR_MALFORMED, "%s.seq: %llu does not follow %llu", where,
                           (unsigned long long)u->seq,
                           (unsigned long long)out->batch.updates[i - 1].seq);
    return 0;
}

/* An item of a welcome's "catalog". */
static int decode_catalog_entry(const msgpack_object *obj, const char *where, uint32_t i,
                                struct ct_msg *out, struct ct_wire_fault *fault)
{
    struct field e[] = {{"code", NULL}, {"name_zh", NULL}, {"reported_by", NULL}};
    struct ct_catalog_entry *entry = &out->welcome.catalog[i];

    if (collect(obj, e, 3, where, fault) != 0 || get_id(&e[0], where, entry->code, fault) != 0 ||
        get_text(&e[1], where, entry->name_zh, CT_WIRE_MAX_NAME, false, fault) != 0 ||
        get_id(&e[2], where, entry->reported_by, fault) != 0)
        return -1;
    return 0;
}

/* An item of an ack's "rejected" or "warnings", which share one shape:
 * {"seq","code","msg"}, a long msg cut at a character boundary. */
static int decode_notice(const msgpack_object *obj, const char *where, uint64_t *seq, char *code,
                         char *msg, struct ct_wire_fault *fault)
{
    struct field e[] = {{"seq", NULL}, {"code", NULL}, {"msg", NULL}};

    if (collect(obj, e, 3, where, fault) != 0 || get_uint(&e[0], where, seq, fault) != 0 ||
        get_text(&e[1], where, code, CT_WIRE_MAX_CODE, false, fault) != 0 ||
        get_text(&e[2], where, msg, CT_WIRE_MAX_TEXT, true, fault) != 0)
        return -1;
    return 0;
}

static int decode_rejection(const msgpack_object *obj, const char *where, uint32_t i,
                            struct ct_msg *out, struct ct_wire_fault *fault)
{
    struct ct_rejection *r = &out->ack.rejected[i];
    return decode_notice(obj, where, &r->seq, r->code, r->msg, fault);
}

static int decode_warning(const msgpack_object *obj, const char *where, uint32_t i,
                          struct ct_msg *out, struct ct_wire_fault *fault)
{
    struct ct_warning *w = &out->ack.warnings[i];
    return decode_notice(obj, where, &w->seq, w->code, w->msg, fault);
}

static int reserve_updates(struct ct_msg *msg, size_t n)
{
    return ct_msg_reserve(msg, CT_MSG_BATCH, n);
}

static int reserve_catalog(struct ct_msg *msg, size_t n)
{
    return ct_msg_reserve(msg, CT_MSG_WELCOME, n);
}

static int reserve_rejected(struct ct_msg *msg, size_t n)
{
    return ct_msg_reserve(msg, CT_MSG_ACK, n);
}

static const struct list updates_list = {"batch", CT_WIRE_MAX_BATCH, CT_WERR_TOO_LARGE,
                                         reserve_updates, decode_update};
static const struct list catalog_list = {"welcome", CT_WIRE_MAX_CATALOG, CT_WERR_MALFORMED,
                                         reserve_catalog, decode_catalog_entry};
static const struct list rejected_list = {"ack", CT_WIRE_MAX_BATCH, CT_WERR_MALFORMED,
                                          reserve_rejected, decode_rejection};
static const struct list warnings_list = {"ack", CT_WIRE_MAX_BATCH, CT_WERR_MALFORMED,
                                          ct_msg_reserve_warnings, decode_warning};

/* The top-level keys of every message type, by their place in the table ct_wire_decode()
 * fills; each message's decoder below reads the ones its type has. */
enum key {
    KEY_AGENT,
    KEY_DISTRICT,
    KEY_NEXT_SEQ,
    KEY_UPDATES,
    KEY_LAST_SEQ,
    KEY_CATALOG,
    KEY_REJECTED,
    KEY_CODE,
    KEY_MSG,
    KEY_V,
    KEY_T,
    KEY_INSTANCE,
    KEY_WARNINGS,
    KEY_DUE,
    N_KEYS,
};

static int decode_hello(struct field *f, struct ct_msg *out, struct ct_wire_fault *fault)
{
    if (get_id(&f[KEY_AGENT], "hello", out->hello.agent, fault) != 0 ||
        get_id(&f[KEY_DISTRICT], "hello", out->hello.district, fault) != 0 ||
        get_uint(&f[KEY_NEXT_SEQ], "hello", &out->hello.next_seq, fault) != 0)
        return -1;
    out->hello.instance[0] = '\0';
    if (f[KEY_INSTANCE].value != NULL &&
        get_id(&f[KEY_INSTANCE], "hello", out->hello.instance, fault) != 0)
        return -1;
    return 0;
}

static int decode_batch(struct field *f, struct ct_msg *out, struct ct_wire_fault *fault)
{
    if (get_id(&f[KEY_AGENT], "batch", out->batch.agent, fault) != 0 ||
        get_id(&f[KEY_DISTRICT], "batch", out->batch.district, fault) != 0 ||
        decode_list(&f[KEY_UPDATES], &updates_list, &out->batch.n_updates, out, fault) != 0)
        return -1;
    return 0;
}

/* The optional `due` of a welcome or an ack: [{"round","due","missing":[codes]}, ...]. */
static int decode_due(const struct field *f, const char *where, struct ct_msg *out,
                      struct ct_wire_fault *fault)
{
    struct ct_due *due = &out->due;

    due->has_due = false;
    due->n_rounds = due->n_missing = 0;
    if (f->value == NULL || f->value->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (get_array(f, where, CT_WIRE_MAX_DUE, CT_WERR_MALFORMED, fault) != 0)
        return -1;
    for (uint32_t i = 0; i < f->value->via.array.size; i++) {
        struct field e[] = {{"round", NULL}, {"due", NULL}, {"missing", NULL}, {"year", NULL}};
        struct ct_due_round *r = &due->rounds[i];
        const msgpack_object *codes;
        char w[32];
        bool in_range;

        snprintf(w, sizeof(w), "due[%u]", i);
        memset(r, 0, sizeof(*r));
        if (collect(&f->value->via.array.ptr[i], e, 4, w, fault) != 0 ||
            get_text(&e[0], w, r->round, CT_WIRE_MAX_CODE, false, fault) != 0 ||
            get_text(&e[1], w, r->due, CT_WIRE_DATE_LEN, false, fault) != 0 ||
            get_array(&e[2], w, CT_WIRE_MAX_CATALOG, CT_WERR_MALFORMED, fault) != 0)
            return -1;
        if (e[3].value != NULL && get_int(&e[3], w, &r->year, &in_range, fault) != 0)
            return -1;
        codes = e[2].value;
        if (ct_msg_reserve_missing(out, due->n_missing + codes->via.array.size) != 0)
            return decode_fail(fault, CT_WERR_MALFORMED, "%s: out of memory", where);
        r->first_missing = due->n_missing;
        for (uint32_t k = 0; k < codes->via.array.size; k++) {
            const msgpack_object *code = &codes->via.array.ptr[k];
            if (code->type != MSGPACK_OBJECT_STR ||
                !ct_id_valid(code->via.str.ptr, code->via.str.size))
                return decode_fail(fault, CT_WERR_MALFORMED,
                                   "%s.missing[%u]: not an indicator code", w, k);
            memcpy(due->missing[due->n_missing], code->via.str.ptr, code->via.str.size);
            due->missing[due->n_missing][code->via.str.size] = '\0';
            due->n_missing++;
        }
        r->n_missing = codes->via.array.size;
        due->n_rounds++;
    }
    due->has_due = true;
    return 0;
}

/* `due` is advice for the clerk: a malformed one is dropped, never the ack that carries it
 * (refusing an ack would only make the collector resend what is already committed). */
static void keep_due(const struct field *f, const char *where, struct ct_msg *out,
                     struct ct_wire_fault *fault)
{
    if (decode_due(f, where, out, fault) == 0)
        return;
    out->due.has_due = false;
    out->due.n_rounds = out->due.n_missing = 0;
    fault->error = CT_WERR_NONE;
    fault->msg[0] = '\0';
}

static int decode_welcome(struct field *f, struct ct_msg *out, struct ct_wire_fault *fault)
{
    if (get_uint(&f[KEY_LAST_SEQ], "welcome", &out->welcome.last_seq, fault) != 0 ||
        decode_list(&f[KEY_CATALOG], &catalog_list, &out->welcome.n_catalog, out, fault) != 0)
        return -1;
    keep_due(&f[KEY_DUE], "welcome", out, fault);
    return 0;
}

static int decode_ack(struct field *f, struct ct_msg *out, struct ct_wire_fault *fault)
{
    if (get_uint(&f[KEY_LAST_SEQ], "ack", &out->ack.last_seq, fault) != 0 ||
        decode_list(&f[KEY_REJECTED], &rejected_list, &out->ack.n_rejected, out, fault) != 0)
        return -1;
    keep_due(&f[KEY_DUE], "ack", out, fault);
    /* "warnings" is optional: absent means none; present, it is checked as strictly as
     * "rejected". */
    out->ack.n_warnings = 0;
    if (f[KEY_WARNINGS].value == NULL)
        return 0;
    return decode_list(&f[KEY_WARNINGS], &warnings_list, &out->ack.n_warnings, out, fault);
}

static int decode_error(struct field *f, struct ct_msg *out, struct ct_wire_fault *fault)
{
    if (get_text(&f[KEY_CODE], "error", out->error.code, CT_WIRE_MAX_CODE, false, fault) != 0 ||
        get_text(&f[KEY_MSG], "error", out->error.msg, CT_WIRE_MAX_TEXT, true, fault) != 0 ||
        get_uint(&f[KEY_LAST_SEQ], "error", &out->error.last_seq, fault) != 0)
        return -1;
    out->error.error = ct_wire_error_parse(out->error.code);
    return 0;
}

int ct_wire_decode(const void *frame, size_t len, struct ct_msg *out, struct ct_wire_fault *fault)
{
    struct field f[N_KEYS] = {
        [KEY_AGENT] = {"agent", NULL},
        [KEY_DISTRICT] = {"district", NULL},
        [KEY_NEXT_SEQ] = {"next_seq", NULL},
        [KEY_UPDATES] = {"updates", NULL},
        [KEY_LAST_SEQ] = {"last_seq", NULL},
        [KEY_CATALOG] = {"catalog", NULL},
        [KEY_REJECTED] = {"rejected", NULL},
        [KEY_CODE] = {"code", NULL},
        [KEY_MSG] = {"msg", NULL},
        [KEY_V] = {"v", NULL},
        [KEY_T] = {"t", NULL},
        [KEY_INSTANCE] = {"instance", NULL},
        [KEY_WARNINGS] = {"warnings", NULL},
        [KEY_DUE] = {"due", NULL},
    };
    msgpack_unpacked unpacked;
    uint64_t version;
    const char *type;
    size_t type_len;
    int rc = -1;

    if (unpack_frame(frame, len, &unpacked, fault) != 0)
        return -1;
    if (collect(&unpacked.data, f, N_KEYS, "message", fault) != 0)
        goto out;
    if (require(&f[KEY_V], "message", fault) != 0)
        goto out;
    if (f[KEY_V].value->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        decode_fail(fault, CT_WERR_MALFORMED, "message.v: not a positive integer");
        goto out;
    }
    version = f[KEY_V].value->via.u64;
    if (version != CT_WIRE_VERSION) {
        decode_fail(fault, CT_WERR_UNSUPPORTED_VERSION,
                    "protocol version %llu is not supported (this side speaks 1)",
                    (unsigned long long)version);
        goto out;
    }
    if (get_str(&f[KEY_T], "message", &type, &type_len, fault) != 0)
        goto out;

    out->type = 0;
    for (int t = CT_MSG_HELLO; t <= CT_MSG_ERROR; t++) {
        if (type_len == strlen(type_names[t]) && memcmp(type, type_names[t], type_len) == 0)
            out->type = (enum ct_msg_type)t;
    }
    switch (out->type) {
    case CT_MSG_HELLO:
        rc = decode_hello(f, out, fault);
        break;
    case CT_MSG_BATCH:
        rc = decode_batch(f, out, fault);
        break;
    case CT_MSG_WELCOME:
        rc = decode_welcome(f, out, fault);
        break;
    case CT_MSG_ACK:
        rc = decode_ack(f, out, fault);
        break;
    case CT_MSG_ERROR:
        rc = decode_error(f, out, fault);
        break;
    default: {
        char shown[64];
        ct_text_escape(type, type_len, shown, sizeof(shown));
        decode_fail(fault, CT_WERR_MALFORMED, "message.t: unknown message type '%s'", shown);
        break;
    }
    }
out:
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

/* A number or nil, as the feed sends figures. */
static int get_optional_number(const struct field *f, const char *where, bool *has, double *out,
                               struct ct_wire_fault *fault)
{
    if (require(f, where, fault) != 0)
        return -1;
    *has = true;
    switch (f->value->type) {
    case MSGPACK_OBJECT_NIL:
        *has = false;
        *out = 0;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)f->value->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)f->value->via.i64;
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = f->value->via.f64;
        return 0;
    default:
        return decode_fail(fault, CT_WERR_MALFORMED, "%s.%s: not a number or nil", where, f->name);
    }
}

int ct_wire_decode_feed(const void *frame, size_t len, struct ct_feed_msg *out,
                        struct ct_wire_fault *fault)
{
    struct field f[] = {{"v", NULL}, {"year", NULL}, {"as_of", NULL}, {"targets", NULL}};
    msgpack_unpacked unpacked;
    bool in_range;
    int rc = -1;

    if (unpack_frame(frame, len, &unpacked, fault) != 0)
        return -1;
    if (collect(&unpacked.data, f, 4, "progress", fault) != 0 ||
        require(&f[0], "progress", fault) != 0)
        goto out;
    if (f[0].value->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        f[0].value->via.u64 != CT_WIRE_VERSION) {
        decode_fail(fault, CT_WERR_UNSUPPORTED_VERSION, "progress.v: not version 1");
        goto out;
    }
    if (get_int(&f[1], "progress", &out->year, &in_range, fault) != 0 ||
        get_int(&f[2], "progress", &out->as_of_ms, &in_range, fault) != 0 ||
        get_array(&f[3], "progress", CT_FEED_MAX_TARGETS, CT_WERR_MALFORMED, fault) != 0)
        goto out;
    out->n_targets = 0;
    for (uint32_t i = 0; i < f[3].value->via.array.size; i++) {
        struct field e[] = {
            {"code", NULL}, {"actual", NULL}, {"target", NULL}, {"pct", NULL}, {"status", NULL}};
        struct ct_feed_target *t = &out->targets[i];
        char where[32];

        snprintf(where, sizeof(where), "targets[%u]", i);
        if (collect(&f[3].value->via.array.ptr[i], e, 5, where, fault) != 0 ||
            get_id(&e[0], where, t->code, fault) != 0 ||
            get_optional_number(&e[1], where, &t->has_actual, &t->actual, fault) != 0 ||
            get_optional_number(&e[2], where, &t->has_target, &t->target, fault) != 0 ||
            get_optional_number(&e[3], where, &t->has_pct, &t->pct, fault) != 0 ||
            get_text(&e[4], where, t->status, CT_WIRE_MAX_CODE, false, fault) != 0)
            goto out;
        out->n_targets++;
    }
    rc = 0;
out:
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}
