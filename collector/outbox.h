/*
 * outbox.h - the collector's durable queue of updates, kept in SQLite.
 *
 * Everything a district hands the collector lands here first and leaves only when the
 * aggregator has acknowledged it. One file, STATE_DIR/outbox.db, in WAL mode with
 * synchronous=FULL: a commit returns only after its WAL frames are fsync'd, so an update
 * is on disk before col_outbox_fetch() can return it, and kill -9 at any instant leaves
 * either the whole transaction or none of it. Every write is one BEGIN IMMEDIATE
 * transaction, so the daemon, `submit` and `import` can share the file (busy_timeout lets
 * each wait its turn).
 *
 * Owns: the tables
 *   state    one row: agent, district, the outbox's random instance id (made with it and
 *            sent in `hello`, CONTRACT section 7), next_seq, the highest seq ever put on the
 *            wire (sent_through), last ack seq and time, last error, when
 *            the catalog was cached, and what the running daemon last reported (pid,
 *            heartbeat, connection and its endpoint, moves, batches in flight) for
 *            `status`;
 *   pending  updates not yet acknowledged, keyed by seq;
 *   acked    copies of acknowledged updates (rejected ones too), kept `keep_acked` (set with
 *            col_outbox_set_keep_acked) so that a bureau whose database was restored from a
 *            backup can be refilled (CONTRACT section 7);
 *   rejected updates the aggregator refused, with code and message, kept `rejected_keep`;
 *   imported SHA-256 of every imported file's bytes, to refuse duplicates;
 *   catalog  the indicator catalog of the last `welcome` (codes, Chinese names, who reports);
 *   warned   plausibility warnings on acknowledged updates, kept `rejected_keep` like
 *            rejections (outbox_receipt.c);
 *   receipts one per imported file until its receipt is written: where it goes, its seqs,
 *            its rows (line, indicator, value), and receipt_marks, what the acks said of
 *            its lines (receipt.h writes the file).
 *   due      the `due` of the last welcome or ack that carried one: a row per round with
 *            its missing codes (created on first use, so older outboxes need no upgrade).
 *
 * Invariants:
 * - seqs are assigned at queue time from state.next_seq in the same transaction, start at
 *   1 and rise by exactly 1, so pending seqs are always contiguous: first .. next_seq - 1.
 * - an acknowledged update leaves `pending` for `acked` (a rejected one is also copied to
 *   `rejected`) in the same transaction that records the ack; `acked` forgets it after
 *   keep_acked. Nothing pending is ever evicted to make room: at `max_pending` new
 *   updates are refused. A seq is never in both `pending` and `acked`.
 * - a failed write (disk full, lock timeout) changes nothing.
 * - pending seqs <= sent_through are the ones that may have reached an aggregator; the
 *   sender raises it (durably) before a batch leaves. Only those may ever be dropped as
 *   "already committed", and no pending update is ever renumbered to a seq this collector
 *   had acknowledged (CONTRACT section 7).
 */
#ifndef COL_OUTBOX_H
#define COL_OUTBOX_H

#include "col_settings.h" /* COL_ENDPOINT_MAX */
#include "text.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COL_OUTBOX_FILE "outbox.db"
#define COL_OUTBOX_ERROR_MAX 512
#define COL_SHA256_SIZE 32
#define COL_OUTBOX_KEEP_ACKED_MS (400LL * 86400000) /* keep_acked's default */

enum col_outbox_status {
    COL_OUTBOX_OK = 0,
    COL_OUTBOX_ERROR = -1,     /* anything else; the message says what */
    COL_OUTBOX_FULL = -2,      /* max_pending reached; nothing was queued */
    COL_OUTBOX_DISK_FULL = -3, /* no space for the write; nothing changed */
    COL_OUTBOX_DUPLICATE = -4, /* a file with these bytes was imported before */
    COL_OUTBOX_BUSY = -5,      /* another writer held the lock past the busy timeout */
};

/* One update to queue. Pointers are borrowed for the duration of col_outbox_append(). */
struct col_new_update {
    const char *ind;  /* indicator code (an id) */
    const char *note; /* NULL when none; valid UTF-8, at most CT_WIRE_MAX_NOTE bytes */
    int64_t period;
    int64_t at_ms;
    enum ct_op op;
    struct ct_value value; /* int or finite float */
    int64_t line;          /* line in the source file, 0 for `submit` */
};

/* Where a group of updates came from. */
struct col_origin {
    const char *name;            /* file name, or "submit" */
    const unsigned char *sha256; /* the file's hash; NULL for `submit` (no duplicate check) */
    const char *file_key;        /* device, inode, size and mtime of the file, or NULL: tells
                                    a file whose move to done/ was interrupted from a copy */
    const char *receipt_dir;     /* absolute directory for NAME.receipt.txt once every update
                                    is acknowledged; NULL: no receipt */
};

struct col_outbox_stats {
    char agent[CT_ID_MAX + 1]; /* "" until a daemon bound the outbox */
    char district[CT_ID_MAX + 1];
    int64_t pending;
    uint64_t first_pending_seq; /* 0 when nothing is pending */
    uint64_t next_seq;
    int64_t oldest_queued_ms; /* wall clock; 0 when nothing is pending */
    uint64_t last_ack_seq;
    int64_t last_ack_ms;          /* 0 when never acknowledged */
    char instance[CT_ID_MAX + 1]; /* this outbox's random id, 32 hex digits */
    uint64_t sent_through;        /* highest seq ever sent; pending seqs above it never were */
    char last_error[COL_OUTBOX_ERROR_MAX];
    int64_t last_error_ms; /* 0 when none */
    int64_t rejected;      /* rejections still kept */
    int64_t catalog_ms;    /* when the catalog was cached; 0 when never */
    int64_t catalog_size;
    int64_t imported_files;
};

/* What the daemon last told the outbox about itself, for `status`. */
struct col_daemon_report {
    int64_t pid; /* 0 when no daemon ever reported */
    int64_t started_ms;
    int64_t heartbeat_ms;
    bool connected; /* a welcome came on the current connection */
    int64_t in_flight_batches;
    int64_t in_flight_updates;
    char endpoint[COL_ENDPOINT_MAX + 1]; /* connected (or trying) to; "" when none reported */
    int64_t moves; /* to the next endpoint of --connect, since the daemon started */
};

/* One kept rejection or warning, as `status` lists them. */
struct col_kept_row {
    uint64_t seq;
    char ind[CT_ID_MAX + 1];
    int64_t period;
    char value[CT_VALUE_TEXT_MAX];
    char origin[128];
    int64_t line;
    char code[CT_WIRE_MAX_CODE + 1];
    char msg[CT_WIRE_MAX_TEXT + 1];
    int64_t at_ms; /* when it was rejected, or warned about */
};

/* A receipt whose file's updates are all acknowledged, ready to be written. */
struct col_receipt {
    int64_t id;
    char dir[4096];
    char name[256];
    char *rows;  /* malloc'd: "LINE\tIND\tVALUE\n" per data row, in file order */
    char *marks; /* malloc'd: "LINE\tOUTCOME\n" per rejection or warning, by line */
};

struct col_outbox;

/* A new handle on STATE_DIR/outbox.db in `*out` (free with col_outbox_free(), which takes
 * NULL), creating the directory (0750) and the schema when missing. Returns 0, or a
 * negative col_outbox_status with one line in `err`. */
int col_outbox_new(const char *state_dir, struct col_outbox **out, char *err, size_t err_size);
void col_outbox_free(struct col_outbox *ob);

/* Ties the outbox to one agent and district on first use; later a different pair is an
 * error (an outbox's seqs belong to one agent). */
int col_outbox_bind(struct col_outbox *ob, const char *agent, const char *district, char *err,
                    size_t err_size);

/* Queues `n` updates in one transaction, numbering them from next_seq. Refuses with
 * COL_OUTBOX_FULL when pending + n would exceed `max_pending`, and with
 * COL_OUTBOX_DUPLICATE when origin->sha256 was imported before (its name and time go in
 * `err`). On success `*first_seq` (may be NULL) is the seq of u[0]. */
int col_outbox_append(struct col_outbox *ob, const struct col_new_update *u, size_t n,
                      const struct col_origin *origin, int64_t max_pending, uint64_t *first_seq,
                      char *err, size_t err_size);

/* Whether a file with this hash was imported: 1 (its name and file key copied out when
 * the buffers are not NULL), 0, or a negative status. */
int col_outbox_file_seen(struct col_outbox *ob, const unsigned char sha256[COL_SHA256_SIZE],
                         char *name, size_t name_size, char *file_key, size_t key_size, char *err,
                         size_t err_size);

/* Reads updates with seq >= from_seq, in order, at most `max` and at most `max_bytes` of
 * encoded size (ct_wire_update_size_bound), into `out`: kept acknowledged ones first (only
 * a refill asks for those), then pending ones, as one run of consecutive seqs. */
int col_outbox_fetch(struct col_outbox *ob, uint64_t from_seq, size_t max, size_t max_bytes,
                     struct ct_update *out, size_t *n, char *err, size_t err_size);

/* Records an ack: every pending update with seq <= last_seq leaves for `acked`, the
 * `rejected` ones also into the rejected table with their reason. Also forgets rejections
 * older than keep_ms, and acknowledged updates older than keep_acked. */
int col_outbox_ack(struct col_outbox *ob, uint64_t last_seq, const struct ct_rejection *rejected,
                   size_t n_rejected, int64_t keep_ms, char *err, size_t err_size);

/* Records that every pending update up to `seq` is about to be sent: durably, before the
 * batch leaves, since only a sent update may later be dropped as already committed. */
int col_outbox_mark_sent(struct col_outbox *ob, uint64_t seq, char *err, size_t err_size);

/* col_outbox_ack(), plus the plausibility warnings the ack carried: kept in `warned`
 * (durably, like rejections) and marked on the receipt of the file they came from. */
int col_outbox_ack_warned(struct col_outbox *ob, uint64_t last_seq,
                          const struct ct_rejection *rejected, size_t n_rejected,
                          const struct ct_warning *warnings, size_t n_warnings, int64_t keep_ms,
                          char *err, size_t err_size);

/* Up to `max` most recent warnings, newest first. */
int col_outbox_warnings(struct col_outbox *ob, struct col_kept_row *rows, size_t max, size_t *n,
                        char *err, size_t err_size);

/* The next receipt due (every update of its file acknowledged, not yet written, not
 * waiting for a retry at `now_ms`): 1 with `r` filled (free with col_receipt_release()),
 * 0 when none is due, or a negative status. */
int col_outbox_receipt_due(struct col_outbox *ob, int64_t now_ms, struct col_receipt *r, char *err,
                           size_t err_size);

/* Records that receipt `id` was written (its rows are forgotten), or, with retry_ms > 0,
 * that writing it failed and is tried again after retry_ms. */
int col_outbox_receipt_done(struct col_outbox *ob, int64_t id, int64_t retry_ms, char *err,
                            size_t err_size);

/* The file queued from `first_seq` was moved to `name` in its directory (the spool may
 * rename to keep an earlier file of the same name): its receipt follows that name. */
int col_outbox_receipt_rename(struct col_outbox *ob, uint64_t first_seq, const char *name,
                              char *err, size_t err_size);

/* Frees what col_outbox_receipt_due() put in `r` (caller-owned) and zeroes it. */
void col_receipt_release(struct col_receipt *r);

/* How long acknowledged updates stay in `acked` (keep_acked; 0: not kept at all). The
 * default is COL_OUTBOX_KEEP_ACKED_MS. Applies from the next ack or sync. */
void col_outbox_set_keep_acked(struct col_outbox *ob, int64_t keep_ms);

/* What col_outbox_sync() did, so the sender can log it. */
struct col_sync_result {
    int64_t committed;        /* sent updates that the aggregator already had (acks lost) */
    int64_t renumbered;       /* never-sent updates moved to follow on after M */
    uint64_t renumbered_from; /* the first seq they had before */
    bool behind;              /* M < held_seq: nothing was changed (see below) */
    uint64_t held_seq;        /* with `behind`: what this outbox had acknowledged */
    bool refill;              /* with `behind`: `acked` holds all of M+1..held_seq */
    int64_t n_missing;        /* with `behind` and not `refill`: how many of them it lacks */
    uint64_t missing_to;      /* ... the highest of those */
    char missing[256];        /* ... and which, as ranges: "6-250, 300" */
    uint64_t next_seq;
};

/* Brings the outbox in line with the aggregator's last committed seq M (`welcome` or a
 * `seq_gap` error), so that pending seqs run from M + 1 (CONTRACT section 7):
 * - M below what this collector had itself seen acknowledged (the bureau's database was
 *   restored): nothing changes and `behind` is set. With `refill` the caller resends
 *   M + 1 .. held_seq (col_outbox_fetch reads them from `acked`), then the pending ones;
 *   without, it sends nothing: `missing` names what keep_acked has already forgotten;
 * - pending updates up to M that were sent were committed and their ack lost: they leave;
 * - pending updates up to M that were never sent are someone else's seqs (another
 *   collector used this agent id, or this state was restored): all pending updates are
 *   renumbered, in order, to follow on after M.
 * last_ack_seq becomes M and next_seq follows. */
int col_outbox_sync(struct col_outbox *ob, uint64_t agg_last_seq, struct col_sync_result *res,
                    char *err, size_t err_size);

/* Replaces the cached catalog (from a `welcome`). */
int col_outbox_set_catalog(struct col_outbox *ob, const struct ct_catalog_entry *c, size_t n,
                           char *err, size_t err_size);

/* Reads the cached catalog into a malloc'd array (NULL and 0 when none is cached). */
int col_outbox_load_catalog(struct col_outbox *ob, struct ct_catalog_entry **out, size_t *n,
                            char *err, size_t err_size);

/* One round of the last `due` received (CONTRACT section 9). */
#define COL_DUE_MISSING_MAX 4096
struct col_due_row {
    int64_t year;
    char round[CT_WIRE_MAX_CODE + 1];
    char due[CT_WIRE_DATE_LEN + 1]; /* YYYY-MM-DD */
    int64_t n_missing;
    char missing[COL_DUE_MISSING_MAX]; /* the codes, separated by single spaces */
};

/* Replaces the stored `due` with `due` (has_due must be true). Costs no write when it is
 * the same as the last one this connection stored, so calling it on every ack is cheap. */
int col_outbox_set_due(struct col_outbox *ob, const struct ct_due *due, char *err, size_t err_size);

/* Reads the stored `due` into a malloc'd array of `*n` rows in due order (NULL and 0 when
 * none was received), and when it was received (`*received_ms`, 0 when never). */
int col_outbox_due(struct col_outbox *ob, struct col_due_row **rows, size_t *n,
                   int64_t *received_ms, char *err, size_t err_size);

/* Records the last delivery error for `status` (text "" clears it). */
int col_outbox_set_error(struct col_outbox *ob, const char *text, char *err, size_t err_size);

int col_outbox_stats(struct col_outbox *ob, struct col_outbox_stats *st, char *err,
                     size_t err_size);

/* The daemon's report of itself; written without fsync, it is only a hint for `status`. */
int col_outbox_report_daemon(struct col_outbox *ob, const struct col_daemon_report *r, char *err,
                             size_t err_size);
int col_outbox_daemon_report(struct col_outbox *ob, struct col_daemon_report *r, char *err,
                             size_t err_size);

/* Up to `max` most recent rejections, newest first. */
int col_outbox_rejections(struct col_outbox *ob, struct col_kept_row *rows, size_t max, size_t *n,
                          char *err, size_t err_size);

/* True (1) when another connection committed since the last call; cheap (no disk I/O),
 * so the daemon can poll for rows queued by `submit` and `import`. */
int col_outbox_changed(struct col_outbox *ob);

/* Human text for a negative status, for messages. */
const char *col_outbox_status_text(int status);

#endif
