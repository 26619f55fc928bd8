/*
 * copy_binary.h - PostgreSQL's binary COPY format, one CopyData message at a time.
 *
 * `COPY ... TO STDOUT (FORMAT binary)` sends each value in its type's send format, so the
 * server runs no output function (numeric_out and timestamptz_out are most of a text
 * COPY's cost). libpq hands the output over one message at a time (agg_db_copy_out_next):
 * the file header, which may share the first row's message, then one row per message, then
 * the trailer. This reads such a message without trusting it: every length is checked
 * against the bytes there are.
 *
 * Nothing is allocated: the values returned point into the caller's message.
 */
#ifndef AGG_COPY_BINARY_H
#define AGG_COPY_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum agg_copy_read {
    AGG_COPY_ROW,    /* a row: its fields are in values[] and lens[] */
    AGG_COPY_HEADER, /* the message held the file header alone */
    AGG_COPY_END,    /* the trailer: no row follows */
    AGG_COPY_BAD,    /* not what it should be: `why` says how */
};

struct agg_copy_reader {
    bool header_seen;
    const char *why; /* with AGG_COPY_BAD: a static text */
};

/* Reads one message of `size` bytes. A row must have exactly `n_fields` fields; each one's
 * bytes go to values[i] (pointing into `data`) and its length to lens[i], -1 for NULL. */
enum agg_copy_read agg_copy_read(struct agg_copy_reader *r, const unsigned char *data, size_t size,
                                 int n_fields, const unsigned char **values, long *lens);

/* The send formats of int4 and int8 (and timestamptz, an int8 of microseconds). */
int32_t agg_copy_int32(const unsigned char *p);
int64_t agg_copy_int64(const unsigned char *p);

/* A timestamptz's microseconds since 2000-01-01 UTC as Unix milliseconds, rounded half
 * away from zero as (extract(epoch FROM t) * 1000)::bigint rounds them. */
int64_t agg_copy_timestamptz_ms(int64_t pg_us);

#endif
