/*
 * test_collector_e2e.c - issue 5's acceptance runs: the real citytally-collector against the
 * real citytally-aggregator and PostgreSQL, with kill -9 in the middle of things.
 *
 * - kill -9 during the import of a 100,000-row file: whole file or none of it queued (and
 *   the file still in the spool then), and finally every row counted exactly once;
 * - aggregator down while 10,000 updates queue through the spool and `submit`, collector
 *   killed -9 meanwhile: after both restart, all 10,000 arrive exactly once;
 * - outbox full and disk full (RLIMIT_FSIZE): a clear error, nothing lost, recovery.
 */
#include "delivery_fixture.h"

#include <sys/resource.h>

#define AGENT "erqi-1"
#define DISTRICT "erqi"

static const struct delivery_agent agent = {AGENT, DISTRICT};
static struct delivery_fixture fx;
static char state_dir[128], spool_dir[128], col_log[128];
static pid_t collector = -1;

static void setup(void)
{
    df_setup(&fx, "cole2e");
    snprintf(state_dir, sizeof(state_dir), "%s/state", fx.root);
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", fx.root);
    snprintf(col_log, sizeof(col_log), "%s/collector.log", fx.root);
    cr_assert_eq(mkdir(spool_dir, 0750), 0);
    collector = -1;
}

static void teardown(void)
{
    df_teardown(&fx);
}

TestSuite(e2e, .init = setup, .fini = teardown, .timeout = 600);

/* The aggregator at ipc://ROOT/router: in the test's own directory, never a TCP port
 * another test may reuse. Not waited for: the collector must cope with its absence. */
static void start_aggregator(void)
{
    df_start_aggregator(&fx, "router", "aggregator", "off", 0);
}

/* Starts the collector; `fsize_soft` > 0 caps the size of files it writes (a full disk). */
static void start_collector_limited(const char *outbox_max, rlim_t fsize_soft)
{
    collector = df_start_collector(
        &fx, &(struct delivery_collector){.agent = AGENT,
                                          .district = DISTRICT,
                                          .state = "state",
                                          .spool = "spool",
                                          .connect = "router",
                                          .log = col_log,
                                          .rescan = "300ms",
                                          .ack_timeout = "5s",
                                          .outbox_max = outbox_max ? outbox_max : "1000000",
                                          .fsize_soft = fsize_soft});
}

static void start_collector(void)
{
    start_collector_limited(NULL, 0);
}

static long long stored(const char *what)
{
    return df_stored(&fx, AGENT, what);
}

/* Rows in the outbox's pending table, read straight from SQLite (no daemon running). */
static long long outbox_pending(void)
{
    return df_outbox_pending(&fx, "state");
}

/* ROWS rows of `add 1`, distinct by note so two files never share bytes. */
static void write_rows(const char *dir, const char *name, size_t rows, const char *tag)
{
    size_t cap = 64 + rows * 64, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv + len, cap - len, "indicator,value,op,observed_at,note\r\n");
    for (size_t i = 0; i < rows; i++)
        len += (size_t)snprintf(csv + len, cap - len,
                                "rd_centers_municipal,1,add,2015-06-30,%s %zu\r\n", tag, i);
    ts_drop(dir, name, csv, len);
    free(csv);
}

static bool delivered(long long n)
{
    return stored("count(*)") == n;
}

static void assert_exactly_once(long long n)
{
    cr_assert_eq(stored("count(*)"), n);
    cr_assert_eq(stored("count(DISTINCT seq)"), n);
    cr_assert_eq(stored("min(seq)"), 1);
    cr_assert_eq(stored("max(seq)"), n);
    cr_assert_eq(stored("sum(value)::bigint"), n, "each row is `add 1`");
}

static char status_text[8192];
static const char *status(void)
{
    const char *argv[] = {ts_bin("citytally-collector"), "status", "--state-dir", state_dir, NULL};
    /* Before the daemon has created the outbox, status says there is none (exit 1). */
    (void)ts_run(argv, status_text, sizeof(status_text));
    return status_text;
}

/* How long `import` of FILE takes on this machine now, in ms (a scratch outbox). */
static int64_t measure_import_ms(const char *file)
{
    char out[1024], scratch[160];
    snprintf(scratch, sizeof(scratch), "%s/measure", fx.root);
    const char *argv[] = {
        ts_bin("citytally-collector"), "import", "--state-dir", scratch, file, NULL};
    int64_t t0 = ts_now_ms();
    cr_assert_eq(ts_run(argv, out, sizeof(out)), 0, "%s", out);
    return ts_now_ms() - t0;
}

Test(e2e, kill9_during_a_100k_row_import_queues_all_or_nothing_and_counts_once)
{
    char file[256], staged[256];
    df_fresh_db(&fx, "ct_col_e2e_import", &agent, 1);
    snprintf(file, sizeof(file), "%s/big.csv", spool_dir);
    /* Written outside the spool first, aged an hour, then renamed in by each round. */
    write_rows(fx.root, "big.csv", 100000, "big");
    snprintf(staged, sizeof(staged), "%s/big.csv", fx.root);
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, staged, old, 0), 0);
    int64_t import_ms = measure_import_ms(staged);
    cr_log_info("import of 100,000 rows takes %lld ms here", (long long)import_ms);
    cr_assert_eq(rename(staged, file), 0);

    /* kill -9 a third of the way into the import, then near its end, then right after the
     * file leaves the spool; whatever the moment, all or nothing must be queued. */
    const double at[] = {0.3, 0.9, -1};
    long long pending = 0;
    for (int round = 0; round < 3 && pending == 0; round++) {
        snprintf(col_log, sizeof(col_log), "%s/collector-%d.log", fx.root, round);
        start_collector();
        cr_assert(WAIT_FOR(ts_file_contains(col_log, "collector: ready"), 10000));
        if (at[round] > 0)
            ts_pause_ms((int)((double)import_ms * at[round])); /* a moment to strike */
        else
            cr_assert(WAIT_FOR(!ts_exists("%s", file), 60000),
                      "round %d: the import did not finish within 60 s", round);
        df_kill9(&fx, collector);
        collector = -1;
        pending = outbox_pending();
        cr_assert(pending == 0 || pending == 100000, "round %d: %lld rows queued", round, pending);
        if (pending == 0)
            cr_assert(ts_exists("%s", file), "round %d: nothing queued, so the file waits", round);
        cr_log_info("round %d: killed with %lld queued, file %s", round, pending,
                    ts_exists("%s", file) ? "still in the spool" : "in done/");
    }
    snprintf(col_log, sizeof(col_log), "%s/collector-final.log", fx.root);
    start_aggregator();
    start_collector();
    cr_assert(WAIT_FOR(delivered(100000), 300000), "stored %lld", stored("count(*)"));
    assert_exactly_once(100000);
    cr_assert(WAIT_FOR(ts_exists("%s/done/big.csv", spool_dir), 10000));
    cr_assert(!ts_exists("%s/failed/big.csv", spool_dir));
    cr_assert(WAIT_FOR(strstr(status(), "pending:     0") != NULL, 10000), "%s", status_text);
}

Test(e2e, aggregator_down_and_collector_killed_then_all_10000_arrive_exactly_once)
{
    char out[1024];
    df_fresh_db(&fx, "ct_col_e2e_down", &agent, 1);
    start_collector();
    cr_assert(WAIT_FOR(ts_file_contains(col_log, "collector: ready"), 10000));
    /* 9,900 rows through the spool in 9 files, 100 through submit; kill -9 half way. */
    for (int f = 0; f < 9; f++) {
        char name[32], tag[16];
        snprintf(name, sizeof(name), "f%d.csv", f);
        snprintf(tag, sizeof(tag), "f%d", f);
        write_rows(spool_dir, name, 1100, tag);
        if (f == 4) {
            cr_assert(WAIT_FOR(ts_exists("%s/done/f3.csv", spool_dir), 10000));
            df_kill9(&fx, collector);
            start_collector();
        }
    }
    for (int i = 0; i < 100; i++) {
        const char *argv[] = {ts_bin("citytally-collector"),
                              "submit",
                              "--state-dir",
                              state_dir,
                              "--op",
                              "add",
                              "--at",
                              "2015-06-30",
                              "rd_centers_municipal",
                              "1",
                              NULL};
        cr_assert_eq(ts_run(argv, out, sizeof(out)), 0, "%s", out);
        if (i == 50) {
            df_kill9(&fx, collector);
            start_collector();
        }
    }
    cr_assert(WAIT_FOR(ts_exists("%s/done/f8.csv", spool_dir), 20000));
    cr_assert(WAIT_FOR(outbox_pending() == 10000, 20000), "pending %lld", outbox_pending());
    df_kill9(&fx, collector);
    start_aggregator();
    start_collector();
    cr_assert(WAIT_FOR(delivered(10000), 120000), "stored %lld", stored("count(*)"));
    assert_exactly_once(10000);
    cr_assert(WAIT_FOR(strstr(status(), "pending:     0 (next seq 10001)") != NULL, 10000), "%s",
              status_text);
    cr_assert(strstr(status_text, "last ack:    seq 10000 at ") != NULL, "%s", status_text);
}

Test(e2e, full_outbox_refuses_with_a_clear_error_and_recovers_when_drained)
{
    char out[2048];
    df_fresh_db(&fx, "ct_col_e2e_full", &agent, 1);
    start_collector_limited("1000", 0);
    cr_assert(WAIT_FOR(ts_file_contains(col_log, "collector: ready"), 10000));
    write_rows(spool_dir, "fill.csv", 1000, "fill");
    cr_assert(WAIT_FOR(ts_exists("%s/done/fill.csv", spool_dir), 10000));
    const char *argv[] = {ts_bin("citytally-collector"),
                          "submit",
                          "--state-dir",
                          state_dir,
                          "--outbox-max",
                          "1000",
                          "--op",
                          "add",
                          "--at",
                          "2015-06-30",
                          "rd_centers_municipal",
                          "1",
                          NULL};
    cr_assert_eq(ts_run(argv, out, sizeof(out)), 1, "%s", out);
    cr_assert(strstr(out, "citytally-collector submit: the outbox is full: 1000 updates are "
                          "waiting for the aggregator and outbox_max is 1000") != NULL,
              "%s", out);
    write_rows(spool_dir, "more.csv", 500, "more");
    cr_assert(WAIT_FOR(ts_file_contains(col_log, "more.csv stays in the spool and will be tried "
                                                 "again: the outbox is full"),
                       10000));
    cr_assert(ts_exists("%s/more.csv", spool_dir));
    cr_assert_eq(outbox_pending(), 1000, "nothing evicted, nothing added");
    start_aggregator();
    cr_assert(WAIT_FOR(delivered(1500), 60000), "stored %lld", stored("count(*)"));
    assert_exactly_once(1500);
    cr_assert(ts_exists("%s/done/more.csv", spool_dir));
    cr_assert_eq(ts_run(argv, out, sizeof(out)), 0, "room again: %s", out);
    cr_assert(WAIT_FOR(delivered(1501), 30000));
}

Test(e2e, full_disk_keeps_the_file_and_everything_queued_then_recovers)
{
    char out[2048], path[256];
    df_fresh_db(&fx, "ct_col_e2e_disk", &agent, 1);
    start_aggregator();
    /* The collector may write files of at most 2 MiB: a 30,000-row import needs more. */
    start_collector_limited(NULL, 2 * 1024 * 1024);
    cr_assert(WAIT_FOR(ts_file_contains(col_log, "collector: ready"), 10000));
    write_rows(spool_dir, "small.csv", 10, "small");
    cr_assert(WAIT_FOR(delivered(10), 30000));
    write_rows(spool_dir, "big.csv", 30000, "big");
    cr_assert(WAIT_FOR(ts_file_contains(col_log, "big.csv stays in the spool and will be tried "
                                                 "again: queueing updates: no space left for "
                                                 "the outbox"),
                       30000));
    cr_assert(ts_exists("%s/big.csv", spool_dir));
    cr_assert(!ts_exists("%s/failed/big.csv", spool_dir));
    /* `import` under the same limit: one clear line, exit 1, nothing queued. */
    snprintf(path, sizeof(path), "%s/big.csv", spool_dir);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit lim = {2 * 1024 * 1024, RLIM_INFINITY};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        char err_path[300];
        snprintf(err_path, sizeof(err_path), "%s/import.err", fx.root);
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(ts_bin("citytally-collector"), "citytally-collector", "import", "--state-dir",
              state_dir, path, (char *)NULL);
        _exit(127);
    }
    int st = ts_wait(pid, 60000);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "import under a full disk: %d", st);
    snprintf(path, sizeof(path), "%s/import.err", fx.root);
    cr_assert(ts_file_contains(path, "big.csv: queueing updates: no space left for the outbox "),
              "%s", ts_slurp(path));
    cr_assert(ts_file_contains(path, "(File too large); nothing was changed, free some space "
                                     "and try again\n"));
    cr_assert_eq(stored("count(*)"), 10);
    /* Space returns: raise the soft limit of the running collector. */
    struct rlimit lim = {RLIM_INFINITY, RLIM_INFINITY};
    cr_assert_eq(prlimit(collector, RLIMIT_FSIZE, &lim, NULL), 0);
    cr_assert(WAIT_FOR(delivered(30010), 300000), "stored %lld", stored("count(*)"));
    assert_exactly_once(30010);
    cr_assert(ts_exists("%s/done/big.csv", spool_dir));
    (void)out;
}
