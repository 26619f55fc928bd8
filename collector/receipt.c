#include "receipt.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBJECT "receipt"

/* The next "LINE\tREST\n" of `*p` (a rows or marks text): its line number and the rest,
 * without the newline, as a pointer and a length. Returns false at the end. */
static bool next_line(const char **p, long long *line, const char **rest, size_t *rest_len)
{
    const char *s = *p, *nl, *tab;
    char *end;

    if (s == NULL || *s == '\0')
        return false;
    nl = strchr(s, '\n');
    if (nl == NULL)
        nl = s + strlen(s);
    *line = strtoll(s, &end, 10);
    tab = end < nl && *end == '\t' ? end + 1 : nl;
    *rest = tab;
    *rest_len = (size_t)(nl - tab);
    *p = *nl ? nl + 1 : nl;
    return true;
}

/* Appends the verdict of one row from its marks (all of that line, in order). */
static void put_verdict(struct ct_buf *out, const char *marks, long long line)
{
    const char *p = marks, *m;
    size_t len;
    long long l;
    bool first = true;

    /* A rejection is the verdict whatever else was said; so is a lost ack. */
    for (p = marks; next_line(&p, &l, &m, &len) && l == line;) {
        if (strncmp(m, "rejected ", 9) == 0) {
            ct_buf_printf(out, "%.*s\n", (int)len, m);
            return;
        }
    }
    for (p = marks; next_line(&p, &l, &m, &len) && l == line;) {
        if (strncmp(m, "unknown", 7) == 0) {
            ct_buf_puts(out, "unknown: committed, but its acknowledgement was lost; the "
                             "bureau's record says whether it was accepted\n");
            return;
        }
    }
    ct_buf_puts(out, "accepted");
    for (p = marks; next_line(&p, &l, &m, &len) && l == line;) {
        ct_buf_printf(out, "%s%.*s", first ? ", " : "; ", (int)len, m);
        first = false;
    }
    ct_buf_puts(out, "\n");
}

int col_receipt_format(const struct col_receipt *r, struct ct_buf *out)
{
    const char *rows = r->rows, *marks = r->marks, *row, *at, *m;
    long long line, l;
    size_t row_len, len;

    ct_buf_reset(out);
    while (next_line(&rows, &line, &row, &row_len)) {
        /* Both are sorted by line: skip the marks of earlier lines. */
        for (at = marks; next_line(&at, &l, &m, &len) && l < line;)
            marks = at;
        ct_buf_printf(out, "%lld\t%.*s\t", line, (int)row_len, row);
        put_verdict(out, marks, line);
    }
    ct_buf_puts(out, "");
    return out->failed ? -1 : 0;
}

/* Writes `len` bytes as `name` in `dir`, atomically and durably. Returns 0, or -1 with
 * the reason in `err`. */
static int write_atomically(const char *dir, const char *name, const char *data, size_t len,
                            char *err, size_t err_size)
{
    char tmp[512];
    int dfd = -1, fd = -1, rc = -1;
    size_t done = 0;
    struct stat sb;

    snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid());
    /* As the spool's done/ and failed/ (spool.h): never through a symbolic link, and only
     * into a directory of this process's own, whoever else may write to the spool. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, err_size, "cannot open %s: %s", dir, strerror(errno));
        goto out;
    }
    if (fstat(dfd, &sb) != 0 || sb.st_uid != geteuid()) {
        snprintf(err, err_size, "%s is not a directory of this collector's user; no receipt", dir);
        goto out;
    }
    /* A fresh file, never one that was there (a leftover of a crash, or a link). */
    if (unlinkat(dfd, tmp, 0) != 0 && errno != ENOENT) {
        snprintf(err, err_size, "cannot remove %s/%s: %s", dir, tmp, strerror(errno));
        goto out;
    }
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        snprintf(err, err_size, "cannot create %s/%s: %s", dir, tmp, strerror(errno));
        goto out;
    }
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "cannot write %s/%s: %s", dir, tmp, strerror(errno));
            goto out;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        snprintf(err, err_size, "cannot sync %s/%s: %s", dir, tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, err_size, "cannot close %s/%s: %s", dir, tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (renameat(dfd, tmp, dfd, name) != 0) {
        snprintf(err, err_size, "cannot rename %s/%s to %s: %s", dir, tmp, name, strerror(errno));
        goto out;
    }
    /* The rename is durable only once the directory is. */
    if (fsync(dfd) != 0) {
        snprintf(err, err_size, "cannot sync %s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlinkat(dfd, tmp, 0);
    }
    if (dfd >= 0)
        close(dfd);
    return rc;
}

int col_receipt_write_due(struct col_outbox *ob, const struct ct_log *log)
{
    struct ct_buf text = CT_BUF_INIT;
    struct col_receipt r;
    char err[sizeof(((struct col_receipt *)0)->dir) * 2 + 1024];
    int written = 0, due;

    while ((due = col_outbox_receipt_due(ob, ct_time_now_ms(), &r, err, sizeof(err))) == 1) {
        char name[sizeof(r.name) + sizeof(COL_RECEIPT_SUFFIX)];
        int64_t retry = 0;

        snprintf(name, sizeof(name), "%s%s", r.name, COL_RECEIPT_SUFFIX);
        if (col_receipt_format(&r, &text) != 0) {
            ct_log_error(log, SUBJECT, "out of memory writing the receipt of %s", r.name);
            retry = ct_time_now_ms() + COL_RECEIPT_RETRY_MS;
        } else if (write_atomically(r.dir, name, text.data, text.len, err, sizeof(err)) != 0) {
            ct_log_error(log, SUBJECT, "receipt of %s not written: %s; trying again in %d s",
                         r.name, err, COL_RECEIPT_RETRY_MS / 1000);
            retry = ct_time_now_ms() + COL_RECEIPT_RETRY_MS;
        } else {
            ct_log_info(log, SUBJECT, "wrote %s/%s", r.dir, name);
            written++;
        }
        if (col_outbox_receipt_done(ob, r.id, retry, err, sizeof(err)) != 0) {
            ct_log_error(log, SUBJECT, "%s", err);
            col_receipt_release(&r);
            due = -1;
            break;
        }
        col_receipt_release(&r);
    }
    ct_buf_free(&text);
    if (due < 0) {
        ct_log_error(log, SUBJECT, "%s", err);
        return -1;
    }
    return written;
}
