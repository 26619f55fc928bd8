#include "completeness.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { R_ROUND, R_PERIOD_END, R_DUE };
enum { U_ID, U_NAME_ZH, U_NAME_EN };
enum { P_ROUND, P_DISTRICT, P_INDICATOR, P_STATUS };

int agg_completeness_latest_year(PGconn *conn, int *year, char *err, size_t err_size)
{
    PGresult *res = agg_db_query(conn, "finding the latest year with rounds",
                                 "SELECT coalesce(max(year), 0) FROM rounds", 0, NULL,
                                 PGRES_TUPLES_OK, err, err_size);
    if (res == NULL)
        return -1;
    *year = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* After an empty result: says which rounds the year has, or which years have rounds. */
static enum agg_completeness_result not_found(PGconn *conn, int year, const char *round, char *err,
                                              size_t err_size)
{
    char year_text[16];
    const char *params[] = {year_text};
    PGresult *res;

    snprintf(year_text, sizeof(year_text), "%d", year);
    if (round != NULL) {
        res = agg_db_query(conn, "listing rounds",
                           "SELECT coalesce(string_agg(round, ' ' ORDER BY position), '')"
                           " FROM rounds WHERE year = $1",
                           1, params, PGRES_TUPLES_OK, err, err_size);
        if (res == NULL)
            return AGG_COMPLETENESS_DB_ERROR;
        if (PQgetvalue(res, 0, 0)[0] != '\0') {
            snprintf(err, err_size, "no round '%s' in %d (rounds: %s)", round, year,
                     PQgetvalue(res, 0, 0));
            PQclear(res);
            return AGG_COMPLETENESS_NOT_FOUND;
        }
        PQclear(res);
    }
    res = agg_db_query(conn, "listing years",
                       "SELECT coalesce(string_agg(DISTINCT year::text, ' '), '') FROM rounds", 0,
                       NULL, PGRES_TUPLES_OK, err, err_size);
    if (res == NULL)
        return AGG_COMPLETENESS_DB_ERROR;
    snprintf(err, err_size, "no rounds for year %d (years with rounds: %s)", year,
             PQgetvalue(res, 0, 0)[0] != '\0' ? PQgetvalue(res, 0, 0)
                                              : "none; see calendar import");
    PQclear(res);
    return AGG_COMPLETENESS_NOT_FOUND;
}

/* Counts the run of pair rows of one (round, unit), starting at `*row`. */
static void fill_unit(struct agg_completeness *c, struct agg_completeness_round *r,
                      struct agg_completeness_unit *u, int *row, const char ***codes)
{
    const PGresult *p = c->res_pairs;
    int n = PQntuples(p), start = *row;

    /* late codes first, then missing ones, each run contiguous in code_storage */
    u->late = *codes;
    for (int i = start; i < n && strcmp(PQgetvalue(p, i, P_ROUND), r->round) == 0 &&
                        strcmp(PQgetvalue(p, i, P_DISTRICT), u->district) == 0;
         i++) {
        const char *status = PQgetvalue(p, i, P_STATUS);
        u->expected++;
        if (strcmp(status, "missing") != 0)
            u->reported++;
        if (strcmp(status, "on_time") == 0)
            u->on_time++;
        if (strcmp(status, "late") == 0)
            u->late[u->n_late++] = PQgetvalue(p, i, P_INDICATOR);
        *row = i + 1;
    }
    *codes += u->n_late;
    u->missing = *codes;
    for (int i = start; i < *row; i++) {
        if (strcmp(PQgetvalue(p, i, P_STATUS), "missing") == 0)
            u->missing[u->n_missing++] = PQgetvalue(p, i, P_INDICATOR);
    }
    *codes += u->n_missing;
    r->expected += u->expected;
    r->reported += u->reported;
    r->on_time += u->on_time;
}

enum agg_completeness_result agg_completeness_load(PGconn *conn, int year, const char *round,
                                                   struct agg_completeness **out, char *err,
                                                   size_t err_size)
{
    struct agg_completeness *c = calloc(1, sizeof(*c));
    enum agg_completeness_result rc = AGG_COMPLETENESS_DB_ERROR;
    char year_text[16];
    const char *params[] = {year_text, round};
    size_t n_units;
    const char **codes;
    int row = 0;

    *out = NULL;
    if (c == NULL) {
        snprintf(err, err_size, "out of memory");
        return AGG_COMPLETENESS_DB_ERROR;
    }
    c->year = year;
    snprintf(year_text, sizeof(year_text), "%d", year);
    c->res_rounds = agg_db_query(conn, "reading the rounds",
                                 "SELECT round, period_end, due FROM rounds WHERE year = $1"
                                 " AND ($2::text IS NULL OR round = $2) ORDER BY position",
                                 2, params, PGRES_TUPLES_OK, err, err_size);
    if (c->res_rounds == NULL)
        goto out;
    if (PQntuples(c->res_rounds) == 0) {
        rc = not_found(conn, year, round, err, err_size);
        goto out;
    }
    c->res_units = agg_db_query(conn, "reading units",
                                "SELECT id, name_zh, name_en FROM units ORDER BY position", 0, NULL,
                                PGRES_TUPLES_OK, err, err_size);
    if (c->res_units == NULL)
        goto out;
    c->res_pairs = agg_db_query(conn, "computing completeness",
                                "SELECT round, district, indicator, status"
                                " FROM citytally_completeness($1)"
                                " WHERE $2::text IS NULL OR round = $2",
                                2, params, PGRES_TUPLES_OK, err, err_size);
    if (c->res_pairs == NULL)
        goto out;

    c->n_rounds = (size_t)PQntuples(c->res_rounds);
    n_units = (size_t)PQntuples(c->res_units);
    c->rounds = calloc(c->n_rounds, sizeof(*c->rounds));
    c->unit_storage = calloc(c->n_rounds * n_units + 1, sizeof(*c->unit_storage));
    c->code_storage = calloc((size_t)PQntuples(c->res_pairs) + 1, sizeof(*c->code_storage));
    if (c->rounds == NULL || c->unit_storage == NULL || c->code_storage == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    codes = c->code_storage;
    /* The pairs come ordered as the rounds and the units are, so each (round, unit) is a
     * run of rows, possibly empty. */
    for (size_t i = 0; i < c->n_rounds; i++) {
        struct agg_completeness_round *r = &c->rounds[i];
        r->round = PQgetvalue(c->res_rounds, (int)i, R_ROUND);
        r->period_end = PQgetvalue(c->res_rounds, (int)i, R_PERIOD_END);
        r->due = PQgetvalue(c->res_rounds, (int)i, R_DUE);
        r->units = &c->unit_storage[i * n_units];
        r->n_units = n_units;
        for (size_t k = 0; k < n_units; k++) {
            struct agg_completeness_unit *u = &r->units[k];
            u->district = PQgetvalue(c->res_units, (int)k, U_ID);
            u->name_zh = PQgetvalue(c->res_units, (int)k, U_NAME_ZH);
            u->name_en = PQgetvalue(c->res_units, (int)k, U_NAME_EN);
            fill_unit(c, r, u, &row, &codes);
        }
    }
    if (row != PQntuples(c->res_pairs)) {
        snprintf(err, err_size, "computing completeness: %d rows out of round or unit order",
                 PQntuples(c->res_pairs) - row);
        goto out;
    }
    *out = c;
    c = NULL;
    rc = AGG_COMPLETENESS_OK;
out:
    agg_completeness_free(c);
    return rc;
}

void agg_completeness_free(struct agg_completeness *c)
{
    if (c == NULL)
        return;
    PQclear(c->res_rounds);
    PQclear(c->res_units);
    PQclear(c->res_pairs);
    free(c->rounds);
    free(c->unit_storage);
    free(c->code_storage);
    free(c);
}

enum agg_cell agg_completeness_cell(const struct agg_completeness_unit *u)
{
    if (u->expected == 0)
        return AGG_CELL_NOT_EXPECTED;
    if (u->reported == 0)
        return AGG_CELL_MISSING;
    if (u->reported < u->expected)
        return AGG_CELL_PARTIAL;
    return u->on_time < u->reported ? AGG_CELL_LATE : AGG_CELL_ON_TIME;
}

static void json_codes(struct ct_buf *out, const char *const *codes, size_t n)
{
    ct_buf_puts(out, "[");
    for (size_t i = 0; i < n; i++) {
        ct_buf_puts(out, i ? "," : "");
        ct_buf_json_string(out, codes[i]);
    }
    ct_buf_puts(out, "]");
}

int agg_completeness_json(const struct agg_completeness *c, struct ct_buf *out)
{
    ct_buf_printf(out, "{\"year\":%d,\"rounds\":[", c->year);
    for (size_t i = 0; i < c->n_rounds; i++) {
        const struct agg_completeness_round *r = &c->rounds[i];
        ct_buf_puts(out, i ? ",{\"round\":" : "{\"round\":");
        ct_buf_json_string(out, r->round);
        ct_buf_puts(out, ",\"period_end\":");
        ct_buf_json_string(out, r->period_end);
        ct_buf_puts(out, ",\"due\":");
        ct_buf_json_string(out, r->due);
        ct_buf_printf(out, ",\"expected\":%d,\"reported\":%d,\"on_time\":%d,\"units\":[",
                      r->expected, r->reported, r->on_time);
        for (size_t k = 0; k < r->n_units; k++) {
            const struct agg_completeness_unit *u = &r->units[k];
            ct_buf_puts(out, k ? ",{\"district\":" : "{\"district\":");
            ct_buf_json_string(out, u->district);
            ct_buf_printf(out,
                          ",\"expected\":%d,\"reported\":%d,\"on_time\":%d,\"late\":", u->expected,
                          u->reported, u->on_time);
            json_codes(out, u->late, u->n_late);
            ct_buf_puts(out, ",\"missing\":");
            json_codes(out, u->missing, u->n_missing);
            ct_buf_puts(out, "}");
        }
        ct_buf_puts(out, "]}");
    }
    ct_buf_puts(out, "]}");
    return out->failed ? -1 : 0;
}
