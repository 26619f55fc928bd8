/*
 * import_file.h - one CSV file on disk into the outbox, all of it or none of it.
 *
 * Shared by the drop folder (spool.c) and the `import` command: read the file (bounded in
 * size), hash its bytes (SHA-256, libsodium) for duplicate refusal, validate every line
 * (csv_import.c), and queue the rows in one outbox transaction that also records the hash.
 * If any step fails nothing is queued, and the result says whether the file itself is at
 * fault (it will never import) or the moment is (outbox full, disk full: try again later).
 */
#ifndef COL_IMPORT_FILE_H
#define COL_IMPORT_FILE_H

#include "csv_import.h"
#include "outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COL_IMPORT_MAX_FILE (256LL * 1024 * 1024)

enum col_import_result {
    COL_IMPORT_DONE = 0,     /* every row queued */
    COL_IMPORT_INVALID,      /* bad lines: imp->errors lists them; nothing queued */
    COL_IMPORT_DUPLICATE,    /* these bytes were imported before; nothing queued */
    COL_IMPORT_RETRY,        /* not now: outbox full, disk full, outbox locked, or Chinese
                                names waiting for the first catalog */
    COL_IMPORT_UNREADABLE,   /* the file could not be read (gone, too big, not a file) */
    COL_IMPORT_OUTBOX_ERROR, /* the outbox failed otherwise */
};

struct col_import_report {
    bool same_file; /* DUPLICATE: it is the very file imported before (same inode, size and
                       mtime), whose move to done/ was interrupted; not a second copy */
    size_t rows;
    uint64_t first_seq;
    enum ct_encoding encoding;
    char msg[1024]; /* one line for every result but DONE and INVALID */
};

/* Imports `path`, recording it in the outbox as `name` (the file name operators know).
 * The catalog (borrowed, may be NULL) and `district` are as for col_csv_import(). `imp` is
 * scratch space the caller owns, and holds the bad lines after COL_IMPORT_INVALID. */
enum col_import_result col_import_file(struct col_outbox *ob, const char *path, const char *name,
                                       const struct ct_catalog_entry *catalog, size_t n_catalog,
                                       const char *district, int64_t max_pending,
                                       struct col_import *imp, struct col_import_report *rep);

/* col_import_file(), and once every update of the file is acknowledged the collector
 * writes NAME.receipt.txt into `receipt_dir` (an absolute directory; NULL: no receipt),
 * as receipt.h says. */
enum col_import_result col_import_file_receipted(struct col_outbox *ob, const char *path,
                                                 const char *name, const char *receipt_dir,
                                                 const struct ct_catalog_entry *catalog,
                                                 size_t n_catalog, const char *district,
                                                 int64_t max_pending, struct col_import *imp,
                                                 struct col_import_report *rep);

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
