/*
 * test_delivery_refill.c - CONTRACT section 7, refill after a restore, with real processes:
 * the real collectors and aggregator, a real pg_dump and pg_restore of the test database,
 * ipc:// sockets.
 *
 * - The bureau's database is restored from a dump taken mid-stream: each collector
 *   resends, from the acknowledged updates it kept (keep_acked), what the dump lacks, and
 *   the store ends exactly equal to what had been acknowledged (count, distinct seqs,
 *   exact sum per agent), with nothing renumbered.
 * - keep_acked too short: the collector names the seqs it no longer holds (log and
 *   `status`), sends nothing, and goes on once the bureau runs `agent skip --to SEQ`,
 *   which leaves a row saying which seqs were given up and by whom.
 *
 * Every update carries its own value, so an exact sum tells that each arrived once.
 */
#include "delivery_fixture.h"

#include <pwd.h>

#define DBNAME_RESTORE "refill_restore"
#define DBNAME_SKIP "refill_skip"
#define JINSHUI_TOTAL 20120

static const struct delivery_agent erqi = {"sw-erqi", "erqi"};
static const struct delivery_agent jinshui = {"sw-jinshui", "jinshui"};

static struct delivery_fixture fx;

static void setup(void)
{
    df_setup(&fx, "refill");
}

static void teardown(void)
{
    df_teardown(&fx);
}

TestSuite(refill, .init = setup, .fini = teardown, .timeout = 300);

/* Runs `citytally-aggregator A1 .. A5 --db CONNINFO` (trailing NULLs leave arguments out). */
static int aggregator_cmd(char *out, size_t out_size, const char *a1, const char *a2,
                          const char *a3, const char *a4, const char *a5)
{
    const char *given[] = {a1, a2, a3, a4, a5, NULL};
    return df_aggregator_run(&fx, given, out, out_size);
}

static void fresh_db(const char *name)
{
    const struct delivery_agent agents[] = {erqi, jinshui};
    df_fresh_db(&fx, name, agents, 2);
}

static const char *pg_tool(const char *name)
{
    static char path[2][512];
    static int next;
    const char *bin = getenv("PGBIN") ? getenv("PGBIN") : "/usr/lib/postgresql/15/bin";
    char *p = path[next++ % 2];
    snprintf(p, sizeof(path[0]), "%s/%s", bin, name);
    return p;
}

/* pg_dump of the whole test database into ROOT/NAME (custom format). */
static void dump_db(const char *name)
{
    char file[128], out[8192];
    snprintf(file, sizeof(file), "%s/%s", fx.root, name);
    const char *argv[] = {pg_tool("pg_dump"), "-Fc", "-f", file, "-d", fx.conninfo, NULL};
    cr_assert_eq(ts_run(argv, out, sizeof(out)), 0, "pg_dump: %s", out);
}

/* What a bureau does after losing its database: a new, empty one, and pg_restore of the
 * last dump into it. The aggregator must be stopped. */
static void restore_db(const char *dbname, const char *dump)
{
    char file[128], out[8192];
    PQfinish(fx.db);
    fx.db = NULL; /* teardown must not close it again should the restore fail */
    fx.db = pgtest_fresh_db(dbname, fx.conninfo, sizeof(fx.conninfo));
    snprintf(file, sizeof(file), "%s/%s", fx.root, dump);
    const char *argv[] = {pg_tool("pg_restore"), "--exit-on-error", "-d", fx.conninfo, file, NULL};
    cr_assert_eq(ts_run(argv, out, sizeof(out)), 0, "pg_restore: %s", out);
}

/* Starts the aggregator (endpoint ipc://ROOT/agg, log ROOT/agg.log) and waits for "ready"
 * (counting the ready lines, since a restart appends to the same log). */
static pid_t start_aggregator(int nth_start)
{
    return df_start_aggregator(&fx, "agg", "agg", "off", nth_start);
}

/* A collector for `a` with state ROOT/ID and log ROOT/ID.log; `keep_acked` may be NULL. */
static pid_t start_collector(const struct delivery_agent *a, const char *keep_acked)
{
    return df_start_collector(&fx, &(struct delivery_collector){.agent = a->id,
                                                                .district = a->district,
                                                                .state = a->id,
                                                                .connect = "agg",
                                                                .ack_timeout = "5s",
                                                                .batch_max = "50",
                                                                .keep_acked = keep_acked});
}

/* Queues `rows` updates `add V` with V = first .. first + rows - 1 for `a`, through
 * `citytally-collector import` (safe while the daemon runs). */
static void import_values(const struct delivery_agent *a, long long first, size_t rows)
{
    df_import_values(&fx, a->id, NULL, first, rows);
}

static long long stored(const struct delivery_agent *a, const char *what)
{
    return df_stored(&fx, a->id, what);
}

static long long agent_last_seq(const struct delivery_agent *a)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT last_seq FROM agents WHERE agent_id = '%s'", a->id);
    return pgtest_scalar(fx.db, sql);
}

/* Rows in the pending table of the collector of `a`. */
static long long outbox_pending(const struct delivery_agent *a)
{
    return df_outbox_pending(&fx, a->id);
}

/* Every update of `a` with seq 1..n was acknowledged and the collector holds none. */
static bool all_acked(const struct delivery_agent *a, long long n)
{
    return stored(a, "count(*)") == n && agent_last_seq(a) == n && outbox_pending(a) == 0;
}

/* Exactly the updates with seqs and values first..last, each once. */
static void assert_exactly(const struct delivery_agent *a, long long first, long long last)
{
    long long n = last - first + 1;
    cr_assert_eq(stored(a, "count(*)"), n, "%s", a->id);
    cr_assert_eq(stored(a, "count(DISTINCT seq)"), n, "%s", a->id);
    cr_assert_eq(stored(a, "min(seq)"), first, "%s", a->id);
    cr_assert_eq(stored(a, "max(seq)"), last, "%s", a->id);
    cr_assert_eq(stored(a, "count(*) FILTER (WHERE value <> seq)"), 0, "%s", a->id);
    cr_assert_eq(stored(a, "sum(value)::bigint"), (first + last) * n / 2, "%s", a->id);
}

static bool collector_status_says(const struct delivery_agent *a, const char *text)
{
    char state_dir[128], out[16384];
    snprintf(state_dir, sizeof(state_dir), "%s/%s", fx.root, a->id);
    const char *argv[] = {ts_bin("citytally-collector"), "status", "--state-dir", state_dir, NULL};
    ts_run(argv, out, sizeof(out));
    return strstr(out, text) != NULL;
}

Test(refill, a_database_restored_from_a_mid_stream_dump_ends_exactly_as_acknowledged)
{
    fresh_db(DBNAME_RESTORE);
    pid_t agg = start_aggregator(1);
    pid_t c1 = start_collector(&erqi, NULL), c2 = start_collector(&jinshui, NULL);

    import_values(&erqi, 1, 300);
    import_values(&jinshui, 1, 120);
    cr_assert(WAIT_FOR(all_acked(&erqi, 300) && all_acked(&jinshui, 120), 60000),
              "stored %lld and %lld", stored(&erqi, "count(*)"), stored(&jinshui, "count(*)"));
    /* The night's backup, taken while jinshui streams 20,000 more (its part of the dump
     * ends anywhere from 120 to 20,120); erqi's updates from 301 on are all acknowledged
     * after it. */
    import_values(&jinshui, 121, JINSHUI_TOTAL - 120);
    cr_assert(WAIT_FOR(stored(&jinshui, "count(*)") > 120, 30000));
    dump_db("night.dump");
    import_values(&erqi, 301, 700);
    cr_assert(WAIT_FOR(all_acked(&erqi, 1000) && all_acked(&jinshui, JINSHUI_TOTAL), 60000),
              "stored %lld and %lld", stored(&erqi, "count(*)"), stored(&jinshui, "count(*)"));

    /* The database is lost and restored from the night's dump. */
    df_stop(&fx, agg);
    restore_db(DBNAME_RESTORE, "night.dump");
    cr_assert_eq(agent_last_seq(&erqi), 300);
    cr_assert_eq(stored(&erqi, "count(*)"), 300);
    long long jinshui_dumped = agent_last_seq(&jinshui);
    cr_assert(jinshui_dumped > 120 && jinshui_dumped <= JINSHUI_TOTAL, "%lld", jinshui_dumped);
    cr_assert_eq(stored(&jinshui, "count(*)"), jinshui_dumped);
    cr_log_info("jinshui's part of the dump ends at seq %lld", jinshui_dumped);
    agg = start_aggregator(2);

    cr_assert(WAIT_FOR(all_acked(&erqi, 1000) && all_acked(&jinshui, JINSHUI_TOTAL), 60000),
              "stored %lld and %lld; erqi's log:\n%s", stored(&erqi, "count(*)"),
              stored(&jinshui, "count(*)"), ts_slurp(df_log(&fx, erqi.id)));
    assert_exactly(&erqi, 1, 1000);
    assert_exactly(&jinshui, 1, JINSHUI_TOTAL);
    cr_assert(ts_file_contains(df_log(&fx, erqi.id), "Resending seqs 301 to 1000 from the "
                                                     "acknowledged updates kept here"));
    if (jinshui_dumped < JINSHUI_TOTAL) {
        char line[64];
        snprintf(line, sizeof(line), "Resending seqs %lld to %d", jinshui_dumped + 1,
                 JINSHUI_TOTAL);
        cr_assert(ts_file_contains(df_log(&fx, jinshui.id), line));
    }
    cr_assert(!ts_file_contains(df_log(&fx, erqi.id), "Renumbered"), "nothing may be renumbered");
    cr_assert(!ts_file_contains(df_log(&fx, jinshui.id), "Renumbered"),
              "nothing may be renumbered");

    /* And delivery simply goes on. */
    import_values(&erqi, 1001, 10);
    cr_assert(WAIT_FOR(all_acked(&erqi, 1010), 30000));
    assert_exactly(&erqi, 1, 1010);
    df_stop(&fx, c1);
    df_stop(&fx, c2);
    df_stop(&fx, agg);
}

Test(refill, after_keep_acked_ran_out_the_collector_waits_for_agent_skip)
{
    char out[4096];
    fresh_db(DBNAME_SKIP);
    pid_t agg = start_aggregator(1);
    /* Forgets what was acknowledged a millisecond after the ack. */
    pid_t c = start_collector(&erqi, "1ms");

    import_values(&erqi, 1, 200);
    cr_assert(WAIT_FOR(all_acked(&erqi, 200), 60000));
    dump_db("night.dump");
    import_values(&erqi, 201, 300);
    cr_assert(WAIT_FOR(all_acked(&erqi, 500), 60000));
    df_stop(&fx, agg);
    restore_db(DBNAME_SKIP, "night.dump");
    agg = start_aggregator(2);

    /* 201..500 were acknowledged and are gone from the outbox: named, and nothing sent. */
    cr_assert(WAIT_FOR(ts_file_contains(df_log(&fx, erqi.id), "seqs 201-500 (300 in all) are no "
                                                              "longer kept here"),
                       30000),
              "collector log:\n%s", ts_slurp(df_log(&fx, erqi.id)));
    cr_assert(ts_file_contains(df_log(&fx, erqi.id),
                               "until the bureau runs `citytally-aggregator agent skip sw-erqi "
                               "--to 500`"));
    cr_assert(collector_status_says(&erqi, "201-500"));
    /* New updates wait too, with the seqs they were given. */
    import_values(&erqi, 501, 10);
    cr_assert_eq(outbox_pending(&erqi), 10);
    cr_assert_eq(stored(&erqi, "count(*)"), 200);
    cr_assert_eq(agent_last_seq(&erqi), 200);

    /* Refused with one clear line each, changing nothing. */
    cr_assert_eq(aggregator_cmd(out, sizeof(out), "agent", "skip", "nobody", "--to", "500"), 1);
    cr_assert(strstr(out, "unknown agent 'nobody'") != NULL, "%s", out);
    cr_assert_eq(aggregator_cmd(out, sizeof(out), "agent", "skip", erqi.id, "--to", "200"), 1);
    cr_assert(strstr(out, "agent 'sw-erqi' is already at seq 200; --to must be above that") != NULL,
              "%s", out);
    cr_assert_eq(aggregator_cmd(out, sizeof(out), "agent", "skip", erqi.id, NULL, NULL), 2);
    cr_assert(strstr(out, "skip needs --to SEQ") != NULL, "%s", out);
    cr_assert_eq(aggregator_cmd(out, sizeof(out), "agent", "skip", erqi.id, "--to", "5x"), 2);
    cr_assert(strstr(out, "--to must be a seq (a whole number from 1)") != NULL, "%s", out);
    cr_assert_eq(aggregator_cmd(out, sizeof(out), "agent", "remove", erqi.id, "--to", "500"), 2);
    cr_assert(strstr(out, "--to goes with skip only") != NULL, "%s", out);
    cr_assert_eq(pgtest_scalar(fx.db, "SELECT count(*) FROM agent_gaps"), 0);

    cr_assert_eq(aggregator_cmd(out, sizeof(out), "agent", "skip", erqi.id, "--to", "500"), 0, "%s",
                 out);
    cr_assert(strstr(out, "agent sw-erqi: seqs 201 to 500 recorded as lost") != NULL, "%s", out);
    cr_assert_eq(pgtest_scalar(fx.db, "SELECT count(*) FROM agent_gaps"), 1);
    cr_assert_eq(pgtest_scalar(fx.db, "SELECT from_seq * 10000 + to_seq FROM agent_gaps "
                                      "WHERE agent_id = 'sw-erqi'"),
                 2010500);
    cr_assert_eq(pgtest_scalar(fx.db, "SELECT count(*) FROM agent_gaps WHERE db_user = 'postgres' "
                                      "AND created_at > now() - interval '1 minute'"),
                 1);
    struct passwd *pw = getpwuid(geteuid());
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM agent_gaps WHERE os_user = '%s'",
             pw ? pw->pw_name : "?");
    cr_assert_eq(pgtest_scalar(fx.db, sql), 1);

    /* The collector goes on after the gap: 1..200, then 501..510 as queued. */
    cr_assert(WAIT_FOR(stored(&erqi, "count(*)") == 210 && outbox_pending(&erqi) == 0, 60000),
              "stored %lld; collector log:\n%s", stored(&erqi, "count(*)"),
              ts_slurp(df_log(&fx, erqi.id)));
    cr_assert_eq(agent_last_seq(&erqi), 510);
    cr_assert_eq(stored(&erqi, "count(*) FILTER (WHERE seq BETWEEN 1 AND 200)"), 200);
    cr_assert_eq(stored(&erqi, "count(*) FILTER (WHERE seq BETWEEN 501 AND 510)"), 10);
    cr_assert_eq(stored(&erqi, "count(*) FILTER (WHERE value <> seq)"), 0);
    cr_assert_eq(stored(&erqi, "sum(value)::bigint"), 200 * 201 / 2 + (501 + 510) * 10 / 2);
    cr_assert(!ts_file_contains(df_log(&fx, erqi.id), "Renumbered"), "nothing may be renumbered");
    df_stop(&fx, c);
    df_stop(&fx, agg);
}
