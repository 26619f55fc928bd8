/* test_receipt.c - collector/receipt.c and outbox_receipt.c: what a receipt says of each
 * row, when it becomes due, that it follows a renumbering, and that the file lands whole. */
#include "outbox.h"
#include "receipt.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static struct col_outbox *ob;
static char err[COL_OUTBOX_ERROR_MAX];

static void setup(void)
{
    strcpy(dir, "/tmp/ct-receipt-XXXXXX");
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

TestSuite(receipt, .init = setup, .fini = teardown);

Test(receipt, each_row_gets_one_verdict_from_its_marks)
{
    struct col_receipt r = {0};
    struct ct_buf out = CT_BUF_INIT;

    r.rows = "2\ta\t1\n3\tb\t2.5\n4\tc\t3\n5\td\t4\n6\te\t5\n";
    r.marks = "3\twarning unit_slip: m1\n3\twarning flow_decrease: m2\n"
              "4\twarning implausible_yoy: m\n4\trejected bad_time: in the future\n"
              "5\tunknown\n";
    cr_assert_eq(col_receipt_format(&r, &out), 0);
    cr_assert_str_eq(out.data, "2\ta\t1\taccepted\n"
                               "3\tb\t2.5\taccepted, warning unit_slip: m1; warning flow_decrease: "
                               "m2\n"
                               "4\tc\t3\trejected bad_time: in the future\n"
                               "5\td\t4\tunknown: committed, but its acknowledgement was lost; "
                               "the bureau's record says whether it was accepted\n"
                               "6\te\t5\taccepted\n");
    ct_buf_free(&out);
}

static void queue_file(const char *name, size_t n, uint64_t *first)
{
    struct col_new_update u[8];
    unsigned char hash[COL_SHA256_SIZE] = {(unsigned char)n, (unsigned char)name[0]};
    struct col_origin origin = {name, hash, "key", dir};

    cr_assert(n <= 8);
    for (size_t i = 0; i < n; i++) {
        u[i] = (struct col_new_update){.ind = "hightech_output",
                                       .period = 2015,
                                       .at_ms = 1435636800000LL,
                                       .op = CT_OP_SET,
                                       .line = (int64_t)i + 2};
        u[i].value.kind = CT_VALUE_INT;
        u[i].value.as.i = (int64_t)(i + 1) * 10;
    }
    cr_assert_eq(col_outbox_append(ob, u, n, &origin, 1000, first, err, sizeof(err)), 0, "%s", err);
}

static int due(struct col_receipt *r)
{
    int rc = col_outbox_receipt_due(ob, 4102444800000LL, r, err, sizeof(err));
    cr_assert(rc >= 0, "%s", err);
    return rc;
}

Test(receipt, due_once_the_last_row_is_acknowledged_with_what_the_acks_said)
{
    struct col_receipt r;
    struct ct_rejection rej = {.seq = 2, .code = "bad_time", .msg = "in the future"};
    struct ct_warning warn = {.seq = 3, .code = "unit_slip", .msg = "10,000 times"};
    uint64_t first = 0;

    queue_file("q2.csv", 3, &first);
    cr_assert_eq(first, 1);
    cr_assert_eq(due(&r), 0, "due before any ack");
    cr_assert_eq(col_outbox_ack_warned(ob, 2, &rej, 1, NULL, 0, 1000, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(due(&r), 0, "due before the last row's ack");
    cr_assert_eq(col_outbox_ack_warned(ob, 3, NULL, 0, &warn, 1, 1000, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(due(&r), 1);
    cr_assert_str_eq(r.name, "q2.csv");
    cr_assert_str_eq(r.dir, dir);
    cr_assert_str_eq(r.rows, "2\thightech_output\t10\n3\thightech_output\t20\n"
                             "4\thightech_output\t30\n");
    cr_assert_str_eq(r.marks, "3\trejected bad_time: in the future\n"
                              "4\twarning unit_slip: 10,000 times\n");
    col_receipt_release(&r);

    /* status lists the warning with where it came from */
    struct col_kept_row rows[4];
    size_t n = 0;
    cr_assert_eq(col_outbox_warnings(ob, rows, 4, &n, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].seq, 3);
    cr_assert_str_eq(rows[0].origin, "q2.csv");
    cr_assert_eq(rows[0].line, 4);
    cr_assert_str_eq(rows[0].value, "30");
    cr_assert_str_eq(rows[0].code, "unit_slip");
}

Test(receipt, written_whole_once_and_then_forgotten)
{
    struct col_receipt r;
    struct ct_log log;
    char path[128];
    FILE *f;
    char text[512] = "";
    size_t got;

    ct_log_init(&log);
    log.out = fopen("/dev/null", "w");
    queue_file("q3.csv", 2, NULL);
    cr_assert_eq(col_outbox_ack(ob, 2, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_receipt_write_due(ob, &log), 1);
    cr_assert_eq(col_receipt_write_due(ob, &log), 0, "written twice");
    cr_assert_eq(due(&r), 0);
    snprintf(path, sizeof(path), "%s/q3.csv.receipt.txt", dir);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    got = fread(text, 1, sizeof(text) - 1, f);
    text[got] = '\0';
    fclose(f);
    cr_assert_str_eq(text, "2\thightech_output\t10\taccepted\n3\thightech_output\t20\taccepted\n");
    /* no temporary file is left behind */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        cr_assert(strstr(e->d_name, ".tmp") == NULL, "left %s", e->d_name);
    closedir(d);
    fclose(log.out);
}

Test(receipt, a_directory_that_is_gone_is_tried_again_later_not_lost)
{
    struct col_receipt r;
    struct ct_log log;
    unsigned char hash[COL_SHA256_SIZE] = {9};
    struct col_new_update u = {.ind = "hightech_output",
                               .period = 2015,
                               .at_ms = 1435636800000LL,
                               .op = CT_OP_SET,
                               .line = 2};
    struct col_origin origin = {"q4.csv", hash, "key", "/nonexistent/dir"};

    ct_log_init(&log);
    log.out = fopen("/dev/null", "w");
    u.value.kind = CT_VALUE_INT;
    cr_assert_eq(col_outbox_append(ob, &u, 1, &origin, 1000, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_ack(ob, 1, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_receipt_write_due(ob, &log), 0);
    /* not due again at once, but still kept for a later try */
    cr_assert_eq(col_outbox_receipt_due(ob, ct_time_now_ms(), &r, err, sizeof(err)), 0);
    cr_assert_eq(due(&r), 1);
    col_receipt_release(&r);
    fclose(log.out);
}

Test(receipt, renumbered_pending_rows_keep_their_receipt)
{
    struct col_receipt r;
    struct col_sync_result res;
    struct ct_warning warn = {.seq = 12, .code = "flow_decrease", .msg = "lower"};

    queue_file("q5.csv", 2, NULL); /* seqs 1, 2 */
    /* the aggregator already has seqs up to 10 (this outbox was replaced): renumbered 11, 12 */
    cr_assert_eq(col_outbox_sync(ob, 10, &res, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(res.renumbered, 2);
    cr_assert_eq(due(&r), 0);
    cr_assert_eq(col_outbox_ack_warned(ob, 12, NULL, 0, &warn, 1, 1000, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(due(&r), 1);
    cr_assert_str_eq(r.marks, "3\twarning flow_decrease: lower\n");
    col_receipt_release(&r);
}

Test(receipt, an_ack_lost_before_a_restart_leaves_the_lines_unknown)
{
    struct col_receipt r;
    struct col_sync_result res;
    uint64_t first = 0;

    queue_file("q6.csv", 3, &first);
    /* all three were sent (only a sent update can have been committed: CONTRACT 7) */
    cr_assert_eq(col_outbox_mark_sent(ob, 3, err, sizeof(err)), 0, "%s", err);
    /* welcome: the aggregator has seqs 1..2, whose ack never came */
    cr_assert_eq(col_outbox_sync(ob, 2, &res, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(col_outbox_ack(ob, 3, NULL, 0, 1000, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(due(&r), 1);
    cr_assert_str_eq(r.marks, "2\tunknown\n3\tunknown\n");
    col_receipt_release(&r);
}
