/*
 * test_aggregators_active.c - CONTRACT section 7, "aggregators, all active": two real
 * daemons, A and B, on one PostgreSQL database, with test clients playing the collectors.
 *
 * - B's progress feed follows commits made through A (LISTEN/NOTIFY sent inside A's commit),
 *   with the exact figure, and B's /api/progress answers what A's does.
 * - Each aggregator publishes a commit once: A from its own result (its NOTIFY, which it
 *   also hears, is left out), B from the notification.
 * - agent_in_use holds across aggregators: while instance y is live on A, a hello from
 *   instance x on B is refused; once y has been silent past the heartbeat timeout, x is
 *   welcomed. The timeout passes by ageing y's presence row in the database, not by waiting.
 */
#include "aggtest.h"
#include "httpget.h"
#include "pgtest.h"
#include "wireclient.h"
#include "wireexpect.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define JUNE_30_NOON 1435636800000LL /* 2015-06-30T12:00:00+08:00 */
#define INTERVAL_MS 200              /* --publish-interval of both daemons */
#define PROGRESS_2015 "/api/progress?year=2015&as_of=2015-07-01T00%3A00%3A00%2B08%3A00"

static struct aggtest a;
static struct proc b;
static char b_endpoint[300], b_feed[300];
static uint16_t a_port, b_port;
static void *subs[2]; /* closed by teardown, before the context is */

static void start_b(void)
{
    char log_path[512];
    char *argv[] = {"citytally-aggregator",
                    "--db",
                    a.conninfo,
                    "--listen",
                    b_endpoint,
                    "--publish",
                    b_feed,
                    "--insecure",
                    "--http",
                    "127.0.0.1:0",
                    "--publish-interval",
                    "200ms",
                    "--log-level",
                    "debug",
                    NULL};

    snprintf(b_endpoint, sizeof(b_endpoint), "ipc://%s/router-b", a.dir);
    snprintf(b_feed, sizeof(b_feed), "ipc://%s/feed-b", a.dir);
    snprintf(log_path, sizeof(log_path), "%s/aggregator-b.log", a.dir);
    proc_start(&b, log_path, argv);
    cr_assert(proc_wait_log(&b, "ready:", 30000), "B did not become ready; see %s", log_path);
}

static void setup(void)
{
    memset(&b, 0, sizeof(b));
    a.extra_args[0] = "--http";
    a.extra_args[1] = "127.0.0.1:0";
    a.extra_args[2] = "--publish-interval";
    a.extra_args[3] = "200ms";
    a.extra_args[4] = NULL;
    aggtest_start(&a, "aggregators_active");
    start_b();
    aggtest_add_agent(&a, "erqi-1", "erqi");
    cr_assert(proc_wait_log(&b, "directory: 1 agents", 10000), "B did not load the agent");
    a_port = http_port_from_log(a.proc.log_path);
    b_port = http_port_from_log(b.log_path);
    cr_assert(a_port != 0 && b_port != 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < 2; i++) {
        if (subs[i] != NULL)
            zmq_close(subs[i]);
        subs[i] = NULL;
    }
    if (b.pid != 0) {
        cr_expect(proc_stop(&b, SIGTERM, 5000), "B did not stop within 5 s");
        cr_expect_eq(b.exit_status, 0, "B exit status %d; see %s", b.exit_status, b.log_path);
    }
    aggtest_stop(&a);
}

TestSuite(aggregators_active, .init = setup, .fini = teardown, .timeout = 120);

static void *subscribe(const char *feed)
{
    void *sub = zmq_socket(a.zctx, ZMQ_SUB);
    int linger = 0;

    cr_assert_not_null(sub);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "progress.2015", 13), 0);
    cr_assert_eq(zmq_connect(sub, feed), 0);
    subs[subs[0] == NULL ? 0 : 1] = sub;
    return sub;
}

/* Waits up to `timeout_ms` for one progress message; returns rd_centers_municipal's actual
 * figure in it (-1 when it has none), or -2 when nothing came. */
static double next_figure(void *sub, int timeout_ms)
{
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    struct ct_feed_msg *feed = calloc(1, sizeof(*feed));
    struct ct_wire_fault fault;
    zmq_msg_t part;
    double figure = -1;

    cr_assert_not_null(feed);
    if (zmq_poll(&item, 1, timeout_ms) != 1) {
        free(feed);
        return -2;
    }
    zmq_msg_init(&part);
    cr_assert_gt(zmq_msg_recv(&part, sub, 0), 0);
    cr_assert(zmq_msg_more(&part));
    cr_assert_gt(zmq_msg_recv(&part, sub, 0), 0);
    cr_assert_eq(ct_wire_decode_feed(zmq_msg_data(&part), zmq_msg_size(&part), feed, &fault), 0,
                 "%s", fault.msg);
    zmq_msg_close(&part);
    cr_assert_eq(feed->year, 2015);
    for (size_t i = 0; i < feed->n_targets; i++) {
        if (strcmp(feed->targets[i].code, "rd_centers_municipal") == 0 &&
            feed->targets[i].has_actual)
            figure = feed->targets[i].actual;
    }
    free(feed);
    return figure;
}

static void commit_figure(struct wc_client *c, uint64_t seq, int64_t value)
{
    int64_t values[1] = {value};

    cr_assert_eq(
        wc_send_batch(c, seq, 1, "rd_centers_municipal", CT_OP_SET, values, 2015, JUNE_30_NOON), 0);
    wc_expect_ack(c, seq, 0);
}

/* A slow-joining subscriber misses what came before it: commits through `c` until both
 * subscribers have had a message, then lets the feeds fall quiet. Returns the next seq. */
static uint64_t join_feeds(struct wc_client *c, void *sub_a, void *sub_b)
{
    zmq_pollitem_t items[2] = {{sub_a, 0, ZMQ_POLLIN, 0}, {sub_b, 0, ZMQ_POLLIN, 0}};
    bool got_a = false, got_b = false;
    long long deadline = proc_now_ms() + WC_REPLY_MS;
    uint64_t seq = 1;

    while (!(got_a && got_b) && proc_now_ms() < deadline) {
        commit_figure(c, seq++, 42);
        if (zmq_poll(items, 2, 100) > 0) {
            got_a = got_a || (items[0].revents & ZMQ_POLLIN);
            got_b = got_b || (items[1].revents & ZMQ_POLLIN);
        }
    }
    cr_assert(got_a && got_b, "no progress message on %s", got_a ? "B's feed" : "A's feed");
    /* Quiet: no message for three intervals on either feed. */
    while (next_figure(sub_a, 3 * INTERVAL_MS) != -2 || next_figure(sub_b, 3 * INTERVAL_MS) != -2)
        cr_assert_lt(proc_now_ms(), deadline + WC_REPLY_MS, "the feeds do not fall quiet");
    return seq;
}

static char *api_progress(uint16_t port)
{
    struct http_reply r = {0};
    char *body;

    cr_assert_eq(http_get(port, PROGRESS_2015, &r), 0, "no answer on port %u", port);
    cr_assert_eq(r.status, 200, "%s", r.body);
    body = strdup(r.body);
    http_reply_free(&r);
    return body;
}

Test(aggregators_active, the_feed_of_b_follows_a_commit_through_a_with_its_exact_figure)
{
    struct wc_client *c = aggtest_client(&a, "erqi-1", "erqi", NULL, NULL, NULL);
    void *sub_a = subscribe(a.feed), *sub_b = subscribe(b_feed);
    uint64_t seq;
    double figure;

    wc_expect_welcome(c, 0);
    seq = join_feeds(c, sub_a, sub_b);

    commit_figure(c, seq, 77);
    figure = next_figure(sub_b, WC_REPLY_MS);
    cr_assert_float_eq(figure, 77.0, 1e-9, "B published %g", figure);
    cr_assert_float_eq(next_figure(sub_a, WC_REPLY_MS), 77.0, 1e-9);
    /* One commit, one message on each feed: A does not publish its own commit again when
     * its NOTIFY comes back, and B publishes it once. */
    cr_assert_eq(next_figure(sub_a, 5 * INTERVAL_MS), -2, "A published its commit twice");
    cr_assert_eq(next_figure(sub_b, 5 * INTERVAL_MS), -2, "B published A's commit twice");

    char *from_a = api_progress(a_port), *from_b = api_progress(b_port);
    cr_assert_not_null(strstr(from_a, "rd_centers_municipal"));
    cr_assert_str_eq(from_b, from_a);
    free(from_a);
    free(from_b);
}

/* A test client on B's endpoint, in aggtest's context so aggtest_stop closes it. */
static struct wc_client *client_of_b(const char *agent, const char *district)
{
    struct wc_client *c = wc_new(a.zctx, b_endpoint, agent, district, NULL, NULL, NULL);

    cr_assert_not_null(c);
    cr_assert_lt(a.n_clients, sizeof(a.clients) / sizeof(a.clients[0]));
    a.clients[a.n_clients++] = c;
    return c;
}

static long long presence_age_ms(void)
{
    return pgtest_scalar(a.db, "SELECT (extract(epoch FROM now() - seen_at) * 1000)::bigint"
                               " FROM agent_presence WHERE agent_id = 'erqi-1'");
}

static bool presence_fresh(void)
{
    return presence_age_ms() < 5000;
}

Test(aggregators_active, a_live_instance_on_a_keeps_another_instance_out_of_b_until_it_is_silent)
{
    struct wc_client *y = aggtest_client(&a, "erqi-1", "erqi", NULL, NULL, NULL);
    struct wc_client *x = client_of_b("erqi-1", "erqi");
    char sql[256];

    strcpy(y->out->hello.instance, "inst-y");
    strcpy(x->out->hello.instance, "inst-x");
    wc_expect_welcome(y, 0);
    cr_assert_eq(pgtest_scalar(a.db, "SELECT count(*) FROM agent_presence WHERE agent_id ="
                                     " 'erqi-1' AND instance = 'inst-y'"),
                 1);

    /* y is live on A: x's hello on B is refused, and displaces nothing. */
    cr_assert_eq(wc_send_hello(x, 1), 0);
    wc_expect_error(x, CT_WERR_AGENT_IN_USE, 0);
    cr_assert_not_null(strstr(x->reply->error.msg, "instance inst-y"), "%s", x->reply->error.msg);
    cr_assert(proc_wait_log(&b, "hello refused: agent erqi-1 (erqi) is in use by another collector",
                            5000));

    /* y's batches through A keep its presence fresh for the other aggregators. */
    pgtest_exec(a.db, "UPDATE agent_presence SET seen_at = now() - interval '20 s'");
    commit_figure(y, 1, 42);
    long long deadline = proc_now_ms() + 10000;
    while (!presence_fresh() && proc_now_ms() < deadline)
        poll(NULL, 0, 20);
    cr_assert(presence_fresh(), "A did not refresh y's presence: %lld ms old", presence_age_ms());
    cr_assert_eq(wc_send_hello(x, 1), 0);
    wc_expect_error(x, CT_WERR_AGENT_IN_USE, 0);

    /* y falls silent. Just inside the 30 s heartbeat timeout it is still live... */
    pgtest_exec(a.db, "UPDATE agent_presence SET seen_at = now() - interval '29 s'");
    cr_assert_eq(wc_send_hello(x, 1), 0);
    wc_expect_error(x, CT_WERR_AGENT_IN_USE, 0);

    /* ... past it, x is welcomed on B with what y committed through A, and holds the agent. */
    pgtest_exec(a.db, "UPDATE agent_presence SET seen_at = now() - interval '31 s'");
    wc_expect_welcome(x, 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM agent_presence WHERE agent_id = 'erqi-1' AND instance ="
             " 'inst-x' AND aggregator_id LIKE '%%/%d'",
             (int)b.pid);
    cr_assert_eq(pgtest_scalar(a.db, sql), 1);

    /* Now y, back on A, is the one refused. */
    cr_assert_eq(wc_send_hello(y, 2), 0);
    wc_expect_error(y, CT_WERR_AGENT_IN_USE, 0);
    cr_assert_not_null(strstr(y->reply->error.msg, "instance inst-x"), "%s", y->reply->error.msg);
}

Test(aggregators_active, a_hello_without_an_instance_claims_nothing)
{
    struct wc_client *c = aggtest_client(&a, "erqi-1", "erqi", NULL, NULL, NULL);

    wc_expect_welcome(c, 0);
    cr_assert_eq(pgtest_scalar(a.db, "SELECT count(*) FROM agent_presence"), 0);
}
