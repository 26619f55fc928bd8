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
#include "pgtest.h"
#include "test_collector_support.h"

#include <sqlite3.h>

#define AGENT "sw-erqi"
#define DISTRICT "erqi"

static char root[64], conninfo[512];
static PGconn *db;
static pid_t procs[6];
static size_t n_procs;

static void setup(void)
{
    ts_scratch(root, sizeof(root), "moves");
    db = NULL;
    n_procs = 0;
}

static void teardown(void)
{
    for (size_t i = 0; i < n_procs; i++) {
        if (procs[i] > 0) {
            kill(procs[i], SIGKILL);
            ts_wait(procs[i], 10000);
        }
    }
    if (db != NULL)
        PQfinish(db);
    proc_remove_scratch(root);
}

TestSuite(moves, .init = setup, .fini = teardown, .timeout = 300);

static pid_t spawn(const char *const argv[], const char *log)
{
    pid_t pid = ts_spawn(argv, log);
    cr_assert_lt(n_procs, sizeof(procs) / sizeof(procs[0]));
    procs[n_procs++] = pid;
    return pid;
}

/* Stops `pid` with SIGTERM and expects a clean exit. */
static void stop(pid_t pid)
{
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int st = ts_wait(pid, 15000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    for (size_t i = 0; i < n_procs; i++) {
        if (procs[i] == pid)
            procs[i] = -1;
    }
}

static void fresh_db(const char *name)
{
    char out[4096];
    db = pgtest_fresh_db(name, conninfo, sizeof(conninfo));
    const char *migrate[] = {ts_bin("citytally-aggregator"), "migrate", "--db", conninfo, NULL};
    cr_assert_eq(ts_run(migrate, out, sizeof(out)), 0, "migrate: %s", out);
    const char *add[] = {ts_bin("citytally-aggregator"),
                         "agent",
                         "add",
                         AGENT,
                         "--district",
                         DISTRICT,
                         "--db",
                         conninfo,
                         NULL};
    cr_assert_eq(ts_run(add, out, sizeof(out)), 0, "agent add: %s", out);
}

/* Starts an aggregator named `name` (its endpoint ipc://ROOT/NAME, its log ROOT/NAME.log);
 * with `http`, /metrics on a port of the kernel's choice. Waits for "ready". */
static pid_t start_aggregator(const char *name, bool http)
{
    char endpoint[128], publish[128], log[128];
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/%s", root, name);
    snprintf(publish, sizeof(publish), "ipc://%s/%s-feed", root, name);
    snprintf(log, sizeof(log), "%s/%s.log", root, name);
    const char *argv[] = {ts_bin("citytally-aggregator"),
                          "--db",
                          conninfo,
                          "--insecure",
                          "--listen",
                          endpoint,
                          "--publish",
                          publish,
                          "--http",
                          http ? "127.0.0.1:0" : "off",
                          NULL};
    pid_t pid = spawn(argv, log);
    cr_assert(WAIT_FOR(ts_file_contains(log, "daemon: ready"), 30000), "%s did not start", name);
    return pid;
}

/* Starts a collector with state ROOT/STATE and log ROOT/STATE.log, connected to the
 * aggregator `agg`. */
static pid_t start_collector(const char *state, const char *agg)
{
    char state_dir[128], endpoint[128], log[128];
    snprintf(state_dir, sizeof(state_dir), "%s/%s", root, state);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/%s", root, agg);
    snprintf(log, sizeof(log), "%s/%s.log", root, state);
    const char *argv[] = {ts_bin("citytally-collector"),
                          "--agent",
                          AGENT,
                          "--district",
                          DISTRICT,
                          "--state-dir",
                          state_dir,
                          "--connect",
                          endpoint,
                          "--insecure",
                          "--ack-timeout",
                          "5s",
                          NULL};
    return spawn(argv, log);
}

/* Queues `rows` updates `add V` with V = first .. first + rows - 1 in state ROOT/STATE,
 * through `citytally-collector import` (safe while the daemon runs). */
static void import_values(const char *state, long long first, size_t rows)
{
    char path[160], state_dir[128], out[4096];
    size_t cap = 64 + rows * 80, len = 0;
    char *csv = malloc(cap);
    cr_assert_not_null(csv);
    len += (size_t)snprintf(csv + len, cap - len, "indicator,value,op,observed_at,note\r\n");
    for (size_t i = 0; i < rows; i++)
        len += (size_t)snprintf(csv + len, cap - len,
                                "rd_centers_municipal,%lld,add,2015-06-30,%s %lld\r\n",
                                first + (long long)i, state, first + (long long)i);
    snprintf(path, sizeof(path), "%s/%s-%lld.csv", root, state, first);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(csv, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    free(csv);
    snprintf(state_dir, sizeof(state_dir), "%s/%s", root, state);
    const char *argv[] = {
        ts_bin("citytally-collector"), "import", "--state-dir", state_dir, path, NULL};
    cr_assert_eq(ts_run(argv, out, sizeof(out)), 0, "import: %s", out);
}

static long long stored(const char *what)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT %s FROM updates WHERE agent_id = '" AGENT "'", what);
    return pgtest_scalar(db, sql);
}

static bool delivered(long long n)
{
    return stored("count(*)") >= n;
}

/* Rows in the pending table of ROOT/STATE/outbox.db. */
static long long outbox_pending(const char *state)
{
    char path[256];
    sqlite3 *s;
    sqlite3_stmt *st;
    long long n;
    snprintf(path, sizeof(path), "%s/%s/outbox.db", root, state);
    cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
    sqlite3_busy_timeout(s, 10000);
    cr_assert_eq(sqlite3_prepare_v2(s, "SELECT count(*) FROM pending", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return n;
}

/* Exactly the values 1..n, each once, under seqs 1..n. */
static void assert_exactly_once(long long n)
{
    cr_assert_eq(stored("count(*)"), n);
    cr_assert_eq(stored("count(DISTINCT seq)"), n);
    cr_assert_eq(stored("min(seq)"), 1);
    cr_assert_eq(stored("max(seq)"), n);
    cr_assert_eq(stored("count(DISTINCT value)"), n);
    cr_assert_eq(stored("sum(value)::bigint"), n * (n + 1) / 2);
}

static char log_path_buf[160];
static const char *log_of(const char *name)
{
    snprintf(log_path_buf, sizeof(log_path_buf), "%s/%s.log", root, name);
    return log_path_buf;
}

Test(moves, a_collector_moving_to_a_second_aggregator_loses_and_doubles_nothing)
{
    fresh_db("moves_blue_green");
    /* Both aggregators run from the start, as in a blue/green upgrade: B has read the
     * agents before A commits anything. */
    pid_t a = start_aggregator("agg-a", false);
    pid_t b = start_aggregator("agg-b", false);

    import_values("col", 1, 200);
    pid_t c = start_collector("col", "agg-a");
    cr_assert(WAIT_FOR(delivered(200), 60000), "stored %lld", stored("count(*)"));
    cr_assert(WAIT_FOR(outbox_pending("col") == 0, 10000));
    stop(c);

    import_values("col", 201, 100);
    c = start_collector("col", "agg-b");
    cr_assert(WAIT_FOR(delivered(300), 60000), "stored %lld; collector log:\n%s",
              stored("count(*)"), ts_slurp(log_of("col")));
    cr_assert(WAIT_FOR(outbox_pending("col") == 0, 10000), "pending %lld", outbox_pending("col"));
    assert_exactly_once(300);
    cr_assert(!ts_file_contains(log_of("col"), "enumbered"), "nothing may be renumbered");
    cr_assert(ts_file_contains(log_of("agg-b"), "last committed 200"));
    stop(c);
    stop(b);
    stop(a);
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
    fresh_db("moves_two_collectors");
    pid_t agg = start_aggregator("agg", true);
    uint16_t port = 0;
    cr_assert(WAIT_FOR((port = http_port_from_log(log_of("agg"))) != 0, 10000));

    /* x delivers 100. */
    import_values("x", 1, 100);
    pid_t x = start_collector("x", "agg");
    cr_assert(WAIT_FOR(delivered(100), 60000), "stored %lld", stored("count(*)"));

    /* y, with a state of its own, queues 100 before its first connection... */
    import_values("y", 101, 100);
    pid_t y = start_collector("y", "agg");
    /* ... and is refused while x is live. */
    cr_assert(WAIT_FOR(ts_file_contains(log_of("y"), "agent_in_use"), 30000), "y log:\n%s",
              ts_slurp(log_of("y")));
    cr_assert(ts_file_contains(log_of("agg"), "hello refused: agent " AGENT " (" DISTRICT
                                              ") is in use by another collector"));
    cr_assert_geq(metric(port, "citytally_agent_conflicts_total "), 1);
    cr_assert_eq(outbox_pending("y"), 100, "y keeps every update while refused");

    /* Then both stream 100 more. */
    import_values("x", 201, 100);
    import_values("y", 301, 100);
    cr_assert(WAIT_FOR(delivered(400), 180000), "stored %lld; y log:\n%s", stored("count(*)"),
              ts_slurp(log_of("y")));
    cr_assert(WAIT_FOR(outbox_pending("x") == 0 && outbox_pending("y") == 0, 10000),
              "pending x %lld, y %lld", outbox_pending("x"), outbox_pending("y"));
    assert_exactly_once(400);
    cr_assert(ts_file_contains(log_of("y"),
                               "another collector used its agent id or its state was restored"));
    stop(y);
    stop(x);
    stop(agg);
}
