#include "diff_listing.h"

#include "buf.h"
#include "copy_binary.h"
#include "db.h"
#include "numeric.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- an arena whose pointers never move ------------------------------------------- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
};

enum { ARENA_BLOCK = 1 << 20 };

static char *arena_alloc(struct arena_block **head, size_t n)
{
    struct arena_block *b = *head;

    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if ((b = malloc(sizeof(*b) + cap)) == NULL)
            return NULL;
        b->next = *head;
        b->used = 0;
        b->cap = cap;
        *head = b;
    }
    b->used += n;
    return b->data + b->used - n;
}

static const char *arena_text(struct arena_block **head, const void *text, size_t len)
{
    char *s = arena_alloc(head, len + 1);

    if (s != NULL) {
        memcpy(s, text, len);
        s[len] = '\0';
    }
    return s;
}

static void arena_free(struct arena_block *b)
{
    while (b != NULL) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
}

/* ---- the listing -------------------------------------------------------------------- */

/* A unit's figure (district, indicator, period) behind one or more changed targets. */
struct key {
    const char *district, *indicator; /* in the keys' PGresult */
    size_t district_len, indicator_len;
    int period;
    size_t first_target, n_targets; /* into key_targets */
    bool sums;                      /* behind a sum or city target: its value is kept */
    struct agg_numeric value;       /* as of the update being replayed */
};

struct row {
    struct agg_diff_update u;
    int64_t observed_us; /* since 2000-01-01 UTC, as PostgreSQL keeps it: ties are exact */
    int64_t seq;
    uint32_t key;
};

/* Rows read from one COPY, in the log's order, and the arena their text lives in. */
struct part {
    struct row *rows;
    size_t n_rows, cap_rows;
    struct arena_block *arena;
};

struct agg_diff_listing {
    PGresult *keys_res;
    struct key *keys;
    size_t n_keys;
    size_t *key_targets; /* target indexes in d->targets */
    uint32_t *slots;     /* open addressing: key index + 1, 0 for free */
    size_t n_slots;
    struct part all;
    struct agg_diff_update *updates;
};

void agg_diff_listing_free(struct agg_diff_listing *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n_keys; i++)
        agg_numeric_release(&l->keys[i].value);
    PQclear(l->keys_res);
    free(l->keys);
    free(l->key_targets);
    free(l->slots);
    free(l->all.rows);
    free(l->updates);
    arena_free(l->all.arena);
    free(l);
}

static uint64_t key_hash(const char *district, size_t district_len, const char *indicator,
                         size_t indicator_len, int period)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */

    for (size_t i = 0; i < district_len; i++)
        h = (h ^ (unsigned char)district[i]) * 1099511628211u;
    h = (h ^ 0xff) * 1099511628211u; /* no byte of UTF-8 text: the two parts cannot run together */
    for (size_t i = 0; i < indicator_len; i++)
        h = (h ^ (unsigned char)indicator[i]) * 1099511628211u;
    return (h ^ (uint32_t)period) * 1099511628211u;
}

/* The key index of (district, indicator, period), or -1 when no changed target needs it. */
static long find_key(const struct agg_diff_listing *l, const char *district, size_t district_len,
                     const char *indicator, size_t indicator_len, int period)
{
    size_t mask = l->n_slots - 1;
    size_t at = (size_t)key_hash(district, district_len, indicator, indicator_len, period) & mask;

    for (; l->slots[at] != 0; at = (at + 1) & mask) {
        const struct key *k = &l->keys[l->slots[at] - 1];
        if (k->period == period && k->district_len == district_len &&
            k->indicator_len == indicator_len && memcmp(k->district, district, district_len) == 0 &&
            memcmp(k->indicator, indicator, indicator_len) == 0)
            return (long)(l->slots[at] - 1);
    }
    return -1;
}

static int index_keys(struct agg_diff_listing *l)
{
    size_t mask;

    for (l->n_slots = 16; l->n_slots < 2 * l->n_keys;)
        l->n_slots *= 2;
    if ((l->slots = calloc(l->n_slots, sizeof(*l->slots))) == NULL)
        return -1;
    mask = l->n_slots - 1;
    for (size_t i = 0; i < l->n_keys; i++) {
        const struct key *k = &l->keys[i];
        size_t at = (size_t)key_hash(k->district, k->district_len, k->indicator, k->indicator_len,
                                     k->period) &
                    mask;
        while (l->slots[at] != 0)
            at = (at + 1) & mask;
        l->slots[at] = (uint32_t)i + 1;
    }
    return 0;
}

static long target_index(const struct agg_diff *d, const char *code)
{
    for (size_t i = 0; i < d->n_targets; i++)
        if (strcmp(d->targets[i].code, code) == 0)
            return (long)i;
    return -1;
}

static bool sums_exactly(const char *kind)
{
    return strcmp(kind, "sum") == 0 || strcmp(kind, "city") == 0;
}

/* The changed targets' codes as a text[] literal, each element quoted. */
static int codes_literal(const struct agg_diff *d, struct ct_buf *out)
{
    ct_buf_puts(out, "{");
    for (size_t i = 0; i < d->n_targets; i++) {
        ct_buf_puts(out, i ? ",\"" : "\"");
        for (const char *p = d->targets[i].code; *p; p++) {
            if (*p == '"' || *p == '\\')
                ct_buf_append(out, "\\", 1);
            ct_buf_append(out, p, 1);
        }
        ct_buf_puts(out, "\"");
    }
    return ct_buf_puts(out, "}");
}

/* Rows of citytally_diff_keys come sorted by key: each run becomes one struct key. */
static int load_keys(PGconn *conn, struct agg_diff_listing *l, const struct agg_diff *d, char *err,
                     size_t err_size)
{
    char year[16], from[24];
    struct ct_buf codes = CT_BUF_INIT;
    const char *params[3] = {year, from, NULL};
    int n;

    snprintf(year, sizeof(year), "%d", d->year);
    snprintf(from, sizeof(from), "%" PRId64, d->from_ms);
    if (codes_literal(d, &codes) != 0) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    params[2] = codes.data;
    l->keys_res = agg_db_query(conn, "finding the units behind the diff",
                               "SELECT target_code, kind, district, indicator, period, start"
                               " FROM citytally_diff_keys($1, timestamptz 'epoch'"
                               " + $2::bigint * interval '1 millisecond', $3::text[])",
                               3, params, PGRES_TUPLES_OK, err, err_size);
    ct_buf_free(&codes);
    if (l->keys_res == NULL)
        return -1;
    n = PQntuples(l->keys_res);
    l->keys = calloc((size_t)n + 1, sizeof(*l->keys));
    l->key_targets = calloc((size_t)n + 1, sizeof(*l->key_targets));
    if (l->keys == NULL || l->key_targets == NULL)
        goto no_memory;
    for (int r = 0; r < n; r++) {
        const PGresult *res = l->keys_res;
        const char *district = PQgetvalue(res, r, 2), *indicator = PQgetvalue(res, r, 3);
        int period = atoi(PQgetvalue(res, r, 4));
        long target = target_index(d, PQgetvalue(res, r, 0));
        struct key *k = l->n_keys ? &l->keys[l->n_keys - 1] : NULL;

        if (target < 0) {
            snprintf(err, err_size, "the diff's units name target %s, which it did not list",
                     PQgetvalue(res, r, 0));
            return -1;
        }
        if (k == NULL || k->period != period || strcmp(k->district, district) != 0 ||
            strcmp(k->indicator, indicator) != 0) {
            k = &l->keys[l->n_keys++];
            k->district = district;
            k->indicator = indicator;
            k->district_len = strlen(district);
            k->indicator_len = strlen(indicator);
            k->period = period;
            k->first_target = (size_t)r;
            agg_numeric_init(&k->value);
            switch (agg_numeric_from_text(&k->value, PQgetvalue(res, r, 5))) {
            case 0:
                break;
            case -1:
                goto no_memory;
            default:
                snprintf(err, err_size, "%s %s %d: its value %s is not a finite numeric", district,
                         indicator, period, PQgetvalue(res, r, 5));
                return -1;
            }
        }
        l->key_targets[r] = (size_t)target;
        k->n_targets++;
        k->sums |= sums_exactly(PQgetvalue(res, r, 1));
    }
    if (index_keys(l) != 0)
        goto no_memory;
    return 0;
no_memory:
    snprintf(err, err_size, "out of memory");
    return -1;
}

/* The COPY of the month's log for the keys' indicators, in observed order. Literals only
 * (COPY takes no parameters): integers printed here, indicators through PQescapeLiteral. */
static int copy_sql(PGconn *conn, const struct agg_diff_listing *l, int year, int64_t after_ms,
                    int64_t until_ms, struct ct_buf *sql)
{
    ct_buf_printf(sql,
                  "COPY (SELECT district, indicator, period, agent_id, seq, op, value,"
                  " observed_at, note, received_at FROM updates"
                  " WHERE observed_at > citytally_finite(timestamptz 'epoch' + %" PRId64
                  " * interval '1 millisecond')"
                  " AND observed_at <= citytally_finite(timestamptz 'epoch' + %" PRId64
                  " * interval '1 millisecond')"
                  " AND period IN (%d, %d) AND indicator = ANY (ARRAY[",
                  after_ms, until_ms, year, year - 1);
    for (size_t i = 0, listed = 0; i < l->n_keys; i++) {
        bool seen = false;
        char *quoted;

        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(l->keys[j].indicator, l->keys[i].indicator) == 0;
        if (seen)
            continue;
        if ((quoted = PQescapeLiteral(conn, l->keys[i].indicator, l->keys[i].indicator_len)) ==
            NULL)
            return -1;
        ct_buf_puts(sql, listed++ ? "," : "");
        ct_buf_puts(sql, quoted);
        PQfreemem(quoted);
    }
    ct_buf_puts(sql, "]::text[]) ORDER BY observed_at) TO STDOUT (FORMAT binary)");
    return sql->failed ? -1 : 0;
}

/* ---- reading the log ------------------------------------------------------------ */

enum tuple { TUPLE_KEPT, TUPLE_SKIPPED, TUPLE_END, TUPLE_BAD };

struct reader {
    const struct agg_diff_listing *l; /* the keys, shared read-only by concurrent readers */
    struct part *part;
    struct agg_numeric value;
    struct agg_copy_reader copy;
    char text[64];
    char *err;
    size_t err_size;
};

static enum tuple bad(struct reader *r, const char *why)
{
    snprintf(r->err, r->err_size, "reading the diff's updates: %s", why);
    return TUPLE_BAD;
}

static int grow_rows(struct part *p)
{
    size_t cap = p->cap_rows ? 2 * p->cap_rows : 4096;
    struct row *grown;

    if (p->n_rows < p->cap_rows)
        return 0;
    if ((grown = realloc(p->rows, cap * sizeof(*grown))) == NULL)
        return -1;
    p->rows = grown;
    p->cap_rows = cap;
    return 0;
}

/* The fields, in copy_sql()'s order. */
enum {
    F_DISTRICT,
    F_INDICATOR,
    F_PERIOD,
    F_AGENT,
    F_SEQ,
    F_OP,
    F_VALUE,
    F_OBSERVED,
    F_NOTE,
    F_RECEIVED,
    N_FIELDS
};

static enum tuple read_tuple(struct reader *r, const unsigned char **f, const long *len)
{
    static const long fixed[N_FIELDS] = {
        [F_PERIOD] = 4, [F_SEQ] = 8, [F_OBSERVED] = 8, [F_RECEIVED] = 8};
    const struct agg_diff_listing *l = r->l;
    struct part *part = r->part;
    struct row *row;
    size_t need;
    long key;

    for (int i = 0; i < N_FIELDS; i++)
        if ((len[i] < 0 && i != F_NOTE) || (fixed[i] != 0 && len[i] != fixed[i]))
            return bad(r, "a field has the wrong size");
    key = find_key(l, (const char *)f[F_DISTRICT], (size_t)len[F_DISTRICT],
                   (const char *)f[F_INDICATOR], (size_t)len[F_INDICATOR],
                   agg_copy_int32(f[F_PERIOD]));
    if (key < 0)
        return TUPLE_SKIPPED; /* the year before of a sum target, or not the city's unit */
    if (part->n_rows >= AGG_DIFF_MAX_UPDATES) {
        snprintf(r->err, r->err_size, "the diff lists more than %d updates: choose a shorter range",
                 AGG_DIFF_MAX_UPDATES);
        return TUPLE_BAD;
    }
    if (grow_rows(part) != 0)
        return bad(r, "out of memory");
    switch (agg_numeric_from_binary(&r->value, f[F_VALUE], (size_t)len[F_VALUE])) {
    case 0:
        break;
    case -1:
        return bad(r, "out of memory");
    default:
        return bad(r, "a value is not a finite numeric");
    }
    row = &part->rows[part->n_rows];
    memset(row, 0, sizeof(*row));
    row->key = (uint32_t)key;
    row->u.district = l->keys[key].district;
    row->u.indicator = l->keys[key].indicator;
    if (len[F_OP] == 3 && memcmp(f[F_OP], "set", 3) == 0)
        row->u.op = "set";
    else if (len[F_OP] == 3 && memcmp(f[F_OP], "add", 3) == 0)
        row->u.op = "add";
    else
        return bad(r, "an op is neither set nor add");
    row->seq = agg_copy_int64(f[F_SEQ]);
    snprintf(r->text, sizeof(r->text), "%" PRId64, row->seq);
    row->u.seq = arena_text(&part->arena, r->text, strlen(r->text));
    row->u.agent = arena_text(&part->arena, f[F_AGENT], (size_t)len[F_AGENT]);
    row->u.note = len[F_NOTE] < 0 ? NULL : arena_text(&part->arena, f[F_NOTE], (size_t)len[F_NOTE]);
    need = agg_numeric_format(&r->value, NULL, 0);
    {
        char *value = arena_alloc(&part->arena, need + 1);
        if (value != NULL)
            agg_numeric_format(&r->value, value, need + 1);
        row->u.value = value;
    }
    if (row->u.seq == NULL || row->u.agent == NULL || row->u.value == NULL ||
        (len[F_NOTE] >= 0 && row->u.note == NULL))
        return bad(r, "out of memory");
    row->observed_us = agg_copy_int64(f[F_OBSERVED]);
    row->u.observed_ms = agg_copy_timestamptz_ms(row->observed_us);
    row->u.received_ms = agg_copy_timestamptz_ms(agg_copy_int64(f[F_RECEIVED]));
    part->n_rows++;
    return TUPLE_KEPT;
}

/* One CopyData message: the header, a row, or the trailer. */
static enum tuple read_message(struct reader *r, const unsigned char *data, size_t size)
{
    const unsigned char *f[N_FIELDS];
    long len[N_FIELDS];

    switch (agg_copy_read(&r->copy, data, size, N_FIELDS, f, len)) {
    case AGG_COPY_ROW:
        return read_tuple(r, f, len);
    case AGG_COPY_HEADER:
        return TUPLE_SKIPPED;
    case AGG_COPY_END:
        return TUPLE_END;
    default:
        return bad(r, r->copy.why);
    }
}

/* One COPY of the log observed in (after, until], read into `part`. */
struct stream {
    PGconn *conn;
    const struct agg_diff_listing *l;
    int year;
    int64_t after_ms, until_ms;
    struct part part;
    int rc;
    char err[AGG_DB_ERR_MAX];
};

static void stream_updates(struct stream *s)
{
    struct reader r = {.l = s->l, .part = &s->part, .err = s->err, .err_size = sizeof(s->err)};
    struct ct_buf sql = CT_BUF_INIT;
    PGresult *res;
    char *message;
    int n;
    bool ended = false;

    s->rc = -1;
    agg_numeric_init(&r.value);
    if (copy_sql(s->conn, s->l, s->year, s->after_ms, s->until_ms, &sql) != 0) {
        snprintf(s->err, sizeof(s->err), "out of memory");
        goto out;
    }
    res = agg_db_query(s->conn, "reading the diff's updates", sql.data, 0, NULL, PGRES_COPY_OUT,
                       s->err, sizeof(s->err));
    if (res == NULL)
        goto out;
    PQclear(res);
    while ((n = agg_db_copy_out_next(s->conn, "reading the diff's updates", &message, s->err,
                                     sizeof(s->err))) > 0) {
        enum tuple t = ended ? bad(&r, "rows after the trailer")
                             : read_message(&r, (const unsigned char *)message, (size_t)n);
        PQfreemem(message);
        if (t == TUPLE_BAD) {
            agg_db_copy_out_drain(s->conn);
            goto out;
        }
        ended = t == TUPLE_END;
    }
    if (n == 0 && !ended)
        snprintf(s->err, sizeof(s->err),
                 "reading the diff's updates: the output ended without its trailer");
    else if (n == 0)
        s->rc = 0;
out:
    agg_numeric_release(&r.value);
    ct_buf_free(&sql);
}

static void *stream_main(void *arg)
{
    stream_updates(arg);
    return NULL;
}

/* Puts `helper` in a read-only transaction that sees exactly what conn's does. Returns 0,
 * or -1 with helper outside any transaction (a server that cannot export snapshots, say:
 * the caller then reads alone). */
static int share_snapshot(PGconn *conn, PGconn *helper)
{
    char err[AGG_DB_ERR_MAX + 64], *id = NULL;
    struct ct_buf set = CT_BUF_INIT;
    PGresult *res =
        agg_db_query(conn, "exporting the diff's snapshot", "SELECT pg_export_snapshot()", 0, NULL,
                     PGRES_TUPLES_OK, err, sizeof(err));
    int rc = -1;

    if (res == NULL)
        return -1;
    if ((id = PQescapeLiteral(helper, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)))) ==
        NULL)
        goto out;
    ct_buf_puts(&set, "SET TRANSACTION SNAPSHOT ");
    if (ct_buf_puts(&set, id) != 0)
        goto out;
    if (agg_db_exec(helper, "sharing the diff's snapshot",
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err,
                    sizeof(err)) == 0 &&
        agg_db_exec(helper, "sharing the diff's snapshot", set.data, 0, NULL, err, sizeof(err)) ==
            0)
        rc = 0;
out:
    if (rc != 0)
        agg_db_rollback(helper); /* a helper that was inside a transaction leaves it too */
    PQfreemem(id);
    ct_buf_free(&set);
    PQclear(res);
    return rc;
}

/* Appends b's rows to a's and hands b's arena to a. Returns 0, or -1 out of memory. */
static int join_parts(struct part *a, struct part *b)
{
    struct arena_block **tail = &b->arena;

    if (b->n_rows > 0) {
        if (a->n_rows + b->n_rows > a->cap_rows) {
            struct row *grown = realloc(a->rows, (a->n_rows + b->n_rows) * sizeof(*grown));
            if (grown == NULL)
                return -1;
            a->rows = grown;
            a->cap_rows = a->n_rows + b->n_rows;
        }
        memcpy(a->rows + a->n_rows, b->rows, b->n_rows * sizeof(*b->rows));
        a->n_rows += b->n_rows;
    }
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = a->arena;
    a->arena = b->arena;
    b->arena = NULL;
    free(b->rows);
    b->rows = NULL;
    b->n_rows = b->cap_rows = 0;
    return 0;
}

/* The range's log into l->all: read alone on conn, or, with a helper sharing conn's
 * snapshot, as two halves read at once (the server's COPY output is the cost: two
 * backends halve it). The earlier half comes first, so the rows stay in the log's order. */
static int read_log(PGconn *conn, PGconn *helper, struct agg_diff_listing *l,
                    const struct agg_diff *d, char *err, size_t err_size)
{
    struct stream first = {
        .conn = conn, .l = l, .year = d->year, .after_ms = d->from_ms, .until_ms = d->to_ms};
    struct stream second = {.conn = helper, .l = l, .year = d->year, .until_ms = d->to_ms};
    bool split = helper != NULL && share_snapshot(conn, helper) == 0;
    pthread_t thread;
    int rc = -1;

    if (split) {
        first.until_ms = second.after_ms = d->from_ms + (d->to_ms - d->from_ms) / 2;
        if (pthread_create(&thread, NULL, stream_main, &second) != 0) {
            split = false;
            first.until_ms = d->to_ms;
            agg_db_rollback(helper);
        }
    }
    stream_updates(&first);
    if (split) {
        pthread_join(thread, NULL);
        agg_db_rollback(helper);
    }
    if (first.rc != 0)
        snprintf(err, err_size, "%s", first.err);
    else if (split && second.rc != 0)
        snprintf(err, err_size, "%s", second.err);
    else if (split && join_parts(&first.part, &second.part) != 0)
        snprintf(err, err_size, "out of memory");
    else if (first.part.n_rows > AGG_DIFF_MAX_UPDATES)
        snprintf(err, err_size, "the diff lists more than %d updates: choose a shorter range",
                 AGG_DIFF_MAX_UPDATES);
    else
        rc = 0;
    l->all = first.part; /* freed with the listing, whatever happened */
    free(second.part.rows);
    arena_free(second.part.arena);
    return rc;
}

/* ---- the replay --------------------------------------------------------------------- */

static int cmp_tie(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int c = strcmp(x->u.agent, y->u.agent); /* bytes, as COLLATE "C" */

    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The log comes in observed order; rows observed at the same microsecond follow section 2's
 * key further (agent in bytes, then seq). */
static void order_ties(struct agg_diff_listing *l)
{
    for (size_t i = 0, j; i < l->all.n_rows; i = j) {
        for (j = i + 1;
             j < l->all.n_rows && l->all.rows[j].observed_us == l->all.rows[i].observed_us;)
            j++;
        if (j - i > 1)
            qsort(&l->all.rows[i], j - i, sizeof(l->all.rows[0]), cmp_tie);
    }
}

/* Each row's contribution, replaying its unit's value from `start`: an add moves it by its
 * value, a set replaces it (contributing the difference). */
static int replay(struct agg_diff_listing *l, char *err, size_t err_size)
{
    struct agg_numeric v, next, delta;
    int rc = -1;

    agg_numeric_init(&v);
    agg_numeric_init(&next);
    agg_numeric_init(&delta);
    for (size_t i = 0; i < l->all.n_rows; i++) {
        struct row *row = &l->all.rows[i];
        struct key *k = &l->keys[row->key];
        struct agg_numeric swap;

        if (!k->sums)
            continue;
        /* read again from the row's text: keeping every row's digits from the COPY until
         * the ties are ordered would double the listing's memory for ~20 ms saved */
        if (agg_numeric_from_text(&v, row->u.value) != 0)
            goto no_memory;
        if (row->u.op[0] == 'a') {
            row->u.contribution = row->u.value;
            if (agg_numeric_add(&next, &k->value, &v) != 0)
                goto no_memory;
        } else {
            size_t need;
            char *text;

            if (agg_numeric_sub(&delta, &v, &k->value) != 0 || agg_numeric_copy(&next, &v) != 0)
                goto no_memory;
            need = agg_numeric_format(&delta, NULL, 0);
            if ((text = arena_alloc(&l->all.arena, need + 1)) == NULL)
                goto no_memory;
            agg_numeric_format(&delta, text, need + 1);
            row->u.contribution = text;
        }
        swap = k->value;
        k->value = next;
        next = swap;
    }
    rc = 0;
    goto out;
no_memory:
    snprintf(err, err_size, "out of memory");
out:
    agg_numeric_release(&v);
    agg_numeric_release(&next);
    agg_numeric_release(&delta);
    return rc;
}

/* Every row once under each target behind its key, in the log's order. */
static int hand_out(struct agg_diff_listing *l, struct agg_diff *d, char *err, size_t err_size)
{
    size_t total = 0, *next = calloc(d->n_targets + 1, sizeof(*next));

    if (next == NULL)
        goto no_memory;
    for (size_t i = 0; i < l->all.n_rows; i++) {
        const struct key *k = &l->keys[l->all.rows[i].key];
        for (size_t t = 0; t < k->n_targets; t++)
            d->targets[l->key_targets[k->first_target + t]].n_updates++;
        total += k->n_targets;
    }
    if ((l->updates = calloc(total + 1, sizeof(*l->updates))) == NULL)
        goto no_memory;
    for (size_t t = 0, at = 0; t < d->n_targets; t++) {
        d->targets[t].updates = &l->updates[at];
        next[t] = at;
        at += d->targets[t].n_updates;
    }
    for (size_t i = 0; i < l->all.n_rows; i++) {
        const struct key *k = &l->keys[l->all.rows[i].key];
        for (size_t t = 0; t < k->n_targets; t++) {
            size_t target = l->key_targets[k->first_target + t];
            struct agg_diff_update *u = &l->updates[next[target]++];
            *u = l->all.rows[i].u;
            if (!sums_exactly(d->targets[target].kind))
                u->contribution = NULL; /* a ratio or a growth does not split into parts */
        }
    }
    free(next);
    return 0;
no_memory:
    free(next);
    snprintf(err, err_size, "out of memory");
    return -1;
}

int agg_diff_listing_load(PGconn *conn, PGconn *helper, struct agg_diff *d,
                          struct agg_diff_listing **out, char *err, size_t err_size)
{
    struct agg_diff_listing *l = calloc(1, sizeof(*l));

    *out = NULL;
    if (l == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (d->n_targets > 0) {
        if (load_keys(conn, l, d, err, err_size) != 0 ||
            (l->n_keys > 0 && read_log(conn, helper, l, d, err, err_size) != 0))
            goto fail;
        order_ties(l);
        if (replay(l, err, err_size) != 0 || hand_out(l, d, err, err_size) != 0)
            goto fail;
    }
    free(l->all.rows); /* each target's updates are copies */
    l->all.rows = NULL;
    *out = l;
    return 0;
fail:
    agg_diff_listing_free(l);
    return -1;
}
