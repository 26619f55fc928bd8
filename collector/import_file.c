#include "import_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void col_sha256(const void *data, size_t len, unsigned char out[COL_SHA256_SIZE])
{
    /* crypto_hash_sha256 needs no sodium_init(): it uses no random numbers and picks no
     * CPU-specific implementation. */
    crypto_hash_sha256(out, data, len);
}

void col_file_id_of(const struct stat *sb, struct col_file_id *id)
{
    id->dev = (unsigned long long)sb->st_dev;
    id->ino = (unsigned long long)sb->st_ino;
    id->size = (long long)sb->st_size;
    id->mtime_ns = (long long)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
    id->ctime_ns = (long long)sb->st_ctim.tv_sec * 1000000000LL + sb->st_ctim.tv_nsec;
}

bool col_file_id_equal(const struct col_file_id *a, const struct col_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* Reads the whole regular file `src` into a malloc'd buffer. Returns 0; -1 (unreadable)
 * or -2 (changed, or not the expected version) with the reason in `err`. */
static int read_whole(const struct col_import_source *src, char **data, size_t *len,
                      int64_t *mtime_ms, char *key, size_t key_size, struct col_file_id *id,
                      char *err, size_t err_size)
{
    struct stat sb;
    struct col_file_id after;
    char *buf = NULL;
    size_t got = 0;
    /* O_NONBLOCK: opening a FIFO (or a device) swapped in for the file must not block the
     * daemon's only thread; the fstat below then refuses it. */
    int fd = openat(src->dir_fd, src->path,
                    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY),
        rc = -1, flags;

    if (fd < 0) {
        snprintf(err, err_size, "cannot open %s: %s", src->path,
                 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0) {
        snprintf(err, err_size, "cannot stat %s: %s", src->path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, err_size, "%s is not a regular file", src->path);
        goto out;
    }
    col_file_id_of(&sb, id);
    if (src->expect != NULL && !col_file_id_equal(id, src->expect)) {
        snprintf(err, err_size, "%s changed after it was last looked at", src->path);
        rc = -2;
        goto out;
    }
    /* A regular file ignores O_NONBLOCK, but say plainly that reads may block. */
    if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        snprintf(err, err_size, "cannot read %s: %s", src->path, strerror(errno));
        goto out;
    }
    if (sb.st_size > COL_IMPORT_MAX_FILE) {
        snprintf(err, err_size, "%s is %lld bytes; files of at most %lld bytes are imported",
                 src->path, (long long)sb.st_size, COL_IMPORT_MAX_FILE);
        goto out;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        snprintf(err, err_size, "out of memory reading %s", src->path);
        goto out;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "cannot read %s: %s", src->path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break; /* shrank while we read: the fstat below sees it */
        got += (size_t)n;
    }
    /* Bytes written while we read (a file written in place) would be queued in part. */
    if (fstat(fd, &sb) != 0) {
        snprintf(err, err_size, "cannot stat %s: %s", src->path, strerror(errno));
        goto out;
    }
    col_file_id_of(&sb, &after);
    if (!col_file_id_equal(id, &after) || got != (size_t)sb.st_size) {
        snprintf(err, err_size, "%s changed while it was being read", src->path);
        rc = -2;
        goto out;
    }
    *mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
    snprintf(key, key_size, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino, (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
             sb.st_mtim.tv_nsec);
    *data = buf;
    *len = got;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

enum col_import_result col_import_file(struct col_outbox *ob, const char *path, const char *name,
                                       const struct ct_catalog_entry *catalog, size_t n_catalog,
                                       const char *district, int64_t max_pending,
                                       struct col_import *imp, struct col_import_report *rep)
{
    struct col_import_source src = {AT_FDCWD, path, name, NULL, NULL};
    return col_import_file_at(ob, &src, catalog, n_catalog, district, max_pending, imp, rep);
}

/* What a dry run can say once the file parsed: refused as a duplicate, waiting for room
 * in the outbox, or importable. Reads the outbox, never writes it. */
static enum col_import_result check_only(struct col_outbox *ob, int seen, struct col_import *imp,
                                         int64_t max_pending, struct col_import_report *rep)
{
    struct col_outbox_stats st;

    if (seen == 1) {
        snprintf(rep->msg, sizeof(rep->msg),
                 "duplicate: a file with exactly these bytes was imported before");
        return COL_IMPORT_DUPLICATE;
    }
    memset(&st, 0, sizeof(st));
    st.next_seq = 1;
    if (ob != NULL && col_outbox_stats(ob, &st, rep->msg, sizeof(rep->msg)) != 0)
        return COL_IMPORT_OUTBOX_ERROR;
    if (st.pending + (int64_t)imp->n_updates > max_pending) {
        snprintf(rep->msg, sizeof(rep->msg),
                 "the outbox is full: %lld updates are waiting and outbox_max is %lld, so these "
                 "%zu would have to wait",
                 (long long)st.pending, (long long)max_pending, imp->n_updates);
        return COL_IMPORT_RETRY;
    }
    rep->rows = imp->n_updates;
    rep->first_seq = st.next_seq;
    return COL_IMPORT_DONE;
}

/* The one path of import and dry run: `dry` stops short of the outbox write. */
static enum col_import_result import_or_check(struct col_outbox *ob,
                                              const struct col_import_source *src,
                                              const struct ct_catalog_entry *catalog,
                                              size_t n_catalog, const char *district,
                                              int64_t max_pending, bool dry, struct col_import *imp,
                                              struct col_import_report *rep)
{
    unsigned char hash[COL_SHA256_SIZE];
    char key[128], seen_key[128] = "";
    char *data = NULL;
    size_t len = 0;
    int64_t mtime_ms = 0;
    enum col_import_result result;
    int status;

    memset(rep, 0, sizeof(*rep));
    status = read_whole(src, &data, &len, &mtime_ms, key, sizeof(key), &rep->id, rep->msg,
                        sizeof(rep->msg));
    if (status != 0)
        return status == -2 ? COL_IMPORT_CHANGED : COL_IMPORT_UNREADABLE;
    col_sha256(data, len, hash);
    /* Refusing a duplicate before parsing keeps the message about what matters. */
    status = ob == NULL ? 0 /* a dry run before any outbox exists */
                        : col_outbox_file_seen(ob, hash, NULL, 0, seen_key, sizeof(seen_key),
                                               rep->msg, sizeof(rep->msg));
    if (status < 0) {
        result = COL_IMPORT_OUTBOX_ERROR;
        goto out;
    }
    rep->same_file = status == 1 && strcmp(seen_key, key) == 0;
    if (status == 0 &&
        col_csv_import(imp, data, len, mtime_ms, catalog, n_catalog, district) != 0) {
        rep->encoding = imp->encoding;
        result = COL_IMPORT_INVALID;
        if (imp->needs_catalog && n_catalog == 0) {
            /* Not the file's fault: the names resolve once the first welcome has brought
             * the catalog. */
            snprintf(rep->msg, sizeof(rep->msg),
                     "it names indicators in Chinese, and no catalog has been received from "
                     "the aggregator yet to look them up");
            result = COL_IMPORT_RETRY;
        }
        goto out;
    }
    rep->encoding = imp->encoding;
    if (status == 0 && (int64_t)imp->n_updates > max_pending) {
        /* Retrying would wait forever: even an empty outbox has no room for it. */
        snprintf(rep->msg, sizeof(rep->msg),
                 "it has %zu rows and outbox_max is %lld, so it can never be queued whole; "
                 "split it into files of at most %lld rows, or raise outbox_max",
                 imp->n_updates, (long long)max_pending, (long long)max_pending);
        result = COL_IMPORT_TOO_BIG;
        goto out;
    }
    if (dry) {
        result = check_only(ob, status, imp, max_pending, rep);
        goto out;
    }
    {
        struct col_origin origin = {src->name, hash, key, src->receipt_dir};
        status = col_outbox_append(ob, status == 0 ? imp->updates : NULL,
                                   status == 0 ? imp->n_updates : 0, &origin, max_pending,
                                   &rep->first_seq, rep->msg, sizeof(rep->msg));
    }
    switch (status) {
    case COL_OUTBOX_OK:
        rep->rows = imp->n_updates;
        result = COL_IMPORT_DONE;
        break;
    case COL_OUTBOX_DUPLICATE:
        result = COL_IMPORT_DUPLICATE;
        break;
    case COL_OUTBOX_FULL:
    case COL_OUTBOX_DISK_FULL:
    case COL_OUTBOX_BUSY:
        result = COL_IMPORT_RETRY;
        break;
    default:
        result = COL_IMPORT_OUTBOX_ERROR;
        break;
    }
out:
    free(data);
    return result;
}

enum col_import_result col_import_file_at(struct col_outbox *ob,
                                          const struct col_import_source *src,
                                          const struct ct_catalog_entry *catalog, size_t n_catalog,
                                          const char *district, int64_t max_pending,
                                          struct col_import *imp, struct col_import_report *rep)
{
    return import_or_check(ob, src, catalog, n_catalog, district, max_pending, false, imp, rep);
}

enum col_import_result col_import_file_check(struct col_outbox *ob, const char *path,
                                             const struct ct_catalog_entry *catalog,
                                             size_t n_catalog, const char *district,
                                             int64_t max_pending, struct col_import *imp,
                                             struct col_import_report *rep)
{
    struct col_import_source src = {AT_FDCWD, path, path, NULL, NULL};
    return import_or_check(ob, &src, catalog, n_catalog, district, max_pending, true, imp, rep);
}
