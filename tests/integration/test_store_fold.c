/* The fold trigger keeps current_values and daily_values equal to what the log says, for
 * in-order and out-of-order COPYs, and under two concurrent writers. */
#include "fold_oracle.h"
#include "store_fixture.h"

#include <pthread.h>

static const char *const mismatch_sql = FOLD_ORACLE_CURRENT_MISMATCHES;
static const char *const daily_mismatch_sql = FOLD_ORACLE_DAILY_MISMATCHES;

Test(store_fold, current_and_daily_values_follow_the_log)
{
    char ci[512];
    PGconn *c = store_db("ct_fold_basic", ci, sizeof(ci));

    put(c, "a", 1, "erqi", "rd_centers_municipal", 2015, "set", "5", "2015-03-01T10:00:00+08");
    put(c, "a", 2, "erqi", "rd_centers_municipal", 2015, "add", "2", "2015-03-01T11:00:00+08");
    put(c, "a", 3, "erqi", "rd_centers_municipal", 2015, "add", "3", "2015-03-02T09:00:00+08");
    cr_assert_eq(pgtest_scalar(c, "SELECT value FROM current_values"), 10);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM daily_values"), 2,
                 "one end-of-day row per day with updates");
    cr_assert_eq(pgtest_scalar(c, "SELECT value FROM daily_values"
                                  " WHERE day = citytally_day('2015-03-01T12:00:00+08')"),
                 7);
    /* late: an add observed on the 1st, before the set: no change but to the count */
    put(c, "b", 1, "erqi", "rd_centers_municipal", 2015, "add", "100", "2015-03-01T08:00:00+08");
    cr_assert_eq(pgtest_scalar(c, "SELECT value FROM current_values"), 10);
    cr_assert_eq(pgtest_scalar(c, "SELECT updates FROM current_values"), 4);
    /* late: a set on a day that had no updates yet gets its own end-of-day row */
    put(c, "b", 2, "erqi", "rd_centers_municipal", 2015, "set", "1", "2015-02-27T08:00:00+08");
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM daily_values"), 3);
    cr_assert_eq(pgtest_scalar(c, mismatch_sql), 0);
    cr_assert_eq(pgtest_scalar(c, daily_mismatch_sql), 0);
    /* The oracles themselves can fail: a wrong row is counted, once. (The daily oracle
     * reads earlier days' rows and current_values, so one row is spoiled at a time.) */
    pgtest_exec(c, "UPDATE daily_values SET value = value + 1"
                   " WHERE day = citytally_day('2015-03-01T12:00:00+08')");
    cr_assert_eq(pgtest_scalar(c, daily_mismatch_sql), 1);
    cr_assert_eq(pgtest_scalar(c, mismatch_sql), 0);
    pgtest_exec(c, "UPDATE current_values SET value = value + 1");
    cr_assert_eq(pgtest_scalar(c, mismatch_sql), 1);
    PQfinish(c);
}

struct writer {
    const char *conninfo;
    int id;
    int ok;
};

/* 40 transactions of 50 rows each, over six shared keys, times interleaving with the
 * other writer's; each batch's rows are in time order but batches overlap in time. */
static void *write_batches(void *arg)
{
    struct writer *w = arg;
    PGconn *conn = PQconnectdb(w->conninfo);
    char sql[16384];

    w->ok = PQstatus(conn) == CONNECTION_OK;
    for (int b = 0; b < 40 && w->ok; b++) {
        size_t k = (size_t)snprintf(sql, sizeof(sql),
                                    "INSERT INTO updates (agent_id, seq, district, indicator,"
                                    " period, op, value, observed_at) VALUES ");
        for (int i = 0; i < 50; i++) {
            int n = b * 50 + i;
            k += (size_t)snprintf(sql + k, sizeof(sql) - k,
                                  "%s('w%d', %d, '%s', '%s', 2015, '%s', %d.%d,"
                                  " timestamptz '2015-03-01T00:00:00+08' + interval '%d minutes')",
                                  i ? "," : "", w->id, n + 1, (n % 3) ? "erqi" : "jinshui",
                                  (n % 2) ? "rd_centers_municipal" : "st_enterprises",
                                  (n % 7 == 0) ? "set" : "add", (n * 37 + w->id) % 50 - 10, n % 10,
                                  n * 7 + w->id * 3);
        }
        PGresult *res = PQexec(conn, sql);
        w->ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!w->ok)
            fprintf(stderr, "writer %d: %s", w->id, PQerrorMessage(conn));
        PQclear(res);
    }
    PQfinish(conn);
    return NULL;
}

Test(store_fold, two_concurrent_writers_keep_values_exact, .timeout = 120)
{
    char ci[512];
    PGconn *c = store_db("ct_fold_concurrent", ci, sizeof(ci));
    struct writer w[2] = {{ci, 1, 0}, {ci, 2, 0}};
    pthread_t t[2];

    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, write_batches, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        cr_assert(w[i].ok, "writer %d failed (see stderr)", i + 1);
    }
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM updates"), 4000);
    cr_assert_eq(pgtest_scalar(c, "SELECT sum(updates) FROM current_values"), 4000);
    cr_assert_eq(pgtest_scalar(c, mismatch_sql), 0);
    cr_assert_eq(pgtest_scalar(c, daily_mismatch_sql), 0);
    PQfinish(c);
}

Test(store_fold, a_rolled_back_copy_leaves_no_trace)
{
    char ci[512];
    PGconn *c = store_db("ct_fold_rollback", ci, sizeof(ci));

    put(c, "a", 1, "erqi", "rd_centers_municipal", 2015, "set", "5", "2015-03-01T10:00:00+08");
    pgtest_exec(c, "BEGIN");
    put(c, "a", 2, "erqi", "rd_centers_municipal", 2015, "set", "50", "2015-03-02T10:00:00+08");
    cr_assert_eq(pgtest_scalar(c, "SELECT value FROM current_values"), 50);
    pgtest_exec(c, "ROLLBACK");
    cr_assert_eq(pgtest_scalar(c, "SELECT value FROM current_values"), 5);
    cr_assert_eq(pgtest_scalar(c, "SELECT count(*) FROM daily_values"), 1);
    PQfinish(c);
}
