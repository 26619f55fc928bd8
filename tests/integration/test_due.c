/* `due` (CONTRACT section 9): the welcome and every ack list the rounds whose due day has
 * not passed by more than 30 days, with what this unit has not reported; a restarted
 * daemon reads the same from the database; the collector keeps the last one and shows it
 * in `status` (Chinese and English) and on /metrics. The calendar is written relative to
 * today, so the test means the same on any date. */
#include "aggtest.h"
#include "httpget.h"
#include "store_fixture.h"
#include "wireexpect.h"

#include <math.h>
#include <poll.h>
#include <signal.h>

#define DAY_MS (24LL * 3600 * 1000)

static int last_year;
/* Stopped by the suite's teardown, also when an assertion ended the test half way. */
static struct aggtest t;
static struct proc col;

static void teardown(void)
{
    if (col.pid != 0)
        proc_stop(&col, SIGKILL, 5000);
    if (t.dir[0] != '\0')
        aggtest_stop(&t);
}

TestSuite(due, .fini = teardown, .timeout = 120);
static char due_a[11], due_b[11], due_c[11];

/* YYYY-MM-DD in UTC+8, `days` from now. */
static void date_from_now(int days, char out[11])
{
    char text[CT_TIME_TEXT_MAX];
    ct_time_format(ct_time_now_ms() + days * DAY_MS, text, sizeof(text));
    memcpy(out, text, 10);
    out[10] = '\0';
}

/* Last year's rounds: A overdue by 40 days (not listed), B overdue by 10, C due in 5. */
static void load_calendar(const char *ci, const char *dir)
{
    char path[512], args[2048], out[256], err[2048];
    FILE *f;

    last_year = ct_time_year_of(ct_time_now_ms()) - 1;
    date_from_now(-40, due_a);
    date_from_now(-10, due_b);
    date_from_now(5, due_c);
    snprintf(path, sizeof(path), "%s/calendar.csv", dir);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    fprintf(f,
            "year,round,period_end,due,indicators\n"
            "%d,A,%d-06-30,%s,*\n"
            "%d,B,%d-09-30,%s,hightech_output;rd_centers_municipal;st_contribution_rate\n"
            "%d,C,%d-12-31,%s,*\n",
            last_year, last_year, due_a, last_year, last_year, due_b, last_year, last_year, due_c);
    fclose(f);
    snprintf(args, sizeof(args), "calendar import %s --db '%s'", path, ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
}

static int64_t at(int month, int day)
{
    char text[32], why[64];
    int64_t ms;
    snprintf(text, sizeof(text), "%d-%02d-%02dT12:00:00+08:00", last_year, month, day);
    cr_assert_eq(ct_time_parse(text, &ms, why, sizeof(why)), 0);
    return ms;
}

static bool missing_has(const struct ct_msg *m, size_t round, const char *code)
{
    const struct ct_due_round *r = &m->due.rounds[round];
    for (size_t k = 0; k < r->n_missing; k++) {
        if (strcmp(m->due.missing[r->first_missing + k], code) == 0)
            return true;
    }
    return false;
}

/* B and C, in due order, with B missing `b` codes and C missing `c`. */
static void expect_due(const struct ct_msg *m, size_t b, size_t c)
{
    cr_assert(m->due.has_due, "no due in the %s", ct_msg_type_name(m->type));
    cr_assert_eq(m->due.n_rounds, 2, "A is 40 days overdue and not listed");
    cr_assert_str_eq(m->due.rounds[0].round, "B");
    cr_assert_str_eq(m->due.rounds[0].due, due_b);
    cr_assert_eq(m->due.rounds[0].year, last_year);
    cr_assert_eq(m->due.rounds[0].n_missing, b);
    cr_assert_str_eq(m->due.rounds[1].round, "C");
    cr_assert_str_eq(m->due.rounds[1].due, due_c);
    cr_assert_eq(m->due.rounds[1].n_missing, c);
}

static void send_one(struct wc_client *cl, uint64_t seq, const char *ind, int64_t period,
                     int64_t at_ms)
{
    int64_t value = 7;
    cr_assert_eq(wc_send_batch(cl, seq, 1, ind, CT_OP_SET, &value, period, at_ms), 0);
}

Test(due, welcome_and_every_ack_carry_what_the_unit_still_owes)
{
    struct wc_client *cl;

    aggtest_start(&t, "ct_due_wire");
    load_calendar(t.conninfo, t.dir);
    aggtest_add_agent(&t, "erqi-1", "erqi");
    cl = aggtest_client(&t, "erqi-1", "erqi", NULL, NULL, NULL);
    wc_expect_welcome(cl, 0);
    /* B asks for three codes, one reported by the city only; C for all 33 of a district */
    expect_due(cl->reply, 2, 33);
    cr_assert(missing_has(cl->reply, 0, "hightech_output"));
    cr_assert(missing_has(cl->reply, 0, "rd_centers_municipal"));
    cr_assert_not(missing_has(cl->reply, 0, "st_contribution_rate"));
    cr_assert_not(missing_has(cl->reply, 1, "st_contribution_rate"));

    send_one(cl, 1, "hightech_output", last_year, at(8, 15)); /* B's window */
    wc_expect_ack(cl, 1, 0);
    expect_due(cl->reply, 1, 33);
    cr_assert(missing_has(cl->reply, 0, "rd_centers_municipal"));

    send_one(cl, 2, "incubation_area", last_year, at(11, 1)); /* C's window */
    wc_expect_ack(cl, 2, 0);
    expect_due(cl->reply, 1, 32);
    send_one(cl, 3, "rd_centers_municipal", last_year + 1, at(8, 15)); /* another period */
    wc_expect_ack(cl, 3, 0);
    expect_due(cl->reply, 1, 32);
    cr_assert_not(missing_has(cl->reply, 1, "incubation_area"));

    /* A restarted daemon reads the same from the database */
    cr_assert(proc_stop(&t.proc, SIGTERM, 10000));
    aggtest_restart(&t);
    wc_expect_welcome(cl, 3);
    expect_due(cl->reply, 1, 32);
}

Test(due, the_city_owes_its_own_indicators_too)
{
    struct wc_client *cl;

    aggtest_start(&t, "ct_due_city");
    load_calendar(t.conninfo, t.dir);
    aggtest_add_agent(&t, "city-1", "city");
    cl = aggtest_client(&t, "city-1", "city", NULL, NULL, NULL);
    wc_expect_welcome(cl, 0);
    expect_due(cl->reply, 3, 34);
    cr_assert(missing_has(cl->reply, 0, "st_contribution_rate"));
}

static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return NAN;
}

/* The real collector: submit one figure of round B, then `status` and /metrics say what is
 * still due. */
Test(due, collector_status_and_metrics_show_the_rounds_due)
{
    struct http_reply r = {0};
    char state[512], log_path[512], at_text[40], period[16];
    static char out[16 * 1024];
    long long deadline;
    uint16_t port;
    bool shown = false;

    aggtest_start(&t, "ct_due_collector");
    load_calendar(t.conninfo, t.dir);
    aggtest_add_agent(&t, "erqi-1", "erqi");
    snprintf(state, sizeof(state), "%s/state", t.dir);
    snprintf(log_path, sizeof(log_path), "%s/collector.log", t.dir);
    {
        char *argv[] = {"citytally-collector",
                        "--agent",
                        "erqi-1",
                        "--district",
                        "erqi",
                        "--connect",
                        t.endpoint,
                        "--state-dir",
                        state,
                        "--insecure",
                        "--http",
                        "127.0.0.1:0",
                        "--log-level",
                        "debug",
                        NULL};
        proc_start(&col, log_path, argv);
    }
    cr_assert(proc_wait_log(&col, "serving on", 10000));
    port = http_port_from_log(log_path);
    cr_assert_neq(port, 0);
    snprintf(period, sizeof(period), "%d", last_year);
    ct_time_format(at(8, 15), at_text, sizeof(at_text));
    {
        char *argv[] = {"citytally-collector",
                        "submit",
                        "hightech_output",
                        "5",
                        "--period",
                        period,
                        "--at",
                        at_text,
                        "--state-dir",
                        state,
                        NULL};
        cr_assert_eq(proc_run(argv, out, sizeof(out)), 0, "%s", out);
    }
    cr_assert_eq(aggtest_wait_scalar(&t, "SELECT count(*) FROM updates", 1, 20000), 1);
    /* The ack that carried the new due may still be on its way to the outbox. */
    deadline = proc_now_ms() + 20000;
    while (!shown && proc_now_ms() < deadline) {
        char *argv[] = {"citytally-collector", "status", "--state-dir", state, NULL};
        cr_assert_eq(proc_run(argv, out, sizeof(out)), 0, "%s", out);
        shown = strstr(out, "尚缺 1 项 1 still missing") != NULL;
        if (!shown)
            poll(NULL, 0, 50);
    }
    cr_assert(shown, "status never showed the ack's due:\n%s", out);
    char line[256];
    snprintf(line, sizeof(line), "due 应报:     2 个轮次 rounds, as the aggregator said at ");
    cr_assert_not_null(strstr(out, line), "%s", out);
    snprintf(line, sizeof(line),
             "  %d B  报送期限 due %s, 逾期 10 天 10 days overdue: 尚缺 1 项 1 still missing\n"
             "    市级研发中心 rd_centers_municipal\n",
             last_year, due_b);
    cr_assert_not_null(strstr(out, line), "missing\n%s\nin\n%s", line, out);
    snprintf(line, sizeof(line),
             "  %d C  报送期限 due %s, 还有 5 天 in 5 days: 尚缺 33 项 33 still "
             "missing\n",
             last_year, due_c);
    cr_assert_not_null(strstr(out, line), "missing\n%s\nin\n%s", line, out);
    cr_assert_not_null(strstr(out, "    高新技术产业产值 hightech_output\n"), "%s", out);

    /* /metrics: the next due round is C (B's due day has passed) */
    deadline = proc_now_ms() + 10000;
    do {
        http_reply_free(&r);
        cr_assert_eq(http_get(port, "/metrics", &r), 0);
    } while (metric(r.body, "citytally_due_missing_indicators") != 33 && proc_now_ms() < deadline &&
             poll(NULL, 0, 100) == 0);
    cr_assert_eq(metric(r.body, "citytally_due_missing_indicators"), 33, "%s", r.body);
    http_reply_free(&r);
    cr_assert(proc_stop(&col, SIGTERM, 10000));
}
