/*
 * The daemon's own fold (aggregator/fold.c: groups summarised in C, then citytally_fold)
 * keeps current_values and daily_values equal to what the log says, whatever the order of
 * arrival: ties at one millisecond, agents interleaved on one key, late rows, back-dated
 * sets, and sums too wide for C's exact arithmetic.
 */
#include "aggtest.h"
#include "fold_oracle.h"
#include "pgtest.h"
#include "wireclient.h"
#include "wireexpect.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define JUNE_28 1435420800000LL /* 2015-06-28T00:00:00+08:00 */
#define HOUR 3600000LL
#define DAY (24 * HOUR)

static struct aggtest agg;

/* Every row of current_values and daily_values that disagrees with the log. */
static const char *const mismatch_sql =
    "SELECT (" FOLD_ORACLE_CURRENT_MISMATCHES ") + (" FOLD_ORACLE_DAILY_MISMATCHES ")";

static void teardown(void)
{
    aggtest_stop(&agg);
}

static struct wc_client *agent(const char *id, const char *district)
{
    struct wc_client *c = aggtest_client(&agg, id, district, NULL, NULL, NULL);
    cr_assert_eq(wc_send_hello(c, 1), 0);
    cr_assert_eq(wc_recv(c, WC_REPLY_MS), 0);
    cr_assert_eq(c->reply->type, CT_MSG_WELCOME);
    return c;
}

/* A daemon on a fresh database `name`, and agent a0 of erqi welcomed by it. */
static struct wc_client *start_with_one_agent(const char *name)
{
    aggtest_start(&agg, name);
    aggtest_add_agent(&agg, "a0", "erqi");
    return agent("a0", "erqi");
}

static struct ct_value int_value(int64_t v)
{
    return (struct ct_value){CT_VALUE_INT, {.i = v}};
}

static void set_update(struct ct_update *u, uint64_t seq, const char *ind, enum ct_op op,
                       struct ct_value value, int64_t at_ms)
{
    memset(u, 0, sizeof(*u));
    u->seq = seq;
    snprintf(u->ind, sizeof(u->ind), "%s", ind);
    u->op = op;
    u->value = value;
    u->period = 2015;
    u->at_ms = at_ms;
}

/* Sends c->out (a batch the test filled) and expects an ack of `last_seq`. */
static void send_and_ack(struct wc_client *c, uint64_t last_seq)
{
    c->out->type = CT_MSG_BATCH;
    snprintf(c->out->batch.agent, sizeof(c->out->batch.agent), "%s", c->agent);
    snprintf(c->out->batch.district, sizeof(c->out->batch.district), "%s", c->district);
    cr_assert_eq(wc_send_msg(c), 0);
    wc_expect_ack(c, last_seq, 0);
}

Test(ingest_fold, random_arrival_matches_the_log, .fini = teardown, .timeout = 300)
{
    static const char *const indicators[] = {"st_enterprises", "rd_centers_municipal",
                                             "hightech_output"};
    struct wc_client *agents[4];
    uint64_t next_seq[4] = {1, 1, 1, 1};
    size_t sent = 0;

    aggtest_start(&agg, "ingest_fold_random");
    aggtest_add_agent(&agg, "a0", "erqi");
    aggtest_add_agent(&agg, "a1", "erqi");
    aggtest_add_agent(&agg, "a2", "jinshui");
    aggtest_add_agent(&agg, "a3", "jinshui");
    agents[0] = agent("a0", "erqi");
    agents[1] = agent("a1", "erqi");
    agents[2] = agent("a2", "jinshui");
    agents[3] = agent("a3", "jinshui");
    srand(20150630);
    while (sent < 4000) {
        int which = rand() % 4;
        struct wc_client *c = agents[which];
        size_t n = 1 + (size_t)(rand() % 60);

        cr_assert_eq(ct_msg_reserve(c->out, CT_MSG_BATCH, n), 0);
        c->out->batch.n_updates = n;
        for (size_t i = 0; i < n; i++) {
            /* five days, three times a day: many ties, many late rows */
            int64_t at = JUNE_28 + (rand() % 5) * DAY + (rand() % 3) * 8 * HOUR;
            struct ct_value v =
                rand() % 3 == 0
                    ? (struct ct_value){CT_VALUE_FLOAT, {.f = (rand() % 200 - 50) / 10.0}}
                    : (struct ct_value){CT_VALUE_INT, {.i = rand() % 120 - 20}};
            set_update(&c->out->batch.updates[i], next_seq[which] + i, indicators[rand() % 3],
                       rand() % 10 < 3 ? CT_OP_SET : CT_OP_ADD, v, at);
        }
        next_seq[which] += n;
        send_and_ack(c, next_seq[which] - 1);
        sent += n;
    }
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), (long long)sent);
    cr_assert_eq(pgtest_scalar(agg.db, mismatch_sql), 0);
    cr_assert_gt(pgtest_scalar(agg.db, "SELECT count(*) FROM daily_values"), 20);
}

Test(ingest_fold, back_dated_set_and_adds_around_a_stored_set, .fini = teardown)
{
    struct wc_client *c = start_with_one_agent("ingest_fold_backdated");
    struct ct_update *u;

    /* 10:00 add 5, 12:00 add 7 */
    cr_assert_eq(ct_msg_reserve(c->out, CT_MSG_BATCH, 3), 0);
    u = c->out->batch.updates;
    c->out->batch.n_updates = 2;
    set_update(&u[0], 1, "st_enterprises", CT_OP_ADD, int_value(5), JUNE_28 + 10 * HOUR);
    set_update(&u[1], 2, "st_enterprises", CT_OP_ADD, int_value(7), JUNE_28 + 12 * HOUR);
    send_and_ack(c, 2);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT value FROM current_values"), 12);

    /* a set at 11:00 arrives late: 100, plus the add of 12:00 that is newer */
    c->out->batch.n_updates = 1;
    set_update(&u[0], 3, "st_enterprises", CT_OP_SET, int_value(100), JUNE_28 + 11 * HOUR);
    send_and_ack(c, 3);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT value FROM current_values"), 107);

    /* adds on both sides of the stored set, in one batch: 9:00 add 1 (before the set, no
     * effect), 13:00 add 2 (after) */
    c->out->batch.n_updates = 2;
    set_update(&u[0], 4, "st_enterprises", CT_OP_ADD, int_value(1), JUNE_28 + 9 * HOUR);
    set_update(&u[1], 5, "st_enterprises", CT_OP_ADD, int_value(2), JUNE_28 + 13 * HOUR);
    send_and_ack(c, 5);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT value FROM current_values"), 109);
    cr_assert_eq(pgtest_scalar(agg.db, mismatch_sql), 0);
}

Test(ingest_fold, sums_too_wide_for_c_are_left_to_postgresql, .fini = teardown)
{
    struct wc_client *c = start_with_one_agent("ingest_fold_wide");
    struct ct_update *u;

    cr_assert_eq(ct_msg_reserve(c->out, CT_MSG_BATCH, 2), 0);
    u = c->out->batch.updates;
    c->out->batch.n_updates = 2;
    set_update(&u[0], 1, "incubation_area", CT_OP_ADD,
               (struct ct_value){CT_VALUE_FLOAT, {.f = 1e300}}, JUNE_28);
    set_update(&u[1], 2, "incubation_area", CT_OP_ADD,
               (struct ct_value){CT_VALUE_FLOAT, {.f = 1e-10}}, JUNE_28);
    send_and_ack(c, 2);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM current_values"
                                       " WHERE value = 1e300::numeric + 1e-10::numeric"),
                 1);
    cr_assert_eq(pgtest_scalar(agg.db, mismatch_sql), 0);
}

Test(ingest_fold, tenths_stay_exact, .fini = teardown)
{
    struct wc_client *c = start_with_one_agent("ingest_fold_tenths");

    cr_assert_eq(ct_msg_reserve(c->out, CT_MSG_BATCH, 2), 0);
    c->out->batch.n_updates = 2;
    set_update(&c->out->batch.updates[0], 1, "tech_contract_turnover", CT_OP_ADD,
               (struct ct_value){CT_VALUE_FLOAT, {.f = 0.1}}, JUNE_28);
    set_update(&c->out->batch.updates[1], 2, "tech_contract_turnover", CT_OP_ADD,
               (struct ct_value){CT_VALUE_FLOAT, {.f = 0.2}}, JUNE_28);
    send_and_ack(c, 2);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM current_values WHERE value = 0.3"), 1);
}
