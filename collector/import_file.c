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

/* Reads the whole regular file at `path` into a malloc'd buffer. */
static int read_whole(const char *path, char **data, size_t *len, int64_t *mtime_ms, char *key,
                      size_t key_size, char *err, size_t err_size)
{
    struct stat sb;
    char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = -1;

    if (fd < 0) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0) {
        snprintf(err, err_size, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, err_size, "%s is not a regular file", path);
        goto out;
    }
    if (sb.st_size > COL_IMPORT_MAX_FILE) {
        snprintf(err, err_size, "%s is %lld bytes; files of at most %lld bytes are imported", path,
                 (long long)sb.st_size, COL_IMPORT_MAX_FILE);
        goto out;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        snprintf(err, err_size, "out of memory reading %s", path);
        goto out;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break; /* shrank while we read: take what is there; the hash covers it */
        got += (size_t)n;
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
    return col_import_file_receipted(ob, path, name, NULL, catalog, n_catalog, district,
                                     max_pending, imp, rep);
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
static enum col_import_result import_or_check(struct col_outbox *ob, const char *path,
                                              const char *name, const char *receipt_dir,
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
    if (read_whole(path, &data, &len, &mtime_ms, key, sizeof(key), rep->msg, sizeof(rep->msg)) != 0)
        return COL_IMPORT_UNREADABLE;
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
    if (dry) {
        result = check_only(ob, status, imp, max_pending, rep);
        goto out;
    }
    {
        struct col_origin origin = {name, hash, key, receipt_dir};
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

enum col_import_result col_import_file_receipted(struct col_outbox *ob, const char *path,
                                                 const char *name, const char *receipt_dir,
                                                 const struct ct_catalog_entry *catalog,
                                                 size_t n_catalog, const char *district,
                                                 int64_t max_pending, struct col_import *imp,
                                                 struct col_import_report *rep)
{
    return import_or_check(ob, path, name, receipt_dir, catalog, n_catalog, district, max_pending,
                           false, imp, rep);
}

enum col_import_result col_import_file_check(struct col_outbox *ob, const char *path,
                                             const struct ct_catalog_entry *catalog,
                                             size_t n_catalog, const char *district,
                                             int64_t max_pending, struct col_import *imp,
                                             struct col_import_report *rep)
{
    return import_or_check(ob, path, NULL, NULL, catalog, n_catalog, district, max_pending, true,
                           imp, rep);
}
