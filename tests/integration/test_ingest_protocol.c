/*
 * Every exchange of CONTRACT section 3 against the real daemon, a real PostgreSQL and real
 * ZeroMQ sockets: a test client (tests/support/wireclient.c) plays the collector.
 */
#include "aggtest.h"
#include "pgtest.h"
#include "wireclient.h"
#include "wireexpect.h"

#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <signal.h>
#include <string.h>
#include <zmq.h>

#define JUNE_30_NOON 1435636800000LL /* 2015-06-30T12:00:00+08:00 */

static struct aggtest agg;

static void setup_named(const char *name)
{
    aggtest_start(&agg, name);
    aggtest_add_agent(&agg, "erqi-1", "erqi");
    aggtest_add_agent(&agg, "city-1", "city");
}

static void teardown(void)
{
    aggtest_stop(&agg);
}

static struct wc_client *client(const char *agent, const char *district)
{
    return aggtest_client(&agg, agent, district, NULL, NULL, NULL);
}

/* Sends hello and expects a welcome; the daemon reloads agents on NOTIFY, so a just-added
 * agent may first be unknown for a moment. */
Test(ingest_protocol, hello_gets_welcome_with_catalog, .fini = teardown)
{
    setup_named("ingest_hello");
    struct wc_client *c = client("erqi-1", "erqi");
    bool saw_city_only = false;

    wc_expect_welcome(c, 0);
    cr_assert_eq(c->reply->welcome.n_catalog, 34);
    for (size_t i = 0; i < c->reply->welcome.n_catalog; i++) {
        const struct ct_catalog_entry *e = &c->reply->welcome.catalog[i];
        if (strcmp(e->code, "st_contribution_rate") == 0) {
            cr_assert_str_eq(e->reported_by, "city");
            cr_assert_str_eq(e->name_zh, "科技进步对经济增长的贡献率");
            saw_city_only = true;
        }
    }
    cr_assert(saw_city_only);
}

Test(ingest_protocol, hello_from_unregistered_agent_is_unknown_agent, .fini = teardown)
{
    setup_named("ingest_unknown");
    struct wc_client *c = client("nobody", "erqi");

    cr_assert_eq(wc_send_hello(c, 1), 0);
    wc_expect_error(c, CT_WERR_UNKNOWN_AGENT, 0);
}

Test(ingest_protocol, hello_for_another_district_is_wrong_district, .fini = teardown)
{
    setup_named("ingest_hello_district");
    struct wc_client *c = client("erqi-1", "jinshui");

    cr_assert_eq(wc_send_hello(c, 1), 0);
    wc_expect_error(c, CT_WERR_WRONG_DISTRICT, 0);
}

Test(ingest_protocol, batch_is_committed_then_acked, .fini = teardown)
{
    setup_named("ingest_commit");
    struct wc_client *c = client("erqi-1", "erqi");
    int64_t values[3] = {7, 5, -2};

    wc_expect_welcome(c, 0);
    cr_assert_eq(
        wc_send_batch(c, 1, 3, "rd_centers_municipal", CT_OP_ADD, values, 2015, JUNE_30_NOON), 0);
    wc_expect_ack(c, 3, 0);
    /* The ack comes after COMMIT, so the rows are visible to anyone now. */
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 3);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT sum(value) FROM updates WHERE agent_id = 'erqi-1'"
                                       " AND district = 'erqi' AND period = 2015"),
                 10);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT last_seq FROM agents WHERE agent_id = 'erqi-1'"), 3);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates WHERE observed_at ="
                                       " '2015-06-30T12:00:00+08:00' AND op = 'add'"),
                 3);
}

Test(ingest_protocol, resent_batch_is_acked_and_stored_once, .fini = teardown)
{
    setup_named("ingest_duplicate");
    struct wc_client *c = client("erqi-1", "erqi");
    int64_t values[2] = {100, 200};

    wc_expect_welcome(c, 0);
    cr_assert_eq(wc_send_batch(c, 1, 2, "st_enterprises", CT_OP_SET, values, 2015, JUNE_30_NOON),
                 0);
    wc_expect_ack(c, 2, 0);
    cr_assert_eq(wc_send_batch(c, 1, 2, "st_enterprises", CT_OP_SET, values, 2015, JUNE_30_NOON),
                 0);
    wc_expect_ack(c, 2, 0);
    /* A batch overlapping the committed range commits only its new tail. */
    int64_t more[3] = {200, 300, 400};
    cr_assert_eq(wc_send_batch(c, 2, 3, "st_enterprises", CT_OP_SET, more, 2015, JUNE_30_NOON), 0);
    wc_expect_ack(c, 4, 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 4);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT sum(value) FROM updates"), 1000);
    wc_expect_welcome(c, 4);
}

Test(ingest_protocol, batch_with_gap_is_refused_whole, .fini = teardown)
{
    setup_named("ingest_gap");
    struct wc_client *c = client("erqi-1", "erqi");
    int64_t values[2] = {1, 2};

    wc_expect_welcome(c, 0);
    cr_assert_eq(wc_send_batch(c, 1, 2, "hightech_parks", CT_OP_ADD, values, 2015, JUNE_30_NOON),
                 0);
    wc_expect_ack(c, 2, 0);
    cr_assert_eq(wc_send_batch(c, 5, 2, "hightech_parks", CT_OP_ADD, values, 2015, JUNE_30_NOON),
                 0);
    wc_expect_error(c, CT_WERR_SEQ_GAP, 2);
    cr_assert(strstr(c->reply->error.msg, "expected seq 3") != NULL, "%s", c->reply->error.msg);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 2);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT last_seq FROM agents WHERE agent_id = 'erqi-1'"), 2);
}

/* Fills update i of c->out with a valid add of 1 to rd_centers_municipal. */
static void valid_update(struct ct_update *u, uint64_t seq)
{
    memset(u, 0, sizeof(*u));
    u->seq = seq;
    strcpy(u->ind, "rd_centers_municipal");
    u->op = CT_OP_ADD;
    u->value.kind = CT_VALUE_INT;
    u->value.as.i = 1;
    u->period = 2015;
    u->at_ms = JUNE_30_NOON;
}

Test(ingest_protocol, bad_updates_are_rejected_alone_and_kept, .fini = teardown)
{
    setup_named("ingest_reject");
    struct wc_client *c = client("erqi-1", "erqi");
    struct ct_msg_batch *b = &c->out->batch;
    static const char *const expected[] = {"unknown_indicator", "not_reportable_by_district",
                                           "bad_period", "bad_time"};

    wc_expect_welcome(c, 0);
    cr_assert_eq(ct_msg_reserve(c->out, CT_MSG_BATCH, 6), 0);
    c->out->type = CT_MSG_BATCH;
    strcpy(b->agent, "erqi-1");
    strcpy(b->district, "erqi");
    b->n_updates = 6;
    for (size_t i = 0; i < 6; i++)
        valid_update(&b->updates[i], i + 1);
    strcpy(b->updates[1].ind, "no_such_indicator");
    strcpy(b->updates[2].ind, "st_contribution_rate"); /* city only */
    b->updates[3].period = 1999;
    b->updates[4].at_ms = 4000000000000LL; /* 2096: far in the future */
    cr_assert_eq(wc_send_msg(c), 0);
    wc_expect_ack(c, 6, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(c->reply->ack.rejected[i].seq, i + 2);
        cr_assert_str_eq(c->reply->ack.rejected[i].code, expected[i]);
    }
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 2);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates"), 4);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates WHERE seq = 3 AND"
                                       " reason = 'not_reportable_by_district'"
                                       " AND indicator = 'st_contribution_rate'"),
                 1);

    /* The same batch again: all duplicates, and the ack still lists the rejections. */
    cr_assert_eq(wc_send_msg(c), 0);
    wc_expect_ack(c, 6, 4);
    cr_assert_str_eq(c->reply->ack.rejected[0].code, "unknown_indicator");
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates"), 4);
}

Test(ingest_protocol, city_only_indicator_is_accepted_from_city, .fini = teardown)
{
    setup_named("ingest_city");
    struct wc_client *c = client("city-1", "city");
    int64_t rate[1] = {58};

    wc_expect_welcome(c, 0);
    cr_assert_eq(
        wc_send_batch(c, 1, 1, "st_contribution_rate", CT_OP_SET, rate, 2015, JUNE_30_NOON), 0);
    wc_expect_ack(c, 1, 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT value FROM updates WHERE district = 'city'"), 58);
}

Test(ingest_protocol, value_faults_from_the_decoder_are_rejected, .fini = teardown)
{
    setup_named("ingest_value_faults");
    struct wc_client *c = client("erqi-1", "erqi");
    struct ct_msg_batch *b = &c->out->batch;
    /* A batch with a NaN value cannot be encoded by our encoder (it refuses non-finite
     * values), so it is written out by hand: one update, seq 1, value NaN. */
    static const unsigned char frame[] = {
        0x85, 0xa1, 'v',  0x01, 0xa1, 't',  0xa5, 'b',  'a',  't',  'c',  'h',  0xa5, 'a',  'g',
        'e',  'n',  't',  0xa6, 'e',  'r',  'q',  'i',  '-',  '1',  0xa8, 'd',  'i',  's',  't',
        'r',  'i',  'c',  't',  0xa4, 'e',  'r',  'q',  'i',  0xa7, 'u',  'p',  'd',  'a',  't',
        'e',  's',  0x91, 0x86, 0xa3, 's',  'e',  'q',  0x01, 0xa3, 'i',  'n',  'd',  0xae, 'h',
        'i',  'g',  'h',  't',  'e',  'c',  'h',  '_',  'p',  'a',  'r',  'k',  's',  0xa6, 'p',
        'e',  'r',  'i',  'o',  'd',  0xcd, 0x07, 0xdf, 0xa2, 'o',  'p',  0xa3, 'a',  'd',  'd',
        0xa5, 'v',  'a',  'l',  'u',  'e',  0xcb, 0x7f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xa2, 'a',  't',  0xcf, 0x00, 0x00, 0x01, 0x4e, 0x42, 0xc5, 0xe5, 0x00};

    wc_expect_welcome(c, 0);
    cr_assert_eq(wc_send_raw(c, frame, sizeof(frame)), 0);
    wc_expect_ack(c, 1, 1);
    cr_assert_str_eq(c->reply->ack.rejected[0].code, "bad_value");
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates WHERE value = 'nan'"
                                       " AND reason = 'bad_value'"),
                 1);
    (void)b;
}

Test(ingest_protocol, malformed_frame_is_refused, .fini = teardown)
{
    setup_named("ingest_malformed");
    struct wc_client *c = client("erqi-1", "erqi");
    static const unsigned char not_a_map[] = {0x93, 0x01, 0x02, 0x03};

    cr_assert_eq(wc_send_raw(c, not_a_map, sizeof(not_a_map)), 0);
    wc_expect_error(c, CT_WERR_MALFORMED, 0);
    cr_assert(strstr(c->reply->error.msg, "not a map") != NULL, "%s", c->reply->error.msg);
    /* Two frames in one message are malformed too. */
    cr_assert_eq(zmq_send(c->socket, "a", 1, ZMQ_SNDMORE), 1);
    cr_assert_eq(zmq_send(c->socket, "b", 1, 0), 1);
    wc_expect_error(c, CT_WERR_MALFORMED, 0);
    cr_assert(strstr(c->reply->error.msg, "single frame") != NULL, "%s", c->reply->error.msg);
}

Test(ingest_protocol, version_2_is_unsupported, .fini = teardown)
{
    setup_named("ingest_version");
    struct wc_client *c = client("erqi-1", "erqi");
    static const unsigned char v2[] = {0x82, 0xa1, 'v', 0x02, 0xa1, 't',
                                       0xa5, 'h',  'e', 'l',  'l',  'o'};

    cr_assert_eq(wc_send_raw(c, v2, sizeof(v2)), 0);
    wc_expect_error(c, CT_WERR_UNSUPPORTED_VERSION, 0);
}

/* Our encoder refuses more than 1000 updates, so this batch is packed with msgpack-c. */
static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

Test(ingest_protocol, batch_of_1001_updates_is_too_large, .fini = teardown)
{
    setup_named("ingest_too_large");
    struct wc_client *c = client("erqi-1", "erqi");
    msgpack_sbuffer buf;
    msgpack_packer pk;

    wc_expect_welcome(c, 0);
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "t");
    pack_str(&pk, "batch");
    pack_str(&pk, "agent");
    pack_str(&pk, "erqi-1");
    pack_str(&pk, "district");
    pack_str(&pk, "erqi");
    pack_str(&pk, "updates");
    msgpack_pack_array(&pk, 1001);
    for (int i = 1; i <= 1001; i++) {
        msgpack_pack_map(&pk, 6);
        pack_str(&pk, "seq");
        msgpack_pack_int(&pk, i);
        pack_str(&pk, "ind");
        pack_str(&pk, "st_enterprises");
        pack_str(&pk, "period");
        msgpack_pack_int(&pk, 2015);
        pack_str(&pk, "op");
        pack_str(&pk, "add");
        pack_str(&pk, "value");
        msgpack_pack_int(&pk, 1);
        pack_str(&pk, "at");
        msgpack_pack_int64(&pk, JUNE_30_NOON);
    }
    cr_assert_eq(wc_send_raw(c, buf.data, buf.size), 0);
    msgpack_sbuffer_destroy(&buf);
    wc_expect_error(c, CT_WERR_TOO_LARGE, 0);
    cr_assert(strstr(c->reply->error.msg, "1001") != NULL, "%s", c->reply->error.msg);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 0);
}

/* Three updates the decoder flags (an op that is neither set nor add, a 257-byte note, a
 * note that is not UTF-8) between two good ones: only the three are rejected. */
Test(ingest_protocol, bad_op_and_bad_notes_are_rejected_alone, .fini = teardown)
{
    setup_named("ingest_bad_op_note");
    struct wc_client *c = client("erqi-1", "erqi");
    static const char *const ops[] = {"add", "mul", "add", "add", "set"};
    char long_note[258];
    msgpack_sbuffer buf;
    msgpack_packer pk;

    memset(long_note, 'n', 257);
    long_note[257] = '\0';
    wc_expect_welcome(c, 0);
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "t");
    pack_str(&pk, "batch");
    pack_str(&pk, "agent");
    pack_str(&pk, "erqi-1");
    pack_str(&pk, "district");
    pack_str(&pk, "erqi");
    pack_str(&pk, "updates");
    msgpack_pack_array(&pk, 5);
    for (int i = 0; i < 5; i++) {
        msgpack_pack_map(&pk, 7);
        pack_str(&pk, "seq");
        msgpack_pack_int(&pk, i + 1);
        pack_str(&pk, "ind");
        pack_str(&pk, "benefit_projects");
        pack_str(&pk, "period");
        msgpack_pack_int(&pk, 2015);
        pack_str(&pk, "op");
        pack_str(&pk, ops[i]);
        pack_str(&pk, "value");
        msgpack_pack_int(&pk, 10 * (i + 1));
        pack_str(&pk, "at");
        msgpack_pack_int64(&pk, JUNE_30_NOON);
        pack_str(&pk, "note");
        if (i == 2)
            pack_str(&pk, long_note);
        else if (i == 3)
            msgpack_pack_str_with_body(&pk, "\xff\xfe", 2);
        else
            pack_str(&pk, "季度核对");
    }
    cr_assert_eq(wc_send_raw(c, buf.data, buf.size), 0);
    msgpack_sbuffer_destroy(&buf);
    wc_expect_ack(c, 5, 3);
    cr_assert_eq(c->reply->ack.rejected[0].seq, 2);
    cr_assert_str_eq(c->reply->ack.rejected[0].code, "bad_op");
    cr_assert_eq(c->reply->ack.rejected[1].seq, 3);
    cr_assert_str_eq(c->reply->ack.rejected[1].code, "bad_note");
    cr_assert_eq(c->reply->ack.rejected[2].seq, 4);
    cr_assert_str_eq(c->reply->ack.rejected[2].code, "bad_note");
    /* The two good ones are stored with their note; the set (50) comes after the add (10). */
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates WHERE note = '季度核对'"), 2);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT actual FROM citytally_progress(2015, now())"
                                       " WHERE target_code = 'benefit_projects'"),
                 50);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates WHERE op IS NULL"
                                       " AND reason = 'bad_op'"),
                 1);
}

Test(ingest_protocol, batch_for_another_district_is_wrong_district, .fini = teardown)
{
    setup_named("ingest_batch_district");
    struct wc_client *good = client("erqi-1", "erqi");
    struct wc_client *c = client("erqi-1", "jinshui");
    int64_t values[1] = {9};

    wc_expect_welcome(good, 0);
    cr_assert_eq(wc_send_batch(c, 1, 1, "st_enterprises", CT_OP_SET, values, 2015, JUNE_30_NOON),
                 0);
    wc_expect_error(c, CT_WERR_WRONG_DISTRICT, 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 0);
}

Test(ingest_protocol, removed_agent_is_cut_off_on_its_next_message, .fini = teardown)
{
    setup_named("ingest_revoke");
    struct wc_client *c = client("erqi-1", "erqi");
    int64_t values[1] = {1};

    wc_expect_welcome(c, 0);
    cr_assert_eq(wc_send_batch(c, 1, 1, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON),
                 0);
    wc_expect_ack(c, 1, 0);
    pgtest_exec(agg.db, "UPDATE agents SET revoked_at = now() WHERE agent_id = 'erqi-1';"
                        " NOTIFY citytally_agents");
    /* Even before the daemon has read the NOTIFY, the commit transaction sees the flag. */
    cr_assert_eq(wc_send_batch(c, 2, 1, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON),
                 0);
    wc_expect_error(c, CT_WERR_UNKNOWN_AGENT, 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 1);
}

Test(ingest_protocol, commits_publish_progress_on_the_feed, .fini = teardown)
{
    setup_named("ingest_feed");
    struct wc_client *c = client("erqi-1", "erqi");
    void *sub;
    int64_t values[1] = {42};
    struct ct_feed_msg *feed = calloc(1, sizeof(*feed));
    struct ct_wire_fault fault;
    char topic[32] = "";
    zmq_msg_t part;
    int linger = 0;

    wc_expect_welcome(c, 0); /* the client made the test's ZeroMQ context */
    sub = zmq_socket(agg.zctx, ZMQ_SUB);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "progress.2015", 13), 0);
    cr_assert_eq(zmq_connect(sub, agg.feed), 0);
    wc_expect_welcome(c, 0);
    /* A slow-joining subscriber misses what came before it; keep committing until one
     * progress message arrives. */
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    uint64_t seq = 1;
    long long deadline = proc_now_ms() + WC_REPLY_MS;
    while (zmq_poll(&item, 1, 200) == 0 && proc_now_ms() < deadline) {
        cr_assert_eq(
            wc_send_batch(c, seq, 1, "rd_centers_municipal", CT_OP_SET, values, 2015, JUNE_30_NOON),
            0);
        wc_expect_ack(c, seq, 0);
        seq++;
    }
    /* The year published at start (before any commit) has no figure yet: skip it. */
    bool found = false;
    for (int messages = 0; !found && messages < 4; messages++) {
        zmq_msg_init(&part);
        cr_assert(zmq_poll(&item, 1, WC_REPLY_MS) == 1, "no progress message");
        cr_assert(zmq_msg_recv(&part, sub, 0) > 0, "no progress message");
        memset(topic, 0, sizeof(topic));
        memcpy(topic, zmq_msg_data(&part), zmq_msg_size(&part) < 31 ? zmq_msg_size(&part) : 31);
        cr_assert_str_eq(topic, "progress.2015");
        cr_assert(zmq_msg_more(&part));
        cr_assert(zmq_msg_recv(&part, sub, 0) > 0);
        cr_assert_eq(ct_wire_decode_feed(zmq_msg_data(&part), zmq_msg_size(&part), feed, &fault), 0,
                     "%s", fault.msg);
        zmq_msg_close(&part);
        cr_assert_eq(feed->year, 2015);
        cr_assert_eq(feed->n_targets, 35);
        for (size_t i = 0; i < feed->n_targets; i++) {
            if (strcmp(feed->targets[i].code, "rd_centers_municipal") == 0 &&
                feed->targets[i].has_actual) {
                cr_assert_float_eq(feed->targets[i].actual, 42.0, 1e-9);
                cr_assert_float_eq(feed->targets[i].target, 100.0, 1e-9);
                found = true;
            }
        }
    }
    cr_assert(found);
    free(feed);
    zmq_close(sub);
}
