/*
 * import_file.h - one CSV file on disk into the outbox, all of it or none of it.
 *
 * Shared by the drop folder (spool.c) and the `import` command: read the file (bounded in
 * size), hash its bytes (SHA-256, libsodium) for duplicate refusal, validate every line
 * (csv_import.c), and queue the rows in one outbox transaction that also records the hash.
 * If any step fails nothing is queued, and the result says whether the file itself is at
 * fault (it will never import) or the moment is (outbox full, disk full: try again later).
 *
 * The file is opened with O_NOFOLLOW | O_NONBLOCK and judged by fstat of that descriptor
 * alone, so a name swapped for a symlink or a FIFO after the caller looked at it is refused
 * at once instead of followed or waited on. Its identity (struct col_file_id) is compared
 * before and after the read: bytes that changed meanwhile are never queued.
 */
#ifndef COL_IMPORT_FILE_H
#define COL_IMPORT_FILE_H

#include "csv_import.h"
#include "outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define COL_IMPORT_MAX_FILE (256LL * 1024 * 1024)

enum col_import_result {
    COL_IMPORT_DONE = 0,     /* every row queued */
    COL_IMPORT_INVALID,      /* bad lines: imp->errors lists them; nothing queued */
    COL_IMPORT_DUPLICATE,    /* these bytes were imported before; nothing queued */
    COL_IMPORT_RETRY,        /* not now: outbox full, disk full, outbox locked, or Chinese
                                names waiting for the first catalog */
    COL_IMPORT_UNREADABLE,   /* the file could not be read (gone, too big, not a file) */
    COL_IMPORT_OUTBOX_ERROR, /* the outbox failed otherwise */
    COL_IMPORT_CHANGED,      /* the file changed while it was read, or is not the one the
                                caller expected: nothing queued; try once it is still */
    COL_IMPORT_TOO_BIG,      /* more rows than max_pending: it can never be queued whole */
};

/* What identifies one version of a file: the same inode with the same size, mtime and
 * ctime (a write or a rename in changes mtime or ctime). */
struct col_file_id {
    unsigned long long dev, ino;
    long long size, mtime_ns, ctime_ns;
};

struct col_import_report {
    bool same_file; /* DUPLICATE: it is the very file imported before (same inode, size and
                       mtime), whose move to done/ was interrupted; not a second copy */
    size_t rows;
    uint64_t first_seq;
    enum ct_encoding encoding;
    struct col_file_id id; /* of the bytes read (every result but UNREADABLE) */
    char msg[1024];        /* one line for every result but DONE and INVALID */
};

/* Imports `path`, recording it in the outbox as `name` (the file name operators know).
 * The catalog (borrowed, may be NULL) and `district` are as for col_csv_import(). `imp` is
 * scratch space the caller owns, and holds the bad lines after COL_IMPORT_INVALID. */
enum col_import_result col_import_file(struct col_outbox *ob, const char *path, const char *name,
                                       const struct ct_catalog_entry *catalog, size_t n_catalog,
                                       const char *district, int64_t max_pending,
                                       struct col_import *imp, struct col_import_report *rep);

/* Where col_import_file_at() reads from. */
struct col_import_source {
    int dir_fd;                       /* `path` is relative to it (AT_FDCWD: the cwd) */
    const char *path;                 /* for opening, and in messages */
    const char *name;                 /* recorded in the outbox: the name operators know */
    const struct col_file_id *expect; /* NULL, or the version the caller judged complete:
                                         any other is refused with COL_IMPORT_CHANGED */
    const char *receipt_dir;          /* NULL, or the absolute directory NAME.receipt.txt is
                                         written into once every update of the file is
                                         acknowledged (receipt.h) */
};

/* col_import_file(), reading `src`, with a receipt when src->receipt_dir is set. */
enum col_import_result col_import_file_at(struct col_outbox *ob,
                                          const struct col_import_source *src,
                                          const struct ct_catalog_entry *catalog, size_t n_catalog,
                                          const char *district, int64_t max_pending,
                                          struct col_import *imp, struct col_import_report *rep);

void col_file_id_of(const struct stat *sb, struct col_file_id *id);
bool col_file_id_equal(const struct col_file_id *a, const struct col_file_id *b);

/* A dry run: every check col_import_file() makes (size, encoding, format, indicators in
 * the catalog, reportable by `district`, not a duplicate, room in the outbox), and
 * nothing written: `ob` may be NULL when there is no outbox yet. On COL_IMPORT_DONE the
 * updates it would queue are in `imp`, rep->first_seq the seq the first would get. */
enum col_import_result col_import_file_check(struct col_outbox *ob, const char *path,
                                             const struct ct_catalog_entry *catalog,
                                             size_t n_catalog, const char *district,
                                             int64_t max_pending, struct col_import *imp,
                                             struct col_import_report *rep);

/* SHA-256 of `len` bytes. */
void col_sha256(const void *data, size_t len, unsigned char out[COL_SHA256_SIZE]);

#endif
