#include "spool.h"

#include "import_file.h"
#include "timefmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBJECT "spool"
#define MAX_READY 256 /* names inotify reported complete, until the next scan */
#define NAME_MAX_BYTES 255
#define REL_MAX (NAME_MAX_BYTES + 32) /* "failed/NAME.N.ext", relative to the spool */

struct col_spool {
    char dir[PATH_MAX];
    int dir_fd;
    int inotify_fd;
    const struct ct_log *log;
    struct col_import *imp;
    char ready[MAX_READY][NAME_MAX_BYTES + 1];
    size_t n_ready;
    bool ready_overflow;         /* more completed files than we remembered: take all */
    struct ct_complaint waiting; /* files that could not be queued right now */
    struct col_spool_counters c;
};

bool col_spool_ignored(const char *name)
{
    static const char *const suffixes[] = {".part", ".tmp", "~", ".errors.txt"};
    size_t len = strlen(name);

    if (name[0] == '.' || strncmp(name, "~$", 2) == 0)
        return true;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t n = strlen(suffixes[i]);
        if (len >= n && strcmp(name + len - n, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static int ensure_subdir(int dir_fd, const char *dir, const char *name, char *err, size_t err_size)
{
    struct stat sb;
    if (mkdirat(dir_fd, name, 0750) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create %s/%s: %s", dir, name, strerror(errno));
        return -1;
    }
    if (fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, err_size, "%s/%s is not a directory", dir, name);
        return -1;
    }
    return 0;
}

struct col_spool *col_spool_new(const char *dir, const struct ct_log *log, char *err,
                                size_t err_size)
{
    struct col_spool *sp = calloc(1, sizeof(*sp));

    if (sp == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    sp->dir_fd = sp->inotify_fd = -1;
    sp->log = log;
    if (ct_strlcpy(sp->dir, dir, sizeof(sp->dir)) >= sizeof(sp->dir)) {
        snprintf(err, err_size, "spool path is too long");
        goto fail;
    }
    sp->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir_fd < 0) {
        snprintf(err, err_size, "cannot open the spool %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (ensure_subdir(sp->dir_fd, dir, "done", err, err_size) != 0 ||
        ensure_subdir(sp->dir_fd, dir, "failed", err, err_size) != 0)
        goto fail;
    sp->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (sp->inotify_fd < 0) {
        snprintf(err, err_size, "inotify: %s", strerror(errno));
        goto fail;
    }
    if (inotify_add_watch(sp->inotify_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
        snprintf(err, err_size, "cannot watch the spool %s: %s", dir, strerror(errno));
        goto fail;
    }
    sp->imp = col_import_new();
    if (sp->imp == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    return sp;
fail:
    col_spool_free(sp);
    return NULL;
}

void col_spool_free(struct col_spool *sp)
{
    if (sp == NULL)
        return;
    if (sp->inotify_fd >= 0)
        close(sp->inotify_fd);
    if (sp->dir_fd >= 0)
        close(sp->dir_fd);
    col_import_free(sp->imp);
    free(sp);
}

int col_spool_fd(const struct col_spool *sp)
{
    return sp->inotify_fd;
}

void col_spool_counters(const struct col_spool *sp, struct col_spool_counters *out)
{
    *out = sp->c;
}

bool col_spool_drain(struct col_spool *sp)
{
    /* Aligned as inotify(7) asks. */
    char buf[16 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool any = false;

    for (;;) {
        ssize_t n = read(sp->inotify_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                sp->ready_overflow = true;
                any = true;
                continue;
            }
            if (ev->len == 0 || col_spool_ignored(ev->name))
                continue;
            any = true;
            if (sp->n_ready < MAX_READY && strlen(ev->name) <= NAME_MAX_BYTES)
                ct_strlcpy(sp->ready[sp->n_ready++], ev->name, sizeof(sp->ready[0]));
            else
                sp->ready_overflow = true;
        }
    }
    return any;
}

static bool reported_ready(const struct col_spool *sp, const char *name)
{
    if (sp->ready_overflow)
        return true;
    for (size_t i = 0; i < sp->n_ready; i++) {
        if (strcmp(sp->ready[i], name) == 0)
            return true;
    }
    return false;
}

/* Moves `name` into subdir `to`, under a free name there: NAME, else STEM.N.EXT. */
static int move_to(struct col_spool *sp, const char *name, const char *to, char *moved,
                   size_t moved_size)
{
    const char *dot = strrchr(name, '.');
    size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);

    for (int i = 0; i < 1000; i++) {
        char target[REL_MAX];
        if (i == 0)
            snprintf(target, sizeof(target), "%s/%s", to, name);
        else
            snprintf(target, sizeof(target), "%s/%.*s.%d%s", to, (int)stem, name, i, name + stem);
        if (renameat2(sp->dir_fd, name, sp->dir_fd, target, RENAME_NOREPLACE) == 0) {
            ct_strlcpy(moved, target, moved_size);
            return 0;
        }
        if (errno != EEXIST) {
            ct_log_error(sp->log, SUBJECT, "cannot move %s/%s to %s: %s", sp->dir, name, target,
                         strerror(errno));
            return -1;
        }
    }
    ct_log_error(sp->log, SUBJECT, "cannot move %s/%s to %s/: too many files of that name", sp->dir,
                 name, to);
    return -1;
}

/* Writes failed/NAME.errors.txt (through a temporary file and a rename, so a reader never
 * sees half of it), then moves the file beside it. */
static void fail_file(struct col_spool *sp, const char *name, const char *why, const char *lines)
{
    char moved[REL_MAX], report[REL_MAX + 16], tmp[REL_MAX + 16], stamp[CT_TIME_TEXT_MAX];
    FILE *f = NULL;
    int fd;

    if (move_to(sp, name, "failed", moved, sizeof(moved)) != 0)
        return;
    sp->c.files_failed++;
    snprintf(report, sizeof(report), "%s.errors.txt", moved);
    snprintf(tmp, sizeof(tmp), "%s.errors.txt.tmp", moved);
    fd = openat(sp->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        ct_log_error(sp->log, SUBJECT, "cannot write %s/%s: %s", sp->dir, report, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto logged;
    }
    ct_time_format(ct_time_now_ms(), stamp, sizeof(stamp));
    fprintf(f, "%s was not imported (%s): %s\n", name, stamp, why);
    if (lines != NULL && lines[0] != '\0')
        fputs(lines, f);
    fprintf(f, "Nothing of this file was queued. Correct it and drop it into the spool "
               "again.\n");
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        f = NULL;
        ct_log_error(sp->log, SUBJECT, "cannot write %s/%s: %s", sp->dir, tmp, strerror(errno));
        goto logged;
    }
    f = NULL;
    if (renameat(sp->dir_fd, tmp, sp->dir_fd, report) != 0)
        ct_log_error(sp->log, SUBJECT, "cannot rename %s/%s: %s", sp->dir, tmp, strerror(errno));
logged:
    if (f != NULL)
        fclose(f);
    ct_log_warn(sp->log, SUBJECT, "%s refused: %s; see %s/%s", name, why, sp->dir, report);
}

/* Returns true when the file stays in the spool to be tried again. */
static bool import_one(struct col_spool *sp, struct col_outbox *ob, const char *name,
                       const struct ct_catalog_entry *catalog, size_t n_catalog,
                       const char *district, int64_t max_pending)
{
    struct col_import_report rep;
    char path[PATH_MAX + NAME_MAX_BYTES + 2], moved[REL_MAX], why[1200], done_dir[PATH_MAX + 8];
    enum col_import_result r;

    snprintf(path, sizeof(path), "%s/%s", sp->dir, name);
    /* The receipt is written later, maybe by a restarted daemon: an absolute path. */
    if (realpath(sp->dir, done_dir) == NULL)
        ct_strlcpy(done_dir, sp->dir, PATH_MAX);
    strcat(done_dir, "/done");
    r = col_import_file_receipted(ob, path, name, done_dir, catalog, n_catalog, district,
                                  max_pending, sp->imp, &rep);
    switch (r) {
    case COL_IMPORT_DONE:
        sp->c.files_imported++;
        sp->c.rows_imported += rep.rows;
        ct_log_info(sp->log, SUBJECT, "%s: queued %zu updates (%s), seqs %llu to %llu", name,
                    rep.rows, ct_encoding_name(rep.encoding), (unsigned long long)rep.first_seq,
                    (unsigned long long)(rep.first_seq + rep.rows - 1));
        if (move_to(sp, name, "done", moved, sizeof(moved)) == 0)
            col_outbox_receipt_rename(ob, rep.first_seq, moved + strlen("done/"), why,
                                      sizeof(why)); /* a failure only keeps the first name */
        break;
    case COL_IMPORT_INVALID:
        snprintf(why, sizeof(why), "%zu bad line%s", sp->imp->n_errors,
                 sp->imp->n_errors == 1 ? "" : "s");
        fail_file(sp, name, why, sp->imp->errors.data);
        break;
    case COL_IMPORT_DUPLICATE:
        if (rep.same_file) {
            ct_log_info(sp->log, SUBJECT,
                        "%s was queued before a crash cut its move to done/ "
                        "short; moving it now",
                        name);
            move_to(sp, name, "done", moved, sizeof(moved));
        } else {
            fail_file(sp, name, rep.msg, NULL);
        }
        break;
    case COL_IMPORT_UNREADABLE:
        if (access(path, F_OK) != 0 && errno == ENOENT)
            break; /* gone meanwhile: nothing to do */
        fail_file(sp, name, rep.msg, NULL);
        break;
    case COL_IMPORT_RETRY:
    case COL_IMPORT_OUTBOX_ERROR:
        sp->c.waiting++;
        ct_complain(sp->log, &sp->waiting, CT_LOG_WARN, SUBJECT,
                    "%s stays in the spool and will be tried again: %s", name, rep.msg);
        return true;
    }
    return false;
}

void col_spool_scan(struct col_spool *sp, struct col_outbox *ob, const char *district,
                    int64_t max_pending, bool settled_only)
{
    struct ct_catalog_entry *catalog = NULL;
    size_t n_catalog = 0;
    char err[COL_OUTBOX_ERROR_MAX];
    int64_t now = ct_time_now_ms();
    size_t n_retry = 0;
    char *retry_names[MAX_READY];
    DIR *d = NULL;
    int fd;

    if (col_outbox_load_catalog(ob, &catalog, &n_catalog, err, sizeof(err)) != 0)
        ct_log_warn(sp->log, SUBJECT, "%s; Chinese indicator names cannot be resolved", err);
    fd = openat(sp->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        ct_log_error(sp->log, SUBJECT, "cannot read the spool %s: %s", sp->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    sp->c.waiting = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        struct stat sb;
        int64_t mtime;
        if (col_spool_ignored(e->d_name))
            continue;
        if (fstatat(sp->dir_fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue;
        mtime = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        if (settled_only && now - mtime < COL_SPOOL_SETTLE_MS && !reported_ready(sp, e->d_name)) {
            sp->c.waiting++;
            continue;
        }
        if (import_one(sp, ob, e->d_name, catalog, n_catalog, district, max_pending) &&
            n_retry < MAX_READY) {
            /* Complete, just not queueable yet: it stays ready for the next scan (a NULL
             * from strdup makes the next scan take every file). */
            retry_names[n_retry++] = strdup(e->d_name);
        }
    }
    if (sp->c.waiting == 0)
        ct_complaint_release(sp->log, &sp->waiting, SUBJECT, "the spool is empty again");
    sp->n_ready = 0;
    sp->ready_overflow = false;
    for (size_t i = 0; i < n_retry; i++) {
        if (retry_names[i] != NULL)
            ct_strlcpy(sp->ready[sp->n_ready++], retry_names[i], sizeof(sp->ready[0]));
        else
            sp->ready_overflow = true;
    }
out:
    for (size_t i = 0; i < n_retry; i++)
        free(retry_names[i]);
    if (d != NULL)
        closedir(d);
    free(catalog);
}
