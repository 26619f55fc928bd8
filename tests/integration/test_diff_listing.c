/* aggregator/diff_listing.c against the SQL it replaced: for a random log with ties, sets
 * and adds, huge and tiny figures, notes that need escaping and every kind of target, the
 * listing replayed in C equals citytally_diff_updates (008) row for row, field for field. */
#include "diff.h"
#include "store_fixture.h"

#include <inttypes.h>

/* Agents, each speaking for its own unit; the 'city' unit carries the city targets. */
static const char *const agents[][2] = {
    {"a-erqi", "erqi"},     {"a-jinshui", "jinshui"}, {"a-zhongyuan", "zhongyuan"},
    {"a-gaoxin", "gaoxin"}, {"a-city", "city"},       {"b-erqi", "erqi"},
};
/* Behind sum, growth, ratio and city targets (and a growth of a ratio). */
static const char *const indicators[] = {
    "complex_started",        "hightech_output",        "hightech_value_added",
    "industrial_value_added", "invention_patents_held", "resident_population",
    "tech_contract_turnover", "st_contribution_rate",   "rd_centers_municipal",
};
static const char *const notes[] = {
    NULL, "", "更正: 上报有误", "say \"hi\"\\ back", "two\nlines\tand a tab", "\x01 control",
};

static unsigned next(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

static void random_value(unsigned *state, char *out, size_t size)
{
    switch (next(state) % 8) {
    case 0:
        snprintf(out, size, "-%u.%02u", next(state) % 50, next(state) % 100);
        break;
    case 1:
        snprintf(out, size, "123456789012345678901234.%u", next(state) % 10);
        break;
    case 2:
        snprintf(out, size, "0.0000000%u", 1 + next(state) % 9);
        break;
    case 3:
        snprintf(out, size, "%u.%03u", next(state) % 5000, next(state) % 1000);
        break;
    default:
        snprintf(out, size, "%u", next(state) % 1000);
    }
}

/* `n` updates observed on the hour between 20 April and 10 July 2015 (so many share an
 * instant), received up to a few seconds later with microseconds, in one statement. */
static void random_log(PGconn *conn, unsigned seed, int n, long long seq_base)
{
    struct ct_buf sql = CT_BUF_INIT;
    long long seqs[sizeof(agents) / sizeof(agents[0])] = {0};
    unsigned state = seed;

    ct_buf_puts(&sql, "INSERT INTO updates (agent_id, seq, district, indicator, period, op,"
                      " value, observed_at, received_at, note) VALUES ");
    for (int i = 0; i < n; i++) {
        size_t a = next(&state) % (sizeof(agents) / sizeof(agents[0]));
        const char *indicator =
            indicators[next(&state) % (sizeof(indicators) / sizeof(indicators[0]))];
        const char *note = notes[next(&state) % (sizeof(notes) / sizeof(notes[0]))];
        int period = next(&state) % 5 == 0 ? 2014 : 2015;
        unsigned hour = next(&state) % (81 * 24);
        char value[64], *quoted_note = NULL;

        random_value(&state, value, sizeof(value));
        if (note != NULL)
            cr_assert_not_null(quoted_note = PQescapeLiteral(conn, note, strlen(note)));
        ct_buf_printf(&sql,
                      "%s('%s', %lld, '%s', '%s', %d, '%s', %s,"
                      " timestamptz '2015-04-20 00:00+08' + %u * interval '1 hour',"
                      " timestamptz '2015-04-20 00:00+08' + %u * interval '1 hour'"
                      " + %u * interval '1 microsecond', %s)",
                      i ? "," : "", agents[a][0], seq_base + ++seqs[a], agents[a][1], indicator,
                      period, next(&state) % 3 == 0 ? "add" : "set", value, hour, hour,
                      next(&state) % 5000000, quoted_note != NULL ? quoted_note : "NULL");
        PQfreemem(quoted_note);
    }
    cr_assert_not(sql.failed);
    pgtest_exec(conn, sql.data);
    ct_buf_free(&sql);
}

static const char *field_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static void expect_same_text(const char *got, const char *want, const char *what, int row)
{
    if (want == NULL)
        cr_assert_null(got, "row %d: %s is %s, not NULL", row, what, got);
    else
        cr_assert(got != NULL && strcmp(got, want) == 0, "row %d: %s is %s, not %s", row, what,
                  got ? got : "NULL", want);
}

/* agg_diff_load's listing against citytally_diff_updates; returns the rows compared. */
static int compare_with_sql(PGconn *conn, PGconn *helper, const char *from, const char *to)
{
    char err[512], sql[1024];
    int64_t from_ms = 0, to_ms = 0;
    struct agg_diff *d = NULL;
    PGresult *want;
    int row = 0;

    cr_assert_eq(ct_time_parse(from, &from_ms, err, sizeof(err)), 0);
    cr_assert_eq(ct_time_parse(to, &to_ms, err, sizeof(err)), 0);
    cr_assert_eq(agg_diff_load(conn, helper, 2015, from_ms, to_ms, &d, err, sizeof(err)), 0, "%s",
                 err);
    snprintf(sql, sizeof(sql),
             "SELECT target_code, agent_id, district, seq, indicator, op, trim_scale(value),"
             " note, (extract(epoch FROM observed_at) * 1000)::bigint,"
             " (extract(epoch FROM received_at) * 1000)::bigint, trim_scale(contribution)"
             " FROM citytally_diff_updates(2015, timestamptz 'epoch' + %" PRId64
             " * interval '1 ms', timestamptz 'epoch' + %" PRId64 " * interval '1 ms')",
             from_ms, to_ms);
    want = PQexec(conn, sql);
    cr_assert_eq(PQresultStatus(want), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
    for (size_t t = 0; t < d->n_targets; t++) {
        const struct agg_diff_target *target = &d->targets[t];
        for (size_t i = 0; i < target->n_updates; i++, row++) {
            const struct agg_diff_update *u = &target->updates[i];
            char ms[32];

            cr_assert_lt(row, PQntuples(want), "the C listing has more rows than SQL's");
            expect_same_text(target->code, PQgetvalue(want, row, 0), "target", row);
            expect_same_text(u->agent, PQgetvalue(want, row, 1), "agent", row);
            expect_same_text(u->district, PQgetvalue(want, row, 2), "district", row);
            expect_same_text(u->seq, PQgetvalue(want, row, 3), "seq", row);
            expect_same_text(u->indicator, PQgetvalue(want, row, 4), "indicator", row);
            expect_same_text(u->op, PQgetvalue(want, row, 5), "op", row);
            expect_same_text(u->value, PQgetvalue(want, row, 6), "value", row);
            expect_same_text(u->note, field_or_null(want, row, 7), "note", row);
            snprintf(ms, sizeof(ms), "%" PRId64, u->observed_ms);
            expect_same_text(ms, PQgetvalue(want, row, 8), "observed_at", row);
            snprintf(ms, sizeof(ms), "%" PRId64, u->received_ms);
            expect_same_text(ms, PQgetvalue(want, row, 9), "received_at", row);
            expect_same_text(u->contribution, field_or_null(want, row, 10), "contribution", row);
        }
    }
    cr_assert_eq(row, PQntuples(want), "the C listing has fewer rows than SQL's");
    PQclear(want);
    agg_diff_free(d);
    return row;
}

Test(diff_listing, a_random_log_lists_as_the_sql_did)
{
    char ci[512];
    PGconn *c = store_db("ct_diff_listing", ci, sizeof(ci));
    int rows;

    random_log(c, 20150630, 3000, 0);
    random_log(c, 20150701, 3000, 100000); /* same agents, later seqs, another statement */
    pgtest_exec(c, "ANALYZE"); /* as autovacuum would have: without statistics, the as-of
                                  figures are planned for an empty log */
    cr_assert_gt(pgtest_scalar(c, "SELECT count(*) FROM (SELECT observed_at FROM updates"
                                  " GROUP BY observed_at HAVING count(DISTINCT agent_id) > 1) t"),
                 100, "the log has instants shared by several agents");
    /* alone; with a second connection reading half of each range; and with one that
     * cannot take the snapshot (already inside a transaction), so the first reads alone */
    for (int pass = 0; pass < 3; pass++) {
        PGconn *helper = pass ? PQconnectdb(ci) : NULL;

        cr_assert(pass == 0 || PQstatus(helper) == CONNECTION_OK);
        if (pass == 2) {
            pgtest_exec(helper, "BEGIN");
            cr_assert_eq(pgtest_scalar(helper, "SELECT 1"), 1);
        }
        rows = compare_with_sql(c, helper, "2015-05-31", "2015-06-30");
        cr_assert_gt(rows, 1500, "a month lists most of its updates (%d)", rows);
        cr_assert_gt(compare_with_sql(c, helper, "2015-04-01", "2015-07-31"), rows,
                     "the whole log");
        cr_assert_gt(
            compare_with_sql(c, helper, "2015-06-15T12:00:00+08:00", "2015-06-15T13:00:00+08:00"),
            0, "one hour with updates");
        cr_assert_eq(compare_with_sql(c, helper, "2015-08-01", "2015-09-30"), 0,
                     "nothing after the log");
        cr_assert(pass == 0 || PQtransactionStatus(helper) == PQTRANS_IDLE,
                  "the helper is left idle");
        PQfinish(helper);
    }
    PQfinish(c);
}

Test(diff_listing, a_sum_target_lists_its_contributions_in_order)
{
    char ci[512], err[512];
    PGconn *c = store_db("ct_diff_listing_sum", ci, sizeof(ci));
    int64_t from = 0, to = 0;
    struct agg_diff *d = NULL;
    const struct agg_diff_target *t = NULL;

    put(c, "a1", 1, "erqi", "rd_centers_municipal", 2015, "set", "12", "2015-05-01T10:00:00+08");
    /* three at one instant: section 2's key orders them by agent in bytes, then seq */
    put(c, "b1", 1, "jinshui", "rd_centers_municipal", 2015, "add", "1", "2015-06-03T10:00:00+08");
    put(c, "a1", 3, "erqi", "rd_centers_municipal", 2015, "add", "0.5", "2015-06-03T10:00:00+08");
    put(c, "a1", 2, "erqi", "rd_centers_municipal", 2015, "set", "20", "2015-06-03T10:00:00+08");
    put(c, "a1", 4, "erqi", "rd_centers_municipal", 2014, "set", "99", "2015-06-04T10:00:00+08");
    cr_assert_eq(ct_time_parse("2015-05-31", &from, err, sizeof(err)), 0);
    cr_assert_eq(ct_time_parse("2015-06-30", &to, err, sizeof(err)), 0);
    cr_assert_eq(agg_diff_load(c, NULL, 2015, from, to, &d, err, sizeof(err)), 0, "%s", err);
    for (size_t i = 0; i < d->n_targets; i++)
        if (strcmp(d->targets[i].code, "rd_centers_municipal") == 0)
            t = &d->targets[i];
    cr_assert_not_null(t);
    cr_assert_str_eq(t->delta, "9.5");
    cr_assert_eq(t->n_updates, 3, "the year before does not move a sum target");
    cr_assert_str_eq(t->updates[0].seq, "2");
    cr_assert_str_eq(t->updates[0].contribution, "8"); /* 12 -> 20 */
    cr_assert_str_eq(t->updates[1].seq, "3");
    cr_assert_str_eq(t->updates[1].contribution, "0.5");
    cr_assert_str_eq(t->updates[2].agent, "b1");
    cr_assert_str_eq(t->updates[2].contribution, "1");
    agg_diff_free(d);
    cr_assert_eq(compare_with_sql(c, NULL, "2015-05-31", "2015-06-30"), 3);
    PQfinish(c);
}
