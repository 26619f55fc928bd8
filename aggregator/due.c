#include "due.h"

#include "db.h"
#include "text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

struct due_round {
    int year;
    char round[CT_WIRE_MAX_CODE + 1];
    char due[CT_WIRE_DATE_LEN + 1];
    int64_t opens_ms, closes_ms, due_end_ms; /* window [opens, closes); due day's end */
    bool *listed;                            /* per indicator; NULL for `*` (all) */
};

struct agg_due {
    size_t n_rounds, n_units, n_indicators;
    struct due_round rounds[CT_WIRE_MAX_DUE];
    bool *listed_storage;
    unsigned char *reported; /* [round][unit][indicator] */
};

static unsigned char *flag(const struct agg_due *d, size_t r, size_t unit, size_t ind)
{
    return &d->reported[(r * d->n_units + unit) * d->n_indicators + ind];
}

static long indicator_index(const struct agg_directory *dir, const char *code)
{
    const struct agg_indicator *ind = agg_directory_indicator(dir, code);
    return ind != NULL ? (long)(ind - dir->indicators) : -1;
}

/* "{a,b}" of known codes into `listed`; unknown codes (removed since) are ignored. */
static void parse_listed(const struct agg_directory *dir, const char *literal, bool *listed)
{
    char code[CT_ID_MAX + 1];
    const char *p = literal + (literal[0] == '{');

    while (*p != '\0' && *p != '}') {
        size_t n = strcspn(p, ",}");
        if (n <= CT_ID_MAX) {
            long i;
            memcpy(code, p, n);
            code[n] = '\0';
            if ((i = indicator_index(dir, code)) >= 0)
                listed[i] = true;
        }
        p += n + (p[n] == ',');
    }
}

void agg_due_free(struct agg_due *d)
{
    if (d == NULL)
        return;
    free(d->listed_storage);
    free(d->reported);
    free(d);
}

struct agg_due *agg_due_load(PGconn *conn, const struct agg_directory *dir, int64_t now_ms,
                             char *err, size_t err_size)
{
    static const char rounds_sql[] =
        "SELECT y.year, w.round, w.due::text,"
        " (extract(epoch FROM w.opens) * 1000)::bigint, (extract(epoch FROM w.closes) * "
        "1000)::bigint,"
        " (extract(epoch FROM w.due_end) * 1000)::bigint, w.indicators"
        " FROM (SELECT DISTINCT year FROM rounds) y CROSS JOIN LATERAL "
        "citytally_round_windows(y.year) w"
        " WHERE w.due_end + make_interval(days => $2::int) > to_timestamp($1::bigint / 1000.0)"
        " ORDER BY w.due_end, y.year, w.round_position LIMIT $3";
    /* daily_values has a row per key and UTC+8 day with updates: the window's days. */
    static const char reported_sql[] =
        "SELECT y.year, w.round, dv.district, dv.indicator"
        " FROM (SELECT DISTINCT year FROM rounds) y CROSS JOIN LATERAL "
        "citytally_round_windows(y.year) w"
        " JOIN daily_values dv ON dv.period = y.year AND dv.day >= citytally_day(w.opens)"
        "  AND dv.day < citytally_day(w.closes)"
        " WHERE w.due_end + make_interval(days => $2::int) > to_timestamp($1::bigint / 1000.0)"
        " GROUP BY 1, 2, 3, 4";
    char now_text[24], grace[16], limit[16];
    const char *params[] = {now_text, grace, limit};
    struct agg_due *d = calloc(1, sizeof(*d));
    PGresult *rounds = NULL, *reported = NULL;
    struct agg_due *result = NULL;

    if (d == NULL) {
        snprintf(err, err_size, "loading what is due: out of memory");
        return NULL;
    }
    snprintf(now_text, sizeof(now_text), "%lld", (long long)now_ms);
    snprintf(grace, sizeof(grace), "%d", AGG_DUE_GRACE_DAYS);
    snprintf(limit, sizeof(limit), "%d", CT_WIRE_MAX_DUE);
    rounds = agg_db_query(conn, "loading what is due", rounds_sql, 3, params, PGRES_TUPLES_OK, err,
                          err_size);
    if (rounds == NULL)
        goto out;
    reported = agg_db_query(conn, "loading what is due", reported_sql, 2, params, PGRES_TUPLES_OK,
                            err, err_size);
    if (reported == NULL)
        goto out;
    d->n_rounds = (size_t)PQntuples(rounds);
    d->n_units = dir->n_units;
    d->n_indicators = dir->n_indicators;
    d->listed_storage = calloc(d->n_rounds * d->n_indicators + 1, sizeof(bool));
    d->reported = calloc(d->n_rounds * d->n_units * d->n_indicators + 1, 1);
    if (d->listed_storage == NULL || d->reported == NULL) {
        snprintf(err, err_size, "loading what is due: out of memory");
        goto out;
    }
    for (size_t r = 0; r < d->n_rounds; r++) {
        struct due_round *dr = &d->rounds[r];
        dr->year = atoi(PQgetvalue(rounds, (int)r, 0));
        ct_strlcpy(dr->round, PQgetvalue(rounds, (int)r, 1), sizeof(dr->round));
        ct_strlcpy(dr->due, PQgetvalue(rounds, (int)r, 2), sizeof(dr->due));
        dr->opens_ms = strtoll(PQgetvalue(rounds, (int)r, 3), NULL, 10);
        dr->closes_ms = strtoll(PQgetvalue(rounds, (int)r, 4), NULL, 10);
        dr->due_end_ms = strtoll(PQgetvalue(rounds, (int)r, 5), NULL, 10);
        if (!PQgetisnull(rounds, (int)r, 6)) {
            dr->listed = &d->listed_storage[r * d->n_indicators];
            parse_listed(dir, PQgetvalue(rounds, (int)r, 6), dr->listed);
        }
    }
    for (int i = 0; i < PQntuples(reported); i++) {
        int year = atoi(PQgetvalue(reported, i, 0));
        long unit = agg_directory_unit_index(dir, PQgetvalue(reported, i, 2));
        long ind = indicator_index(dir, PQgetvalue(reported, i, 3));
        for (size_t r = 0; r < d->n_rounds && unit >= 0 && ind >= 0; r++) {
            if (d->rounds[r].year == year &&
                strcmp(d->rounds[r].round, PQgetvalue(reported, i, 1)) == 0)
                *flag(d, r, (size_t)unit, (size_t)ind) = 1;
        }
    }
    result = d;
    d = NULL;
out:
    agg_due_free(d);
    PQclear(rounds);
    PQclear(reported);
    return result;
}

void agg_due_note(struct agg_due *d, const struct agg_directory *dir, long unit,
                  const struct ct_update *u)
{
    long ind = -1;

    if (d == NULL || unit < 0 || (size_t)unit >= d->n_units)
        return;
    for (size_t r = 0; r < d->n_rounds; r++) {
        const struct due_round *dr = &d->rounds[r];
        if (dr->year != u->period || u->at_ms < dr->opens_ms || u->at_ms >= dr->closes_ms)
            continue;
        if (ind < 0 && (ind = indicator_index(dir, u->ind)) < 0)
            return;
        *flag(d, r, (size_t)unit, (size_t)ind) = 1;
    }
}

int agg_due_fill(const struct agg_due *d, const struct agg_directory *dir, const char *district,
                 int64_t now_ms, struct ct_msg *msg)
{
    struct ct_due *out = &msg->due;
    long unit = agg_directory_unit_index(dir, district);
    bool is_city = strcmp(district, "city") == 0;

    out->has_due = false;
    out->n_rounds = out->n_missing = 0;
    if (d == NULL || unit < 0 || (size_t)unit >= d->n_units || d->n_indicators != dir->n_indicators)
        return 0;
    if (ct_msg_reserve_missing(msg, d->n_rounds * d->n_indicators + 1) != 0)
        return -1;
    for (size_t r = 0; r < d->n_rounds; r++) {
        const struct due_round *dr = &d->rounds[r];
        struct ct_due_round *w;
        if (now_ms < dr->opens_ms || now_ms > dr->due_end_ms + AGG_DUE_GRACE_DAYS * DAY_MS)
            continue;
        w = &out->rounds[out->n_rounds++];
        w->year = dr->year;
        ct_strlcpy(w->round, dr->round, sizeof(w->round));
        ct_strlcpy(w->due, dr->due, sizeof(w->due));
        w->first_missing = out->n_missing;
        w->n_missing = 0;
        for (size_t i = 0; i < d->n_indicators; i++) {
            const struct agg_indicator *ind = &dir->indicators[i];
            if ((dr->listed != NULL && !dr->listed[i]) ||
                (!is_city && strcmp(ind->reported_by, "district") != 0) ||
                *flag(d, r, (size_t)unit, i))
                continue;
            ct_strlcpy(out->missing[out->n_missing++], ind->code, sizeof(out->missing[0]));
            w->n_missing++;
        }
    }
    out->has_due = true;
    return 0;
}
