/*
 * Plausibility warnings (CONTRACT section 10) against the real daemon, a real PostgreSQL
 * and real sockets: each code is produced where the contract says, carried in the ack,
 * kept in update_warnings, and the warned update is stored and counted all the same.
 */
#include "aggtest.h"
#include "httpget.h"
#include "pgtest.h"
#include "wireclient.h"
#include "wireexpect.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEC_31_2014 1420041600000LL /* 2014-12-31T00:00:00+08:00 */
#define MAY_31_NOON 1433044800000LL /* 2015-05-31T12:00:00+08:00 */
#define JUNE_30_NOON 1435636800000LL

static struct aggtest agg;

static void teardown(void)
{
    aggtest_stop(&agg);
}

static struct wc_client *start(const char *name)
{
    struct wc_client *c;

    aggtest_start(&agg, name);
    aggtest_add_agent(&agg, "erqi-1", "erqi");
    c = aggtest_client(&agg, "erqi-1", "erqi", NULL, NULL, NULL);
    wc_expect_welcome(c, 0);
    return c;
}

/* One set in c->out's batch, appended. */
static void add_set(struct wc_client *c, uint64_t seq, const char *ind, int64_t period,
                    int64_t at_ms, int64_t value, const char *note)
{
    struct ct_msg_batch *b = &c->out->batch;
    struct ct_update *u;

    if (b->n_updates == 0 || c->out->type != CT_MSG_BATCH) {
        c->out->type = CT_MSG_BATCH;
        b->n_updates = 0;
        strcpy(b->agent, c->agent);
        strcpy(b->district, c->district);
    }
    cr_assert_eq(ct_msg_reserve(c->out, CT_MSG_BATCH, b->n_updates + 1), 0);
    u = &b->updates[b->n_updates++];
    memset(u, 0, sizeof(*u));
    u->seq = seq;
    strcpy(u->ind, ind);
    u->op = CT_OP_SET;
    u->value.kind = CT_VALUE_INT;
    u->value.as.i = value;
    u->period = period;
    u->at_ms = at_ms;
    if (note != NULL) {
        u->has_note = true;
        strcpy(u->note, note);
    }
}

/* Sends the batch built with add_set() and expects an ack up to `last_seq` with exactly
 * `n_warnings` warnings and no rejection. */
static void send_expect(struct wc_client *c, uint64_t last_seq, size_t n_warnings)
{
    cr_assert_eq(wc_send_msg(c), 0);
    c->out->batch.n_updates = 0;
    wc_expect_ack(c, last_seq, 0);
    cr_assert_eq(c->reply->ack.n_warnings, n_warnings, "ack %llu has %zu warnings, want %zu%s%s",
                 (unsigned long long)last_seq, c->reply->ack.n_warnings, n_warnings,
                 c->reply->ack.n_warnings ? ": " : "",
                 c->reply->ack.n_warnings ? c->reply->ack.warnings[0].code : "");
}

static void expect_warning(const struct wc_client *c, size_t i, uint64_t seq, const char *code,
                           const char *in_msg)
{
    const struct ct_warning *w = &c->reply->ack.warnings[i];
    cr_assert_eq(w->seq, seq, "warning %zu is for seq %llu, want %llu", i,
                 (unsigned long long)w->seq, (unsigned long long)seq);
    cr_assert_str_eq(w->code, code);
    cr_assert(strstr(w->msg, in_msg) != NULL, "message '%s' lacks '%s'", w->msg, in_msg);
}

Test(ingest_warnings, implausible_yoy_is_warned_and_the_update_still_counts, .fini = teardown)
{
    struct wc_client *c = start("warn_yoy");

    add_set(c, 1, "hightech_output", 2014, DEC_31_2014, 50, NULL);
    send_expect(c, 1, 0);
    add_set(c, 2, "hightech_output", 2015, JUNE_30_NOON, 800, NULL); /* 16 x 2014 */
    send_expect(c, 2, 1);
    expect_warning(c, 0, 2, "implausible_yoy", "800 is 16 times the final value for 2014 (50)");

    /* stored, warned in the database, and counted in progress */
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates WHERE seq = 2"), 1);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates"), 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM update_warnings WHERE agent_id ="
                                       " 'erqi-1' AND seq = 2 AND code = 'implausible_yoy'"
                                       " AND value = 800 AND compared = 50"),
                 1);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT actual FROM citytally_progress(2015, now())"
                                       " WHERE target_code = 'hightech_output'"),
                 800);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT units_reporting FROM citytally_progress(2015,"
                                       " now()) WHERE target_code = 'hightech_output'"),
                 1);

    /* under a tenth is as implausible as over ten times */
    add_set(c, 3, "tech_contract_turnover", 2014, DEC_31_2014, 90, NULL);
    add_set(c, 4, "tech_contract_turnover", 2015, JUNE_30_NOON, 3, NULL);
    send_expect(c, 4, 1);
    expect_warning(c, 0, 4, "implausible_yoy", "3 is 0.0333 times the final value for 2014 (90)");
}

Test(ingest_warnings, a_jump_of_ten_thousand_is_a_unit_slip, .fini = teardown)
{
    struct wc_client *c = start("warn_slip");

    add_set(c, 1, "hightech_output", 2014, DEC_31_2014, 12, NULL);
    add_set(c, 2, "tech_contract_turnover", 2014, DEC_31_2014, 31000, NULL);
    add_set(c, 3, "complex_built_area", 2014, DEC_31_2014, 100, NULL);
    send_expect(c, 3, 0);
    add_set(c, 4, "hightech_output", 2015, JUNE_30_NOON, 123000, NULL);     /* 10,250 x */
    add_set(c, 5, "tech_contract_turnover", 2015, JUNE_30_NOON, 3, NULL);   /* 1/10,333 */
    add_set(c, 6, "complex_built_area", 2015, JUNE_30_NOON, 1110000, NULL); /* 11,100 x: no */
    send_expect(c, 6, 3);
    expect_warning(c, 0, 4, "unit_slip", "about 10,000 times the final value for 2014 (12)");
    expect_warning(c, 1, 5, "unit_slip", "about 1/10,000 of the final value for 2014 (31000)");
    expect_warning(c, 2, 6, "implausible_yoy", "11100 times");
    /* one code per comparison: a slip is not also reported as implausible */
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM update_warnings"), 3);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 6);
}

Test(ingest_warnings, a_set_that_lowers_a_flow_is_a_flow_decrease, .fini = teardown)
{
    struct wc_client *c = start("warn_decrease");

    add_set(c, 1, "hightech_output", 2015, MAY_31_NOON, 100, NULL);
    send_expect(c, 1, 0);
    /* against the stored value, from another batch */
    add_set(c, 2, "hightech_output", 2015, JUNE_30_NOON, 80, NULL);
    send_expect(c, 2, 1);
    expect_warning(c, 0, 2, "flow_decrease", "80 lowers the year-to-date value of a flow from 100");
    /* within one batch: against the set before it */
    add_set(c, 3, "tech_contract_turnover", 2015, MAY_31_NOON, 40, NULL);
    add_set(c, 4, "tech_contract_turnover", 2015, JUNE_30_NOON, 39, NULL);
    /* a stock may go down: no warning */
    add_set(c, 5, "invention_patents_held", 2015, MAY_31_NOON, 500, NULL);
    add_set(c, 6, "invention_patents_held", 2015, JUNE_30_NOON, 490, NULL);
    send_expect(c, 6, 1);
    expect_warning(c, 0, 4, "flow_decrease", "from 40");
    /* a back-dated set lowers history, not the figure: not compared */
    add_set(c, 7, "hightech_output", 2015, MAY_31_NOON - 1000, 10, NULL);
    send_expect(c, 7, 0);

    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 7);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT value FROM current_values WHERE district = 'erqi'"
                                       " AND indicator = 'hightech_output' AND period = 2015"),
                 80);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT actual FROM citytally_progress(2015, now())"
                                       " WHERE target_code = 'hightech_output'"),
                 80);
}

Test(ingest_warnings, sending_the_figure_again_with_a_note_confirms_it, .fini = teardown)
{
    struct wc_client *c = start("warn_confirm");

    add_set(c, 1, "hightech_output", 2014, DEC_31_2014, 50, NULL);
    add_set(c, 2, "hightech_output", 2015, MAY_31_NOON, 800, NULL);
    send_expect(c, 2, 1);
    /* the same figure again without a note: still implausible */
    add_set(c, 3, "hightech_output", 2015, MAY_31_NOON + 1000, 800, NULL);
    send_expect(c, 3, 1);
    expect_warning(c, 0, 3, "implausible_yoy", "16 times");
    /* with a note: confirmed, nothing raised */
    add_set(c, 4, "hightech_output", 2015, JUNE_30_NOON, 800, "new park opened in May");
    send_expect(c, 4, 0);
    /* a note alone does not excuse a different figure */
    add_set(c, 5, "hightech_output", 2015, JUNE_30_NOON + 1000, 900, "typo fixed");
    send_expect(c, 5, 1);
    expect_warning(c, 0, 5, "implausible_yoy", "18 times");
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM update_warnings"), 3);
}

Test(ingest_warnings, a_resent_batch_gets_its_warnings_again, .fini = teardown)
{
    struct wc_client *c = start("warn_resend");

    add_set(c, 1, "hightech_output", 2015, MAY_31_NOON, 100, NULL);
    add_set(c, 2, "hightech_output", 2015, JUNE_30_NOON, 60, NULL);
    cr_assert_eq(wc_send_msg(c), 0);
    wc_expect_ack(c, 2, 0);
    cr_assert_eq(c->reply->ack.n_warnings, 1);
    /* the collector never saw that ack: it sends the same batch again */
    cr_assert_eq(wc_send_msg(c), 0);
    wc_expect_ack(c, 2, 0);
    cr_assert_eq(c->reply->ack.n_warnings, 1);
    expect_warning(c, 0, 2, "flow_decrease", "from 100");
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 2);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM update_warnings"), 1);
}

Test(ingest_warnings, plausibility_off_checks_nothing, .fini = teardown)
{
    char conf[128];
    FILE *f;

    snprintf(conf, sizeof(conf), "/tmp/ct-warn-off-%d.conf", (int)getpid());
    f = fopen(conf, "w");
    cr_assert(f != NULL);
    fputs("[ingest]\nplausibility = off\n", f);
    fclose(f);
    agg.extra_args[0] = "-c";
    agg.extra_args[1] = conf;
    agg.extra_args[2] = NULL;
    struct wc_client *c = start("warn_off");
    unlink(conf);

    add_set(c, 1, "hightech_output", 2015, MAY_31_NOON, 100, NULL);
    add_set(c, 2, "hightech_output", 2015, JUNE_30_NOON, 60, NULL);
    send_expect(c, 2, 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM update_warnings"), 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 2);
}

Test(ingest_warnings, the_dashboard_shows_a_warning_beside_the_figure_until_confirmed,
     .fini = teardown)
{
    struct http_reply r = {0};
    uint16_t port;

    agg.extra_args[0] = "--http";
    agg.extra_args[1] = "127.0.0.1:0";
    agg.extra_args[2] = NULL;
    struct wc_client *c = start("warn_dashboard");
    port = http_port_from_log(agg.proc.log_path);
    cr_assert_neq(port, 0);

    add_set(c, 1, "hightech_output", 2014, DEC_31_2014, 50, NULL);
    add_set(c, 2, "hightech_output", 2015, MAY_31_NOON, 800, NULL);
    send_expect(c, 2, 1);
    cr_assert_eq(http_get(port, "/?year=2015", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "<span class=\"warn\" data-target=\"hightech_output\" "
                             "data-district=\"erqi\" data-code=\"implausible_yoy\"") != NULL,
              "no warning beside erqi's hightech_output figure");
    cr_assert(strstr(r.body, "<small>800 is 16 times the final value for 2014 (50); send it "
                             "again with a note to confirm it</small>") != NULL);
    /* a past day's page does not guess which set its figure rests on */
    http_reply_free(&r);
    cr_assert_eq(http_get(port, "/?year=2015&as_of=2015-06-30", &r), 0);
    cr_assert(strstr(r.body, "<span class=\"warn\"") == NULL);

    /* confirmed with a note: the figure is the same, the warning gone */
    add_set(c, 3, "hightech_output", 2015, JUNE_30_NOON, 800, "new park opened in May");
    send_expect(c, 3, 0);
    http_reply_free(&r);
    cr_assert_eq(http_get(port, "/?year=2015", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "<span class=\"warn\"") == NULL,
              "the confirmed figure is still warned");
    http_reply_free(&r);
}
