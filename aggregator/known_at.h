/*
 * known_at.h - "as known at" (CONTRACT section 11) around any read of the store.
 *
 * A figure as known at K uses only the updates committed (received) at or before K. The
 * SQL side (aggregator/sql/007_briefings.sql) reads K from the setting
 * `citytally.known_at` at its lowest layer, so every function built on
 * citytally_unit_values answers as known at K once the setting is made. This module makes
 * it: agg_known_at_begin() opens a READ ONLY transaction and sets it LOCAL, so the
 * setting ends with the transaction (a shared connection never carries it into the next
 * request), and agg_known_at_end() closes it. With AGG_KNOWN_AT_NOW nothing is opened and
 * the reads take the fast path, as before.
 *
 * Parsing is shared by the command line (--known-at) and every /api/ page that takes as_of
 * (known_at=): one function, one error text. No state, no allocation.
 */
#ifndef AGG_KNOWN_AT_H
#define AGG_KNOWN_AT_H

#include "http.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_KNOWN_AT_NOW INT64_MAX /* "as known now": no restriction */

/* Parses TIME as ct_time_parse() does ("2015-07-05", "2015-07-05T09:00:00+08:00").
 * `name` names the parameter in the error ("known_at", "--known-at"). Returns 0, or -1 with
 * "<name>: '<text>': <why> (use ...)" in `err`. */
int agg_known_at_parse(const char *name, const char *text, int64_t *ms, char *err, size_t err_size);

/* Reads `known_at=` from a request (absent or empty: AGG_KNOWN_AT_NOW). The handler must
 * also list "known_at" among its known parameters for ct_http_query_check(). Returns 0,
 * or -1 with the 400's text in `err`. */
int agg_known_at_from_query(const struct ct_http_request *req, int64_t *ms, char *err,
                            size_t err_size);

/* Before the reads: with a real K, BEGIN READ ONLY and SET LOCAL citytally.known_at, and
 * `*opened` is true; with AGG_KNOWN_AT_NOW nothing happens and `*opened` is false.
 * Returns 0, or -1 with `err` (and no transaction left open). */
int agg_known_at_begin(PGconn *conn, int64_t known_at_ms, bool *opened, char *err, size_t err_size);

/* After the reads: ends what agg_known_at_begin() opened (ROLLBACK: nothing was
 * written). Safe to call with opened false. */
void agg_known_at_end(PGconn *conn, bool opened);

#endif
