#include "assessment.h"

#include "db.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AS_OF_SQL "(timestamptz 'epoch' + $2::bigint * interval '1 millisecond')"

enum {
    U_RANK,
    U_DISTRICT,
    U_NAME_ZH,
    U_NAME_EN,
    U_SCORE,
    U_ASSIGNED,
    U_MET,
    U_ON_TRACK,
    U_BEHIND,
    U_NO_DATA
};

/* The rule's order (rank, then the unranked by district id) is citytally_assessment's. */
static const char *units_sql =
    "SELECT a.rank, a.district, u.name_zh, u.name_en, a.score, a.assigned, a.met, a.on_track,"
    " a.behind, a.no_data"
    " FROM citytally_assessment($1, " AS_OF_SQL ") WITH ORDINALITY a"
    " JOIN units u ON u.id = a.district ORDER BY a.ordinality";

/* Grouped by unit (id order), each unit's items in the targets' order. */
static const char *items_sql =
    "SELECT s.district, s.target_code, s.value, s.target, s.pct, s.status"
    " FROM citytally_unit_scores($1, " AS_OF_SQL ") s"
    " JOIN targets t ON t.year = $1 AND t.code = s.target_code"
    " WHERE s.target_scope = 'unit' ORDER BY s.district COLLATE \"C\", t.position";

static const char *columns_sql =
    "SELECT t.code, t.name_zh, t.name_en, t.unit FROM targets t WHERE t.year = $1"
    " AND EXISTS (SELECT 1 FROM unit_targets ut WHERE ut.year = t.year AND ut.code = t.code)"
    " ORDER BY t.position";

static const char *value_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int check_year(PGconn *conn, const char *year, char *err, size_t err_size)
{
    const char *params[1] = {year};
    PGresult *res = agg_db_query(conn, "checking the year",
                                 "SELECT EXISTS (SELECT 1 FROM targets WHERE year = $1)", 1, params,
                                 PGRES_TUPLES_OK, err, err_size);
    int rc = -1;

    if (res == NULL)
        return -1;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        snprintf(err, err_size, "no targets for year %s (load them with `targets import`)", year);
    else
        rc = 0;
    PQclear(res);
    return rc;
}

/* Points each unit at its run of items (items_sql groups them by district). */
static void attach_items(struct agg_assessment *a)
{
    const PGresult *r = a->res_items;
    int n = PQntuples(r);

    for (int i = 0; i < n; i++) {
        struct agg_assessment_item *it = &a->items_storage[i];
        it->code = PQgetvalue(r, i, 1);
        it->actual = value_or_null(r, i, 2);
        it->target = PQgetvalue(r, i, 3);
        it->pct = value_or_null(r, i, 4);
        it->status = PQgetvalue(r, i, 5);
    }
    for (size_t u = 0; u < a->n_units; u++) {
        struct agg_assessment_unit *unit = &a->units[u];
        int first = 0;
        while (first < n && strcmp(PQgetvalue(r, first, 0), unit->district) != 0)
            first++;
        unit->items = &a->items_storage[first];
        while (first + (int)unit->n_items < n &&
               strcmp(PQgetvalue(r, first + (int)unit->n_items, 0), unit->district) == 0)
            unit->n_items++;
    }
}

int agg_assessment_load(PGconn *conn, int year, int64_t as_of_ms, struct agg_assessment **out,
                        char *err, size_t err_size)
{
    char year_text[16], as_of_text[24];
    const char *params[2] = {year_text, as_of_text};
    struct agg_assessment *a = calloc(1, sizeof(*a));
    int rc = -1;

    *out = NULL;
    if (a == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    snprintf(year_text, sizeof(year_text), "%d", year);
    snprintf(as_of_text, sizeof(as_of_text), "%" PRId64, as_of_ms);
    a->year = year;
    a->as_of_ms = as_of_ms;
    if (check_year(conn, year_text, err, err_size) != 0)
        goto out;
    if ((a->res_units = agg_db_query(conn, "computing the assessment", units_sql, 2, params,
                                     PGRES_TUPLES_OK, err, err_size)) == NULL ||
        (a->res_items = agg_db_query(conn, "reading the units' own targets", items_sql, 2, params,
                                     PGRES_TUPLES_OK, err, err_size)) == NULL ||
        (a->res_columns = agg_db_query(conn, "reading the split targets", columns_sql, 1, params,
                                       PGRES_TUPLES_OK, err, err_size)) == NULL)
        goto out;
    a->n_units = (size_t)PQntuples(a->res_units);
    a->n_columns = (size_t)PQntuples(a->res_columns);
    a->units = calloc(a->n_units + 1, sizeof(*a->units));
    a->columns = calloc(a->n_columns + 1, sizeof(*a->columns));
    a->items_storage = calloc((size_t)PQntuples(a->res_items) + 1, sizeof(*a->items_storage));
    if (a->units == NULL || a->columns == NULL || a->items_storage == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < a->n_units; i++) {
        struct agg_assessment_unit *u = &a->units[i];
        const PGresult *r = a->res_units;
        int row = (int)i;
        u->rank = value_or_null(r, row, U_RANK);
        u->district = PQgetvalue(r, row, U_DISTRICT);
        u->name_zh = PQgetvalue(r, row, U_NAME_ZH);
        u->name_en = PQgetvalue(r, row, U_NAME_EN);
        u->score = value_or_null(r, row, U_SCORE);
        u->assigned = atoi(PQgetvalue(r, row, U_ASSIGNED));
        u->met = atoi(PQgetvalue(r, row, U_MET));
        u->on_track = atoi(PQgetvalue(r, row, U_ON_TRACK));
        u->behind = atoi(PQgetvalue(r, row, U_BEHIND));
        u->no_data = atoi(PQgetvalue(r, row, U_NO_DATA));
    }
    for (size_t i = 0; i < a->n_columns; i++) {
        const PGresult *r = a->res_columns;
        a->columns[i] =
            (struct agg_assessment_column){PQgetvalue(r, (int)i, 0), PQgetvalue(r, (int)i, 1),
                                           PQgetvalue(r, (int)i, 2), PQgetvalue(r, (int)i, 3)};
    }
    attach_items(a);
    *out = a;
    rc = 0;
out:
    if (rc != 0)
        agg_assessment_free(a);
    return rc;
}

void agg_assessment_free(struct agg_assessment *a)
{
    if (a == NULL)
        return;
    PQclear(a->res_units);
    PQclear(a->res_items);
    PQclear(a->res_columns);
    free(a->units);
    free(a->columns);
    free(a->items_storage);
    free(a);
}

const struct agg_assessment_item *agg_assessment_item(const struct agg_assessment_unit *unit,
                                                      const char *code)
{
    for (size_t i = 0; i < unit->n_items; i++) {
        if (strcmp(unit->items[i].code, code) == 0)
            return &unit->items[i];
    }
    return NULL;
}

/* numeric text from PostgreSQL is already a valid JSON number (trim_scale'd, no exponent) */
static void json_number(struct ct_buf *out, const char *value)
{
    ct_buf_puts(out, value != NULL ? value : "null");
}

int agg_assessment_json(const struct agg_assessment *a, struct ct_buf *out)
{
    char as_of[CT_TIME_TEXT_MAX];

    ct_time_format(a->as_of_ms, as_of, sizeof(as_of));
    ct_buf_printf(out, "{\"year\":%d,\"as_of\":", a->year);
    ct_buf_json_string(out, as_of);
    ct_buf_puts(out, ",\"units\":[");
    for (size_t i = 0; i < a->n_units; i++) {
        const struct agg_assessment_unit *u = &a->units[i];
        ct_buf_puts(out, i ? ",{\"rank\":" : "{\"rank\":");
        json_number(out, u->rank);
        ct_buf_puts(out, ",\"district\":");
        ct_buf_json_string(out, u->district);
        ct_buf_puts(out, ",\"name_zh\":");
        ct_buf_json_string(out, u->name_zh);
        ct_buf_puts(out, ",\"name_en\":");
        ct_buf_json_string(out, u->name_en);
        ct_buf_puts(out, ",\"score\":");
        json_number(out, u->score);
        ct_buf_printf(out,
                      ",\"assigned\":%d,\"met\":%d,\"on_track\":%d,\"behind\":%d,\"no_data\":%d,"
                      "\"items\":[",
                      u->assigned, u->met, u->on_track, u->behind, u->no_data);
        for (size_t k = 0; k < u->n_items; k++) {
            const struct agg_assessment_item *it = &u->items[k];
            ct_buf_puts(out, k ? ",{\"code\":" : "{\"code\":");
            ct_buf_json_string(out, it->code);
            ct_buf_puts(out, ",\"actual\":");
            json_number(out, it->actual);
            ct_buf_puts(out, ",\"target\":");
            json_number(out, it->target);
            ct_buf_puts(out, ",\"pct\":");
            json_number(out, it->pct);
            ct_buf_puts(out, ",\"status\":");
            ct_buf_json_string(out, it->status);
            ct_buf_puts(out, "}");
        }
        ct_buf_puts(out, "]}");
    }
    ct_buf_puts(out, "]}");
    return out->failed ? -1 : 0;
}

static void pad(struct ct_buf *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ct_buf_append(out, " ", 1);
}

static void right(struct ct_buf *out, const char *s, size_t width)
{
    size_t w = agg_report_text_width(s);
    pad(out, w < width ? width - w : 0);
    ct_buf_puts(out, s);
}

static int render_table(const struct agg_assessment *a, struct ct_buf *out)
{
    char as_of[CT_TIME_TEXT_MAX], n[5][16];
    size_t w_score = strlen("Score"), ranked = 0;

    for (size_t i = 0; i < a->n_units; i++) {
        if (a->units[i].score != NULL && strlen(a->units[i].score) > w_score)
            w_score = strlen(a->units[i].score);
        ranked += a->units[i].rank != NULL;
    }
    ct_time_format(a->as_of_ms, as_of, sizeof(as_of));
    ct_buf_printf(out,
                  "郑州市 %d 年科技创新考核 · Zhengzhou, assessment of the units on their own %d "
                  "targets\nAs of %s. Score: mean over each unit's own targets of min(pct, 100), "
                  "no value counting 0.\n\n",
                  a->year, a->year, as_of);
    ct_buf_puts(out, "Rank  ");
    right(out, "Score", w_score);
    ct_buf_puts(out, "  Targets   Met  On track  Behind  No data  单位 / Unit\n");
    for (size_t i = 0; i < a->n_units; i++) {
        const struct agg_assessment_unit *u = &a->units[i];
        snprintf(n[0], sizeof(n[0]), "%d", u->assigned);
        snprintf(n[1], sizeof(n[1]), "%d", u->met);
        snprintf(n[2], sizeof(n[2]), "%d", u->on_track);
        snprintf(n[3], sizeof(n[3]), "%d", u->behind);
        snprintf(n[4], sizeof(n[4]), "%d", u->no_data);
        right(out, u->rank != NULL ? u->rank : "-", 4);
        ct_buf_puts(out, "  ");
        right(out, u->score != NULL ? u->score : "-", w_score);
        ct_buf_puts(out, "  ");
        right(out, n[0], 7);
        ct_buf_puts(out, "  ");
        right(out, n[1], 4);
        ct_buf_puts(out, "  ");
        right(out, n[2], 8);
        ct_buf_puts(out, "  ");
        right(out, n[3], 6);
        ct_buf_puts(out, "  ");
        right(out, n[4], 7);
        ct_buf_printf(out, "  %s %s\n", u->name_zh, u->name_en);
    }
    ct_buf_printf(out, "\n%zu units ranked, %zu without an assigned target\n", ranked,
                  a->n_units - ranked);
    return out->failed ? -1 : 0;
}

static void csv_field(struct ct_buf *out, const char *s)
{
    if (s == NULL)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        ct_buf_puts(out, s);
        return;
    }
    ct_buf_append(out, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            ct_buf_append(out, "\"", 1);
        ct_buf_append(out, s, 1);
    }
    ct_buf_append(out, "\"", 1);
}

static int render_csv(const struct agg_assessment *a, struct ct_buf *out)
{
    char as_of[CT_TIME_TEXT_MAX];

    ct_time_format(a->as_of_ms, as_of, sizeof(as_of));
    ct_buf_puts(out, "year,as_of,rank,district,name_zh,name_en,score,assigned,met,on_track,"
                     "behind,no_data\n");
    for (size_t i = 0; i < a->n_units; i++) {
        const struct agg_assessment_unit *u = &a->units[i];
        const char *fields[] = {u->rank, u->district, u->name_zh, u->name_en, u->score};
        ct_buf_printf(out, "%d,%s", a->year, as_of);
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            ct_buf_puts(out, ",");
            csv_field(out, fields[f]);
        }
        ct_buf_printf(out, ",%d,%d,%d,%d,%d\n", u->assigned, u->met, u->on_track, u->behind,
                      u->no_data);
    }
    return out->failed ? -1 : 0;
}

int agg_assessment_render(const struct agg_assessment *a, enum agg_report_format format,
                          struct ct_buf *out)
{
    switch (format) {
    case AGG_REPORT_TABLE:
        return render_table(a, out);
    case AGG_REPORT_CSV:
        return render_csv(a, out);
    case AGG_REPORT_JSON:
        if (agg_assessment_json(a, out) != 0)
            return -1;
        return ct_buf_puts(out, "\n");
    }
    return -1;
}
