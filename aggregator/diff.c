#include "diff.h"

#include "db.h"
#include "diff_listing.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_SQL(n) "(timestamptz 'epoch' + $" #n "::bigint * interval '1 millisecond')"
#define TO_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

static const char *targets_sql =
    "SELECT d.target_code, t.name_zh, t.name_en, t.unit, d.kind, trim_scale(d.before),"
    " trim_scale(d.after), trim_scale(d.delta)"
    " FROM citytally_diff($1, " MS_SQL(2) ", " MS_SQL(
        3) ") d"
           " JOIN targets t ON t.year = $1 AND t.code = d.target_code ORDER BY t.position";

static const char *value_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int fill_targets(struct agg_diff *d)
{
    const PGresult *r = d->res_targets;
    int n = PQntuples(r);

    if ((d->targets = calloc((size_t)n + 1, sizeof(*d->targets))) == NULL)
        return -1;
    d->n_targets = (size_t)n;
    for (int i = 0; i < n; i++) {
        struct agg_diff_target *t = &d->targets[i];
        t->code = PQgetvalue(r, i, 0);
        t->name_zh = PQgetvalue(r, i, 1);
        t->name_en = PQgetvalue(r, i, 2);
        t->unit = PQgetvalue(r, i, 3);
        t->kind = PQgetvalue(r, i, 4);
        t->before = value_or_null(r, i, 5);
        t->after = value_or_null(r, i, 6);
        t->delta = value_or_null(r, i, 7);
    }
    return 0;
}

int agg_diff_load(PGconn *conn, PGconn *helper, int year, int64_t from_ms, int64_t to_ms,
                  struct agg_diff **out, char *err, size_t err_size)
{
    char year_text[16], from_text[24], to_text[24];
    const char *params[3] = {year_text, from_text, to_text};
    struct agg_diff *d = NULL;
    PGresult *check = NULL;
    int rc = -1;
    bool listed = false;

    *out = NULL;
    if (from_ms >= to_ms) {
        snprintf(err, err_size, "the diff's FROM must be before its TO");
        return -1;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    snprintf(year_text, sizeof(year_text), "%d", year);
    snprintf(from_text, sizeof(from_text), "%" PRId64, from_ms);
    snprintf(to_text, sizeof(to_text), "%" PRId64, to_ms);
    d->year = year;
    d->from_ms = from_ms;
    d->to_ms = to_ms;
    check = agg_db_query(conn, "checking the year",
                         "SELECT EXISTS (SELECT 1 FROM targets"
                         " WHERE year = $1)",
                         1, params, PGRES_TUPLES_OK, err, err_size);
    if (check == NULL)
        goto out;
    if (strcmp(PQgetvalue(check, 0, 0), "t") != 0) {
        snprintf(err, err_size, "no targets for year %d (load them with `targets import`)", year);
        rc = 1;
        goto out;
    }
    /* One snapshot for both reads, so the updates are the ones behind the figures. */
    if (agg_db_exec(conn, "starting the diff", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                    NULL, err, err_size) != 0)
        goto out;
    d->res_targets = agg_db_query(conn, "computing the diff", targets_sql, 3, params,
                                  PGRES_TUPLES_OK, err, err_size);
    if (d->res_targets != NULL && fill_targets(d) != 0)
        snprintf(err, err_size, "out of memory");
    else if (d->res_targets != NULL)
        listed = agg_diff_listing_load(conn, helper, d, &d->listing, err, err_size) == 0;
    agg_db_rollback(conn);
    if (!listed)
        goto out;
    *out = d;
    rc = 0;
out:
    PQclear(check);
    if (rc != 0)
        agg_diff_free(d);
    return rc;
}

void agg_diff_free(struct agg_diff *d)
{
    if (d == NULL)
        return;
    agg_diff_listing_free(d->listing);
    PQclear(d->res_targets);
    free(d->targets);
    free(d);
}

static void json_number(struct ct_buf *out, const char *value)
{
    ct_buf_puts(out, value != NULL ? value : "null");
}

static void json_time(struct ct_buf *out, int64_t ms)
{
    char text[CT_TIME_TEXT_MAX];

    ct_time_format(ms, text, sizeof(text));
    ct_buf_json_string(out, text);
}

static char *put(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

#define PUT_LITERAL(p, s) put((p), (s), sizeof(s) - 1)

static char *put_time(char *p, int64_t ms)
{
    *p++ = '"';
    p += ct_time_format(ms, p, CT_TIME_TEXT_MAX);
    *p++ = '"';
    return p;
}

static char *put_number(char *p, const char *value, size_t len)
{
    return value != NULL ? put(p, value, len) : PUT_LITERAL(p, "null");
}

/* One update of the listing: room is reserved once, then every piece is copied in. A
 * month's diff is ~460k of these, and an append per piece was most of its rendering. */
static void json_update(struct ct_buf *out, const struct agg_diff_update *x, bool first)
{
    size_t agent = strlen(x->agent), district = strlen(x->district);
    size_t indicator = strlen(x->indicator), op = strlen(x->op), seq = strlen(x->seq);
    size_t value = strlen(x->value), note = x->note != NULL ? strlen(x->note) : 0;
    size_t contribution = x->contribution != NULL ? strlen(x->contribution) : 4;
    char *p;

    if (ct_buf_reserve(out, 160 + CT_JSON_STRING_MAX(agent) + CT_JSON_STRING_MAX(district) +
                                CT_JSON_STRING_MAX(indicator) + CT_JSON_STRING_MAX(op) +
                                CT_JSON_STRING_MAX(note) + seq + value + contribution +
                                2 * CT_TIME_TEXT_MAX) != 0)
        return;
    p = out->data + out->len;
    p = first ? PUT_LITERAL(p, "{\"agent\":") : PUT_LITERAL(p, ",{\"agent\":");
    p = ct_json_string_into(p, x->agent, agent);
    p = PUT_LITERAL(p, ",\"district\":");
    p = ct_json_string_into(p, x->district, district);
    p = PUT_LITERAL(p, ",\"seq\":");
    p = put(p, x->seq, seq);
    p = PUT_LITERAL(p, ",\"indicator\":");
    p = ct_json_string_into(p, x->indicator, indicator);
    p = PUT_LITERAL(p, ",\"op\":");
    p = ct_json_string_into(p, x->op, op);
    p = PUT_LITERAL(p, ",\"value\":");
    p = put(p, x->value, value);
    p = PUT_LITERAL(p, ",\"observed_at\":");
    p = put_time(p, x->observed_ms);
    p = PUT_LITERAL(p, ",\"note\":");
    p = x->note != NULL ? ct_json_string_into(p, x->note, note) : PUT_LITERAL(p, "null");
    p = PUT_LITERAL(p, ",\"received_at\":");
    p = put_time(p, x->received_ms);
    p = PUT_LITERAL(p, ",\"contribution\":");
    p = put_number(p, x->contribution, contribution);
    *p++ = '}';
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
}

int agg_diff_json(const struct agg_diff *d, struct ct_buf *out)
{
    ct_buf_printf(out, "{\"year\":%d,\"from\":", d->year);
    json_time(out, d->from_ms);
    ct_buf_puts(out, ",\"to\":");
    json_time(out, d->to_ms);
    ct_buf_puts(out, ",\"targets\":[");
    for (size_t i = 0; i < d->n_targets; i++) {
        const struct agg_diff_target *t = &d->targets[i];
        ct_buf_puts(out, i ? ",{\"code\":" : "{\"code\":");
        ct_buf_json_string(out, t->code);
        ct_buf_puts(out, ",\"before\":");
        json_number(out, t->before);
        ct_buf_puts(out, ",\"after\":");
        json_number(out, t->after);
        ct_buf_puts(out, ",\"delta\":");
        json_number(out, t->delta);
        ct_buf_puts(out, ",\"updates\":[");
        for (size_t k = 0; k < t->n_updates; k++)
            json_update(out, &t->updates[k], k == 0);
        ct_buf_puts(out, "]}");
    }
    ct_buf_puts(out, "]}");
    return out->failed ? -1 : 0;
}

int agg_diff_table(const struct agg_diff *d, struct ct_buf *out)
{
    char from[CT_TIME_TEXT_MAX], to[CT_TIME_TEXT_MAX], at[CT_TIME_TEXT_MAX];

    ct_time_format(d->from_ms, from, sizeof(from));
    ct_time_format(d->to_ms, to, sizeof(to));
    ct_buf_printf(out, "变化 Changes %d: %s -> %s, %zu targets changed\n", d->year, from, to,
                  d->n_targets);
    for (size_t i = 0; i < d->n_targets; i++) {
        const struct agg_diff_target *t = &d->targets[i];
        ct_buf_printf(out, "\n%s %s (%s): %s -> %s %s, delta %s, %zu updates\n", t->name_zh,
                      t->name_en, t->code, t->before ? t->before : "-", t->after ? t->after : "-",
                      t->unit, t->delta ? t->delta : "-", t->n_updates);
        for (size_t k = 0; k < t->n_updates; k++) {
            const struct agg_diff_update *x = &t->updates[k];
            ct_time_format(x->observed_ms, at, sizeof(at));
            ct_buf_printf(out, "  %s  %-12s %s %s %s", at, x->district, x->indicator, x->op,
                          x->value);
            if (x->contribution != NULL)
                ct_buf_printf(out, " (%s)", x->contribution);
            if (x->note != NULL && x->note[0] != '\0')
                ct_buf_printf(out, "  %s", x->note);
            ct_buf_puts(out, "\n");
        }
    }
    return out->failed ? -1 : 0;
}
