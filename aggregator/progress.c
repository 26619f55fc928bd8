#include "progress.h"

#include "db.h"
#include "known_at.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* as_of travels as integer milliseconds and becomes a timestamptz exactly in SQL. */
#define AS_OF_SQL "(timestamptz 'epoch' + $2::bigint * interval '1 millisecond')"

enum {
    T_CODE,
    T_NAME_ZH,
    T_NAME_EN,
    T_UNIT,
    T_KIND,
    T_ACTUAL,
    T_TARGET,
    T_CMP,
    T_PCT,
    T_STATUS,
    T_UNITS,
    T_EXPECTED,
    T_PACE,
    T_SCOPE
};

static const char *city_sql =
    "SELECT p.target_code, t.name_zh, t.name_en, t.unit, p.kind, p.actual, p.target,"
    " p.comparator, p.pct, p.status, p.units_reporting, p.expected_to_date, p.pace_pct, NULL::text"
    " FROM citytally_progress_paced($1, " AS_OF_SQL ") p"
    " JOIN targets t ON t.year = $1 AND t.code = p.target_code ORDER BY t.position";

static const char *unit_sql =
    "SELECT s.target_code, t.name_zh, t.name_en, t.unit, t.kind, s.value, s.target,"
    " s.comparator, s.pct, s.status, s.reporting::int, s.expected_to_date, s.pace_pct,"
    " s.target_scope"
    " FROM citytally_unit_scores($1, " AS_OF_SQL ") s"
    " JOIN targets t ON t.year = $1 AND t.code = s.target_code"
    " WHERE s.district = $3 ORDER BY t.position";

/* Ordered by target position, then unit position, like the rows above. */
static const char *by_unit_sql =
    "SELECT s.target_code, s.district, s.value, s.expected_to_date, s.pace_pct"
    " FROM citytally_unit_scores($1, " AS_OF_SQL ") s"
    " JOIN targets t ON t.year = $1 AND t.code = s.target_code"
    " JOIN units u ON u.id = s.district"
    " WHERE s.reporting AND ($3::text IS NULL OR s.district = $3)"
    " ORDER BY t.position, u.position";

static const char *value_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int check_year_and_unit(PGconn *conn, const char *year, const char *district, char *err,
                               size_t err_size)
{
    const char *params[2] = {year, district};
    PGresult *res = agg_db_query(conn, "checking the year and unit",
                                 "SELECT EXISTS (SELECT 1 FROM targets WHERE year = $1),"
                                 " $2::text IS NULL OR EXISTS (SELECT 1 FROM units WHERE id = $2)",
                                 2, params, PGRES_TUPLES_OK, err, err_size);
    int rc = -1;

    if (res == NULL)
        return -1;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        snprintf(err, err_size, "no targets for year %s (load them with `targets import`)", year);
    else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
        snprintf(err, err_size, "unknown district '%s'", district);
    else
        rc = 0;
    PQclear(res);
    return rc;
}

int agg_progress_load(PGconn *conn, int year, int64_t as_of_ms, const char *district,
                      struct agg_progress **out, char *err, size_t err_size)
{
    char year_text[16], as_of_text[24];
    const char *params[3] = {year_text, as_of_text, district};
    struct agg_progress *p = calloc(1, sizeof(*p));
    int rc = -1, n, n_units;

    *out = NULL;
    if (p == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    snprintf(year_text, sizeof(year_text), "%d", year);
    snprintf(as_of_text, sizeof(as_of_text), "%" PRId64, as_of_ms);
    p->year = year;
    p->as_of_ms = as_of_ms;
    if (district != NULL && (p->district_copy = strdup(district)) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    p->district = p->district_copy;
    if (check_year_and_unit(conn, year_text, district, err, err_size) != 0)
        goto out;
    p->res_targets = agg_db_query(conn, "computing progress", district ? unit_sql : city_sql,
                                  district ? 3 : 2, params, PGRES_TUPLES_OK, err, err_size);
    if (p->res_targets == NULL)
        goto out;
    p->res_units = agg_db_query(conn, "computing each unit's figures", by_unit_sql, 3, params,
                                PGRES_TUPLES_OK, err, err_size);
    if (p->res_units == NULL)
        goto out;

    n = PQntuples(p->res_targets);
    n_units = PQntuples(p->res_units);
    p->targets = calloc((size_t)n + 1, sizeof(*p->targets));
    p->units_storage = calloc((size_t)n_units + 1, sizeof(*p->units_storage));
    if (p->targets == NULL || p->units_storage == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    p->n_targets = (size_t)n;
    for (int i = 0, u = 0; i < n; i++) {
        struct agg_progress_target *t = &p->targets[i];
        const PGresult *r = p->res_targets;
        t->code = PQgetvalue(r, i, T_CODE);
        t->name_zh = PQgetvalue(r, i, T_NAME_ZH);
        t->name_en = PQgetvalue(r, i, T_NAME_EN);
        t->unit = PQgetvalue(r, i, T_UNIT);
        t->kind = PQgetvalue(r, i, T_KIND);
        t->actual = value_or_null(r, i, T_ACTUAL);
        t->target = PQgetvalue(r, i, T_TARGET);
        t->comparator = PQgetvalue(r, i, T_CMP);
        t->pct = value_or_null(r, i, T_PCT);
        t->status = PQgetvalue(r, i, T_STATUS);
        t->units_reporting = atoi(PQgetvalue(r, i, T_UNITS));
        t->expected_to_date = value_or_null(r, i, T_EXPECTED);
        t->pace_pct = value_or_null(r, i, T_PACE);
        t->target_scope = value_or_null(r, i, T_SCOPE);
        /* Both results follow the targets' order, so each target's units are the run of
         * unit rows carrying its code. */
        t->units = &p->units_storage[u];
        while (u < n_units && strcmp(PQgetvalue(p->res_units, u, 0), t->code) == 0) {
            p->units_storage[u].district = PQgetvalue(p->res_units, u, 1);
            p->units_storage[u].value = value_or_null(p->res_units, u, 2);
            p->units_storage[u].expected_to_date = value_or_null(p->res_units, u, 3);
            p->units_storage[u].pace_pct = value_or_null(p->res_units, u, 4);
            t->n_units++;
            u++;
        }
    }
    *out = p;
    rc = 0;
out:
    if (rc != 0)
        agg_progress_free(p);
    return rc;
}

int agg_progress_load_known(PGconn *conn, int year, int64_t as_of_ms, int64_t known_at_ms,
                            const char *district, struct agg_progress **out, char *err,
                            size_t err_size)
{
    bool opened;
    int rc;

    *out = NULL;
    if (agg_known_at_begin(conn, known_at_ms, &opened, err, err_size) != 0)
        return -1;
    rc = agg_progress_load(conn, year, as_of_ms, district, out, err, err_size);
    agg_known_at_end(conn, opened);
    return rc;
}

void agg_progress_free(struct agg_progress *p)
{
    if (p == NULL)
        return;
    PQclear(p->res_targets);
    PQclear(p->res_units);
    free(p->targets);
    free(p->units_storage);
    free(p->district_copy);
    free(p);
}

/* Is `s` a JSON number (RFC 8259: -?int frac? exp?)? */
static bool is_json_number(const char *s)
{
    s += *s == '-';
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        s += strspn(s, "0123456789");
    else
        return false;
    if (*s == '.') {
        size_t n = strspn(s + 1, "0123456789");
        if (n == 0)
            return false;
        s += 1 + n;
    }
    if (*s == 'e' || *s == 'E') {
        size_t n;
        s++;
        s += *s == '+' || *s == '-';
        if ((n = strspn(s, "0123456789")) == 0)
            return false;
        s += n;
    }
    return *s == '\0';
}

/* numeric text from PostgreSQL is a JSON number (trim_scale'd, no exponent), except the
 * special values numeric can also hold ('NaN', 'Infinity'): those have no value in JSON. */
static void json_number(struct ct_buf *out, const char *value)
{
    ct_buf_puts(out, value != NULL && is_json_number(value) ? value : "null");
}

int agg_progress_json(const struct agg_progress *p, struct ct_buf *out)
{
    char as_of[CT_TIME_TEXT_MAX];

    ct_time_format(p->as_of_ms, as_of, sizeof(as_of));
    ct_buf_printf(out, "{\"year\":%d,\"as_of\":", p->year);
    ct_buf_json_string(out, as_of);
    ct_buf_puts(out, ",\"targets\":[");
    for (size_t i = 0; i < p->n_targets; i++) {
        const struct agg_progress_target *t = &p->targets[i];
        ct_buf_puts(out, i ? ",{\"code\":" : "{\"code\":");
        ct_buf_json_string(out, t->code);
        ct_buf_puts(out, ",\"name_zh\":");
        ct_buf_json_string(out, t->name_zh);
        ct_buf_puts(out, ",\"name_en\":");
        ct_buf_json_string(out, t->name_en);
        ct_buf_puts(out, ",\"unit\":");
        ct_buf_json_string(out, t->unit);
        ct_buf_puts(out, ",\"kind\":");
        ct_buf_json_string(out, t->kind);
        ct_buf_puts(out, ",\"actual\":");
        json_number(out, t->actual);
        ct_buf_puts(out, ",\"target\":");
        json_number(out, t->target);
        if (t->target_scope != NULL) {
            ct_buf_puts(out, ",\"target_scope\":");
            ct_buf_json_string(out, t->target_scope);
        }
        ct_buf_puts(out, ",\"comparator\":");
        ct_buf_json_string(out, t->comparator);
        ct_buf_puts(out, ",\"pct\":");
        json_number(out, t->pct);
        ct_buf_puts(out, ",\"status\":");
        ct_buf_json_string(out, t->status);
        ct_buf_puts(out, ",\"expected_to_date\":");
        json_number(out, t->expected_to_date);
        ct_buf_puts(out, ",\"pace_pct\":");
        json_number(out, t->pace_pct);
        ct_buf_printf(out, ",\"units_reporting\":%d,\"by_district\":[", t->units_reporting);
        for (size_t k = 0; k < t->n_units; k++) {
            ct_buf_puts(out, k ? ",{\"district\":" : "{\"district\":");
            ct_buf_json_string(out, t->units[k].district);
            ct_buf_puts(out, ",\"value\":");
            json_number(out, t->units[k].value);
            ct_buf_puts(out, ",\"expected_to_date\":");
            json_number(out, t->units[k].expected_to_date);
            ct_buf_puts(out, ",\"pace_pct\":");
            json_number(out, t->units[k].pace_pct);
            ct_buf_puts(out, "}");
        }
        ct_buf_puts(out, "]}");
    }
    ct_buf_puts(out, "]}");
    return out->failed ? -1 : 0;
}
