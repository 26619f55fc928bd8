/* test_outbox.c - collector/outbox.c: numbering, bounds, acks, resync, refill and a full disk. */
#include "outbox.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static struct col_outbox *ob;
static char err[COL_OUTBOX_ERROR_MAX];

static void setup(void)
{
    strcpy(dir, "/tmp/ct-outbox-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(col_outbox_new(dir, &ob, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void)
{
    char cmd[128];
    col_outbox_free(ob);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(outbox, .init = setup, .fini = teardown);

static struct col_new_update upd(const char *ind, int64_t v)
{
    struct col_new_update u = {0};
    u.ind = ind;
    u.period = 2015;
    u.at_ms = 1435636800000LL;
    u.op = CT_OP_SET;
    u.value.kind = CT_VALUE_INT;
    u.value.as.i = v;
    return u;
}

static void append_n(size_t n, int64_t max, int want)
{
    struct col_new_update *u = calloc(n, sizeof(*u));
    cr_assert_not_null(u);
    for (size_t i = 0; i < n; i++)
        u[i] = upd("rd_centers_municipal", (int64_t)i);
    cr_assert_eq(col_outbox_append(ob, u, n, NULL, max, NULL, err, sizeof(err)), want, "%s", err);
    free(u);
}

static int64_t pending(void)
{
    struct col_outbox_stats st;
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    return st.pending;
}

static long long count_rows(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char path[128];
    long long v;
    snprintf(path, sizeof(path), "%s/outbox.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void outbox_sql(const char *sql)
{
    sqlite3 *db;
    char path[128];
    snprintf(path, sizeof(path), "%s/outbox.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* What version 4 added, taken off again: with it, a current outbox reads as an older one. */
#define UNDO_V4                                                                                    \
    "ALTER TABLE state DROP COLUMN daemon_endpoint;"                                               \
    "ALTER TABLE state DROP COLUMN daemon_moves;"

Test(outbox, seqs_start_at_one_and_rise_by_exactly_one)
{
    uint64_t first = 0;
    struct col_new_update u[3] = {upd("a", 1), upd("b", 2), upd("c", 3)};
    cr_assert_eq(col_outbox_append(ob, u, 3, NULL, 100, &first, err, sizeof(err)), 0);
    cr_assert_eq(first, 1);
    cr_assert_eq(col_outbox_append(ob, u, 2, NULL, 100, &first, err, sizeof(err)), 0);
    cr_assert_eq(first, 4);
    struct ct_update out[10];
    size_t n;
    cr_assert_eq(col_outbox_fetch(ob, 1, 10, CT_WIRE_MAX_MESSAGE, out, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(out[i].seq, i + 1);
    cr_assert_str_eq(out[3].ind, "a");
    cr_assert_eq(pending(), 5);
    cr_assert_eq(count_rows("SELECT count(*) FROM pending"), 5);
}

Test(outbox, values_notes_and_times_read_back_exactly)
{
    struct col_new_update u[3] = {upd("a", -42), upd("b", 0), upd("c", INT64_MAX)};
    u[1].value.kind = CT_VALUE_FLOAT;
    u[1].value.as.f = 0.1;
    u[1].op = CT_OP_ADD;
    u[1].note = "第一季度, \"quoted\"";
    u[2].period = 2016;
    u[2].at_ms = 1451577600000LL;
    cr_assert_eq(col_outbox_append(ob, u, 3, NULL, 100, NULL, err, sizeof(err)), 0);
    struct ct_update out[3];
    size_t n;
    cr_assert_eq(col_outbox_fetch(ob, 1, 3, CT_WIRE_MAX_MESSAGE, out, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[0].value.kind, CT_VALUE_INT);
    cr_assert_eq(out[0].value.as.i, -42);
    cr_assert(!out[0].has_note);
    cr_assert_eq(out[1].value.kind, CT_VALUE_FLOAT);
    cr_assert_eq(out[1].value.as.f, 0.1);
    cr_assert_eq(out[1].op, CT_OP_ADD);
    cr_assert(out[1].has_note);
    cr_assert_str_eq(out[1].note, "第一季度, \"quoted\"");
    cr_assert_eq(out[2].value.as.i, INT64_MAX);
    cr_assert_eq(out[2].period, 2016);
    cr_assert_eq(out[2].at_ms, 1451577600000LL);
}

/* The wire's `queued` (CONTRACT section 9) is the moment the update entered the outbox. */
Test(outbox, fetched_updates_carry_the_time_they_were_queued)
{
    struct col_new_update u[2] = {upd("a", 1), upd("b", 2)};
    int64_t before = ct_time_now_ms(), after;
    cr_assert_eq(col_outbox_append(ob, u, 2, NULL, 100, NULL, err, sizeof(err)), 0);
    after = ct_time_now_ms();
    struct ct_update out[2];
    size_t n;
    cr_assert_eq(col_outbox_fetch(ob, 1, 2, CT_WIRE_MAX_MESSAGE, out, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        cr_assert_geq(out[i].queued_ms, before);
        cr_assert_leq(out[i].queued_ms, after);
        cr_assert_neq(out[i].queued_ms, out[i].at_ms, "not the observation time");
    }
    cr_assert_eq(out[0].queued_ms, out[1].queued_ms, "one transaction, one queue time");
}

Test(outbox, full_outbox_refuses_whole_group_and_evicts_nothing)
{
    append_n(8, 10, 0);
    append_n(3, 10, COL_OUTBOX_FULL);
    cr_assert(strstr(err, "the outbox is full: 8 updates are waiting") != NULL, "%s", err);
    cr_assert_eq(pending(), 8);
    append_n(2, 10, 0);
    cr_assert_eq(pending(), 10);
    append_n(1, 10, COL_OUTBOX_FULL);
    cr_assert_eq(col_outbox_ack(ob, 4, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    append_n(4, 10, 0);
    cr_assert_eq(pending(), 10);
}

Test(outbox, same_file_bytes_are_refused_as_duplicate)
{
    unsigned char hash[COL_SHA256_SIZE] = {1, 2, 3};
    struct col_origin origin = {"q2.csv", hash, "1:2:3:4", NULL};
    struct col_new_update u[2] = {upd("a", 1), upd("b", 2)};
    cr_assert_eq(col_outbox_file_seen(ob, hash, NULL, 0, NULL, 0, err, sizeof(err)), 0);
    cr_assert_eq(col_outbox_append(ob, u, 2, &origin, 100, NULL, err, sizeof(err)), 0);
    char name[64], key[64];
    cr_assert_eq(
        col_outbox_file_seen(ob, hash, name, sizeof(name), key, sizeof(key), err, sizeof(err)), 1);
    cr_assert_str_eq(name, "q2.csv");
    cr_assert_str_eq(key, "1:2:3:4");
    origin.name = "q2-copy.csv";
    cr_assert_eq(col_outbox_append(ob, u, 2, &origin, 100, NULL, err, sizeof(err)),
                 COL_OUTBOX_DUPLICATE);
    cr_assert(strstr(err, "duplicate: a file with exactly these bytes (2 rows) was imported at ") !=
                  NULL,
              "%s", err);
    cr_assert(strstr(err, " as q2.csv; nothing was queued") != NULL, "%s", err);
    cr_assert_eq(pending(), 2);
}

Test(outbox, ack_removes_updates_and_keeps_rejections_with_reasons)
{
    append_n(5, 100, 0);
    struct ct_rejection rej[2] = {{2, "unknown_indicator", "no such indicator"},
                                  {9, "bad_value", "not covered by the ack"}};
    cr_assert_eq(col_outbox_ack(ob, 3, rej, 2, 86400000, err, sizeof(err)), 0, "%s", err);
    struct col_outbox_stats st;
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0);
    cr_assert_eq(st.pending, 2);
    cr_assert_eq(st.first_pending_seq, 4);
    cr_assert_eq(st.last_ack_seq, 3);
    cr_assert_gt(st.last_ack_ms, 0);
    cr_assert_eq(st.rejected, 1);
    struct col_kept_row rows[4];
    size_t n;
    cr_assert_eq(col_outbox_rejections(ob, rows, 4, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].seq, 2);
    cr_assert_str_eq(rows[0].code, "unknown_indicator");
    cr_assert_str_eq(rows[0].msg, "no such indicator");
    cr_assert_str_eq(rows[0].value, "1");
    cr_assert_str_eq(rows[0].origin, "submit");
    /* A rejection older than rejected_keep is forgotten at the next ack. */
    cr_assert_eq(col_outbox_ack(ob, 4, NULL, 0, -1, err, sizeof(err)), 0);
    cr_assert_eq(count_rows("SELECT count(*) FROM rejected"), 0);
}

static void mark_sent(uint64_t seq)
{
    cr_assert_eq(col_outbox_mark_sent(ob, seq, err, sizeof(err)), 0, "%s", err);
}

static void assert_seqs(size_t n, uint64_t first_seq, int64_t first_value)
{
    struct ct_update out[32];
    size_t got;
    cr_assert_leq(n, 32);
    cr_assert_eq(col_outbox_fetch(ob, 0, 32, CT_WIRE_MAX_MESSAGE, out, &got, err, sizeof(err)), 0);
    cr_assert_eq(got, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].seq, first_seq + i);
        cr_assert_eq(out[i].value.as.i, first_value + (int64_t)i, "seq %llu",
                     (unsigned long long)out[i].seq);
    }
}

Test(outbox, sync_drops_what_was_sent_and_the_aggregator_already_has)
{
    struct col_sync_result r;
    append_n(10, 100, 0);
    mark_sent(10);
    cr_assert_eq(col_outbox_sync(ob, 6, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.committed, 6);
    cr_assert_eq(r.renumbered, 0);
    cr_assert(!r.behind);
    cr_assert_eq(r.next_seq, 11);
    cr_assert_eq(pending(), 4);
    assert_seqs(4, 7, 6);
}

Test(outbox, sync_never_drops_an_update_that_was_not_sent_but_renumbers_it_after_m)
{
    struct col_sync_result r;
    struct col_outbox_stats st;
    /* Another collector with our agent id delivered 1..6; ours were never sent. */
    append_n(10, 100, 0);
    cr_assert_eq(col_outbox_sync(ob, 6, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.committed, 0);
    cr_assert_eq(r.renumbered, 10);
    cr_assert_eq(r.renumbered_from, 1);
    cr_assert_eq(r.next_seq, 17);
    assert_seqs(10, 7, 0);
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(st.sent_through, 6, "nothing pending counts as sent after a renumbering");
    cr_assert_eq(st.last_ack_seq, 6);
}

Test(outbox, sync_drops_the_sent_part_and_renumbers_the_unsent_part)
{
    struct col_sync_result r;
    append_n(10, 100, 0);
    mark_sent(5);
    /* 1..5 were ours and committed; 6 and 7 were taken by someone else. */
    cr_assert_eq(col_outbox_sync(ob, 7, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.committed, 5);
    cr_assert_eq(r.renumbered, 5);
    cr_assert_eq(r.renumbered_from, 6);
    assert_seqs(5, 8, 5);
}

Test(outbox, sync_keeps_sent_updates_the_aggregator_does_not_have)
{
    struct col_sync_result r;
    append_n(10, 100, 0);
    mark_sent(10);
    cr_assert_eq(col_outbox_sync(ob, 0, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.committed, 0);
    cr_assert_eq(r.renumbered, 0);
    assert_seqs(10, 1, 0);
}

Test(outbox, sync_renumbers_after_the_aggregator_when_our_state_was_lost)
{
    struct col_sync_result r;
    uint64_t first;
    append_n(3, 100, 0); /* seqs 1..3, but the aggregator already has 1..500 */
    cr_assert_eq(col_outbox_sync(ob, 500, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.committed, 0);
    cr_assert_eq(r.renumbered, 3);
    cr_assert_eq(r.renumbered_from, 1);
    cr_assert_eq(r.next_seq, 504);
    assert_seqs(3, 501, 0);
    append_n(1, 100, 0);
    struct col_new_update u = upd("x", 9);
    cr_assert_eq(col_outbox_append(ob, &u, 1, NULL, 100, &first, err, sizeof(err)), 0);
    cr_assert_eq(first, 505);
    cr_assert_eq(pending(), 5);
}

Test(outbox, sync_below_what_was_acknowledged_holds_and_renumbers_nothing)
{
    struct col_sync_result r;
    struct col_outbox_stats st;
    append_n(10, 100, 0);
    mark_sent(10);
    cr_assert_eq(col_outbox_ack(ob, 8, NULL, 0, 1000, err, sizeof(err)), 0);
    /* The aggregator was restored from a backup that ends at seq 5. */
    cr_assert_eq(col_outbox_sync(ob, 5, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert(r.behind);
    cr_assert(r.refill, "6..8 are kept");
    cr_assert_eq(r.held_seq, 8);
    cr_assert_eq(r.renumbered, 0);
    cr_assert_eq(r.committed, 0);
    assert_seqs(2, 9, 8);
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(st.next_seq, 11);
    cr_assert_eq(st.last_ack_seq, 8);
}

Test(outbox, each_outbox_has_its_own_lasting_instance_id)
{
    struct col_outbox_stats st, again, other_st;
    struct col_outbox *other;
    char other_dir[128];
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(strlen(st.instance), 32);
    cr_assert_eq(strspn(st.instance, "0123456789abcdef"), 32);
    col_outbox_free(ob);
    cr_assert_eq(col_outbox_new(dir, &ob, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_stats(ob, &again, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(again.instance, st.instance);
    snprintf(other_dir, sizeof(other_dir), "%s/other", dir);
    cr_assert_eq(col_outbox_new(other_dir, &other, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_stats(other, &other_st, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_neq(other_st.instance, st.instance);
    col_outbox_free(other);
}

Test(outbox, a_version_1_outbox_is_upgraded_counting_what_it_numbered_as_sent)
{
    struct col_outbox_stats st;
    struct col_sync_result r;
    sqlite3 *db;
    char path[128];
    append_n(4, 100, 0);
    col_outbox_free(ob);
    ob = NULL;
    /* Back to what version 1 had: no instance, no sent_through (nor version 4's columns). */
    snprintf(path, sizeof(path), "%s/outbox.db", dir);
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              UNDO_V4 "ALTER TABLE state DROP COLUMN instance;"
                                      "ALTER TABLE state DROP COLUMN sent_through;"
                                      "PRAGMA user_version=1;",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    cr_assert_eq(col_outbox_new(dir, &ob, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(strlen(st.instance), 32);
    cr_assert_eq(st.sent_through, 4);
    cr_assert_eq(col_outbox_sync(ob, 4, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.committed, 4, "a version-1 daemon may have sent them");
}

Test(outbox, fetch_stops_at_the_byte_budget)
{
    struct col_new_update u[4] = {upd("a", 1), upd("b", 2), upd("c", 3), upd("d", 4)};
    cr_assert_eq(col_outbox_append(ob, u, 4, NULL, 100, NULL, err, sizeof(err)), 0);
    struct ct_update out[4];
    /* fetched updates carry the time they were queued */
    size_t n, one = ct_wire_update_size_bound(&(struct ct_update){.ind = "a", .queued_ms = 1});
    cr_assert_eq(col_outbox_fetch(ob, 2, 4, one * 2, out, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(out[0].seq, 2);
    cr_assert_eq(out[1].seq, 3);
}

Test(outbox, bound_to_one_agent)
{
    cr_assert_eq(col_outbox_bind(ob, "erqi-1", "erqi", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_bind(ob, "erqi-1", "erqi", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_bind(ob, "jinshui-1", "jinshui", err, sizeof(err)), COL_OUTBOX_ERROR);
    cr_assert(strstr(err, "belongs to agent erqi-1 of district erqi, not jinshui-1 of jinshui") !=
                  NULL,
              "%s", err);
}

Test(outbox, catalog_is_cached_and_replaced)
{
    struct ct_catalog_entry c[2] = {{"rd_centers_municipal", "市级研发中心", "district"},
                                    {"st_contribution_rate", "科技进步贡献率", "city"}};
    struct ct_catalog_entry *got;
    size_t n;
    cr_assert_eq(col_outbox_load_catalog(ob, &got, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 0);
    cr_assert_null(got);
    cr_assert_eq(col_outbox_set_catalog(ob, c, 2, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_set_catalog(ob, c + 1, 1, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_load_catalog(ob, &got, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(got[0].code, "st_contribution_rate");
    cr_assert_str_eq(got[0].name_zh, "科技进步贡献率");
    cr_assert_str_eq(got[0].reported_by, "city");
    free(got);
}

Test(outbox, another_connections_commit_is_noticed)
{
    struct col_outbox *other;
    cr_assert_eq(col_outbox_changed(ob), 0);
    append_n(1, 100, 0);
    cr_assert_eq(col_outbox_changed(ob), 0, "our own commits are not news");
    cr_assert_eq(col_outbox_new(dir, &other, err, sizeof(err)), 0, "%s", err);
    struct col_new_update u = upd("x", 1);
    cr_assert_eq(col_outbox_append(other, &u, 1, NULL, 100, NULL, err, sizeof(err)), 0);
    col_outbox_free(other);
    cr_assert_eq(col_outbox_changed(ob), 1);
    cr_assert_eq(col_outbox_changed(ob), 0);
    cr_assert_eq(pending(), 2);
}

Test(outbox, last_error_and_daemon_report_are_kept)
{
    struct col_outbox_stats st;
    struct col_daemon_report in = {1234, 1000, 2000, true, 3, 2500, "tcp://10.0.0.2:5560", 2}, out;
    cr_assert_eq(col_outbox_set_error(ob, "unavailable: database down", err, sizeof(err)), 0);
    cr_assert_eq(col_outbox_report_daemon(ob, &in, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0);
    cr_assert_str_eq(st.last_error, "unavailable: database down");
    cr_assert_gt(st.last_error_ms, 0);
    cr_assert_eq(col_outbox_daemon_report(ob, &out, err, sizeof(err)), 0);
    cr_assert_eq(out.pid, 1234);
    cr_assert(out.connected);
    cr_assert_eq(out.in_flight_batches, 3);
    cr_assert_eq(out.in_flight_updates, 2500);
    cr_assert_str_eq(out.endpoint, "tcp://10.0.0.2:5560");
    cr_assert_eq(out.moves, 2);
}

Test(outbox, a_new_outbox_has_the_daemons_endpoint_and_moves_at_version_4)
{
    struct col_daemon_report out;
    cr_assert_eq(count_rows("PRAGMA user_version"), 4);
    cr_assert_eq(count_rows("SELECT count(*) FROM pragma_table_info('state') WHERE name IN "
                            "('daemon_endpoint', 'daemon_moves')"),
                 2);
    cr_assert_eq(col_outbox_daemon_report(ob, &out, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out.endpoint, "");
    cr_assert_eq(out.moves, 0);
}

Test(outbox, the_reported_endpoint_never_exceeds_the_longest_endpoint)
{
    struct col_daemon_report in = {.pid = 1}, out;
    char longer[2 * COL_ENDPOINT_MAX], sql[sizeof(longer) + 64];
    /* No NUL in the field at all: only COL_ENDPOINT_MAX bytes of it are stored. */
    memset(in.endpoint, 'a', sizeof(in.endpoint));
    cr_assert_eq(col_outbox_report_daemon(ob, &in, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(count_rows("SELECT length(daemon_endpoint) FROM state"), COL_ENDPOINT_MAX);
    cr_assert_eq(col_outbox_daemon_report(ob, &out, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(strlen(out.endpoint), COL_ENDPOINT_MAX);
    /* Someone else's longer text in the file is cut on reading. */
    memset(longer, 'b', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    snprintf(sql, sizeof(sql), "UPDATE state SET daemon_endpoint = '%s'", longer);
    outbox_sql(sql);
    cr_assert_eq(col_outbox_daemon_report(ob, &out, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(strlen(out.endpoint), COL_ENDPOINT_MAX);
    cr_assert_eq(out.endpoint[0], 'b');
}

/* A child process appends under a small RLIMIT_FSIZE, as if the disk were full. */
Test(outbox, full_disk_is_a_clear_error_that_changes_nothing_and_recovers)
{
    append_n(5, 1000000, 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct rlimit lim = {256 * 1024, 256 * 1024};
        struct col_outbox *child;
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0 ||
            col_outbox_new(dir, &child, err, sizeof(err)) != 0)
            _exit(10);
        size_t n = 20000;
        struct col_new_update *u = calloc(n, sizeof(*u));
        for (size_t i = 0; i < n; i++)
            u[i] = upd("rd_centers_municipal", (int64_t)i);
        int rc = col_outbox_append(child, u, n, NULL, 1000000, NULL, err, sizeof(err));
        if (rc == COL_OUTBOX_DISK_FULL && strstr(err, "no space left for the outbox") != NULL &&
            strstr(err, "nothing was changed") != NULL)
            _exit(0);
        fprintf(stderr, "append returned %d: %s\n", rc, err);
        _exit(11);
    }
    int wstatus;
    cr_assert_eq(waitpid(pid, &wstatus, 0), pid);
    cr_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "child status %d", wstatus);
    cr_assert_eq(pending(), 5);
    cr_assert_eq(count_rows("SELECT count(*) FROM pending"), 5);
    append_n(20000, 1000000, 0);
    cr_assert_eq(pending(), 20005);
    cr_assert_eq(count_rows("SELECT count(*) FROM pending"), 20005);
    cr_assert_eq(count_rows("SELECT max(seq) FROM pending"), 20005);
}

/* A `submit` and a starting daemon create the state directory and the WAL outbox at the
 * same instant; every one of them must open it, whichever wins. */
Test(outbox, processes_racing_to_create_a_new_state_dir_all_open_it)
{
    enum { RACERS = 8 };
    char fresh[96];
    int go[2];
    pid_t pids[RACERS];

    snprintf(fresh, sizeof(fresh), "%s/new-state", dir);
    cr_assert_eq(pipe(go), 0);
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        cr_assert_neq(pids[i], -1);
        if (pids[i] == 0) {
            struct col_outbox *mine;
            char byte;
            close(go[1]);
            /* Everyone leaves the gate when the parent closes it. */
            if (read(go[0], &byte, 1) != 0)
                _exit(12);
            if (col_outbox_new(fresh, &mine, err, sizeof(err)) != 0) {
                fprintf(stderr, "racer %d: %s\n", i, err);
                _exit(10);
            }
            struct col_new_update u = upd("rd_centers_municipal", i);
            int rc = col_outbox_append(mine, &u, 1, NULL, 1000000, NULL, err, sizeof(err));
            col_outbox_free(mine);
            _exit(rc == 0 ? 0 : 11);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < RACERS; i++) {
        int wstatus;
        cr_assert_eq(waitpid(pids[i], &wstatus, 0), pids[i]);
        cr_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "racer %d status %d", i,
                  wstatus);
    }
    struct col_outbox *check;
    struct col_outbox_stats st;
    cr_assert_eq(col_outbox_new(fresh, &check, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_stats(check, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(st.pending, RACERS, "one update from each racer, none lost");
    col_outbox_free(check);
}

/* ------------------------------------------------------------ kept after the ack (section 7) */

/* Runs `sql` on the outbox file through a second connection (ages or removes kept rows). */
Test(outbox, acknowledged_updates_are_kept_but_no_longer_pending)
{
    struct col_outbox_stats st;
    append_n(10, 100, 0);
    mark_sent(10);
    cr_assert_eq(col_outbox_ack(ob, 6, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(st.pending, 4);
    cr_assert_eq(st.first_pending_seq, 7);
    cr_assert_eq(st.last_ack_seq, 6);
    cr_assert_eq(count_rows("SELECT count(*) FROM pending"), 4);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked"), 6);
    cr_assert_eq(count_rows("SELECT min(seq) * 100 + max(seq) FROM acked"), 106);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked a JOIN pending p USING (seq)"), 0);
    /* A normal fetch from after the ack sees only pending updates. */
    assert_seqs(4, 7, 6);
}

Test(outbox, a_rejected_update_is_kept_with_the_acknowledged_ones)
{
    struct ct_rejection rej = {.seq = 2, .code = "unknown_indicator", .msg = "no such indicator"};
    append_n(3, 100, 0);
    mark_sent(3);
    cr_assert_eq(col_outbox_ack(ob, 3, &rej, 1, 86400000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(count_rows("SELECT count(*) FROM rejected"), 1);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked"), 3, "the refill must resend seq 2 too");
}

Test(outbox, updates_found_committed_at_a_welcome_are_kept_too)
{
    struct col_sync_result r;
    append_n(10, 100, 0);
    mark_sent(10);
    cr_assert_eq(col_outbox_sync(ob, 6, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.committed, 6);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked WHERE seq BETWEEN 1 AND 6"), 6);
}

Test(outbox, kept_updates_are_forgotten_after_keep_acked)
{
    col_outbox_set_keep_acked(ob, 60000);
    append_n(8, 100, 0);
    mark_sent(8);
    cr_assert_eq(col_outbox_ack(ob, 5, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    /* 1..3 were acknowledged two minutes ago, 4..5 just now. */
    outbox_sql("UPDATE acked SET acked_ms = acked_ms - 120000 WHERE seq <= 3");
    cr_assert_eq(col_outbox_ack(ob, 8, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked"), 5);
    cr_assert_eq(count_rows("SELECT min(seq) * 100 + max(seq) FROM acked"), 408);
}

Test(outbox, keep_acked_zero_keeps_nothing)
{
    col_outbox_set_keep_acked(ob, 0);
    append_n(4, 100, 0);
    mark_sent(4);
    cr_assert_eq(col_outbox_ack(ob, 4, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked"), 0);
    cr_assert_eq(pending(), 0);
}

Test(outbox, a_welcome_below_the_last_ack_refills_from_what_was_kept)
{
    struct col_sync_result r;
    struct col_outbox_stats st;
    struct ct_update out[16];
    size_t n;
    append_n(10, 100, 0); /* values 0..9 under seqs 1..10 */
    mark_sent(10);
    cr_assert_eq(col_outbox_ack(ob, 8, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    /* The bureau's database was restored from a backup that ends at seq 5. */
    cr_assert_eq(col_outbox_sync(ob, 5, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert(r.behind);
    cr_assert(r.refill);
    cr_assert_eq(r.held_seq, 8);
    cr_assert_eq(r.n_missing, 0);
    cr_assert_eq(r.renumbered, 0);
    /* 6..8 come back from `acked`, then 9..10 from `pending`, each with its own value. */
    cr_assert_eq(col_outbox_fetch(ob, 6, 16, CT_WIRE_MAX_MESSAGE, out, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].seq, 6 + i);
        cr_assert_eq(out[i].value.as.i, 5 + (int64_t)i);
        cr_assert_str_eq(out[i].ind, "rd_centers_municipal");
    }
    /* A batch may stop inside the kept range; the next one starts where it stopped. */
    cr_assert_eq(col_outbox_fetch(ob, 7, 1, CT_WIRE_MAX_MESSAGE, out, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(out[0].seq, 7);
    cr_assert_eq(col_outbox_ack(ob, 10, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(st.pending, 0);
    cr_assert_eq(st.last_ack_seq, 10);
    cr_assert_eq(st.next_seq, 11, "nothing was renumbered");
    cr_assert_eq(count_rows("SELECT count(*) FROM acked"), 10);
}

Test(outbox, a_welcome_below_the_last_ack_names_the_seqs_no_longer_kept)
{
    struct col_sync_result r;
    struct col_outbox_stats st;
    append_n(10, 100, 0);
    mark_sent(10);
    cr_assert_eq(col_outbox_ack(ob, 8, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    outbox_sql("DELETE FROM acked WHERE seq IN (2, 3, 6)");
    cr_assert_eq(col_outbox_sync(ob, 1, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert(r.behind);
    cr_assert(!r.refill);
    cr_assert_eq(r.held_seq, 8);
    cr_assert_eq(r.n_missing, 3);
    cr_assert_eq(r.missing_to, 6);
    cr_assert_str_eq(r.missing, "2-3, 6");
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(st.pending, 2, "nothing changed");
    cr_assert_eq(st.next_seq, 11);
    cr_assert_eq(st.last_ack_seq, 8);
    /* `agent skip --to 6` at the bureau: the next welcome says 6, and 7..8 are kept. */
    cr_assert_eq(col_outbox_sync(ob, 6, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert(r.behind);
    cr_assert(r.refill);
    struct ct_update out[8];
    size_t n;
    cr_assert_eq(col_outbox_fetch(ob, 7, 8, CT_WIRE_MAX_MESSAGE, out, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(out[0].seq, 7);
    cr_assert_eq(out[3].seq, 10);
    cr_assert_eq(out[3].value.as.i, 9);
}

Test(outbox, a_welcome_after_keep_acked_ran_out_names_the_whole_range)
{
    struct col_sync_result r;
    col_outbox_set_keep_acked(ob, 60000);
    append_n(300, 1000, 0);
    mark_sent(300);
    cr_assert_eq(col_outbox_ack(ob, 300, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    outbox_sql("UPDATE acked SET acked_ms = acked_ms - 120000");
    /* The welcome itself forgets what is too old before it looks. */
    cr_assert_eq(col_outbox_sync(ob, 100, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert(r.behind);
    cr_assert(!r.refill);
    cr_assert_str_eq(r.missing, "101-300");
    cr_assert_eq(r.n_missing, 200);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked"), 0);
    /* After the skip the welcome says 300: delivery goes on from 301. */
    cr_assert_eq(col_outbox_sync(ob, 300, &r, err, sizeof(err)), 0, "%s", err);
    cr_assert(!r.behind);
    append_n(1, 1000, 0);
    assert_seqs(1, 301, 0);
}

Test(outbox, a_fetch_stops_at_a_hole_in_what_is_kept)
{
    struct ct_update out[16];
    size_t n;
    append_n(10, 100, 0);
    mark_sent(10);
    cr_assert_eq(col_outbox_ack(ob, 8, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    outbox_sql("DELETE FROM acked WHERE seq = 7");
    cr_assert_eq(col_outbox_fetch(ob, 5, 16, CT_WIRE_MAX_MESSAGE, out, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 2, "5 and 6, then the hole");
    cr_assert_eq(out[1].seq, 6);
}

Test(outbox, a_version_2_outbox_is_upgraded_with_nothing_kept)
{
    struct col_outbox_stats st;
    append_n(4, 100, 0);
    mark_sent(4);
    col_outbox_free(ob);
    ob = NULL;
    outbox_sql(UNDO_V4 "DROP TABLE acked; PRAGMA user_version=2;");
    cr_assert_eq(col_outbox_new(dir, &ob, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(count_rows("PRAGMA user_version"), 4);
    cr_assert_eq(col_outbox_ack(ob, 2, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked"), 2);
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(st.pending, 2);
}

Test(outbox, a_version_3_outbox_is_upgraded_in_place_keeping_its_rows)
{
    struct col_outbox_stats before, after;
    struct col_daemon_report old = {4321, 1000, 2000, true, 1, 5, "", 0}, out;
    struct col_daemon_report now = {4321, 1000, 4000, false, 0, 0, "ipc:///run/agg-b", 1};
    struct ct_update fetched[16];
    size_t n;
    cr_assert_eq(col_outbox_bind(ob, "erqi-1", "erqi", err, sizeof(err)), 0, "%s", err);
    append_n(6, 100, 0);
    mark_sent(6);
    cr_assert_eq(col_outbox_ack(ob, 2, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_set_error(ob, "unavailable: database down", err, sizeof(err)), 0);
    cr_assert_eq(col_outbox_report_daemon(ob, &old, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_stats(ob, &before, err, sizeof(err)), 0, "%s", err);
    col_outbox_free(ob);
    ob = NULL;
    outbox_sql(UNDO_V4 "PRAGMA user_version=3;");

    cr_assert_eq(col_outbox_new(dir, &ob, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(count_rows("PRAGMA user_version"), 4);
    cr_assert_eq(count_rows("SELECT count(*) FROM state"), 1);
    cr_assert_eq(count_rows("SELECT count(*) FROM acked"), 2);
    cr_assert_eq(col_outbox_stats(ob, &after, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(after.agent, "erqi-1");
    cr_assert_str_eq(after.instance, before.instance);
    cr_assert_eq(after.pending, 4);
    cr_assert_eq(after.first_pending_seq, 3);
    cr_assert_eq(after.next_seq, 7);
    cr_assert_eq(after.sent_through, 6);
    cr_assert_eq(after.last_ack_seq, 2);
    cr_assert_str_eq(after.last_error, "unavailable: database down");
    cr_assert_eq(col_outbox_fetch(ob, 3, 16, CT_WIRE_MAX_MESSAGE, fetched, &n, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(n, 4);
    cr_assert_eq(fetched[0].seq, 3);
    cr_assert_eq(fetched[0].value.as.i, 2);
    cr_assert_eq(fetched[3].seq, 6);
    /* The old report stays as it was, with no endpoint until the daemon next reports. */
    cr_assert_eq(col_outbox_daemon_report(ob, &out, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(out.pid, 4321);
    cr_assert(out.connected);
    cr_assert_eq(out.in_flight_updates, 5);
    cr_assert_str_eq(out.endpoint, "");
    cr_assert_eq(out.moves, 0);
    cr_assert_eq(col_outbox_report_daemon(ob, &now, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_daemon_report(ob, &out, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out.endpoint, "ipc:///run/agg-b");
    cr_assert_eq(out.moves, 1);
    cr_assert(!out.connected);
}
