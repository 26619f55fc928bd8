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
#define MAX_TRACKED 256 /* files whose writing inotify follows; beyond, mtime age decides */
#define NAME_MAX_BYTES 255
#define REL_MAX (NAME_MAX_BYTES + 32) /* "NAME.N.ext.errors.txt.tmp" */
#define WATCH_MASK                                                                                 \
    (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |            \
     IN_MOVE_SELF | IN_DELETE_SELF | IN_ONLYDIR)

/* What inotify told us about one name since it last left the spool. */
enum track_state {
    TRACK_SETTLING, /* closed after writing, or found by a scan: waits until it is still */
    TRACK_WRITING,  /* created or written and not closed since: never taken */
    TRACK_MOVED_IN, /* renamed in, as the contract asks: complete */
};

struct tracked {
    char name[NAME_MAX_BYTES + 1];
    enum track_state state;
    bool observed; /* `id` and `since_mono` hold the version seen first and when */
    bool seen;     /* the current scan found it */
    struct col_file_id id;
    int64_t since_mono;
};

struct col_spool {
    char dir[PATH_MAX];
    int dir_fd;
    int inotify_fd;
    int wd; /* the watch on dir_fd's directory, -1 when none */
    /* Of dir_fd: tells a replaced spool. Holding dir_fd open keeps its inode alive, so a
     * directory made anew at the path never has the same number. */
    unsigned long long dir_dev, dir_ino;
    int64_t settle_ms;
    const struct ct_log *log;
    struct col_import *imp;
    struct tracked tracked[MAX_TRACKED];
    size_t n_tracked;
    struct ct_complaint waiting; /* files that could not be queued right now */
    struct ct_complaint unsafe;  /* done/ or failed/ is not ours: nothing is imported */
    struct ct_complaint missing; /* nothing stands at the spool's path */
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

static struct tracked *tracked_find(struct col_spool *sp, const char *name)
{
    for (size_t i = 0; i < sp->n_tracked; i++) {
        if (strcmp(sp->tracked[i].name, name) == 0)
            return &sp->tracked[i];
    }
    return NULL;
}

/* The entry for `name`, added as TRACK_SETTLING when new; NULL when the table is full. */
static struct tracked *tracked_get(struct col_spool *sp, const char *name)
{
    struct tracked *t = tracked_find(sp, name);

    if (t != NULL || sp->n_tracked == MAX_TRACKED || strlen(name) > NAME_MAX_BYTES)
        return t;
    t = &sp->tracked[sp->n_tracked++];
    memset(t, 0, sizeof(*t));
    ct_strlcpy(t->name, name, sizeof(t->name));
    t->state = TRACK_SETTLING;
    return t;
}

static void tracked_remove(struct col_spool *sp, struct tracked *t)
{
    *t = sp->tracked[--sp->n_tracked];
}

static void tracked_forget(struct col_spool *sp, const char *name)
{
    struct tracked *t = tracked_find(sp, name);
    if (t != NULL)
        tracked_remove(sp, t);
}

/* Opens subdirectory `name` of the spool for writing into, creating it when missing. It
 * must be a real directory owned by this process's user: a spool writer who swapped in a
 * symlink (or a directory of their own) would otherwise choose where a root collector
 * writes. Returns the descriptor, or -1 with the reason in `why`. */
static int open_subdir(const struct col_spool *sp, const char *name, char *why, size_t why_size)
{
    struct stat sb;
    int fd;

    if (mkdirat(sp->dir_fd, name, 0750) != 0 && errno != EEXIST) {
        snprintf(why, why_size, "cannot create %s/%s: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    fd = openat(sp->dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR)
            snprintf(why, why_size,
                     "%s/%s is not a real directory (a symbolic link or a file stands in its "
                     "place)",
                     sp->dir, name);
        else
            snprintf(why, why_size, "cannot open %s/%s: %s", sp->dir, name, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0) {
        snprintf(why, why_size, "cannot stat %s/%s: %s", sp->dir, name, strerror(errno));
        close(fd);
        return -1;
    }
    if (sb.st_uid != geteuid()) {
        snprintf(why, why_size, "%s/%s belongs to uid %u, not to the collector's uid %u", sp->dir,
                 name, (unsigned)sb.st_uid, (unsigned)geteuid());
        close(fd);
        return -1;
    }
    return fd;
}

/* Opens the directory at the spool's path and watches it, replacing what was open. */
static int open_dir(struct col_spool *sp, char *err, size_t err_size)
{
    struct stat sb;
    int fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), wd;

    if (fd < 0) {
        snprintf(err, err_size, "cannot open the spool %s: %s", sp->dir, strerror(errno));
        return -1;
    }
    /* The watch is set by path: should the path change again in between, the identity
     * check of the next scan sees it. */
    wd = inotify_add_watch(sp->inotify_fd, sp->dir, WATCH_MASK);
    if (fstat(fd, &sb) != 0 || wd < 0) {
        snprintf(err, err_size, "cannot watch the spool %s: %s", sp->dir, strerror(errno));
        close(fd);
        return -1;
    }
    if (sp->dir_fd >= 0)
        close(sp->dir_fd);
    if (sp->wd >= 0 && sp->wd != wd)
        (void)inotify_rm_watch(sp->inotify_fd, sp->wd); /* fails once the kernel dropped it */
    if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (sb.st_mode & S_ISVTX) == 0)
        ct_log_warn(sp->log, SUBJECT,
                    "the spool %s is writable by others than the collector and lacks the sticky "
                    "bit, so they may rename done/ and failed/ (then nothing is imported): "
                    "chmod +t %s",
                    sp->dir, sp->dir);
    sp->dir_fd = fd;
    sp->wd = wd;
    sp->dir_dev = (unsigned long long)sb.st_dev;
    sp->dir_ino = (unsigned long long)sb.st_ino;
    sp->n_tracked = 0;
    return 0;
}

struct col_spool *col_spool_new(const char *dir, int64_t settle_ms, const struct ct_log *log,
                                char *err, size_t err_size)
{
    struct col_spool *sp = calloc(1, sizeof(*sp));
    int fd;

    if (sp == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    sp->dir_fd = sp->inotify_fd = sp->wd = -1;
    sp->log = log;
    sp->settle_ms = settle_ms;
    if (ct_strlcpy(sp->dir, dir, sizeof(sp->dir)) >= sizeof(sp->dir)) {
        snprintf(err, err_size, "spool path is too long");
        goto fail;
    }
    sp->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (sp->inotify_fd < 0) {
        snprintf(err, err_size, "inotify: %s", strerror(errno));
        goto fail;
    }
    if (open_dir(sp, err, err_size) != 0)
        goto fail;
    if ((fd = open_subdir(sp, "done", err, err_size)) < 0)
        goto fail;
    close(fd);
    if ((fd = open_subdir(sp, "failed", err, err_size)) < 0)
        goto fail;
    close(fd);
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
            struct tracked *t;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                /* Closes may have been lost: what was being written now has to settle. */
                for (size_t i = 0; i < sp->n_tracked; i++) {
                    if (sp->tracked[i].state == TRACK_WRITING)
                        sp->tracked[i].state = TRACK_SETTLING;
                }
                any = true;
                continue;
            }
            if (ev->wd != sp->wd)
                continue; /* the watch of a spool directory since replaced */
            if (ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED)) {
                any = true; /* the scan sees what stands at the path now */
                continue;
            }
            if (ev->mask & IN_ISDIR) {
                any = any || (ev->mask & (IN_DELETE | IN_MOVED_FROM)); /* done/, failed/? */
                continue;
            }
            if (ev->len == 0 || col_spool_ignored(ev->name))
                continue;
            if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
                tracked_forget(sp, ev->name);
                continue;
            }
            if ((t = tracked_get(sp, ev->name)) == NULL)
                continue; /* table full: its mtime's age decides */
            if (ev->mask & (IN_CREATE | IN_MODIFY)) {
                t->state = TRACK_WRITING;
                t->observed = false;
            } else if (ev->mask & IN_CLOSE_WRITE) {
                t->state = TRACK_SETTLING;
                t->observed = false;
                any = true;
            } else if (ev->mask & IN_MOVED_TO) {
                t->state = TRACK_MOVED_IN;
                any = true;
            }
        }
    }
    return any;
}

/* Whether the regular file `name`, now at version `id`, may be read: renamed in, or
 * unchanged for settle_ms and not open for writing as far as inotify saw. */
static bool file_ready(struct col_spool *sp, const char *name, const struct col_file_id *id,
                       int64_t now_mono)
{
    struct tracked *t = tracked_get(sp, name);

    if (t == NULL) {
        int64_t now_ns = ct_time_now_ms() * 1000000LL, newest = id->mtime_ns;
        if (id->ctime_ns > newest)
            newest = id->ctime_ns;
        return now_ns - newest >= sp->settle_ms * 1000000LL;
    }
    t->seen = true;
    switch (t->state) {
    case TRACK_WRITING:
        return false;
    case TRACK_MOVED_IN:
        return true;
    case TRACK_SETTLING:
        if (t->observed && col_file_id_equal(&t->id, id))
            return now_mono - t->since_mono >= sp->settle_ms;
        t->observed = true;
        t->id = *id;
        t->since_mono = now_mono;
        return false;
    }
    return false;
}

/* Sees that the spool's path still names the directory we watch. When it was replaced
 * (`mv spool spool.old; mkdir spool`), watches the new one. Returns 0 when the spool can
 * be scanned. */
static int check_dir(struct col_spool *sp)
{
    char err[PATH_MAX + 128];
    struct stat sb;

    errno = 0;
    if (stat(sp->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        const char *why = errno != 0 ? strerror(errno) : "not a directory";
        ct_complain(sp->log, &sp->missing, CT_LOG_ERROR, SUBJECT,
                    "the spool %s is gone (%s); nothing is imported until a directory is "
                    "there again",
                    sp->dir, why);
        return -1;
    }
    if ((unsigned long long)sb.st_dev == sp->dir_dev &&
        (unsigned long long)sb.st_ino == sp->dir_ino) {
        ct_complaint_release(sp->log, &sp->missing, SUBJECT, "the spool %s is back", sp->dir);
        return 0;
    }
    if (open_dir(sp, err, sizeof(err)) != 0) {
        ct_complain(sp->log, &sp->missing, CT_LOG_ERROR, SUBJECT, "%s", err);
        return -1;
    }
    ct_complaint_release(sp->log, &sp->missing, SUBJECT, "the spool %s is back", sp->dir);
    ct_log_warn(sp->log, SUBJECT,
                "the spool %s was replaced by another directory (moved or deleted and made "
                "again); watching the new one",
                sp->dir);
    return 0;
}

/* Moves `name` into the directory `to_fd` (`to` in messages), under a free name there:
 * NAME, else STEM.N.EXT, which goes to `moved`. */
static int move_to(struct col_spool *sp, const char *name, int to_fd, const char *to, char *moved,
                   size_t moved_size)
{
    const char *dot = strrchr(name, '.');
    size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);

    for (int i = 0; i < 1000; i++) {
        char target[REL_MAX];
        if (i == 0)
            snprintf(target, sizeof(target), "%s", name);
        else
            snprintf(target, sizeof(target), "%.*s.%d%s", (int)stem, name, i, name + stem);
        if (renameat2(sp->dir_fd, name, to_fd, target, RENAME_NOREPLACE) == 0) {
            ct_strlcpy(moved, target, moved_size);
            tracked_forget(sp, name);
            return 0;
        }
        if (errno != EEXIST) {
            ct_log_error(sp->log, SUBJECT, "cannot move %s/%s to %s/%s: %s", sp->dir, name, to,
                         target, strerror(errno));
            return -1;
        }
    }
    ct_log_error(sp->log, SUBJECT, "cannot move %s/%s to %s/: too many files of that name", sp->dir,
                 name, to);
    return -1;
}

/* Writes failed/NAME.errors.txt (through a temporary file and a rename, so a reader never
 * sees half of it), then moves the file beside it. */
static void fail_file_as(struct col_spool *sp, int failed_fd, const char *name, const char *why,
                         const char *lines, bool nothing_queued)
{
    char moved[REL_MAX], report[REL_MAX + 16], tmp[REL_MAX + 16], stamp[CT_TIME_TEXT_MAX];
    FILE *f = NULL;
    int fd;

    if (move_to(sp, name, failed_fd, "failed", moved, sizeof(moved)) != 0)
        return;
    sp->c.files_failed++;
    snprintf(report, sizeof(report), "%s.errors.txt", moved);
    snprintf(tmp, sizeof(tmp), "%s.errors.txt.tmp", moved);
    /* A fresh file, never one that was there (a leftover, or a link someone placed). */
    if (unlinkat(failed_fd, tmp, 0) != 0 && errno != ENOENT)
        ct_log_debug(sp->log, SUBJECT, "removing %s/failed/%s: %s", sp->dir, tmp, strerror(errno));
    fd = openat(failed_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        ct_log_error(sp->log, SUBJECT, "cannot write %s/failed/%s: %s", sp->dir, report,
                     strerror(errno));
        if (fd >= 0)
            close(fd);
        goto logged;
    }
    ct_time_format(ct_time_now_ms(), stamp, sizeof(stamp));
    fprintf(f, "%s was not imported (%s): %s\n", name, stamp, why);
    if (lines != NULL && lines[0] != '\0')
        fputs(lines, f);
    if (nothing_queued)
        fprintf(f, "Nothing of this file was queued. Correct it and drop it into the spool "
                   "again.\n");
    else
        fprintf(f, "Do not drop this file again as it is: its first rows are queued.\n");
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        f = NULL;
        ct_log_error(sp->log, SUBJECT, "cannot write %s/failed/%s: %s", sp->dir, tmp,
                     strerror(errno));
        goto logged;
    }
    f = NULL;
    if (renameat(failed_fd, tmp, failed_fd, report) != 0)
        ct_log_error(sp->log, SUBJECT, "cannot rename %s/failed/%s: %s", sp->dir, tmp,
                     strerror(errno));
logged:
    if (f != NULL)
        fclose(f);
    ct_log_warn(sp->log, SUBJECT, "%s refused: %s; see %s/failed/%s", name, why, sp->dir, report);
}

static void fail_file(struct col_spool *sp, int failed_fd, const char *name, const char *why,
                      const char *lines)
{
    fail_file_as(sp, failed_fd, name, why, lines, true);
}

/* The descriptors of done/ and failed/ for one scan. */
struct subdirs {
    int done, failed;
};

/* Moves a queued file to done/, unless its bytes changed after they were read: then the
 * rows read stay queued, and the file goes to failed/ saying that the rest was not. */
static void finish_done(struct col_spool *sp, const struct subdirs *sd, struct col_outbox *ob,
                        const char *name, const struct col_import_report *rep)
{
    struct col_file_id now;
    struct stat sb;
    char moved[REL_MAX], why[512];

    if (fstatat(sp->dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        col_file_id_of(&sb, &now);
        if (!col_file_id_equal(&now, &rep->id)) {
            snprintf(why, sizeof(why),
                     "it changed after its %zu rows were read and queued (seqs %llu to %llu); "
                     "those stay queued, anything written since was not; drop only the rows "
                     "added since as a new file",
                     rep->rows, (unsigned long long)rep->first_seq,
                     (unsigned long long)(rep->first_seq + rep->rows - 1));
            fail_file_as(sp, sd->failed, name, why, NULL, false);
            return;
        }
    }
    /* The receipt follows the name the file got in done/ (an earlier file of the same name
     * keeps its own); if recording that fails, it keeps the first name. */
    if (move_to(sp, name, sd->done, "done", moved, sizeof(moved)) == 0)
        col_outbox_receipt_rename(ob, rep->first_seq, moved, why, sizeof(why));
}

/* Imports one ready file, and moves it to done/ or failed/, or leaves it to be tried
 * again (counted in `waiting`). */
static void import_one(struct col_spool *sp, const struct subdirs *sd, struct col_outbox *ob,
                       const char *name, const struct col_file_id *id,
                       const struct ct_catalog_entry *catalog, size_t n_catalog,
                       const char *district, int64_t max_pending)
{
    struct col_import_source src = {sp->dir_fd, name, name, id, NULL};
    struct col_import_report rep;
    struct tracked *t;
    struct stat sb;
    char moved[REL_MAX], why[1200], done_dir[PATH_MAX + 8];
    enum col_import_result r;

    /* The receipt is written later, maybe by a restarted daemon: an absolute path. */
    if (realpath(sp->dir, done_dir) == NULL)
        ct_strlcpy(done_dir, sp->dir, PATH_MAX);
    strcat(done_dir, "/done");
    src.receipt_dir = done_dir;
    r = col_import_file_at(ob, &src, catalog, n_catalog, district, max_pending, sp->imp, &rep);
    switch (r) {
    case COL_IMPORT_DONE:
        sp->c.files_imported++;
        sp->c.rows_imported += rep.rows;
        ct_log_info(sp->log, SUBJECT, "%s: queued %zu updates (%s), seqs %llu to %llu", name,
                    rep.rows, ct_encoding_name(rep.encoding), (unsigned long long)rep.first_seq,
                    (unsigned long long)(rep.first_seq + rep.rows - 1));
        finish_done(sp, sd, ob, name, &rep);
        break;
    case COL_IMPORT_INVALID:
        snprintf(why, sizeof(why), "%zu bad line%s", sp->imp->n_errors,
                 sp->imp->n_errors == 1 ? "" : "s");
        fail_file(sp, sd->failed, name, why, sp->imp->errors.data);
        break;
    case COL_IMPORT_DUPLICATE:
        if (rep.same_file) {
            ct_log_info(sp->log, SUBJECT,
                        "%s was queued before a crash cut its move to done/ "
                        "short; moving it now",
                        name);
            move_to(sp, name, sd->done, "done", moved, sizeof(moved));
        } else {
            fail_file(sp, sd->failed, name, rep.msg, NULL);
        }
        break;
    case COL_IMPORT_UNREADABLE:
        if (fstatat(sp->dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
            break; /* gone meanwhile: nothing to do */
        fail_file(sp, sd->failed, name, rep.msg, NULL);
        break;
    case COL_IMPORT_TOO_BIG:
        fail_file(sp, sd->failed, name, rep.msg, NULL);
        break;
    case COL_IMPORT_CHANGED:
        /* Being written in place after all: it has to stay still for settle_ms again. */
        if ((t = tracked_get(sp, name)) != NULL) {
            t->state = TRACK_SETTLING;
            t->observed = false;
        }
        sp->c.waiting++;
        ct_log_info(sp->log, SUBJECT,
                    "%s: %s; nothing was queued, it is read again once it "
                    "stays unchanged",
                    name, rep.msg);
        break;
    case COL_IMPORT_RETRY:
    case COL_IMPORT_OUTBOX_ERROR:
        sp->c.waiting++;
        ct_complain(sp->log, &sp->waiting, CT_LOG_WARN, SUBJECT,
                    "%s stays in the spool and will be tried again: %s", name, rep.msg);
        break;
    }
}

static const char *file_kind(mode_t mode)
{
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    return "a device";
}

void col_spool_scan(struct col_spool *sp, struct col_outbox *ob, const char *district,
                    int64_t max_pending)
{
    struct ct_catalog_entry *catalog = NULL;
    struct subdirs sd = {-1, -1};
    size_t n_catalog = 0;
    char err[COL_OUTBOX_ERROR_MAX > PATH_MAX + 128 ? COL_OUTBOX_ERROR_MAX : PATH_MAX + 128];
    int64_t now = ct_time_mono_ms();
    DIR *d = NULL;
    int fd;

    sp->c.waiting = 0;
    if (check_dir(sp) != 0)
        return;
    if ((sd.done = open_subdir(sp, "done", err, sizeof(err))) < 0 ||
        (sd.failed = open_subdir(sp, "failed", err, sizeof(err))) < 0) {
        ct_complain(sp->log, &sp->unsafe, CT_LOG_ERROR, SUBJECT,
                    "%s; importing nothing from the spool until it is a directory of the "
                    "collector's own again",
                    err);
        goto out;
    }
    ct_complaint_release(sp->log, &sp->unsafe, SUBJECT, "done/ and failed/ of %s are sound again",
                         sp->dir);
    if (col_outbox_load_catalog(ob, &catalog, &n_catalog, err, sizeof(err)) != 0)
        ct_log_warn(sp->log, SUBJECT, "%s; Chinese indicator names cannot be resolved", err);
    fd = openat(sp->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        ct_log_error(sp->log, SUBJECT, "cannot read the spool %s: %s", sp->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    for (size_t i = 0; i < sp->n_tracked; i++)
        sp->tracked[i].seen = false;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        struct col_file_id id;
        struct stat sb;
        if (col_spool_ignored(e->d_name))
            continue;
        if (fstatat(sp->dir_fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(sb.st_mode))
            continue;
        if (!S_ISREG(sb.st_mode)) {
            /* Never opened: a FIFO would block, a device might act. */
            snprintf(err, sizeof(err), "it is %s, and only regular files are imported",
                     file_kind(sb.st_mode));
            fail_file(sp, sd.failed, e->d_name, err, NULL);
            continue;
        }
        col_file_id_of(&sb, &id);
        if (!file_ready(sp, e->d_name, &id, now)) {
            sp->c.waiting++;
            continue;
        }
        import_one(sp, &sd, ob, e->d_name, &id, catalog, n_catalog, district, max_pending);
    }
    /* Names that left without an event we saw. */
    for (size_t i = sp->n_tracked; i-- > 0;) {
        if (!sp->tracked[i].seen)
            tracked_remove(sp, &sp->tracked[i]);
    }
    if (sp->c.waiting == 0)
        ct_complaint_release(sp->log, &sp->waiting, SUBJECT, "the spool is empty again");
out:
    if (d != NULL)
        closedir(d);
    if (sd.failed >= 0)
        close(sd.failed);
    if (sd.done >= 0)
        close(sd.done);
    free(catalog);
}
