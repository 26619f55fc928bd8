/*
 * The aggregator under faults, end to end: 20 agents deliver 50,000 updates each while
 * PostgreSQL restarts and the aggregator is killed with -9. Afterwards the store must hold
 * exactly 1,000,000 updates and every total must be exact. Also: SIGTERM under load acks
 * nothing it has not committed, the database being down gives `unavailable`, and a flood
 * of hostile frames neither crashes the daemon nor makes it grow.
 *
 * These tests stop and start PostgreSQL, so each runs its own cluster rather than the
 * shared one. They are labelled `slow`.
 */
#include "aggtest.h"
#include "loadgen.h"
#include "pgtest.h"
#include "wireclient.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define JUNE_30_NOON 1435636800000LL
#define AGENTS 20
#define PER_AGENT 50000

static const char *const districts[] = {"zhongyuan", "erqi",   "guancheng",    "jinshui",
                                        "shangjie",  "huiji",  "zhongmu",      "gongyi",
                                        "xingyang",  "xinmi",  "xinzheng",     "dengfeng",
                                        "jingkai",   "gaoxin", "hangkonggang", "zhengdong"};
#define N_DISTRICTS (sizeof(districts) / sizeof(districts[0]))

struct cluster {
    char dir[256];
    int port;
};

static struct aggtest agg;
static struct cluster own;

static void run_script(const char *action, const struct cluster *c)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/tests/support/pg_cluster.sh %s %s %d >/dev/null",
             getenv("CT_SOURCE_DIR"), action, c->dir, c->port);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Starts a private cluster and points the test harness at it. */
static void start_own_cluster(const char *name, int port)
{
    char port_text[16];

    snprintf(own.dir, sizeof(own.dir), "/tmp/ct-pg-%s-%d", name, (int)getpid());
    own.port = port;
    run_script("start", &own);
    snprintf(port_text, sizeof(port_text), "%d", port);
    setenv("CT_TEST_PGHOST", own.dir, 1);
    setenv("CT_TEST_PGPORT", port_text, 1);
}

static void setup_agents(void)
{
    char sql[256];
    for (size_t i = 0; i < AGENTS; i++) {
        snprintf(sql, sizeof(sql), "INSERT INTO agents (agent_id, district) VALUES ('a%zu', '%s')",
                 i, districts[i % N_DISTRICTS]);
        pgtest_exec(agg.db, sql);
    }
    pgtest_exec(agg.db, "NOTIFY citytally_agents");
}

/* Memory bounds hold for the daemon as shipped; under AddressSanitizer its shadow memory
 * and quarantine dominate, so those builds only report the figure. */
static void expect_rss_below(long kib, long limit_kib)
{
#ifdef CT_SANITIZED
    cr_log_info("RSS %ld KiB (limit %ld KiB not checked in a sanitized build)", kib, limit_kib);
#else
    cr_assert_lt(kib, limit_kib, "RSS %ld KiB, limit %ld KiB", kib, limit_kib);
#endif
}

static void teardown(void)
{
    aggtest_stop(&agg);
    run_script("stop", &own);
}

static struct loadgen_config load_config(void)
{
    return (struct loadgen_config){
        .agents = AGENTS,
        .agent_prefix = "a",
        .districts = districts,
        .n_districts = N_DISTRICTS,
        .updates_per_agent = PER_AGENT,
        .batch = 500,
        .window = 4,
        .timeout_ms = 2000,
        .indicator = "st_enterprises",
        .period = 2015,
        .at_ms = JUNE_30_NOON,
    };
}

/* Reconnects the test's own connection after PostgreSQL restarted. */
static void reconnect_db(void)
{
    PQfinish(agg.db);
    agg.db = PQconnectdb(agg.conninfo);
    cr_assert_eq(PQstatus(agg.db), CONNECTION_OK, "%s", PQerrorMessage(agg.db));
}

static void expect_exact_store(void)
{
    char sql[512];

    reconnect_db();
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"),
                 (long long)AGENTS * PER_AGENT);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(DISTINCT (agent_id, seq)) FROM updates"),
                 (long long)AGENTS * PER_AGENT);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates"), 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM agents WHERE last_seq <> 50000"), 0);
    /* Every agent's total, and every district's total as the progress function sees it. */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM (SELECT agent_id, sum(value) AS s FROM updates"
             " GROUP BY agent_id) t WHERE s <> %lld",
             (long long)loadgen_total(PER_AGENT));
    cr_assert_eq(pgtest_scalar(agg.db, sql), 0);
    snprintf(sql, sizeof(sql),
             "SELECT actual FROM citytally_progress(2015, now()) WHERE target_code = "
             "'st_enterprises'");
    cr_assert_eq(pgtest_scalar(agg.db, sql), (long long)AGENTS * loadgen_total(PER_AGENT));
}

struct fault_plan {
    bool restarted_pg, killed_aggregator;
    long peak_rss_kib;
};

static bool inject_faults(void *ctx, uint64_t acked)
{
    struct fault_plan *plan = ctx;
    const uint64_t goal = (uint64_t)AGENTS * PER_AGENT;

    if (!plan->restarted_pg && acked >= goal / 4) {
        plan->restarted_pg = true;
        cr_log_info("restarting PostgreSQL at %llu acked", (unsigned long long)acked);
        run_script("restart", &own);
    }
    if (!plan->killed_aggregator && acked >= goal * 3 / 5) {
        plan->killed_aggregator = true;
        plan->peak_rss_kib = proc_peak_rss_kib(agg.proc.pid);
        cr_log_info("kill -9 of the aggregator at %llu acked (peak RSS %ld KiB)",
                    (unsigned long long)acked, plan->peak_rss_kib);
        proc_stop(&agg.proc, SIGKILL, 5000);
        aggtest_restart(&agg);
    }
    return true;
}

Test(ingest_faults, million_updates_survive_pg_restart_and_kill_9, .fini = teardown, .timeout = 900)
{
    struct fault_plan plan = {0};
    struct loadgen_config cfg;
    struct loadgen_result r;
    struct loadgen *lg;
    long long started = proc_now_ms();
    long peak_after;

    start_own_cluster("faults", 55501);
    aggtest_start(&agg, "ingest_faults");
    setup_agents();
    cfg = load_config();
    lg = aggtest_loadgen(&agg, &cfg);
    cr_assert_eq(loadgen_run(lg, proc_now_ms() + 600000, inject_faults, &plan, &r), 0,
                 "only %llu of %d acked", (unsigned long long)r.acked, AGENTS * PER_AGENT);
    peak_after = proc_peak_rss_kib(agg.proc.pid);
    cr_assert(plan.restarted_pg && plan.killed_aggregator);
    cr_log_info("fault run: %llu acked in %.1f s (%.0f/s), %llu batches resent, %llu errors "
                "(%llu unavailable); peak RSS %ld KiB before the kill, %ld KiB after; "
                "total %.1f s",
                (unsigned long long)r.acked, r.seconds, r.updates_per_s,
                (unsigned long long)r.resends, (unsigned long long)r.errors,
                (unsigned long long)r.unavailable, plan.peak_rss_kib, peak_after,
                (double)(proc_now_ms() - started) / 1000.0);
    expect_rss_below(plan.peak_rss_kib, 64 * 1024);
    expect_rss_below(peak_after, 64 * 1024);
    expect_exact_store();
}

static bool stop_midway(void *ctx, uint64_t acked)
{
    bool *stopped = ctx;
    if (!*stopped && acked >= 100000) {
        *stopped = true;
        kill(agg.proc.pid, SIGTERM);
    }
    /* Keep running until the daemon is gone, so acks sent while stopping are counted. */
    return !(*stopped && proc_wait(&agg.proc, 0));
}

Test(ingest_faults, sigterm_under_load_acks_only_what_is_committed, .fini = teardown,
     .timeout = 300)
{
    struct loadgen_config cfg;
    struct loadgen_result r;
    struct loadgen *lg;
    bool stopped = false;
    long long before;

    start_own_cluster("sigterm", 55502);
    aggtest_start(&agg, "ingest_sigterm");
    setup_agents();
    cfg = load_config();
    lg = aggtest_loadgen(&agg, &cfg);
    before = proc_now_ms();
    loadgen_run(lg, proc_now_ms() + 120000, stop_midway, &stopped, &r);
    cr_assert(stopped);
    cr_assert(proc_wait(&agg.proc, 5000), "the daemon did not exit within 5 s of SIGTERM");
    cr_assert_eq(agg.proc.exit_status, 0);
    cr_log_info("SIGTERM at >= 100000 acked: %llu acked in all, exit after %lld ms",
                (unsigned long long)r.acked, proc_now_ms() - before);
    /* Every acked update is stored, and no agent's store runs ahead of what the log holds. */
    cr_assert_geq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), (long long)r.acked);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"),
                 pgtest_scalar(agg.db, "SELECT sum(last_seq) FROM agents"));
}

Test(ingest_faults, database_down_gives_unavailable_then_recovers, .fini = teardown, .timeout = 120)
{
    struct wc_client *c;
    int64_t values[2] = {3, 4};

    start_own_cluster("down", 55503);
    aggtest_start(&agg, "ingest_down");
    aggtest_add_agent(&agg, "erqi-1", "erqi");
    c = aggtest_client(&agg, "erqi-1", "erqi", NULL, NULL, NULL);
    /* Wait until the daemon knows the agent. */
    long long deadline = proc_now_ms() + 10000;
    do {
        cr_assert_eq(wc_send_hello(c, 1), 0);
        cr_assert_eq(wc_recv(c, 10000), 0);
    } while (c->reply->type != CT_MSG_WELCOME && proc_now_ms() < deadline);
    cr_assert_eq(c->reply->type, CT_MSG_WELCOME);

    run_script("pause", &own);
    /* The daemon learns of the outage from its first failed statement, then says so. */
    deadline = proc_now_ms() + 20000;
    do {
        cr_assert_eq(
            wc_send_batch(c, 1, 2, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON), 0);
        cr_assert_eq(wc_recv(c, 20000), 0, "no reply while the database is down");
    } while (c->reply->type != CT_MSG_ERROR && proc_now_ms() < deadline);
    cr_assert_eq(c->reply->type, CT_MSG_ERROR);
    cr_assert_str_eq(c->reply->error.code, "unavailable");
    cr_assert(proc_wait_log(&agg.proc, "unreachable", 5000) ||
                  proc_wait_log(&agg.proc, "connection lost", 5000),
              "the outage was not logged");

    run_script("resume", &own);
    deadline = proc_now_ms() + 30000;
    do {
        cr_assert_eq(
            wc_send_batch(c, 1, 2, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON), 0);
        cr_assert_eq(wc_recv(c, 20000), 0);
    } while (c->reply->type != CT_MSG_ACK && proc_now_ms() < deadline);
    cr_assert_eq(c->reply->type, CT_MSG_ACK, "no ack after the database returned");
    cr_assert_eq(c->reply->ack.last_seq, 2);
    reconnect_db();
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT sum(value) FROM updates"), 7);
    cr_assert(proc_wait_log(&agg.proc, "reachable again", 5000));
}

/* Random bytes, wrong types, huge container claims, deep nesting, oversized frames. */
static size_t hostile_frame(unsigned i, unsigned char *buf, size_t cap)
{
    size_t n;
    switch (i % 6) {
    case 0: /* random bytes */
        n = 1 + (size_t)(rand() % 256);
        for (size_t k = 0; k < n; k++)
            buf[k] = (unsigned char)rand();
        return n;
    case 1: /* array32 claiming 2^32-1 items */
        memcpy(buf, "\xdd\xff\xff\xff\xff\x01", 6);
        return 6;
    case 2: /* map32 claiming 2^32-1 pairs */
        memcpy(buf, "\xdf\xff\xff\xff\xff\xa1v\x01", 8);
        return 8;
    case 3: /* 1000 nested arrays */
        n = 1000;
        memset(buf, 0x91, n);
        buf[n++] = 0x01;
        return n;
    case 4: /* a well-formed map with wrong types: {"v":"1","t":7} */
        memcpy(buf, "\x82\xa1v\xa1\x31\xa1t\x07", 8);
        return 8;
    default: /* over 1 MiB: libzmq drops the connection before buffering it */
        n = cap;
        memset(buf, 0xc0, n);
        return n;
    }
}

Test(ingest_faults, hostile_flood_changes_nothing_and_memory_stays_bounded, .fini = teardown,
     .timeout = 300)
{
    enum { CONNECTIONS = 20, FRAMES = 10000 };
    struct wc_client *flood[CONNECTIONS], *good;
    size_t big = 1024 * 1024 + 64;
    unsigned char *buf = malloc(big);
    long rss_before, rss_after;
    int64_t one[1] = {1};

    srand(42);
    start_own_cluster("flood", 55504);
    aggtest_start(&agg, "ingest_flood");
    aggtest_add_agent(&agg, "erqi-1", "erqi");
    rss_before = proc_peak_rss_kib(agg.proc.pid);
    for (int i = 0; i < CONNECTIONS; i++) {
        flood[i] = aggtest_client(&agg, "x", "x", NULL, NULL, NULL);
    }
    /* Connections 0..15 send what libzmq delivers, and each frame must get its answer;
     * 16..19 send the oversized frames, which make libzmq drop the connection. */
    size_t expected_answers = 0;
    for (unsigned i = 0; i < FRAMES; i++) {
        size_t n = hostile_frame(i, buf, big);
        int conn = n == big ? 16 + (int)(i % 4) : (int)(i % 16);
        if (zmq_send(flood[conn]->socket, buf, n, ZMQ_DONTWAIT) == (int)n && n != big)
            expected_answers++;
    }
    size_t answers = 0;
    long long drain_deadline = proc_now_ms() + 60000;
    while (answers < expected_answers && proc_now_ms() < drain_deadline) {
        for (int i = 0; i < 16; i++) {
            while (wc_recv(flood[i], 10) == 0) {
                cr_assert_eq(flood[i]->reply->type, CT_MSG_ERROR);
                answers++;
            }
        }
    }
    cr_assert_eq(answers, expected_answers, "%zu answers to %zu frames", answers, expected_answers);

    good = aggtest_client(&agg, "erqi-1", "erqi", NULL, NULL, NULL);
    long long deadline = proc_now_ms() + 10000;
    do {
        cr_assert_eq(wc_send_hello(good, 1), 0);
        cr_assert_eq(wc_recv(good, 10000), 0, "the daemon stopped answering");
    } while (good->reply->type != CT_MSG_WELCOME && proc_now_ms() < deadline);
    cr_assert_eq(wc_send_batch(good, 1, 1, "st_enterprises", CT_OP_ADD, one, 2015, JUNE_30_NOON),
                 0);
    cr_assert_eq(wc_recv(good, 10000), 0);
    cr_assert_eq(good->reply->type, CT_MSG_ACK);
    rss_after = proc_peak_rss_kib(agg.proc.pid);
    cr_log_info("flood: %d frames on %d connections, %zu answers; peak RSS %ld -> %ld KiB", FRAMES,
                CONNECTIONS, answers, rss_before, rss_after);
    expect_rss_below(rss_after - rss_before, 64 * 1024);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 1);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates"), 0);
    free(buf);
}
