/*
 * spool.h - the drop folder (CONTRACT section 5): CSV files renamed into a directory are
 * imported whole, then moved to done/, or to failed/ beside NAME.errors.txt.
 *
 * inotify reports files as they are closed after writing or renamed in; a periodic rescan
 * (settings `rescan`) catches anything inotify missed (overflow, a network filesystem),
 * taking only files left untouched for a couple of seconds so that it never reads one
 * still being written in place. Names that mark a file in progress are never touched:
 * dotfiles, *.part, *.tmp, *~ and Excel's ~$ lock files.
 *
 * A file that cannot be queued right now (outbox full, disk full) stays in the spool and
 * is tried again at the next rescan. A file whose bytes were imported before is refused as
 * a duplicate into failed/, unless it is the very file whose move to done/ was cut short
 * by a crash, which is then simply moved on.
 *
 * Owns: the inotify descriptor. Borrows: the outbox and the log.
 */
#ifndef COL_SPOOL_H
#define COL_SPOOL_H

#include "log.h"
#include "outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COL_SPOOL_SETTLE_MS 2000 /* a rescan leaves files younger than this alone */

struct col_spool_counters {
    uint64_t files_imported;
    uint64_t files_failed;
    uint64_t rows_imported;
    int64_t waiting; /* files left in the spool at the last scan (retry later) */
};

struct col_spool;

/* Watches `dir`, creating done/ and failed/ in it. NULL with one line in `err`. */
struct col_spool *col_spool_new(const char *dir, const struct ct_log *log, char *err,
                                size_t err_size);
void col_spool_free(struct col_spool *sp);

/* The inotify descriptor, to poll for reading. */
int col_spool_fd(const struct col_spool *sp);

/* Drains pending inotify events. Returns true when a file may be ready. */
bool col_spool_drain(struct col_spool *sp);

/* Imports the spool's ready files. `settled_only` (a periodic rescan) skips files
 * modified in the last COL_SPOOL_SETTLE_MS unless inotify reported them complete. */
void col_spool_scan(struct col_spool *sp, struct col_outbox *ob, const char *district,
                    int64_t max_pending, bool settled_only);

void col_spool_counters(const struct col_spool *sp, struct col_spool_counters *out);

/* Whether the drop folder ignores a file of this name (exposed for tests). */
bool col_spool_ignored(const char *name);

#endif
