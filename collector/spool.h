/*
 * spool.h - the drop folder (CONTRACT section 5): CSV files renamed into a directory are
 * imported whole, then moved to done/, or to failed/ beside NAME.errors.txt.
 *
 * When a file is ready: a file renamed in (IN_MOVED_TO, the contract's way) is complete at
 * once. Any other (closed after being written in place, or found by a rescan that catches
 * what inotify missed) is taken only once its size, mtime and ctime have stayed the same
 * for `settle` (setting `[spool] settle`, default COL_SPOOL_SETTLE_MS) as seen by two scans
 * of this process, never while inotify saw it written and not yet closed. Two seconds is
 * long enough for a person's save or a copy's last write and short enough not to be
 * noticed; a slow network share may want more. A file whose bytes change while it is
 * read is not queued (import_file.h) and waits to settle again; one that changes after it
 * was queued goes to failed/ saying so, never to done/. Names that mark a file in progress
 * are never touched: dotfiles, *.part, *.tmp, *~ and Excel's ~$ lock files.
 *
 * Safety: the spool is writable by the districts' group, so nothing in it is trusted. All
 * work is relative to directory descriptors; done/ and failed/ are opened with
 * O_NOFOLLOW and must be real directories owned by the collector's uid, or nothing is
 * imported (one error, repeated at growing intervals); entries that are not regular files
 * (symlinks, FIFOs, devices) are never opened, only moved to failed/. The packages give the
 * spool the sticky bit, so a group member cannot rename done/ or failed/ in the first
 * place (deploy/SECURITY.md).
 *
 * A spool directory replaced at its path (`mv spool spool.old; mkdir spool`) is noticed
 * (IN_MOVE_SELF / IN_DELETE_SELF and a device/inode check at every scan), logged, and
 * the new directory watched; while nothing stands at the path, an error says so.
 *
 * A file that cannot be queued right now (outbox full, disk full) stays in the spool and
 * is tried again at the next rescan; one with more rows than outbox_max can never fit and
 * goes to failed/. A file whose bytes were imported before is refused as a duplicate into
 * failed/, unless it is the very file whose move to done/ was cut short by a crash, which
 * is then simply moved on.
 *
 * Owns: the inotify descriptor and the spool's directory descriptor. Borrows: the outbox
 * and the log.
 */
#ifndef COL_SPOOL_H
#define COL_SPOOL_H

#include "log.h"
#include "outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COL_SPOOL_SETTLE_MS 2000 /* default `settle`: how long a file must stay unchanged */

struct col_spool_counters {
    uint64_t files_imported;
    uint64_t files_failed;
    uint64_t rows_imported;
    int64_t waiting; /* files left in the spool at the last scan (settling, being written,
                        or not queueable now): scan again after settle_ms */
};

struct col_spool;

/* Watches `dir`, creating done/ and failed/ in it; files must stay unchanged for
 * `settle_ms` (see above). NULL with one line in `err`. */
struct col_spool *col_spool_new(const char *dir, int64_t settle_ms, const struct ct_log *log,
                                char *err, size_t err_size);
void col_spool_free(struct col_spool *sp);

/* The inotify descriptor, to poll for reading. */
int col_spool_fd(const struct col_spool *sp);

/* Drains pending inotify events. Returns true when a file may be ready or the spool
 * directory itself was moved or deleted. */
bool col_spool_drain(struct col_spool *sp);

/* Imports the spool's ready files; the others count as `waiting`, and the caller scans
 * again after settle_ms while any wait. */
void col_spool_scan(struct col_spool *sp, struct col_outbox *ob, const char *district,
                    int64_t max_pending);

void col_spool_counters(const struct col_spool *sp, struct col_spool_counters *out);

/* Whether the drop folder ignores a file of this name (exposed for tests). */
bool col_spool_ignored(const char *name);

#endif
