/*
 * test_collector_failover.c - CONTRACT section 7, collectors that fail over, with real
 * processes: a real collector given `--connect A,B`, two real aggregators on one
 * PostgreSQL database, ipc:// sockets.
 *
 * - kill -9 of the aggregator the collector is connected to: it moves to the other within
 *   15 s, once per kill, and every update is stored exactly once; `status` names the
 *   aggregator it is on and counts the moves. The time from the kill to the first commit
 *   through the other aggregator is printed (three kills per run).
 * - an aggregator that stops answering mid-stream (SIGSTOP): the collector moves on after
 *   ack_timeout, once, and loses and doubles nothing.
 * - an endpoint that answers `unavailable` (a ROUTER in this file) is left for the next.
 * - a bad --connect list is refused at start and by --check-config, naming the problem.
 *
 * Every update carries its own value (1, 2, 3, ...), so an exact sum tells that each
 * arrived once.
 */
#include "delivery_fixture.h"
#include "wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <zmq.h>

#define AGENT "fo-erqi"
#define DISTRICT "erqi"

static const struct delivery_agent agent = {AGENT, DISTRICT};
static struct delivery_fixture fx;

static void setup(void)
{
    df_setup(&fx, "failover");
}

static void teardown(void)
{
    df_teardown(&fx);
}

TestSuite(failover, .init = setup, .fini = teardown, .timeout = 300);

/* Aggregator `name` at ipc://ROOT/NAME, logging to ROOT/LOG.log. Waits for "ready". */
static pid_t start_aggregator(const char *name, const char *log)
{
    return df_start_aggregator(&fx, name, log, "off", 1);
}

/* A collector with state ROOT/col and log ROOT/col.log, given `--connect A,B`. Small
 * batches, so that a stream of a few hundred updates is still flowing when a fault hits. */
static pid_t start_collector(void)
{
    return df_start_collector(&fx, &(struct delivery_collector){.agent = AGENT,
                                                                .district = DISTRICT,
                                                                .state = "col",
                                                                .connect = "agg-a,agg-b",
                                                                .ack_timeout = "5s",
                                                                .batch_max = "20",
                                                                .window = "2"});
}

/* Queues `add V` for V = first .. first + rows - 1 through `citytally-collector import`. */
static void import_values(long long first, size_t rows)
{
    df_import_values(&fx, "col", "v", first, rows);
}

static long long stored(const char *what)
{
    return df_stored(&fx, AGENT, what);
}

static bool delivered(long long n)
{
    return stored("count(*)") >= n;
}

static int moves(void)
{
    return ts_occurrences(df_path(&fx, "col.log"), "moving from ");
}

/* Whether `status` says the collector is connected to NAME after `moves` moves: the line
 * ends there when there were none. */
static bool status_connected_to(const char *name, int n_moves)
{
    char want[256];
    if (n_moves == 0)
        snprintf(want, sizeof(want), ", connected to the aggregator at ipc://%s/%s\n", fx.root,
                 name);
    else
        snprintf(want, sizeof(want),
                 ", connected to the aggregator at ipc://%s/%s; %d move%s between aggregators "
                 "since it started\n",
                 fx.root, name, n_moves, n_moves == 1 ? "" : "s");
    return strstr(df_status(&fx, "col"), want) != NULL;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

Test(failover, kill9_of_the_aggregator_in_use_moves_the_collector_to_the_other_once_per_kill)
{
    enum { KILLS = 3, CHUNK = 200 };
    const char *names[2] = {"agg-a", "agg-b"};
    pid_t aggs[2];
    long long took[KILLS], n = 0;
    char log[32], want[256];

    df_fresh_db(&fx, "failover_kill9", &agent, 1);
    aggs[0] = start_aggregator("agg-a", "agg-a-0");
    aggs[1] = start_aggregator("agg-b", "agg-b-0");
    import_values(1, CHUNK);
    n = CHUNK;
    start_collector();
    cr_assert(WAIT_FOR(delivered(CHUNK / 4), 60000), "stored %lld; collector log:\n%s",
              stored("count(*)"), ts_slurp(df_path(&fx, "col.log")));
    cr_assert(WAIT_FOR(status_connected_to("agg-a", 0), 10000), "status:\n%s",
              df_status(&fx, "col"));

    /* The collector starts on A; each kill sends it to the other, which is then killed in
     * turn after the dead one was started again. */
    for (int k = 0; k < KILLS; k++) {
        int from = k % 2, to = 1 - from;
        snprintf(want, sizeof(want), "welcomed by the aggregator at ipc://%s/%s", fx.root,
                 names[from]);
        cr_assert(WAIT_FOR(ts_occurrences(df_path(&fx, "col.log"), want) >= 1, 30000));

        int64_t t0 = ts_now_ms();
        df_kill9(&fx, aggs[from]);
        long long before = stored("count(*)");
        /* More work after the kill, so the other aggregator must commit something. */
        import_values(n + 1, CHUNK);
        n += CHUNK;
        cr_assert(WAIT_FOR(stored("count(*)") > before, 15000),
                  "nothing stored within 15 s of kill %d; collector log:\n%s", k + 1,
                  ts_slurp(df_path(&fx, "col.log")));
        took[k] = ts_now_ms() - t0;
        cr_assert_lt(took[k], 15000);
        snprintf(want, sizeof(want), "moving from ipc://%s/%s to ipc://%s/%s: ", fx.root,
                 names[from], fx.root, names[to]);
        cr_assert(WAIT_FOR(ts_occurrences(df_path(&fx, "col.log"), want) == (k + 2) / 2, 1000),
                  "collector log:\n%s", ts_slurp(df_path(&fx, "col.log")));
        cr_assert_eq(moves(), k + 1, "one move per kill; collector log:\n%s",
                     ts_slurp(df_path(&fx, "col.log")));
        /* The daemon's next report (every 2 s) names where it went. */
        cr_assert(WAIT_FOR(status_connected_to(names[to], k + 1), 10000), "status:\n%s",
                  df_status(&fx, "col"));

        snprintf(log, sizeof(log), "%s-%d", names[from], k + 1);
        aggs[from] = start_aggregator(names[from], log);
    }
    cr_assert(WAIT_FOR(delivered(n), 60000), "stored %lld of %lld", stored("count(*)"), n);
    df_assert_exactly_once(&fx, AGENT, n);
    cr_assert_eq(moves(), KILLS);
    cr_assert(!ts_file_contains(df_path(&fx, "col.log"), "enumbered"));

    qsort(took, KILLS, sizeof(took[0]), cmp_ll);
    fprintf(stderr,
            "failover: kill -9 to the first commit through the other aggregator: %lld, "
            "%lld, %lld ms (median %lld ms)\n",
            took[0], took[1], took[2], took[KILLS / 2]);
}

Test(failover, an_aggregator_that_stops_answering_mid_stream_is_left_once_losing_nothing)
{
    enum { CHUNK = 300 };
    df_fresh_db(&fx, "failover_sigstop", &agent, 1);
    pid_t a = start_aggregator("agg-a", "agg-a");
    pid_t b = start_aggregator("agg-b", "agg-b");
    char want[256];

    import_values(1, CHUNK);
    pid_t c = start_collector();
    cr_assert(WAIT_FOR(delivered(CHUNK / 4), 60000), "stored %lld", stored("count(*)"));

    /* A freezes mid-stream (its socket stays open, nothing answers); more work arrives. */
    cr_assert_eq(kill(a, SIGSTOP), 0);
    int64_t t0 = ts_now_ms();
    import_values(CHUNK + 1, CHUNK);
    snprintf(want, sizeof(want), "moving from ipc://%s/agg-a to ipc://%s/agg-b: no ack for seqs ",
             fx.root, fx.root);
    cr_assert(WAIT_FOR(ts_file_contains(df_path(&fx, "col.log"), want), 15000),
              "collector log:\n%s", ts_slurp(df_path(&fx, "col.log")));
    fprintf(stderr, "failover: SIGSTOP to the move: %lld ms\n", (long long)(ts_now_ms() - t0));
    /* A may have stopped inside a transaction holding the agent's row; let it finish, as a
     * machine that comes back would, so B is not left waiting on its lock. */
    cr_assert_eq(kill(a, SIGCONT), 0);

    cr_assert(WAIT_FOR(delivered(2 * CHUNK), 60000), "stored %lld; collector log:\n%s",
              stored("count(*)"), ts_slurp(df_path(&fx, "col.log")));
    df_assert_exactly_once(&fx, AGENT, 2 * CHUNK);
    cr_assert_eq(moves(), 1, "collector log:\n%s", ts_slurp(df_path(&fx, "col.log")));
    snprintf(want, sizeof(want), "welcomed by the aggregator at ipc://%s/agg-b", fx.root);
    cr_assert(ts_file_contains(df_path(&fx, "col.log"), want));
    df_stop(&fx, c);
    df_stop(&fx, b);
    df_stop(&fx, a);
}

/* An "aggregator" whose database is down: every message is answered `unavailable`. */
struct unavailable_peer {
    void *ctx, *router;
    pthread_t thread;
    atomic_int stop, answered;
};

static void *unavailable_main(void *arg)
{
    struct unavailable_peer *p = arg;
    struct ct_wire_encoder *enc = ct_wire_encoder_new();
    struct ct_msg out = {0};
    const void *bytes;
    size_t len;

    out.type = CT_MSG_ERROR;
    out.error.error = ct_wire_error_parse("unavailable");
    ct_strlcpy(out.error.code, "unavailable", sizeof(out.error.code));
    ct_strlcpy(out.error.msg, "the database is down (test peer)", sizeof(out.error.msg));
    cr_assert_eq(ct_wire_encode(enc, &out, &bytes, &len), 0);
    while (!atomic_load(&p->stop)) {
        zmq_pollitem_t item = {p->router, 0, ZMQ_POLLIN, 0};
        zmq_msg_t id, body;
        if (zmq_poll(&item, 1, 20) <= 0)
            continue;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, p->router, 0) >= 0 && zmq_msg_more(&id) &&
            zmq_msg_recv(&body, p->router, 0) >= 0 &&
            zmq_msg_send(&id, p->router, ZMQ_SNDMORE) >= 0 &&
            zmq_send(p->router, bytes, len, 0) >= 0)
            atomic_fetch_add(&p->answered, 1);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    ct_wire_encoder_free(enc);
    return NULL;
}

Test(failover, an_endpoint_answering_unavailable_is_left_for_the_next_losing_nothing)
{
    enum { N = 300 };
    struct unavailable_peer peer = {0};
    char endpoint[192], want[256];
    int linger = 0;

    df_fresh_db(&fx, "failover_unavailable", &agent, 1);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/agg-a", fx.root);
    peer.ctx = zmq_ctx_new();
    peer.router = zmq_socket(peer.ctx, ZMQ_ROUTER);
    cr_assert_eq(zmq_setsockopt(peer.router, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    cr_assert_eq(zmq_bind(peer.router, endpoint), 0, "bind %s", endpoint);
    cr_assert_eq(pthread_create(&peer.thread, NULL, unavailable_main, &peer), 0);
    pid_t b = start_aggregator("agg-b", "agg-b");

    import_values(1, N);
    pid_t c = start_collector();
    cr_assert(WAIT_FOR(delivered(N), 60000), "stored %lld; collector log:\n%s", stored("count(*)"),
              ts_slurp(df_path(&fx, "col.log")));
    df_assert_exactly_once(&fx, AGENT, N);
    cr_assert_geq(atomic_load(&peer.answered), 1);
    snprintf(want, sizeof(want),
             "moving from ipc://%s/agg-a to ipc://%s/agg-b: it answered unavailable: the "
             "database is down (test peer)",
             fx.root, fx.root);
    cr_assert(ts_file_contains(df_path(&fx, "col.log"), want), "collector log:\n%s",
              ts_slurp(df_path(&fx, "col.log")));
    cr_assert_eq(moves(), 1);
    df_stop(&fx, c);
    df_stop(&fx, b);
    atomic_store(&peer.stop, 1);
    pthread_join(peer.thread, NULL);
    zmq_close(peer.router);
    zmq_ctx_term(peer.ctx);
}

/* Runs the collector with `--connect LIST` (and -t when `check`); expects exit 2 and
 * `want` in what it printed. */
static void expect_refused(const char *list, bool check, const char *want)
{
    char out[4096], state_dir[192];
    snprintf(state_dir, sizeof(state_dir), "%s/refused", fx.root);
    const char *argv[] = {ts_bin("citytally-collector"),
                          check ? "--check-config" : "--insecure",
                          "--agent",
                          AGENT,
                          "--district",
                          DISTRICT,
                          "--state-dir",
                          state_dir,
                          "--connect",
                          list,
                          NULL};
    cr_assert_eq(ts_run(argv, out, sizeof(out)), 2, "%s: %s", list, out);
    cr_assert(strstr(out, want) != NULL, "%s: got %s, want %s", list, out, want);
    cr_assert(strstr(out, "configuration ok") == NULL);
}

Test(failover, a_bad_connect_list_is_refused_naming_the_problem)
{
    char nine[1024] = "", longest[512];
    size_t len = 0;

    for (int i = 0; i < 9; i++)
        len +=
            (size_t)snprintf(nine + len, sizeof(nine) - len, "%sipc:///tmp/ct-%d", i ? "," : "", i);
    snprintf(longest, sizeof(longest), "ipc:///tmp/a,ipc:///%0300d", 0);
    for (int check = 0; check < 2; check++) {
        expect_refused("ipc:///tmp/a,,ipc:///tmp/b", check,
                       "endpoint 2 of the list is empty (a stray comma?)");
        expect_refused("ipc:///tmp/a,", check, "endpoint 2 of the list is empty");
        expect_refused(nine, check, "more than 8 endpoints in the list");
        expect_refused(longest, check, "endpoint 2 is longer than 255 bytes");
        expect_refused("ipc:///tmp/a, ipc:///tmp/a", check, "'ipc:///tmp/a' is listed twice");
        expect_refused("ipc:///tmp/a,aggregator-2:5560", check,
                       "'aggregator-2:5560' is not an endpoint (transport://address");
    }
    /* The transport policy applies to every endpoint, not only the first. */
    expect_refused("ipc:///tmp/a, tcp://10.0.0.2:5560", false,
                   "--insecure refuses to send to tcp://10.0.0.2:5560");

    /* A good list passes the check. */
    char out[1024];
    const char *ok[] = {ts_bin("citytally-collector"), "-t", "--connect",
                        "tcp://aggregator-1.example:5560, tcp://aggregator-2.example:5560", NULL};
    cr_assert_eq(ts_run(ok, out, sizeof(out)), 0, "%s", out);
    cr_assert_str_eq(out, "citytally-collector: configuration ok (no config file)\n");
}
