/* test_csv_import_spool.c - collector/spool.c: files dropped into the spool, without the
 * daemon: done/, failed/ + NAME.errors.txt, duplicates, files still being written. */
#include "outbox.h"
#include "import_file.h"
#include "spool.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[64], spool_dir[128], state_dir[128];
static struct col_outbox *ob;
static struct col_spool *sp;
static struct ct_log lg;
static char err[1024];

static void setup(void)
{
    strcpy(root, "/tmp/ct-spool-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", root);
    snprintf(state_dir, sizeof(state_dir), "%s/state", root);
    cr_assert_eq(mkdir(spool_dir, 0750), 0);
    cr_assert_eq(col_outbox_open(state_dir, &ob, err, sizeof(err)), 0, "%s", err);
    ct_log_init(&lg);
    lg.out = fopen("/dev/null", "w");
    lg.journal = false;
}

static void teardown(void)
{
    char cmd[128];
    col_spool_free(sp);
    col_outbox_free(ob);
    fclose(lg.out);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(spool, .init = setup, .fini = teardown);

static void start_spool(void)
{
    sp = col_spool_new(spool_dir, &lg, err, sizeof(err));
    cr_assert_not_null(sp, "%s", err);
}

/* Writes NAME.part and renames it to NAME, as the contract asks droppers to. */
static void drop(const char *name, const char *bytes, size_t len)
{
    char tmp[256], final[256];
    snprintf(tmp, sizeof(tmp), "%s/%s.part", spool_dir, name);
    snprintf(final, sizeof(final), "%s/%s", spool_dir, name);
    FILE *f = fopen(tmp, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, final), 0);
}

static void scan(int64_t max_pending)
{
    col_spool_drain(sp);
    col_spool_scan(sp, ob, "erqi", max_pending, true);
}

static bool exists(const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", spool_dir, rel);
    return access(path, F_OK) == 0;
}

static char *slurp(const char *rel)
{
    static char buf[8192];
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", spool_dir, rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is missing", rel);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int64_t pending(void)
{
    struct col_outbox_stats st;
    cr_assert_eq(col_outbox_stats(ob, &st, err, sizeof(err)), 0);
    return st.pending;
}

#define TEXT(s) s, sizeof(s) - 1
static const char good[] = "indicator,value\nrd_centers_municipal,3\nhightech_output,2.5\n";

Test(spool, valid_file_is_queued_and_moved_to_done)
{
    start_spool();
    drop("q2.csv", TEXT(good));
    scan(1000);
    cr_assert(exists("done/q2.csv"));
    cr_assert(!exists("q2.csv"));
    cr_assert_eq(pending(), 2);
}

Test(spool, bad_number_on_line_7_goes_to_failed_with_the_line_named)
{
    start_spool();
    drop("bad.csv", TEXT("indicator,value\nrd_centers_municipal,1\nrd_centers_municipal,2\n"
                         "rd_centers_municipal,3\nrd_centers_municipal,4\nrd_centers_municipal,5\n"
                         "rd_centers_municipal,6x\n"));
    scan(1000);
    cr_assert(exists("failed/bad.csv"));
    cr_assert(!exists("bad.csv"));
    const char *report = slurp("failed/bad.csv.errors.txt");
    cr_assert(strstr(report, "bad.csv was not imported (") != NULL, "%s", report);
    cr_assert(strstr(report, "): 1 bad line\nline 7: value '6x': not a number\n") != NULL, "%s",
              report);
    cr_assert(strstr(report, "Nothing of this file was queued.") != NULL, "%s", report);
    cr_assert_eq(pending(), 0);
}

Test(spool, same_file_dropped_twice_is_refused_as_duplicate)
{
    start_spool();
    drop("q2.csv", TEXT(good));
    scan(1000);
    drop("q2.csv", TEXT(good));
    scan(1000);
    cr_assert(exists("done/q2.csv"));
    cr_assert(exists("failed/q2.csv"));
    const char *report = slurp("failed/q2.csv.errors.txt");
    cr_assert(strstr(report, "duplicate: a file with exactly these bytes (2 rows) was imported "
                             "at ") != NULL,
              "%s", report);
    cr_assert_eq(pending(), 2, "the second copy queued nothing");
    /* A third copy under another name is refused too, and lands beside the others. */
    drop("q2-again.csv", TEXT(good));
    scan(1000);
    cr_assert(exists("failed/q2-again.csv.errors.txt"));
    cr_assert_eq(pending(), 2);
}

Test(spool, second_file_of_a_name_in_done_gets_a_number)
{
    start_spool();
    drop("q.csv", TEXT(good));
    scan(1000);
    drop("q.csv", TEXT("indicator,value\nrd_centers_municipal,4\n"));
    scan(1000);
    cr_assert(exists("done/q.csv"));
    cr_assert(exists("done/q.1.csv"));
    cr_assert_eq(pending(), 3);
}

Test(spool, file_queued_before_a_crash_cut_its_move_short_is_moved_on)
{
    start_spool();
    drop("q2.csv", TEXT(good));
    /* What the daemon does before it moves the file, as if killed right after. */
    struct col_import *imp = col_import_new();
    struct col_import_report rep;
    char path[256];
    snprintf(path, sizeof(path), "%s/q2.csv", spool_dir);
    cr_assert_eq(col_import_file(ob, path, "q2.csv", NULL, 0, "erqi", 1000, imp, &rep),
                 COL_IMPORT_DONE, "%s", rep.msg);
    col_import_free(imp);
    scan(1000);
    cr_assert(exists("done/q2.csv"));
    cr_assert(!exists("failed/q2.csv"));
    cr_assert_eq(pending(), 2);
}

Test(spool, files_still_being_written_are_left_alone)
{
    start_spool();
    const char *names[] = {"a.csv.part", "a.csv.tmp", "a.csv~", ".a.csv", "~$a.xlsx"};
    for (size_t i = 0; i < 5; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", spool_dir, names[i]);
        FILE *f = fopen(path, "w");
        fputs(good, f);
        fclose(f);
    }
    scan(1000);
    for (size_t i = 0; i < 5; i++)
        cr_assert(exists(names[i]), "%s was touched", names[i]);
    cr_assert_eq(pending(), 0);
    cr_assert(col_spool_ignored("x.part") && col_spool_ignored("x~") &&
              !col_spool_ignored("x.csv"));
}

Test(spool, fresh_file_not_reported_by_inotify_waits_until_it_settles)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/fresh.csv", spool_dir);
    FILE *f = fopen(path, "w");
    fputs(good, f);
    fclose(f);
    start_spool(); /* after the write: inotify never saw it */
    scan(1000);
    cr_assert(exists("fresh.csv"), "a file modified just now may still be being written");
    struct col_spool_counters c;
    col_spool_counters(sp, &c);
    cr_assert_eq(c.waiting, 1);
    struct timespec old[2] = {{time(NULL) - 10, 0}, {time(NULL) - 10, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, old, 0), 0);
    scan(1000);
    cr_assert(exists("done/fresh.csv"));
    cr_assert_eq(pending(), 2);
}

Test(spool, full_outbox_keeps_the_file_in_the_spool_until_there_is_room)
{
    start_spool();
    drop("q2.csv", TEXT(good));
    scan(1);
    cr_assert(exists("q2.csv"));
    cr_assert(!exists("failed/q2.csv"));
    cr_assert_eq(pending(), 0);
    scan(1000);
    cr_assert(exists("done/q2.csv"));
    cr_assert_eq(pending(), 2);
}

Test(spool, gbk_file_with_chinese_names_uses_the_cached_catalog)
{
    struct ct_catalog_entry c[1] = {{"rd_centers_municipal", "市级研发中心", "district"}};
    cr_assert_eq(col_outbox_set_catalog(ob, c, 1, err, sizeof(err)), 0);
    start_spool();
    drop("gbk.csv",
         TEXT("indicator,value\r\n\xca\xd0\xbc\xb6\xd1\xd0\xb7\xa2\xd6\xd0\xd0\xc4,9\r\n"));
    scan(1000);
    cr_assert(exists("done/gbk.csv"));
    struct ct_update u[1];
    size_t n;
    cr_assert_eq(col_outbox_fetch(ob, 1, 1, CT_WIRE_MAX_MESSAGE, u, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(u[0].ind, "rd_centers_municipal");
    cr_assert_eq(u[0].value.as.i, 9);
}

Test(spool, empty_and_header_only_files_fail_with_the_reason)
{
    start_spool();
    drop("empty.csv", "", 0);
    drop("header.csv", TEXT("indicator,value\r\n"));
    scan(1000);
    cr_assert(strstr(slurp("failed/empty.csv.errors.txt"), "the file is empty") != NULL);
    cr_assert(strstr(slurp("failed/header.csv.errors.txt"),
                     "the file has a header but no data rows") != NULL);
    cr_assert_eq(pending(), 0);
}

Test(spool, chinese_names_wait_in_the_spool_for_the_first_catalog)
{
    start_spool();
    drop("zh.csv", TEXT("indicator,value\n市级研发中心,4\n"));
    scan(1000);
    cr_assert(exists("zh.csv"), "not the file's fault: it waits");
    cr_assert(!exists("failed/zh.csv"));
    struct ct_catalog_entry c[1] = {{"rd_centers_municipal", "市级研发中心", "district"}};
    cr_assert_eq(col_outbox_set_catalog(ob, c, 1, err, sizeof(err)), 0);
    scan(1000);
    cr_assert(exists("done/zh.csv"));
    cr_assert_eq(pending(), 1);
}
