/*
 * wire_encode.c - msgpack encoding of protocol version 1, into one buffer per encoder that
 * every call reuses (the returned bytes stay valid until the next call on that encoder).
 */
#include "wire.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct ct_wire_encoder {
    msgpack_sbuffer buf;
    msgpack_packer pk;
};

struct ct_wire_encoder *ct_wire_encoder_new(void)
{
    struct ct_wire_encoder *enc = calloc(1, sizeof(*enc));
    if (enc == NULL)
        return NULL;
    msgpack_sbuffer_init(&enc->buf);
    msgpack_packer_init(&enc->pk, &enc->buf, msgpack_sbuffer_write);
    return enc;
}

void ct_wire_encoder_free(struct ct_wire_encoder *enc)
{
    if (enc == NULL)
        return;
    msgpack_sbuffer_destroy(&enc->buf);
    free(enc);
}

static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    return msgpack_pack_str_with_body(pk, s, len);
}

/* Packs "key": then leaves the value to the caller. */
static int pack_key(msgpack_packer *pk, const char *key)
{
    return pack_str(pk, key);
}

static int pack_header(msgpack_packer *pk, size_t n_keys, enum ct_msg_type type)
{
    int rc = msgpack_pack_map(pk, n_keys);
    rc |= pack_key(pk, "v");
    rc |= msgpack_pack_uint64(pk, CT_WIRE_VERSION);
    rc |= pack_key(pk, "t");
    rc |= pack_str(pk, ct_msg_type_name(type));
    return rc;
}

static int pack_value(msgpack_packer *pk, const struct ct_value *v)
{
    switch (v->kind) {
    case CT_VALUE_INT:
        return msgpack_pack_int64(pk, v->as.i);
    case CT_VALUE_UINT:
        return msgpack_pack_uint64(pk, v->as.u);
    case CT_VALUE_FLOAT:
        return isfinite(v->as.f) ? msgpack_pack_double(pk, v->as.f) : -1;
    }
    return -1;
}

static int pack_update(msgpack_packer *pk, const struct ct_update *u)
{
    int rc;

    if (u->op != CT_OP_SET && u->op != CT_OP_ADD)
        return -1;
    rc = msgpack_pack_map(pk, 6 + (u->has_note ? 1 : 0) + (u->queued_ms != 0 ? 1 : 0));
    rc |= pack_key(pk, "seq");
    rc |= msgpack_pack_uint64(pk, u->seq);
    rc |= pack_key(pk, "ind");
    rc |= pack_str(pk, u->ind);
    rc |= pack_key(pk, "period");
    rc |= msgpack_pack_int64(pk, u->period);
    rc |= pack_key(pk, "op");
    rc |= pack_str(pk, ct_op_name(u->op));
    rc |= pack_key(pk, "value");
    rc |= pack_value(pk, &u->value);
    rc |= pack_key(pk, "at");
    rc |= msgpack_pack_int64(pk, u->at_ms);
    if (u->has_note) {
        rc |= pack_key(pk, "note");
        rc |= pack_str(pk, u->note);
    }
    if (u->queued_ms != 0) {
        rc |= pack_key(pk, "queued");
        rc |= msgpack_pack_int64(pk, u->queued_ms);
    }
    return rc;
}

/* The value of "due": rounds, each with its missing codes. */
static int pack_due(msgpack_packer *pk, const struct ct_due *due)
{
    int rc;

    if (due->n_rounds > CT_WIRE_MAX_DUE)
        return -1;
    rc = pack_key(pk, "due");
    rc |= msgpack_pack_array(pk, due->n_rounds);
    for (size_t i = 0; i < due->n_rounds && rc == 0; i++) {
        const struct ct_due_round *r = &due->rounds[i];
        if (r->n_missing > CT_WIRE_MAX_CATALOG || r->first_missing + r->n_missing > due->n_missing)
            return -1;
        rc |= msgpack_pack_map(pk, 4);
        rc |= pack_key(pk, "round");
        rc |= pack_str(pk, r->round);
        rc |= pack_key(pk, "year");
        rc |= msgpack_pack_int64(pk, r->year);
        rc |= pack_key(pk, "due");
        rc |= pack_str(pk, r->due);
        rc |= pack_key(pk, "missing");
        rc |= msgpack_pack_array(pk, r->n_missing);
        for (size_t k = 0; k < r->n_missing; k++)
            rc |= pack_str(pk, due->missing[r->first_missing + k]);
    }
    return rc;
}

/* The optional "warnings" key of an ack; left out when there are none, so an ack without
 * warnings is byte for byte what it was before the key existed. */
static int pack_warnings(msgpack_packer *pk, const struct ct_warning *w, size_t n)
{
    int rc = pack_key(pk, "warnings");

    rc |= msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        rc |= msgpack_pack_map(pk, 3);
        rc |= pack_key(pk, "seq");
        rc |= msgpack_pack_uint64(pk, w[i].seq);
        rc |= pack_key(pk, "code");
        rc |= pack_str(pk, w[i].code);
        rc |= pack_key(pk, "msg");
        rc |= pack_str(pk, w[i].msg);
    }
    return rc;
}

static int pack_message(msgpack_packer *pk, const struct ct_msg *msg)
{
    int rc;

    switch (msg->type) {
    case CT_MSG_HELLO:
        rc = pack_header(pk, msg->hello.instance[0] != '\0' ? 6 : 5, CT_MSG_HELLO);
        rc |= pack_key(pk, "agent");
        rc |= pack_str(pk, msg->hello.agent);
        rc |= pack_key(pk, "district");
        rc |= pack_str(pk, msg->hello.district);
        rc |= pack_key(pk, "next_seq");
        rc |= msgpack_pack_uint64(pk, msg->hello.next_seq);
        if (msg->hello.instance[0] != '\0') {
            rc |= pack_key(pk, "instance");
            rc |= pack_str(pk, msg->hello.instance);
        }
        return rc;
    case CT_MSG_BATCH:
        if (msg->batch.n_updates > CT_WIRE_MAX_BATCH)
            return -1;
        rc = pack_header(pk, 5, CT_MSG_BATCH);
        rc |= pack_key(pk, "agent");
        rc |= pack_str(pk, msg->batch.agent);
        rc |= pack_key(pk, "district");
        rc |= pack_str(pk, msg->batch.district);
        rc |= pack_key(pk, "updates");
        rc |= msgpack_pack_array(pk, msg->batch.n_updates);
        for (size_t i = 0; i < msg->batch.n_updates && rc == 0; i++)
            rc |= pack_update(pk, &msg->batch.updates[i]);
        return rc;
    case CT_MSG_WELCOME:
        if (msg->welcome.n_catalog > CT_WIRE_MAX_CATALOG)
            return -1;
        rc = pack_header(pk, 4 + (msg->due.has_due ? 1 : 0), CT_MSG_WELCOME);
        rc |= pack_key(pk, "last_seq");
        rc |= msgpack_pack_uint64(pk, msg->welcome.last_seq);
        rc |= pack_key(pk, "catalog");
        rc |= msgpack_pack_array(pk, msg->welcome.n_catalog);
        for (size_t i = 0; i < msg->welcome.n_catalog; i++) {
            const struct ct_catalog_entry *e = &msg->welcome.catalog[i];
            rc |= msgpack_pack_map(pk, 3);
            rc |= pack_key(pk, "code");
            rc |= pack_str(pk, e->code);
            rc |= pack_key(pk, "name_zh");
            rc |= pack_str(pk, e->name_zh);
            rc |= pack_key(pk, "reported_by");
            rc |= pack_str(pk, e->reported_by);
        }
        if (msg->due.has_due)
            rc |= pack_due(pk, &msg->due);
        return rc;
    case CT_MSG_ACK:
        if (msg->ack.n_rejected > CT_WIRE_MAX_BATCH || msg->ack.n_warnings > CT_WIRE_MAX_BATCH)
            return -1;
        rc =
            pack_header(pk, 4 + (msg->ack.n_warnings > 0) + (msg->due.has_due ? 1 : 0), CT_MSG_ACK);
        rc |= pack_key(pk, "last_seq");
        rc |= msgpack_pack_uint64(pk, msg->ack.last_seq);
        rc |= pack_key(pk, "rejected");
        rc |= msgpack_pack_array(pk, msg->ack.n_rejected);
        for (size_t i = 0; i < msg->ack.n_rejected; i++) {
            const struct ct_rejection *r = &msg->ack.rejected[i];
            rc |= msgpack_pack_map(pk, 3);
            rc |= pack_key(pk, "seq");
            rc |= msgpack_pack_uint64(pk, r->seq);
            rc |= pack_key(pk, "code");
            rc |= pack_str(pk, r->code);
            rc |= pack_key(pk, "msg");
            rc |= pack_str(pk, r->msg);
        }
        if (msg->ack.n_warnings > 0)
            rc |= pack_warnings(pk, msg->ack.warnings, msg->ack.n_warnings);
        if (msg->due.has_due)
            rc |= pack_due(pk, &msg->due);
        return rc;
    case CT_MSG_ERROR:
        rc = pack_header(pk, 5, CT_MSG_ERROR);
        rc |= pack_key(pk, "code");
        rc |= pack_str(pk, msg->error.code[0] != '\0' ? msg->error.code
                                                      : ct_wire_error_code(msg->error.error));
        rc |= pack_key(pk, "msg");
        rc |= pack_str(pk, msg->error.msg);
        rc |= pack_key(pk, "last_seq");
        rc |= msgpack_pack_uint64(pk, msg->error.last_seq);
        return rc;
    }
    return -1;
}

int ct_wire_encode(struct ct_wire_encoder *enc, const struct ct_msg *msg, const void **bytes,
                   size_t *len)
{
    msgpack_sbuffer_clear(&enc->buf);
    if (pack_message(&enc->pk, msg) != 0 || enc->buf.size > CT_WIRE_MAX_MESSAGE)
        return -1;
    *bytes = enc->buf.data;
    *len = enc->buf.size;
    return 0;
}

static int pack_optional_number(msgpack_packer *pk, bool has, double v)
{
    if (!has)
        return msgpack_pack_nil(pk);
    return isfinite(v) ? msgpack_pack_double(pk, v) : -1;
}

int ct_wire_encode_feed(struct ct_wire_encoder *enc, const struct ct_feed_msg *msg,
                        const void **bytes, size_t *len)
{
    msgpack_packer *pk = &enc->pk;
    int rc;

    msgpack_sbuffer_clear(&enc->buf);
    if (msg->n_targets > CT_FEED_MAX_TARGETS)
        return -1;
    rc = msgpack_pack_map(pk, 4);
    rc |= pack_key(pk, "v");
    rc |= msgpack_pack_uint64(pk, CT_WIRE_VERSION);
    rc |= pack_key(pk, "year");
    rc |= msgpack_pack_int64(pk, msg->year);
    rc |= pack_key(pk, "as_of");
    rc |= msgpack_pack_int64(pk, msg->as_of_ms);
    rc |= pack_key(pk, "targets");
    rc |= msgpack_pack_array(pk, msg->n_targets);
    for (size_t i = 0; i < msg->n_targets; i++) {
        const struct ct_feed_target *t = &msg->targets[i];
        rc |= msgpack_pack_map(pk, 5);
        rc |= pack_key(pk, "code");
        rc |= pack_str(pk, t->code);
        rc |= pack_key(pk, "actual");
        rc |= pack_optional_number(pk, t->has_actual, t->actual);
        rc |= pack_key(pk, "target");
        rc |= pack_optional_number(pk, t->has_target, t->target);
        rc |= pack_key(pk, "pct");
        rc |= pack_optional_number(pk, t->has_pct, t->pct);
        rc |= pack_key(pk, "status");
        rc |= pack_str(pk, t->status);
    }
    if (rc != 0 || enc->buf.size > CT_WIRE_MAX_MESSAGE)
        return -1;
    *bytes = enc->buf.data;
    *len = enc->buf.size;
    return 0;
}

size_t ct_wire_update_size_bound(const struct ct_update *u)
{
    /* map header 1; keys 4+4+7+3+6+3+5; seq/period/value/at up to 9 each; op 4;
     * str headers up to 5 each for ind and note; "queued" key 7 and value 9. */
    return 1 + 32 + 4 * 9 + 4 + 5 + strlen(u->ind) + (u->has_note ? 5 + strlen(u->note) : 0) +
           (u->queued_ms != 0 ? 7 + 9 : 0);
}
