/*
 * test_delivery_moves.c - CONTRACT section 7 with real processes: the real collectors, two
 * real aggregators on one PostgreSQL database, ipc:// sockets.
 *
 * - A collector that moves from aggregator A to aggregator B (a blue/green upgrade) loses
 *   and doubles nothing: B's welcome carries the last seq committed in the database, not
 *   the one B cached when it started.
 * - Two collectors that share one agent id (x delivering, y with a fresh state directory)
 *   deliver all their updates exactly once: while x is live, y is refused `agent_in_use`
 *   and keeps its updates; then y's never-sent updates are renumbered after x's.
 *
 * Every update carries its own value (1, 2, 3, ...), so an exact sum tells that each
 * arrived once.
 */
#include "httpget.h"
#include "delivery_fixture.h"

#define AGENT "sw-erqi"
#define DISTRICT "erqi"

static const struct delivery_agent agent = {AGENT, DISTRICT};
static struct delivery_fixture fx;

static void setup(void)
{
    df_setup(&fx, "moves");
}

static void teardown(void)
{
    df_teardown(&fx);
}

TestSuite(moves, .init = setup, .fini = teardown, .timeout = 300);

/* Starts an aggregator named `name` (its endpoint ipc://ROOT/NAME, its log ROOT/NAME.log);
 * with `http`, /metrics on a port of the kernel's choice. Waits for "ready". */
static pid_t start_aggregator(const char *name, bool http)
{
    return df_start_aggregator(&fx, name, name, http ? "127.0.0.1:0" : "off", 1);
}

/* Starts a collector with state ROOT/STATE and log ROOT/STATE.log, connected to the
 * aggregator `agg`. */
static pid_t start_collector(const char *state, const char *agg)
{
    return df_start_collector(&fx, &(struct delivery_collector){.agent = AGENT,
                                                                .district = DISTRICT,
                                                                .state = state,
                                                                .connect = agg,
                                                                .ack_timeout = "5s"});
}

/* Queues `rows` updates `add V` with V = first .. first + rows - 1 in state ROOT/STATE,
 * through `citytally-collector import` (safe while the daemon runs). */
static void import_values(const char *state, long long first, size_t rows)
{
    df_import_values(&fx, state, state, first, rows);
}

static long long stored(const char *what)
{
    return df_stored(&fx, AGENT, what);
}

static bool delivered(long long n)
{
    return stored("count(*)") >= n;
}

Test(moves, a_collector_moving_to_a_second_aggregator_loses_and_doubles_nothing)
{
    df_fresh_db(&fx, "moves_blue_green", &agent, 1);
    /* Both aggregators run from the start, as in a blue/green upgrade: B has read the
     * agents before A commits anything. */
    pid_t a = start_aggregator("agg-a", false);
    pid_t b = start_aggregator("agg-b", false);

    import_values("col", 1, 200);
    pid_t c = start_collector("col", "agg-a");
    cr_assert(WAIT_FOR(delivered(200), 60000), "stored %lld", stored("count(*)"));
    cr_assert(WAIT_FOR(df_outbox_pending(&fx, "col") == 0, 10000));
    df_stop(&fx, c);

    import_values("col", 201, 100);
    c = start_collector("col", "agg-b");
    cr_assert(WAIT_FOR(delivered(300), 60000), "stored %lld; collector log:\n%s",
              stored("count(*)"), ts_slurp(df_log(&fx, "col")));
    cr_assert(WAIT_FOR(df_outbox_pending(&fx, "col") == 0, 10000), "pending %lld",
              df_outbox_pending(&fx, "col"));
    df_assert_exactly_once(&fx, AGENT, 300);
    cr_assert(!ts_file_contains(df_log(&fx, "col"), "enumbered"), "nothing may be renumbered");
    cr_assert(ts_file_contains(df_log(&fx, "agg-b"), "last committed 200"));
    df_stop(&fx, c);
    df_stop(&fx, b);
    df_stop(&fx, a);
}

static long long metric(uint16_t port, const char *name)
{
    struct http_reply r;
    long long v = -1;
    if (http_get(port, "/metrics", &r) != 0)
        return -1;
    const char *at = strstr(r.body, name);
    while (at != NULL && (at != r.body && at[-1] != '\n'))
        at = strstr(at + 1, name);
    if (at != NULL)
        v = strtoll(at + strlen(name), NULL, 10);
    http_reply_free(&r);
    return v;
}

Test(moves, two_collectors_with_one_agent_id_deliver_all_400_exactly_once)
{
    df_fresh_db(&fx, "moves_two_collectors", &agent, 1);
    pid_t agg = start_aggregator("agg", true);
    uint16_t port = 0;
    cr_assert(WAIT_FOR((port = http_port_from_log(df_log(&fx, "agg"))) != 0, 10000));

    /* x delivers 100. */
    import_values("x", 1, 100);
    pid_t x = start_collector("x", "agg");
    cr_assert(WAIT_FOR(delivered(100), 60000), "stored %lld", stored("count(*)"));

    /* y, with a state of its own, queues 100 before its first connection... */
    import_values("y", 101, 100);
    pid_t y = start_collector("y", "agg");
    /* ... and is refused while x is live. */
    cr_assert(WAIT_FOR(ts_file_contains(df_log(&fx, "y"), "agent_in_use"), 30000), "y log:\n%s",
              ts_slurp(df_log(&fx, "y")));
    cr_assert(ts_file_contains(df_log(&fx, "agg"), "hello refused: agent " AGENT " (" DISTRICT
                                                   ") is in use by another collector"));
    cr_assert_geq(metric(port, "citytally_agent_conflicts_total "), 1);
    cr_assert_eq(df_outbox_pending(&fx, "y"), 100, "y keeps every update while refused");

    /* Then both stream 100 more. */
    import_values("x", 201, 100);
    import_values("y", 301, 100);
    cr_assert(WAIT_FOR(delivered(400), 180000), "stored %lld; y log:\n%s", stored("count(*)"),
              ts_slurp(df_log(&fx, "y")));
    cr_assert(WAIT_FOR(df_outbox_pending(&fx, "x") == 0 && df_outbox_pending(&fx, "y") == 0, 10000),
              "pending x %lld, y %lld", df_outbox_pending(&fx, "x"), df_outbox_pending(&fx, "y"));
    df_assert_exactly_once(&fx, AGENT, 400);
    cr_assert(ts_file_contains(df_log(&fx, "y"),
                               "another collector used its agent id or its state was restored"));
    df_stop(&fx, y);
    df_stop(&fx, x);
    df_stop(&fx, agg);
}
