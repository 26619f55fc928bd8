/*
 * fuzz_wire.c - libFuzzer target for the frame decoders (ct_wire_decode, ct_wire_decode_feed).
 *
 * Any byte string must decode or fail cleanly, with a named error of the three a decoder
 * may give. Whatever decodes must respect the limits the header promises (ids, UTF-8,
 * counts), and must encode again and decode to the same message; updates with a fault
 * are exempt from the round trip, since their values cannot be sent. The messages are
 * static and reused across inputs, as a daemon reuses them across frames.
 *
 * Seeds: tests/fuzz/corpus/fuzz_wire/ (tests/fuzz/make_seeds.c writes them).
 */
#include "wire.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static bool id_ok(const char *id)
{
    return terminated(id, CT_ID_MAX + 1) && ct_id_valid(id, strlen(id));
}

static bool text_ok(const char *s, size_t size)
{
    return terminated(s, size) && ct_utf8_valid(s, strlen(s));
}

static void check_fault(const struct ct_wire_fault *fault)
{
    CHECK(fault->error == CT_WERR_MALFORMED || fault->error == CT_WERR_UNSUPPORTED_VERSION ||
          fault->error == CT_WERR_TOO_LARGE);
    CHECK(terminated(fault->msg, sizeof(fault->msg)));
    CHECK(fault->msg[0] != '\0'); /* every failure is named */
}

/* What a successful decode promises, whatever the input was. */
static bool check_decoded(const struct ct_msg *m)
{
    bool faulty = false;

    switch (m->type) {
    case CT_MSG_HELLO:
        CHECK(id_ok(m->hello.agent) && id_ok(m->hello.district));
        break;
    case CT_MSG_BATCH:
        CHECK(id_ok(m->batch.agent) && id_ok(m->batch.district));
        CHECK(m->batch.n_updates <= CT_WIRE_MAX_BATCH);
        for (size_t i = 0; i < m->batch.n_updates; i++) {
            const struct ct_update *u = &m->batch.updates[i];
            CHECK(u->seq >= 1);
            CHECK(i == 0 || u->seq == m->batch.updates[i - 1].seq + 1);
            CHECK(terminated(u->ind, sizeof(u->ind)));
            CHECK(u->ind[0] == '\0' ? u->fault == CT_REJECT_UNKNOWN_INDICATOR : id_ok(u->ind));
            CHECK(!u->has_note || text_ok(u->note, sizeof(u->note)));
            CHECK((u->fault == CT_REJECT_NONE) == (u->fault_msg == NULL));
            if (u->fault == CT_REJECT_NONE) {
                CHECK(u->op == CT_OP_SET || u->op == CT_OP_ADD);
                CHECK(ct_value_is_finite(&u->value));
                CHECK(u->period >= CT_WIRE_PERIOD_MIN && u->period <= CT_WIRE_PERIOD_MAX);
                CHECK(u->at_ms >= CT_WIRE_AT_MIN_MS && u->at_ms < CT_WIRE_AT_MAX_MS);
            } else {
                CHECK(ct_reject_code(u->fault)[0] != '\0');
                faulty = true;
            }
        }
        break;
    case CT_MSG_WELCOME:
        CHECK(m->welcome.n_catalog <= CT_WIRE_MAX_CATALOG);
        for (size_t i = 0; i < m->welcome.n_catalog; i++) {
            const struct ct_catalog_entry *e = &m->welcome.catalog[i];
            CHECK(id_ok(e->code) && id_ok(e->reported_by));
            CHECK(text_ok(e->name_zh, sizeof(e->name_zh)));
        }
        break;
    case CT_MSG_ACK:
        CHECK(m->ack.n_rejected <= CT_WIRE_MAX_BATCH);
        for (size_t i = 0; i < m->ack.n_rejected; i++) {
            CHECK(text_ok(m->ack.rejected[i].code, sizeof(m->ack.rejected[i].code)));
            CHECK(text_ok(m->ack.rejected[i].msg, sizeof(m->ack.rejected[i].msg)));
        }
        break;
    case CT_MSG_ERROR:
        CHECK(text_ok(m->error.code, sizeof(m->error.code)));
        CHECK(text_ok(m->error.msg, sizeof(m->error.msg)));
        CHECK(m->error.error >= CT_WERR_MALFORMED && m->error.error <= CT_WERR_OTHER);
        break;
    default:
        abort();
    }
    return faulty;
}

static bool value_eq(const struct ct_value *a, const struct ct_value *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case CT_VALUE_INT:
        return a->as.i == b->as.i;
    case CT_VALUE_UINT:
        return a->as.u == b->as.u;
    case CT_VALUE_FLOAT:
        return memcmp(&a->as.f, &b->as.f, sizeof(double)) == 0;
    }
    return false;
}

static void check_same(const struct ct_msg *a, const struct ct_msg *b)
{
    CHECK(a->type == b->type);
    switch (a->type) {
    case CT_MSG_HELLO:
        CHECK(strcmp(a->hello.agent, b->hello.agent) == 0);
        CHECK(strcmp(a->hello.district, b->hello.district) == 0);
        CHECK(a->hello.next_seq == b->hello.next_seq);
        break;
    case CT_MSG_BATCH:
        CHECK(strcmp(a->batch.agent, b->batch.agent) == 0);
        CHECK(strcmp(a->batch.district, b->batch.district) == 0);
        CHECK(a->batch.n_updates == b->batch.n_updates);
        for (size_t i = 0; i < a->batch.n_updates; i++) {
            const struct ct_update *u = &a->batch.updates[i], *v = &b->batch.updates[i];
            CHECK(u->seq == v->seq && u->period == v->period && u->at_ms == v->at_ms);
            CHECK(u->op == v->op && value_eq(&u->value, &v->value));
            CHECK(strcmp(u->ind, v->ind) == 0);
            CHECK(u->has_note == v->has_note && strcmp(u->note, v->note) == 0);
            CHECK(v->fault == CT_REJECT_NONE);
        }
        break;
    case CT_MSG_WELCOME:
        CHECK(a->welcome.last_seq == b->welcome.last_seq);
        CHECK(a->welcome.n_catalog == b->welcome.n_catalog);
        for (size_t i = 0; i < a->welcome.n_catalog; i++) {
            CHECK(strcmp(a->welcome.catalog[i].code, b->welcome.catalog[i].code) == 0);
            CHECK(strcmp(a->welcome.catalog[i].name_zh, b->welcome.catalog[i].name_zh) == 0);
            CHECK(strcmp(a->welcome.catalog[i].reported_by, b->welcome.catalog[i].reported_by) ==
                  0);
        }
        break;
    case CT_MSG_ACK:
        CHECK(a->ack.last_seq == b->ack.last_seq);
        CHECK(a->ack.n_rejected == b->ack.n_rejected);
        for (size_t i = 0; i < a->ack.n_rejected; i++) {
            CHECK(a->ack.rejected[i].seq == b->ack.rejected[i].seq);
            CHECK(strcmp(a->ack.rejected[i].code, b->ack.rejected[i].code) == 0);
            CHECK(strcmp(a->ack.rejected[i].msg, b->ack.rejected[i].msg) == 0);
        }
        break;
    case CT_MSG_ERROR:
        /* an empty code is sent as the enum's name ("other"), which parses back the same */
        CHECK(a->error.error == b->error.error);
        CHECK(a->error.code[0] == '\0' || strcmp(a->error.code, b->error.code) == 0);
        CHECK(strcmp(a->error.msg, b->error.msg) == 0);
        CHECK(a->error.last_seq == b->error.last_seq);
        break;
    }
}

static void fuzz_feed(struct ct_wire_encoder *enc, const uint8_t *data, size_t size)
{
    static struct ct_feed_msg feed, again;
    struct ct_wire_fault fault;
    const void *bytes;
    size_t len;

    if (ct_wire_decode_feed(data, size, &feed, &fault) != 0) {
        check_fault(&fault);
        return;
    }
    CHECK(feed.n_targets <= CT_FEED_MAX_TARGETS);
    for (size_t i = 0; i < feed.n_targets; i++) {
        CHECK(id_ok(feed.targets[i].code));
        CHECK(text_ok(feed.targets[i].status, sizeof(feed.targets[i].status)));
        /* non-finite figures cannot be encoded; such a feed is not re-sent */
        if ((feed.targets[i].has_actual && !isfinite(feed.targets[i].actual)) ||
            (feed.targets[i].has_target && !isfinite(feed.targets[i].target)) ||
            (feed.targets[i].has_pct && !isfinite(feed.targets[i].pct)))
            return;
    }
    if (ct_wire_encode_feed(enc, &feed, &bytes, &len) != 0)
        return;
    CHECK(ct_wire_decode_feed(bytes, len, &again, &fault) == 0);
    CHECK(again.year == feed.year && again.as_of_ms == feed.as_of_ms);
    CHECK(again.n_targets == feed.n_targets);
    for (size_t i = 0; i < feed.n_targets; i++) {
        const struct ct_feed_target *x = &feed.targets[i], *y = &again.targets[i];
        CHECK(strcmp(x->code, y->code) == 0 && strcmp(x->status, y->status) == 0);
        CHECK(x->has_actual == y->has_actual && x->has_target == y->has_target &&
              x->has_pct == y->has_pct);
        CHECK(!x->has_actual || memcmp(&x->actual, &y->actual, sizeof(double)) == 0);
        CHECK(!x->has_target || memcmp(&x->target, &y->target, sizeof(double)) == 0);
        CHECK(!x->has_pct || memcmp(&x->pct, &y->pct, sizeof(double)) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ct_msg *msg, *again;
    static struct ct_wire_encoder *enc;
    struct ct_wire_fault fault;
    const void *bytes;
    size_t len;

    if (msg == NULL) {
        msg = ct_msg_new();
        again = ct_msg_new();
        enc = ct_wire_encoder_new();
        if (msg == NULL || again == NULL || enc == NULL)
            abort();
    }
    fuzz_feed(enc, data, size);

    if (ct_wire_decode(data, size, msg, &fault) != 0) {
        check_fault(&fault);
        return 0;
    }
    if (check_decoded(msg))
        return 0; /* a batch with refused updates: nothing to re-send */
    /* Within v1's limits every decoded message fits 1 MiB again (unknown keys are dropped,
     * and a wider input encoding only shrinks), so encoding must succeed. */
    CHECK(ct_wire_encode(enc, msg, &bytes, &len) == 0);
    CHECK(len <= CT_WIRE_MAX_MESSAGE);
    CHECK(ct_wire_decode(bytes, len, again, &fault) == 0);
    check_same(msg, again);
    return 0;
}
