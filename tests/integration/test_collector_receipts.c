/*
 * test_collector_receipts.c - CONTRACT section 10 at the district, with the real
 * citytally-collector, citytally-aggregator and PostgreSQL:
 * - a file with accepted, warned and rejected rows gets done/NAME.receipt.txt with the
 *   right line for every row, and `status` lists the warning;
 * - the same when the collector is killed -9 after queueing and before any ack;
 * - `import` from the command line puts the receipt beside the file;
 * - `import --dry-run` prints a line per row, exits 0 or 1, and leaves the outbox
 *   unchanged, row for row and byte for byte.
 */
#include "delivery_fixture.h"

#include <sqlite3.h>

#define AGENT "erqi-1"
#define DISTRICT "erqi"

static const struct delivery_agent agent = {AGENT, DISTRICT};
static struct delivery_fixture fx;
static char state_dir[128], spool_dir[128], col_log[128];
static pid_t collector = -1;

static void setup(void)
{
    df_setup(&fx, "colrcpt");
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

TestSuite(receipts, .init = setup, .fini = teardown, .timeout = 300);

/* The aggregator at ipc://ROOT/router; not waited for. */
static void start_aggregator(void)
{
    df_start_aggregator(&fx, "router", "aggregator", "off", 0);
}

static void start_collector(void)
{
    collector = df_start_collector(&fx, &(struct delivery_collector){.agent = AGENT,
                                                                     .district = DISTRICT,
                                                                     .state = "state",
                                                                     .spool = "spool",
                                                                     .connect = "router",
                                                                     .log = col_log,
                                                                     .rescan = "300ms",
                                                                     .ack_timeout = "2s"});
}

/* Rows 2 and 5 are accepted, row 3 is 16 times the year before (warned), row 4 lies in
 * 2030, which the aggregator rejects as more than a day in the future. */
static const char mixed_csv[] = "indicator,value,observed_at\n"
                                "hightech_output,50,2014-12-31\n"
                                "hightech_output,800,2015-06-30\n"
                                "tech_contract_turnover,7,2030-06-30\n"
                                "tech_contract_turnover,5,2015-06-30\n";

static const char mixed_receipt[] =
    "2\thightech_output\t50\taccepted\n"
    "3\thightech_output\t800\taccepted, warning implausible_yoy: 800 is 16 times the final value "
    "for 2014 (50); send it again with a note to confirm it\n"
    "4\ttech_contract_turnover\t7\trejected bad_time: observation time is more than a day in "
    "the future\n"
    "5\ttech_contract_turnover\t5\taccepted\n";

static void expect_receipt(const char *path)
{
    cr_assert(WAIT_FOR(ts_exists("%s", path), 30000), "no %s; collector log:\n%s", path,
              ts_slurp(col_log));
    char *got = ts_slurp(path);
    cr_assert_str_eq(got, mixed_receipt);
    free(got);
}

static void expect_stored(void)
{
    cr_assert_eq(pgtest_scalar(fx.db, "SELECT count(*) FROM updates"), 3);
    cr_assert_eq(pgtest_scalar(fx.db, "SELECT count(*) FROM rejected_updates WHERE reason ="
                                      " 'bad_time'"),
                 1);
    cr_assert_eq(pgtest_scalar(fx.db, "SELECT count(*) FROM update_warnings WHERE code ="
                                      " 'implausible_yoy'"),
                 1);
    cr_assert_eq(pgtest_scalar(fx.db, "SELECT actual FROM citytally_progress(2015, now())"
                                      " WHERE target_code = 'hightech_output'"),
                 800);
}

Test(receipts, every_row_of_the_file_gets_its_line)
{
    char path[256], out[8192];

    df_fresh_db(&fx, "rcpt_mixed", &agent, 1);
    start_aggregator();
    start_collector();
    ts_drop(spool_dir, "q2.csv", mixed_csv, sizeof(mixed_csv) - 1);
    snprintf(path, sizeof(path), "%s/done/q2.csv.receipt.txt", spool_dir);
    expect_receipt(path);
    expect_stored();

    const char *status[] = {ts_bin("citytally-collector"), "status", "--state-dir", state_dir,
                            NULL};
    cr_assert_eq(ts_run(status, out, sizeof(out)), 0, "%s", out);
    cr_assert(strstr(out, "seq 2  hightech_output 2015 = 800 (q2.csv line 3)") != NULL &&
                  strstr(out, "implausible_yoy: 800 is 16 times") != NULL,
              "status does not list the warning:\n%s", out);
    cr_assert(strstr(out, "bad_time") != NULL, "status does not list the rejection:\n%s", out);
}

Test(receipts, a_kill9_between_queueing_and_the_last_ack_still_gets_the_receipt)
{
    char path[256], queued[256];

    df_fresh_db(&fx, "rcpt_kill9", &agent, 1);
    /* No aggregator yet: the file is queued and nothing is acknowledged. */
    start_collector();
    ts_drop(spool_dir, "q2.csv", mixed_csv, sizeof(mixed_csv) - 1);
    snprintf(queued, sizeof(queued), "%s/done/q2.csv", spool_dir);
    cr_assert(WAIT_FOR(ts_exists("%s", queued), 20000), "not queued; log:\n%s", ts_slurp(col_log));
    df_kill9(&fx, collector);
    collector = -1;
    snprintf(path, sizeof(path), "%s/done/q2.csv.receipt.txt", spool_dir);
    cr_assert(!ts_exists("%s", path), "a receipt before any ack");

    start_aggregator();
    start_collector();
    expect_receipt(path);
    expect_stored();
}

Test(receipts, a_command_line_import_gets_its_receipt_beside_the_file)
{
    char file[256], path[256], out[4096];
    FILE *f;

    df_fresh_db(&fx, "rcpt_cli", &agent, 1);
    snprintf(file, sizeof(file), "%s/q2.csv", fx.root);
    f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs(mixed_csv, f);
    fclose(f);
    start_aggregator();
    start_collector();
    const char *import[] = {
        ts_bin("citytally-collector"), "import", "--state-dir", state_dir, file, NULL};
    cr_assert_eq(ts_run(import, out, sizeof(out)), 0, "%s", out);
    snprintf(path, sizeof(path), "%s/q2.csv.receipt.txt", fx.root);
    expect_receipt(path);
}

/* Every row of every table, in a fixed order, as text. */
static char *dump_outbox(void)
{
    char dbpath[256];
    sqlite3 *s = NULL;
    sqlite3_stmt *tables = NULL;
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);

    snprintf(dbpath, sizeof(dbpath), "%s/outbox.db", state_dir);
    cr_assert_eq(sqlite3_open_v2(dbpath, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(s,
                                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                                    "ORDER BY name",
                                    -1, &tables, NULL),
                 SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char sql[256];
        sqlite3_stmt *rows = NULL;
        snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1",
                 (const char *)sqlite3_column_text(tables, 0));
        cr_assert_eq(sqlite3_prepare_v2(s, sql, -1, &rows, NULL), SQLITE_OK);
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                const char *v = (const char *)sqlite3_column_text(rows, c);
                size_t need = (v ? strlen(v) : 4) + 2;
                if (len + need + 1 > cap) {
                    cap = (len + need + 1) * 2;
                    out = realloc(out, cap);
                }
                len += (size_t)snprintf(out + len, cap - len, "%s|", v ? v : "NULL");
            }
            out[len++] = '\n';
            out[len] = '\0';
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
    sqlite3_close(s);
    return out;
}

Test(receipts, dry_run_prints_each_row_and_leaves_the_outbox_unchanged)
{
    char good[256], bad[256], out[8192], dbpath[256];
    FILE *f;

    df_fresh_db(&fx, "rcpt_dry", &agent, 1);
    start_aggregator();
    start_collector();
    ts_drop(spool_dir, "q1.csv", mixed_csv, sizeof(mixed_csv) - 1);
    snprintf(out, sizeof(out), "%s/done/q1.csv.receipt.txt", spool_dir);
    cr_assert(WAIT_FOR(ts_exists("%s", out), 30000), "no receipt; log:\n%s", ts_slurp(col_log));
    /* Stopped, so nothing else writes the outbox while it is compared. */
    kill(collector, SIGTERM);
    cr_assert_neq(ts_wait(collector, 10000), -1);
    df_forget(&fx, collector);
    collector = -1;

    snprintf(good, sizeof(good), "%s/good.csv", fx.root);
    f = fopen(good, "w");
    fputs("indicator,value,observed_at,note\n"
          "高新技术产业产值,810,2015-07-31,Q3 first\n"
          "tech_contract_turnover,6.5,2015-07-31,\n",
          f);
    fclose(f);
    snprintf(bad, sizeof(bad), "%s/bad.csv", fx.root);
    f = fopen(bad, "w");
    fputs("indicator,value\nst_contribution_rate,55\nno_such_thing,1\n", f);
    fclose(f);

    snprintf(dbpath, sizeof(dbpath), "%s/outbox.db", state_dir);
    char *rows_before = dump_outbox(), *bytes_before = ts_slurp(dbpath);
    size_t bytes_len = 0;
    {
        struct stat sb;
        cr_assert_eq(stat(dbpath, &sb), 0);
        bytes_len = (size_t)sb.st_size;
    }

    const char *dry_good[] = {
        ts_bin("citytally-collector"), "import", "--dry-run", "--state-dir", state_dir, good, NULL};
    cr_assert_eq(ts_run(dry_good, out, sizeof(out)), 0, "%s", out);
    cr_assert(strstr(out, "line 2: seq 5 set hightech_output 2015 = 810 at "
                          "2015-07-31T23:59:59.999+08:00 note: Q3 first\n") != NULL,
              "%s", out);
    cr_assert(strstr(out, "line 3: seq 6 set tech_contract_turnover 2015 = 6.5 at "
                          "2015-07-31T23:59:59.999+08:00\n") != NULL,
              "%s", out);
    cr_assert(strstr(out, "would queue 2 updates") != NULL, "%s", out);

    const char *dry_bad[] = {
        ts_bin("citytally-collector"), "import", "--dry-run", "--state-dir", state_dir, bad, NULL};
    cr_assert_eq(ts_run(dry_bad, out, sizeof(out)), 1, "%s", out);
    cr_assert(strstr(out, "line 2") != NULL && strstr(out, "line 3") != NULL &&
                  strstr(out, "would not be imported") != NULL,
              "%s", out);

    /* the file imported before is a duplicate: it would fail */
    const char *dry_dup[] = {
        ts_bin("citytally-collector"), "import", "--dry-run", "--state-dir", state_dir, NULL, NULL};
    char done_file[256];
    snprintf(done_file, sizeof(done_file), "%s/done/q1.csv", spool_dir);
    dry_dup[5] = done_file;
    cr_assert_eq(ts_run(dry_dup, out, sizeof(out)), 1, "%s", out);
    cr_assert(strstr(out, "duplicate") != NULL, "%s", out);

    char *rows_after = dump_outbox(), *bytes_after = ts_slurp(dbpath);
    cr_assert_str_eq(rows_after, rows_before);
    {
        struct stat sb;
        cr_assert_eq(stat(dbpath, &sb), 0);
        cr_assert_eq((size_t)sb.st_size, bytes_len);
        cr_assert(memcmp(bytes_before, bytes_after, bytes_len) == 0, "outbox.db bytes changed");
    }
    free(rows_before);
    free(rows_after);
    free(bytes_before);
    free(bytes_after);
}
