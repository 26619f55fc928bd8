/*
 * receipt.h - done/NAME.receipt.txt: what became of every row of an imported file
 * (CONTRACT section 10), written once the aggregator has acknowledged all of them.
 *
 * One line per data row, in file order, tab-separated, UTF-8:
 *
 *   LINE <TAB> INDICATOR <TAB> VALUE <TAB> accepted
 *                                          accepted, warning CODE: MSG[; warning CODE: MSG]
 *                                          rejected CODE: MSG
 *                                          unknown: ...  (the ack was lost; see below)
 *
 * The outbox keeps what a receipt needs from the moment the file is queued
 * (outbox_receipt.c), so a collector stopped or killed in between writes it after its
 * restart. The file is written atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory, all relative to the directory's fd, so a reader
 * sees the whole receipt or none, and a crash never leaves a half one under the name.
 *
 * A line is `unknown` only when the aggregator committed the update but its ack never
 * reached this collector (it was stopped between the two): the next welcome says the
 * update is in, but not whether it was stored, rejected or warned about.
 */
#ifndef COL_RECEIPT_H
#define COL_RECEIPT_H

#include "buf.h"
#include "log.h"
#include "outbox.h"

#include <stddef.h>

#define COL_RECEIPT_SUFFIX ".receipt.txt"
#define COL_RECEIPT_RETRY_MS 60000 /* after a failed write (directory gone, disk full) */

/* Writes every receipt that is due. Returns how many were written, or -1 when the outbox
 * failed (logged). Failures to write a file are logged and retried after
 * COL_RECEIPT_RETRY_MS. */
int col_receipt_write_due(struct col_outbox *ob, const struct ct_log *log);

/* The receipt's text for `r` into `out` (reset first). Returns 0 or -1 (out of memory).
 * Exposed for tests. */
int col_receipt_format(const struct col_receipt *r, struct ct_buf *out);

#endif
