/*
 * test_stop_faults.c - SIGTERM when PostgreSQL cannot answer (CONTRACT section 6: the
 * aggregator finishes or rolls back its open batch and acks nothing it has not committed).
 *
 * - The cluster frozen (SIGSTOP of the postmaster and every backend, so connections stay
 *   open and nothing answers) while a commit is in progress: the daemon still exits 0
 *   within 10 s, the batch is not acknowledged, and after the thaw it is not in the store.
 * - The database down at start, the daemon deep in its reconnect backoff: SIGTERM ends the
 *   wait at once rather than after the backoff's sleep.
 *
 * Each test runs a cluster of its own (the shared one must never be frozen), and thaws it
 * on every path, in the teardown too.
 */
#include "aggtest.h"
#include "pgtest.h"
#include "wireclient.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define JUNE_30_NOON 1435636800000LL

static struct aggtest agg;
static char cluster_dir[256];
static int cluster_port;
static bool frozen;

static void cluster(const char *action)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/tests/support/pg_cluster.sh %s %s %d >/dev/null",
             getenv("CT_SOURCE_DIR"), action, cluster_dir, cluster_port);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void start_own_cluster(const char *name, int port)
{
    char port_text[16];
    snprintf(cluster_dir, sizeof(cluster_dir), "/tmp/ct-pg-%s-%d", name, (int)getpid());
    cluster_port = port;
    cluster("start");
    snprintf(port_text, sizeof(port_text), "%d", port);
    setenv("CT_TEST_PGHOST", cluster_dir, 1);
    setenv("CT_TEST_PGPORT", port_text, 1);
}

static void thaw(void)
{
    if (frozen)
        cluster("thaw");
    frozen = false;
}

static void teardown(void)
{
    thaw();
    aggtest_stop(&agg);
    cluster("stop");
}

TestSuite(stop, .fini = teardown, .timeout = 180);

/* A SUB on the daemon's feed, connected before the commit it waits for: a subscriber that
 * joins later misses the message (ZeroMQ's slow joiner). */
static void *subscribe_feed(void *zctx)
{
    void *sub = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    cr_assert_not_null(sub);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "progress.2015", 13), 0);
    cr_assert_eq(zmq_connect(sub, agg.feed), 0);
    return sub;
}

/* Waits (10 s at most) for the feed to publish st_enterprises' city-wide `actual`: the
 * daemon's own session has then done what the commit asks of it, and is idle. Messages
 * from before the commit (the year published at start) are skipped. */
static void wait_for_feed(void *sub, double actual)
{
    struct ct_feed_msg *feed = calloc(1, sizeof(*feed));
    int64_t deadline = proc_now_ms() + 10000;
    bool seen = false;

    cr_assert_not_null(feed);
    while (!seen && proc_now_ms() < deadline) {
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        struct ct_wire_fault fault;
        zmq_msg_t part;

        if (zmq_poll(&item, 1, (long)(deadline - proc_now_ms())) != 1)
            break;
        zmq_msg_init(&part);
        cr_assert_gt(zmq_msg_recv(&part, sub, 0), 0);
        cr_assert(zmq_msg_more(&part));
        cr_assert_gt(zmq_msg_recv(&part, sub, 0), 0);
        cr_assert_eq(ct_wire_decode_feed(zmq_msg_data(&part), zmq_msg_size(&part), feed, &fault), 0,
                     "%s", fault.msg);
        zmq_msg_close(&part);
        for (size_t i = 0; i < feed->n_targets; i++)
            seen = seen || (feed->targets[i].has_actual && feed->targets[i].actual == actual &&
                            strcmp(feed->targets[i].code, "st_enterprises") == 0);
    }
    free(feed);
    cr_assert(seen, "no progress with st_enterprises = %g published", actual);
}

Test(stop, sigterm_with_the_database_frozen_exits_within_10s_and_acks_nothing_uncommitted)
{
    int64_t values[10];
    for (int i = 0; i < 10; i++)
        values[i] = i + 1;
    start_own_cluster("frozenstop", 55481);
    aggtest_start(&agg, "frozenstop");
    aggtest_add_agent(&agg, "a1", "erqi");
    struct wc_client *c = aggtest_client(&agg, "a1", "erqi", NULL, NULL, NULL);

    /* A first batch commits, so the writer holds an open connection. */
    void *sub_ctx = zmq_ctx_new();
    cr_assert_not_null(sub_ctx);
    void *sub = subscribe_feed(sub_ctx);
    cr_assert_eq(wc_send_hello(c, 1), 0);
    cr_assert_eq(wc_recv(c, 10000), 0);
    cr_assert_eq(c->reply->type, CT_MSG_WELCOME);
    cr_assert_eq(wc_send_batch(c, 1, 10, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON),
                 0);
    cr_assert_eq(wc_recv(c, 10000), 0);
    cr_assert_eq(c->reply->type, CT_MSG_ACK);
    cr_assert_eq(c->reply->ack.last_seq, 10);
    wait_for_feed(sub, 55);
    zmq_close(sub);
    zmq_ctx_term(sub_ctx);

    cluster("freeze");
    frozen = true;
    /* The second batch reaches the writer, whose transaction then waits on the frozen
     * server: no answer comes. */
    cr_assert_eq(wc_send_batch(c, 11, 10, "st_enterprises", CT_OP_ADD, values, 2015, JUNE_30_NOON),
                 0);
    cr_assert_eq(wc_recv(c, 1500), -1, "a reply came from a frozen database: %s",
                 ct_msg_type_name(c->reply->type));

    int64_t t0 = proc_now_ms();
    bool stopped = proc_stop(&agg.proc, SIGTERM, 10000);
    int64_t took = proc_now_ms() - t0;
    cr_assert(stopped, "the aggregator did not exit within 10 s of SIGTERM");
    cr_assert_eq(agg.proc.exit_status, 0, "exit status %d", agg.proc.exit_status);
    cr_log_info("stopped %lld ms after SIGTERM with the database frozen", (long long)took);
    agg.proc.pid = 0;
    /* Whatever reached us before the exit, it is no ack of the second batch. */
    while (wc_recv(c, 200) == 0)
        cr_assert(c->reply->type != CT_MSG_ACK || c->reply->ack.last_seq < 11,
                  "seq %llu acked without a commit", (unsigned long long)c->reply->ack.last_seq);

    thaw();
    PQfinish(agg.db);
    agg.db = PQconnectdb(agg.conninfo);
    cr_assert_eq(PQstatus(agg.db), CONNECTION_OK, "%s", PQerrorMessage(agg.db));
    /* The server notices the cut connection and rolls its transaction back. */
    cr_assert_eq(aggtest_wait_scalar(&agg,
                                     "SELECT count(*) FROM pg_stat_activity WHERE "
                                     "application_name = 'citytally-aggregator'",
                                     0, 10000),
                 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates WHERE agent_id = 'a1'"), 10);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT sum(value)::bigint FROM updates"), 55);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT last_seq FROM agents WHERE agent_id = 'a1'"), 10);
}

Test(stop, sigterm_while_the_main_loop_waits_on_a_frozen_database_exits_within_10s)
{
    start_own_cluster("frozenhup", 55483);
    aggtest_start(&agg, "frozenhup");
    cluster("freeze");
    frozen = true;
    /* SIGHUP reloads the directory on the daemon's own session: that query now waits on
     * the frozen server, in the thread that reads the signals. */
    cr_assert_eq(kill(agg.proc.pid, SIGHUP), 0);
    cr_assert(proc_wait_log(&agg.proc, "config: reloaded", 10000));
    int64_t t0 = proc_now_ms();
    bool stopped = proc_stop(&agg.proc, SIGTERM, 10000);
    int64_t took = proc_now_ms() - t0;
    cr_assert(stopped, "the aggregator did not exit within 10 s of SIGTERM");
    cr_assert_eq(agg.proc.exit_status, 0, "exit status %d", agg.proc.exit_status);
    cr_log_info("stopped %lld ms after SIGTERM, the directory load waiting on a frozen database",
                (long long)took);
    agg.proc.pid = 0;
    thaw();
}

Test(stop, sigterm_during_the_database_backoff_exits_at_once)
{
    start_own_cluster("backoffstop", 55482);
    aggtest_start(&agg, "backoffstop");
    cr_assert(proc_stop(&agg.proc, SIGTERM, 10000));
    agg.proc.pid = 0;
    cluster("pause"); /* connections are now refused at once */

    char log_path[512];
    snprintf(log_path, sizeof(log_path), "%s/aggregator2.log", agg.dir);
    char *argv[] = {"citytally-aggregator",
                    "--db",
                    agg.conninfo,
                    "--listen",
                    agg.endpoint,
                    "--publish",
                    agg.feed,
                    "--insecure",
                    "--http",
                    "off",
                    "--db-retry-max",
                    "60s",
                    NULL};
    proc_start(&agg.proc, log_path, argv);
    cr_assert(proc_wait_log(&agg.proc, "database: unreachable", 10000));
    /* Attempts come after 0.1, 0.2, 0.4 ... 6.4 s: by 14 s the daemon is in the wait of
     * 12.8 s that began at 12.7 s. Time passing is the condition here. */
    struct timespec pause = {14, 0};
    nanosleep(&pause, NULL);
    int64_t t0 = proc_now_ms();
    cr_assert(proc_stop(&agg.proc, SIGTERM, 10000));
    int64_t took = proc_now_ms() - t0;
    agg.proc.pid = 0;
    cr_assert_eq(agg.proc.exit_status, 0);
    cr_assert_lt(took, 2000, "SIGTERM took %lld ms to end the backoff", (long long)took);
    cr_assert(
        proc_wait_log(&agg.proc, "stopped by signal 15 while waiting for the database", 1000));
    cluster("resume");
}
