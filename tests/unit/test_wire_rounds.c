/*
 * test_wire_rounds.c - common/wire_encode.c and wire_decode.c: the optional keys of CONTRACT
 * section 9, an update's `queued` and the `due` of welcome and ack. Frames written by hand with
 * msgpack-c's packer stand for an independent peer; the encoder's own output must decode to the
 * same struct.
 */
#include "wire.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

static struct ct_wire_encoder *enc;
static struct ct_msg *msg, *back;

static void setup(void)
{
    enc = ct_wire_encoder_new();
    msg = ct_msg_new();
    back = ct_msg_new();
    cr_assert(enc != NULL && msg != NULL && back != NULL);
}

static void teardown(void)
{
    ct_wire_encoder_free(enc);
    ct_msg_free(msg);
    ct_msg_free(back);
}

TestSuite(wire_rounds, .init = setup, .fini = teardown);

#define AT_MS 1435658400000LL     /* 2015-06-30T18:00:00+08:00 */
#define QUEUED_MS 1436428800123LL /* 2015-07-09T16:00:00.123+08:00 */

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* A batch of one update, with "queued" packed by `pack_queued` (NULL: no key). */
static void batch_frame(msgpack_sbuffer *sb, void (*pack_queued)(msgpack_packer *))
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_str(&pk, "v");
    msgpack_pack_uint8(&pk, 1);
    pack_str(&pk, "t");
    pack_str(&pk, "batch");
    pack_str(&pk, "agent");
    pack_str(&pk, "erqi-01");
    pack_str(&pk, "district");
    pack_str(&pk, "erqi");
    pack_str(&pk, "updates");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, pack_queued ? 7 : 6);
    pack_str(&pk, "seq");
    msgpack_pack_uint8(&pk, 1);
    pack_str(&pk, "ind");
    pack_str(&pk, "hightech_output");
    pack_str(&pk, "period");
    msgpack_pack_uint16(&pk, 2015);
    pack_str(&pk, "op");
    pack_str(&pk, "set");
    pack_str(&pk, "value");
    msgpack_pack_uint8(&pk, 3);
    pack_str(&pk, "at");
    msgpack_pack_int64(&pk, AT_MS);
    if (pack_queued != NULL) {
        pack_str(&pk, "queued");
        pack_queued(&pk);
    }
}

static void queued_ok(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, QUEUED_MS);
}
static void queued_before_2000(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, 0);
}
static void queued_as_text(msgpack_packer *pk)
{
    pack_str(pk, "2015-07-09");
}
static void queued_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}

static int decode(const msgpack_sbuffer *sb, struct ct_wire_fault *fault)
{
    return ct_wire_decode(sb->data, sb->size, back, fault);
}

Test(wire_rounds, queued_decodes_from_a_peers_frame)
{
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;

    batch_frame(&sb, queued_ok);
    cr_assert_eq(decode(&sb, &fault), 0, "%s", fault.msg);
    cr_assert_eq(back->batch.updates[0].queued_ms, QUEUED_MS);
    cr_assert_eq(back->batch.updates[0].fault, CT_REJECT_NONE);
    msgpack_sbuffer_destroy(&sb);
}

Test(wire_rounds, update_without_queued_decodes_as_absent)
{
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;

    back->batch.n_updates = 0;
    batch_frame(&sb, queued_ok); /* leaves a queued time in the reused message */
    cr_assert_eq(decode(&sb, &fault), 0, "%s", fault.msg);
    msgpack_sbuffer_destroy(&sb);
    batch_frame(&sb, NULL);
    cr_assert_eq(decode(&sb, &fault), 0, "%s", fault.msg);
    cr_assert_eq(back->batch.updates[0].queued_ms, 0, "a reused message forgets the last one");
    msgpack_sbuffer_destroy(&sb);
    batch_frame(&sb, queued_nil);
    cr_assert_eq(decode(&sb, &fault), 0, "%s", fault.msg);
    cr_assert_eq(back->batch.updates[0].queued_ms, 0);
    msgpack_sbuffer_destroy(&sb);
}

Test(wire_rounds, implausible_queued_is_dropped_but_the_update_stays)
{
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;

    batch_frame(&sb, queued_before_2000);
    cr_assert_eq(decode(&sb, &fault), 0, "%s", fault.msg);
    cr_assert_eq(back->batch.n_updates, 1);
    cr_assert_eq(back->batch.updates[0].queued_ms, 0);
    cr_assert_eq(back->batch.updates[0].fault, CT_REJECT_NONE);
    msgpack_sbuffer_destroy(&sb);
}

Test(wire_rounds, queued_that_is_not_an_integer_is_malformed)
{
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;

    batch_frame(&sb, queued_as_text);
    cr_assert_eq(decode(&sb, &fault), -1);
    cr_assert_eq(fault.error, CT_WERR_MALFORMED);
    cr_assert_str_eq(fault.msg, "updates[0].queued: not an integer");
    msgpack_sbuffer_destroy(&sb);
}

static void one_update(struct ct_msg *m, int64_t queued_ms)
{
    m->type = CT_MSG_BATCH;
    strcpy(m->batch.agent, "erqi-01");
    strcpy(m->batch.district, "erqi");
    cr_assert_eq(ct_msg_reserve(m, CT_MSG_BATCH, 1), 0);
    memset(&m->batch.updates[0], 0, sizeof(m->batch.updates[0]));
    m->batch.updates[0] = (struct ct_update){.seq = 1,
                                             .at_ms = AT_MS,
                                             .period = 2015,
                                             .queued_ms = queued_ms,
                                             .op = CT_OP_SET,
                                             .value = {.kind = CT_VALUE_INT, .as.i = 3}};
    strcpy(m->batch.updates[0].ind, "hightech_output");
    m->batch.n_updates = 1;
}

Test(wire_rounds, encoder_writes_queued_as_the_contract_names_it)
{
    static const unsigned char key[] = {0xa6, 'q',  'u',  'e',  'u',  'e',  'd',  0xcf,
                                        0x00, 0x00, 0x01, 0x4e, 0x71, 0xd4, 0x10, 0x7b};
    struct ct_wire_fault fault;
    const void *bytes;
    size_t len;

    one_update(msg, QUEUED_MS);
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), 0);
    cr_assert_not_null(memmem(bytes, len, key, sizeof(key)),
                       "\"queued\": uint64 %lld not found in the frame", QUEUED_MS);
    cr_assert_eq(ct_wire_decode(bytes, len, back, &fault), 0, "%s", fault.msg);
    cr_assert_eq(back->batch.updates[0].queued_ms, QUEUED_MS);

    one_update(msg, 0);
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), 0);
    cr_assert_null(memmem(bytes, len, "queued", 6), "no key when the time is not known");
}

Test(wire_rounds, update_size_bound_counts_queued)
{
    const void *bytes;
    size_t without, with, bound_without;

    one_update(msg, 0);
    bound_without = ct_wire_update_size_bound(&msg->batch.updates[0]);
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &without), 0);
    one_update(msg, INT64_MIN); /* the widest int64 */
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &with), 0);
    cr_assert_leq(with - without,
                  ct_wire_update_size_bound(&msg->batch.updates[0]) - bound_without);
}

/* Two rounds: Q1 missing two codes, H1 missing none. */
static void add_due(struct ct_msg *m)
{
    struct ct_due *d = &m->due;

    cr_assert_eq(ct_msg_reserve_missing(m, 2), 0);
    d->has_due = true;
    d->n_rounds = 2;
    d->rounds[0] = (struct ct_due_round){.year = 2015, .first_missing = 0, .n_missing = 2};
    strcpy(d->rounds[0].round, "Q1");
    strcpy(d->rounds[0].due, "2015-04-10");
    d->rounds[1] = (struct ct_due_round){.year = 2015, .first_missing = 2, .n_missing = 0};
    strcpy(d->rounds[1].round, "H1");
    strcpy(d->rounds[1].due, "2015-07-10");
    strcpy(d->missing[0], "hightech_output");
    strcpy(d->missing[1], "rd_centers_municipal");
    d->n_missing = 2;
}

static void assert_due(const struct ct_msg *m)
{
    const struct ct_due *d = &m->due;

    cr_assert(d->has_due);
    cr_assert_eq(d->n_rounds, 2);
    cr_assert_str_eq(d->rounds[0].round, "Q1");
    cr_assert_str_eq(d->rounds[0].due, "2015-04-10");
    cr_assert_eq(d->rounds[0].year, 2015);
    cr_assert_eq(d->rounds[0].n_missing, 2);
    cr_assert_str_eq(d->missing[d->rounds[0].first_missing], "hightech_output");
    cr_assert_str_eq(d->missing[d->rounds[0].first_missing + 1], "rd_centers_municipal");
    cr_assert_str_eq(d->rounds[1].round, "H1");
    cr_assert_eq(d->rounds[1].n_missing, 0);
}

Test(wire_rounds, welcome_and_ack_carry_due)
{
    struct ct_wire_fault fault;
    const void *bytes;
    size_t len;

    msg->type = CT_MSG_WELCOME;
    msg->welcome.last_seq = 9;
    add_due(msg);
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), 0);
    cr_assert_eq(ct_wire_decode(bytes, len, back, &fault), 0, "%s", fault.msg);
    cr_assert_eq(back->type, CT_MSG_WELCOME);
    assert_due(back);

    msg->type = CT_MSG_ACK;
    msg->ack.last_seq = 9;
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), 0);
    cr_assert_eq(ct_wire_decode(bytes, len, back, &fault), 0, "%s", fault.msg);
    cr_assert_eq(back->type, CT_MSG_ACK);
    cr_assert_eq(back->ack.last_seq, 9);
    assert_due(back);

    /* without it, nothing is sent and nothing decoded */
    msg->due.has_due = false;
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), 0);
    cr_assert_null(memmem(bytes, len, "due", 3));
    cr_assert_eq(ct_wire_decode(bytes, len, back, &fault), 0, "%s", fault.msg);
    cr_assert_not(back->due.has_due);
    cr_assert_eq(back->due.n_rounds, 0);
}

/* An ack whose `due` is garbage: the ack itself must still be read. */
Test(wire_rounds, malformed_due_is_dropped_and_the_ack_kept)
{
    struct ct_wire_fault fault;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_str(&pk, "v");
    msgpack_pack_uint8(&pk, 1);
    pack_str(&pk, "t");
    pack_str(&pk, "ack");
    pack_str(&pk, "last_seq");
    msgpack_pack_uint8(&pk, 42);
    pack_str(&pk, "rejected");
    msgpack_pack_array(&pk, 0);
    pack_str(&pk, "due");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "round");
    pack_str(&pk, "Q1");
    pack_str(&pk, "due");
    pack_str(&pk, "2015-04-10");
    pack_str(&pk, "missing");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint8(&pk, 7); /* not a code */
    cr_assert_eq(ct_wire_decode(sb.data, sb.size, back, &fault), 0, "%s", fault.msg);
    cr_assert_eq(back->type, CT_MSG_ACK);
    cr_assert_eq(back->ack.last_seq, 42);
    cr_assert_not(back->due.has_due);
    cr_assert_eq(back->due.n_rounds, 0);
    msgpack_sbuffer_destroy(&sb);
}

Test(wire_rounds, encoder_refuses_more_rounds_than_a_peer_accepts)
{
    const void *bytes;
    size_t len;

    msg->type = CT_MSG_ACK;
    add_due(msg);
    msg->due.n_rounds = CT_WIRE_MAX_DUE + 1;
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1);
    msg->due.n_rounds = 1;
    msg->due.rounds[0].n_missing = 3; /* past the codes it holds */
    cr_assert_eq(ct_wire_encode(enc, msg, &bytes, &len), -1);
}
