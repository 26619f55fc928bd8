/*
 * test_collector_spool.c - the real citytally-collector's drop folder and `status` against
 * a real aggregator and PostgreSQL, as a careless operator or a hostile spool writer would
 * treat them (issue 14): a FIFO renamed into the spool, the spool directory replaced under
 * the running daemon, and file names with terminal escapes shown by `status`.
 */
#include "aggtest.h"
#include "pgtest.h"
#include "test_collector_support.h"

#define AGENT "erqi-1"
#define DISTRICT "erqi"
#define STORED "SELECT count(*) FROM updates WHERE agent_id = '" AGENT "'"

static struct aggtest agg;
static char root[64], state_dir[128], spool_dir[128], col_log[128];
static pid_t collector = -1;

static void setup(void)
{
    memset(&agg, 0, sizeof(agg));
    ts_scratch(root, sizeof(root), "colspool");
    snprintf(state_dir, sizeof(state_dir), "%s/state", root);
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", root);
    snprintf(col_log, sizeof(col_log), "%s/collector.log", root);
    cr_assert_eq(mkdir(spool_dir, 0750), 0);
    collector = -1;
}

static void teardown(void)
{
    if (collector > 0) {
        kill(collector, SIGKILL);
        ts_wait(collector, 10000);
    }
    aggtest_stop(&agg);
    proc_remove_scratch(root);
}

TestSuite(collector_spool, .init = setup, .fini = teardown, .timeout = 120);

static void start_collector(void)
{
    const char *argv[] = {ts_bin("citytally-collector"),
                          "--agent",
                          AGENT,
                          "--district",
                          DISTRICT,
                          "--state-dir",
                          state_dir,
                          "--spool",
                          spool_dir,
                          "--connect",
                          agg.endpoint,
                          "--insecure",
                          "--rescan",
                          "300ms",
                          "--settle",
                          "300ms",
                          NULL};
    collector = ts_spawn(argv, col_log);
    cr_assert(WAIT_FOR(ts_file_contains(col_log, "collector: ready"), 10000), "%s",
              ts_slurp(col_log));
}

static void start(const char *db_name)
{
    aggtest_start(&agg, db_name);
    aggtest_add_agent(&agg, AGENT, DISTRICT);
    start_collector();
}

static int submit(const char *value)
{
    char out[2048];
    const char *argv[] = {
        ts_bin("citytally-collector"), "submit", "--state-dir", state_dir, "--op", "add",
        "rd_centers_municipal",        value,    NULL};
    int rc = ts_run(argv, out, sizeof(out));
    cr_log_info("submit: %s", out);
    return rc;
}

static bool collector_alive(void)
{
    return waitpid(collector, NULL, WNOHANG) == 0;
}

#define TEXT(s) s, sizeof(s) - 1

Test(collector_spool, fifo_renamed_into_the_spool_is_refused_and_a_submit_meanwhile_delivered)
{
    char fifo[256], final[256];
    start("ct_colspool_fifo");
    snprintf(fifo, sizeof(fifo), "%s/pipe.part", root);
    snprintf(final, sizeof(final), "%s/pipe.csv", spool_dir);
    cr_assert_eq(mkfifo(fifo, 0660), 0);
    cr_assert_eq(rename(fifo, final), 0);
    cr_assert_eq(submit("5"), 0);
    cr_assert_eq(aggtest_wait_scalar(&agg, STORED, 1, 20000), 1, "the submit was not delivered");
    cr_assert(WAIT_FOR(ts_exists("%s/failed/pipe.csv.errors.txt", spool_dir), 10000));
    char path[256];
    snprintf(path, sizeof(path), "%s/failed/pipe.csv.errors.txt", spool_dir);
    cr_assert(ts_file_contains(path, "it is a FIFO, and only regular files are imported"), "%s",
              ts_slurp(path));
    /* The spool still works. */
    ts_drop(spool_dir, "q2.csv", TEXT("indicator,value,op\nrd_centers_municipal,2,add\n"));
    cr_assert_eq(aggtest_wait_scalar(&agg, STORED, 2, 20000), 2);
    cr_assert(collector_alive());
}

Test(collector_spool, replaced_spool_is_watched_again_by_the_running_collector)
{
    char old[256];
    start("ct_colspool_replaced");
    ts_drop(spool_dir, "a.csv", TEXT("indicator,value,op\nrd_centers_municipal,1,add\n"));
    cr_assert_eq(aggtest_wait_scalar(&agg, STORED, 1, 20000), 1);
    snprintf(old, sizeof(old), "%s.old", spool_dir);
    cr_assert_eq(rename(spool_dir, old), 0);
    cr_assert_eq(mkdir(spool_dir, 0750), 0);
    cr_assert(WAIT_FOR(ts_file_contains(col_log, "/spool was replaced by another directory "
                                                 "(moved or deleted and made again); watching "
                                                 "the new one"),
                       10000),
              "%s", ts_slurp(col_log));
    ts_drop(spool_dir, "b.csv", TEXT("indicator,value,op\nrd_centers_municipal,2,add\n"));
    cr_assert_eq(aggtest_wait_scalar(&agg, STORED, 2, 20000), 2, "the new spool is not imported");
    cr_assert(WAIT_FOR(ts_exists("%s/done/b.csv", spool_dir), 10000));
    cr_assert(ts_exists("%s/done/a.csv", old));
}

Test(collector_spool, status_shows_file_names_and_messages_with_control_characters_escaped)
{
    char path[256], out[8192];
    /* A name that would clear the operator's screen and ring the bell. */
    snprintf(path, sizeof(path), "%s/q\x1b[2J\x07.csv", root);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("indicator,value\nno_such_indicator,2\n", f);
    cr_assert_eq(fclose(f), 0);
    aggtest_start(&agg, "ct_colspool_status");
    aggtest_add_agent(&agg, AGENT, DISTRICT);
    /* Queued before any catalog came, so the aggregator is the one to refuse it. */
    const char *import[] = {ts_bin("citytally-collector"),
                            "import",
                            "--state-dir",
                            state_dir,
                            "--district",
                            DISTRICT,
                            path,
                            NULL};
    cr_assert_eq(ts_run(import, out, sizeof(out)), 0, "%s", out);
    start_collector();
    const char *status[] = {ts_bin("citytally-collector"), "status", "--state-dir", state_dir,
                            NULL};
    cr_assert(WAIT_FOR(ts_run(status, out, sizeof(out)) == 0 &&
                           strstr(out, "rejected:    1 kept") != NULL,
                       20000),
              "%s", out);
    cr_assert(strstr(out, "(q\\x1b[2J\\x07.csv line 2)") != NULL, "%s", out);
    cr_assert_null(strchr(out, '\x1b'), "a raw ESC reached the terminal");
    cr_assert_null(strchr(out, '\x07'), "a raw BEL reached the terminal");
}
