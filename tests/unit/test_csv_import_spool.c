/* test_csv_import_spool.c - collector/spool.c: files dropped into the spool, without the
 * daemon: done/, failed/ + NAME.errors.txt, duplicates, files still being written, and what
 * a hostile spool writer or a careless operator does to it (issue 14). */
#include "import_file.h"
#include "outbox.h"
#include "spool.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_MS 300

static char root[64], spool_dir[128], state_dir[128], log_path[128];
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
    snprintf(log_path, sizeof(log_path), "%s/log.txt", root);
    cr_assert_eq(mkdir(spool_dir, 0750), 0);
    cr_assert_eq(col_outbox_new(state_dir, &ob, err, sizeof(err)), 0, "%s", err);
    ct_log_init(&lg);
    lg.out = fopen(log_path, "w");
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
    sp = col_spool_new(spool_dir, SETTLE_MS, &lg, err, sizeof(err));
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
    col_spool_scan(sp, ob, "erqi", max_pending);
}

/* Scans until `rel` exists in the spool or `timeout_ms` passes, as the daemon rescans
 * while files wait. */
static bool scan_until(const char *rel, int timeout_ms)
{
    char path[256];
    struct timespec pause = {0, 20 * 1000000L};
    int64_t deadline = ct_time_mono_ms() + timeout_ms;
    snprintf(path, sizeof(path), "%s/%s", spool_dir, rel);
    for (;;) {
        scan(1000000);
        if (access(path, F_OK) == 0)
            return true;
        if (ct_time_mono_ms() >= deadline)
            return false;
        nanosleep(&pause, NULL);
    }
}

static bool log_has(const char *text)
{
    static char buf[65536];
    fflush(lg.out);
    FILE *f = fopen(log_path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, text) != NULL;
}

static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    cr_assert_not_null(d, "%s", dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
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
    int64_t t0 = ct_time_mono_ms();
    scan(1000);
    cr_assert(exists("fresh.csv"), "a file found just now may still be being written");
    struct col_spool_counters c;
    col_spool_counters(sp, &c);
    cr_assert_eq(c.waiting, 1);
    cr_assert(scan_until("done/fresh.csv", 5000));
    cr_assert_geq(ct_time_mono_ms() - t0, SETTLE_MS, "taken before it was still for settle");
    cr_assert_eq(pending(), 2);
}

Test(spool, full_outbox_keeps_the_file_in_the_spool_until_there_is_room)
{
    start_spool();
    drop("first.csv", TEXT(good));
    scan(3);
    cr_assert_eq(pending(), 2);
    drop("q2.csv", TEXT("indicator,value\nrd_centers_municipal,3\nhightech_output,2.5\n"
                        "rd_centers_municipal,4\n"));
    scan(3);
    cr_assert(exists("q2.csv"));
    cr_assert(!exists("failed/q2.csv"));
    cr_assert_eq(pending(), 2);
    scan(1000);
    cr_assert(exists("done/q2.csv"));
    cr_assert_eq(pending(), 5);
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

/* Issue 14 item 3: a spool writer swaps failed/ for a symlink to a directory of their
 * choice; a root collector must not write the refused file or its report there. */
Test(spool, failed_swapped_for_a_symlink_gets_nothing_written_through_it)
{
    char outside[256], failed[256], orig[256];
    snprintf(outside, sizeof(outside), "%s/outside", root);
    snprintf(failed, sizeof(failed), "%s/failed", spool_dir);
    snprintf(orig, sizeof(orig), "%s/failed.orig", spool_dir);
    cr_assert_eq(mkdir(outside, 0755), 0);
    start_spool();
    cr_assert_eq(rename(failed, orig), 0);
    cr_assert_eq(symlink(outside, failed), 0);
    drop("evil.csv", TEXT("indicator,value\nrd_centers_municipal,x\n"));
    scan(1000);
    cr_assert_eq(entries_in(outside), 0, "written through the symlink");
    cr_assert(exists("evil.csv"), "left where it is");
    cr_assert_eq(pending(), 0);
    cr_assert(log_has("/spool/failed is not a real directory (a symbolic link or a file stands "
                      "in its place); importing nothing from the spool"));
    /* Put right, the file is refused as usual. */
    cr_assert_eq(unlink(failed), 0);
    cr_assert_eq(rename(orig, failed), 0);
    scan(1000);
    cr_assert(exists("failed/evil.csv.errors.txt"));
    cr_assert(log_has("done/ and failed/ of "));
}

Test(spool, done_swapped_for_a_symlink_gets_nothing_written_and_nothing_queued)
{
    char outside[256], done[256];
    snprintf(outside, sizeof(outside), "%s/outside", root);
    snprintf(done, sizeof(done), "%s/done", spool_dir);
    cr_assert_eq(mkdir(outside, 0755), 0);
    start_spool();
    cr_assert_eq(rmdir(done), 0);
    cr_assert_eq(symlink(outside, done), 0);
    drop("q2.csv", TEXT(good));
    scan(1000);
    cr_assert_eq(entries_in(outside), 0, "moved through the symlink");
    cr_assert(exists("q2.csv"));
    cr_assert_eq(pending(), 0, "not imported while done/ is not sound");
    cr_assert(log_has("/spool/done is not a real directory"));
}

Test(spool, failed_owned_by_another_user_is_refused)
{
    char failed[256];
    if (geteuid() != 0)
        cr_skip_test("needs root to give failed/ to another user");
    snprintf(failed, sizeof(failed), "%s/failed", spool_dir);
    start_spool();
    cr_assert_eq(chown(failed, 65534, 65534), 0);
    drop("evil.csv", TEXT("indicator,value\nrd_centers_municipal,x\n"));
    scan(1000);
    cr_assert(exists("evil.csv"));
    cr_assert(!exists("failed/evil.csv"));
    cr_assert(log_has("/spool/failed belongs to uid 65534, not to the collector's uid 0"));
}

/* Issue 14 item 4: the name was a regular file when the spool looked, then a FIFO when
 * it was opened. Opening must not wait for a writer that never comes. */
Test(spool, import_of_a_name_swapped_for_a_fifo_returns_at_once, .timeout = 10)
{
    char path[256];
    struct col_import *imp = col_import_new();
    struct col_import_report rep;
    snprintf(path, sizeof(path), "%s/pipe.csv", spool_dir);
    cr_assert_eq(mkfifo(path, 0660), 0);
    cr_assert_eq(col_import_file(ob, path, "pipe.csv", NULL, 0, "erqi", 1000, imp, &rep),
                 COL_IMPORT_UNREADABLE);
    cr_assert(strstr(rep.msg, "pipe.csv is not a regular file") != NULL, "%s", rep.msg);
    col_import_free(imp);
    cr_assert_eq(pending(), 0);
}

Test(spool, fifo_in_the_spool_goes_to_failed_unopened_and_the_rest_is_imported, .timeout = 10)
{
    char path[256];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/pipe.csv", spool_dir);
    cr_assert_eq(mkfifo(path, 0660), 0);
    start_spool();
    drop("q2.csv", TEXT(good));
    scan(1000);
    cr_assert(exists("done/q2.csv"));
    cr_assert_eq(pending(), 2);
    snprintf(path, sizeof(path), "%s/failed/pipe.csv", spool_dir);
    cr_assert_eq(lstat(path, &sb), 0);
    cr_assert(S_ISFIFO(sb.st_mode));
    cr_assert(strstr(slurp("failed/pipe.csv.errors.txt"),
                     "it is a FIFO, and only regular files are imported") != NULL);
}

/* Issue 14 item 8: `mv spool spool.old; mkdir spool` used to leave the collector watching
 * spool.old for ever, silently. */
Test(spool, replaced_spool_is_noticed_logged_and_watched_again)
{
    char old[256];
    snprintf(old, sizeof(old), "%s.old", spool_dir);
    start_spool();
    cr_assert_eq(rename(spool_dir, old), 0);
    cr_assert(col_spool_drain(sp), "the move of the spool itself wakes the daemon");
    scan(1000);
    cr_assert(log_has("the spool /tmp/"));
    cr_assert(log_has("/spool is gone (No such file or directory); nothing is imported"));
    cr_assert_eq(mkdir(spool_dir, 0750), 0);
    drop("q2.csv", TEXT(good));
    /* Found by a scan, not seen renamed in: it has to settle first. */
    cr_assert(scan_until("done/q2.csv", 5000), "the new directory is imported from");
    cr_assert(log_has("/spool was replaced by another directory"), "logged");
    cr_assert_eq(pending(), 2);
    /* ... and watched: a file renamed in now is reported by inotify. */
    drop("q3.csv", TEXT("indicator,value\nrd_centers_municipal,4\n"));
    cr_assert(col_spool_drain(sp));
    col_spool_scan(sp, ob, "erqi", 1000);
    cr_assert(exists("done/q3.csv"));
    cr_assert_eq(pending(), 3);
}

static void write_rows(FILE *f, int from, int to)
{
    for (int i = from; i < to; i++)
        fprintf(f, "rd_centers_municipal,%d\n", i);
    cr_assert_eq(fflush(f), 0);
}

/* Issue 14 item 8: a file written in place, its writer pausing half way for longer than
 * the settle time, was imported half. It must be taken whole once closed, or not at all. */
Test(spool, file_written_in_place_is_imported_whole_once_closed_and_still)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/inplace.csv", spool_dir);
    start_spool();
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("indicator,value\n", f);
    write_rows(f, 0, 500);
    /* The writer pauses: the file looks untouched for 10 s. */
    struct timespec old[2] = {{time(NULL) - 10, 0}, {time(NULL) - 10, 0}};
    cr_assert_eq(futimens(fileno(f), old), 0);
    scan(1000000);
    scan(1000000);
    cr_assert_eq(pending(), 0, "half a file queued");
    cr_assert(exists("inplace.csv"));
    write_rows(f, 500, 1000);
    cr_assert_eq(fclose(f), 0);
    cr_assert(scan_until("done/inplace.csv", 5000));
    cr_assert_eq(pending(), 1000);
    cr_assert(!exists("failed/inplace.csv"));
}

/* Issue 14 item 8: more rows than outbox_max can never fit, however long it waits. */
Test(spool, file_with_more_rows_than_outbox_max_goes_to_failed_saying_why)
{
    start_spool();
    drop("q2.csv", TEXT(good));
    scan(1);
    cr_assert(!exists("q2.csv"));
    cr_assert(strstr(slurp("failed/q2.csv.errors.txt"), "q2.csv was not imported (") != NULL);
    cr_assert(strstr(slurp("failed/q2.csv.errors.txt"),
                     "): it has 2 rows and outbox_max is 1, so it can never be queued whole; "
                     "split it into files of at most 1 rows, or raise outbox_max\n") != NULL,
              "%s", slurp("failed/q2.csv.errors.txt"));
    cr_assert_eq(pending(), 0);
}

Test(spool, import_refuses_a_version_other_than_the_one_judged_complete)
{
    char path[256];
    struct stat sb;
    struct col_file_id id;
    struct col_import *imp = col_import_new();
    struct col_import_report rep;
    drop("q2.csv", TEXT(good));
    snprintf(path, sizeof(path), "%s/q2.csv", spool_dir);
    cr_assert_eq(stat(path, &sb), 0);
    col_file_id_of(&sb, &id);
    id.size -= 1; /* as if it grew after it was judged complete */
    struct col_import_source src = {AT_FDCWD, path, "q2.csv", &id, NULL};
    cr_assert_eq(col_import_file_at(ob, &src, NULL, 0, "erqi", 1000, imp, &rep),
                 COL_IMPORT_CHANGED);
    cr_assert(strstr(rep.msg, "q2.csv changed after it was last looked at") != NULL, "%s", rep.msg);
    cr_assert_eq(pending(), 0);
    id.size += 1;
    cr_assert_eq(col_import_file_at(ob, &src, NULL, 0, "erqi", 1000, imp, &rep), COL_IMPORT_DONE,
                 "%s", rep.msg);
    cr_assert_eq(pending(), 2);
    col_import_free(imp);
}

Test(spool, group_writable_spool_without_the_sticky_bit_is_warned_about)
{
    cr_assert_eq(chmod(spool_dir, 02770), 0);
    start_spool();
    cr_assert(log_has("/spool is writable by others than the collector and lacks the sticky bit"));
    col_spool_free(sp);
    sp = NULL;
    fclose(lg.out);
    lg.out = fopen(log_path, "w"); /* start the log afresh */
    cr_assert_not_null(lg.out);
    cr_assert_eq(chmod(spool_dir, 03770), 0);
    start_spool();
    cr_assert(!log_has("sticky"), "3770 is what the packages make");
}

Test(spool, deleted_and_made_again_spool_is_watched_again)
{
    char cmd[300];
    start_spool();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s'", spool_dir, spool_dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert(col_spool_drain(sp), "done/ and failed/ went: worth a look");
    scan(1000);
    cr_assert(log_has("/spool was replaced by another directory"));
    drop("q2.csv", TEXT(good));
    cr_assert(col_spool_drain(sp), "the new directory is watched");
    col_spool_scan(sp, ob, "erqi", 1000);
    cr_assert(exists("done/q2.csv"));
    cr_assert_eq(pending(), 2);
}
