/*
 * The aggregator's writers (aggregator/writer.h): each district is committed by one writer
 * on its own connection, so a transaction that cannot go on holds up only its own
 * districts, and several writers together still store every update exactly once.
 */
#include "aggtest.h"
#include "pgtest.h"
#include "wireclient.h"
#include "wireexpect.h"

#include <criterion/criterion.h>
#include <string.h>

#define JUNE_30_NOON 1435636800000LL /* 2015-06-30T12:00:00+08:00 */

static struct aggtest agg;

static void teardown(void)
{
    aggtest_stop(&agg);
}

static struct wc_client *welcomed_client(const char *agent, const char *district)
{
    struct wc_client *c = aggtest_client(&agg, agent, district, NULL, NULL, NULL);

    wc_expect_welcome(c, 0);
    return c;
}

/* Units in bytewise order are city, dengfeng, erqi, ...: with two writers erqi (third)
 * goes to writer 0 and dengfeng (second) to writer 1. Fails with --writers 1: no ack for
 * dengfeng while erqi waits. */
Test(ingest_writers, a_blocked_district_does_not_hold_up_another_writers_districts,
     .fini = teardown)
{
    int64_t values[2] = {40, 2};
    PGconn *blocker;

    aggtest_start(&agg, "writers_blocked");
    aggtest_add_agent(&agg, "erqi-1", "erqi");
    aggtest_add_agent(&agg, "dengfeng-1", "dengfeng");
    struct wc_client *erqi = welcomed_client("erqi-1", "erqi");
    struct wc_client *dengfeng = welcomed_client("dengfeng-1", "dengfeng");

    /* Another session holds erqi-1's row, as a long transaction would: the writer that
     * commits erqi must wait for it. */
    blocker = PQconnectdb(agg.conninfo);
    cr_assert_eq(PQstatus(blocker), CONNECTION_OK);
    pgtest_exec(blocker, "BEGIN");
    pgtest_exec(blocker, "SELECT * FROM agents WHERE agent_id = 'erqi-1' FOR UPDATE");

    cr_assert_eq(
        wc_send_batch(erqi, 1, 2, "rd_centers_municipal", CT_OP_ADD, values, 2015, JUNE_30_NOON),
        0);
    cr_assert_eq(aggtest_wait_scalar(&agg,
                                     "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a"
                                     " USING (pid) WHERE NOT l.granted"
                                     " AND a.application_name = 'citytally-aggregator'",
                                     1, WC_REPLY_MS),
                 1, "erqi's writer never waited for the lock");

    /* dengfeng is committed and acked while erqi's transaction still waits. */
    cr_assert_eq(wc_send_batch(dengfeng, 1, 2, "rd_centers_municipal", CT_OP_ADD, values, 2015,
                               JUNE_30_NOON),
                 0);
    wc_expect_ack(dengfeng, 2, 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates WHERE district = 'dengfeng'"),
                 2);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates WHERE district = 'erqi'"), 0);
    cr_assert_eq(wc_recv(erqi, 0), -1, "erqi was answered while its row was locked");

    /* The directory reloads while a writer is stuck: a new agent is welcomed and served. */
    aggtest_add_agent(&agg, "dengfeng-2", "dengfeng");
    struct wc_client *newcomer = welcomed_client("dengfeng-2", "dengfeng");
    cr_assert_eq(wc_send_batch(newcomer, 1, 2, "rd_centers_municipal", CT_OP_ADD, values, 2015,
                               JUNE_30_NOON),
                 0);
    wc_expect_ack(newcomer, 2, 0);
    cr_assert_eq(wc_recv(erqi, 0), -1, "erqi was answered while its row was locked");

    pgtest_exec(blocker, "COMMIT");
    PQfinish(blocker);
    wc_expect_ack(erqi, 2, 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT sum(value) FROM updates WHERE district = 'erqi'"),
                 42);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT last_seq FROM agents WHERE agent_id = 'erqi-1'"), 2);
}

/* Sixteen districts spread over four writers, 16 x 3,000 updates in batches of 100 with a
 * window of 4: every update stored once, every agent's sum and the city total exact. */
Test(ingest_writers, four_writers_store_every_update_exactly_once, .fini = teardown)
{
    static const char *const districts[] = {"zhongyuan", "erqi",   "guancheng",    "jinshui",
                                            "shangjie",  "huiji",  "zhongmu",      "gongyi",
                                            "xingyang",  "xinmi",  "xinzheng",     "dengfeng",
                                            "jingkai",   "gaoxin", "hangkonggang", "zhengdong"};
    const size_t n_agents = sizeof(districts) / sizeof(districts[0]);
    const uint64_t per_agent = 3000;
    struct loadgen_config cfg = {.agent_prefix = "w",
                                 .districts = districts,
                                 .n_districts = n_agents,
                                 .agents = n_agents,
                                 .updates_per_agent = per_agent,
                                 .batch = 100,
                                 .window = 4,
                                 .timeout_ms = WC_REPLY_MS,
                                 .indicator = "st_enterprises",
                                 .period = 2015,
                                 .at_ms = JUNE_30_NOON};
    struct loadgen_result result;
    char sql[256];

    agg.extra_args[0] = "--writers";
    agg.extra_args[1] = "4";
    agg.extra_args[2] = NULL;
    aggtest_start(&agg, "writers_four");
    for (size_t i = 0; i < n_agents; i++) {
        char id[32];
        snprintf(id, sizeof(id), "w%zu", i);
        aggtest_add_agent(&agg, id, districts[i]);
    }
    cr_assert_eq(
        aggtest_wait_scalar(&agg, "SELECT count(*) FROM agents", (long long)n_agents, WC_REPLY_MS),
        (long long)n_agents);
    struct loadgen *lg = aggtest_loadgen(&agg, &cfg);
    cr_assert_eq(loadgen_run(lg, proc_now_ms() + 120000, NULL, NULL, &result), 0,
                 "acked %llu of %llu", (unsigned long long)result.acked,
                 (unsigned long long)(per_agent * n_agents));

    cr_assert_eq(result.acked, per_agent * n_agents);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"),
                 (long long)(per_agent * n_agents));
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(DISTINCT (agent_id, seq)) FROM updates"),
                 (long long)(per_agent * n_agents));
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM (SELECT agent_id, sum(value) s FROM updates GROUP BY"
             " agent_id) t WHERE s <> %lld",
             (long long)loadgen_total(per_agent));
    cr_assert_eq(pgtest_scalar(agg.db, sql), 0, "an agent's sum is wrong");
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT actual FROM citytally_progress(2015, now())"
                                       " WHERE target_code = 'st_enterprises'"),
                 (long long)n_agents * loadgen_total(per_agent));
}

/* The statements after the COPY go to PostgreSQL in one pipeline, so a refusal of one
 * aborts the ones after it. Whichever is refused -- the fold, the last_seq update or the
 * COMMIT itself -- the whole group is rolled back and refused as unavailable, the log
 * names the statement, and the same writer's next transaction on the same connection
 * stores the resent batch exactly once. */
Test(ingest_writers, a_refused_statement_rolls_back_the_group_and_the_writer_goes_on,
     .fini = teardown)
{
    static const struct {
        const char *table, *log, *create;
    } traps[] = {
        {"current_values", "folding current values: ERROR:  trapped",
         "CREATE TRIGGER trap BEFORE INSERT OR UPDATE ON current_values"
         " FOR EACH ROW EXECUTE FUNCTION trap()"},
        {"agents", "saving last_seq: ERROR:  trapped",
         "CREATE TRIGGER trap BEFORE UPDATE ON agents FOR EACH ROW EXECUTE FUNCTION trap()"},
        {"updates", "COMMIT: ERROR:  trapped",
         "CREATE CONSTRAINT TRIGGER trap AFTER INSERT ON updates DEFERRABLE INITIALLY DEFERRED"
         " FOR EACH ROW EXECUTE FUNCTION trap()"},
    };
    int64_t values[2] = {40, 2};
    char sql[128];

    aggtest_start(&agg, "writers_refused");
    aggtest_add_agent(&agg, "erqi-1", "erqi");
    struct wc_client *erqi = welcomed_client("erqi-1", "erqi");
    pgtest_exec(agg.db, "CREATE FUNCTION trap() RETURNS trigger LANGUAGE plpgsql"
                        " AS $$ BEGIN RAISE EXCEPTION 'trapped'; END $$");
    cr_assert_eq(wc_send_batch(erqi, 1, 2, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON),
                 0);
    wc_expect_ack(erqi, 2, 0);

    for (size_t i = 0; i < sizeof(traps) / sizeof(traps[0]); i++) {
        uint64_t seq = 3 + 2 * i;

        pgtest_exec(agg.db, traps[i].create);
        cr_assert_eq(
            wc_send_batch(erqi, seq, 2, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON),
            0);
        wc_expect_error(erqi, CT_WERR_UNAVAILABLE, 0);
        cr_assert(proc_wait_log(&agg.proc, traps[i].log, WC_REPLY_MS), "no \"%s\" in the log",
                  traps[i].log);
        cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), (long long)seq - 1,
                     "the refused %s left rows behind", traps[i].table);
        cr_assert_eq(pgtest_scalar(agg.db, "SELECT last_seq FROM agents"), (long long)seq - 1);
        cr_assert_eq(pgtest_scalar(agg.db, "SELECT actual FROM citytally_progress(2015, now())"
                                           " WHERE target_code = 'st_enterprises'"),
                     42 * (long long)(i + 1));

        snprintf(sql, sizeof(sql), "DROP TRIGGER trap ON %s", traps[i].table);
        pgtest_exec(agg.db, sql);
        cr_assert_eq(
            wc_send_batch(erqi, seq, 2, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON),
            0);
        wc_expect_ack(erqi, seq + 1, 0);
        cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), (long long)seq + 1);
        cr_assert_eq(pgtest_scalar(agg.db, "SELECT actual FROM citytally_progress(2015, now())"
                                           " WHERE target_code = 'st_enterprises'"),
                     42 * (long long)(i + 2));
    }
}
