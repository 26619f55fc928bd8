#include "briefing.h"

#include "db.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const status_codes[4] = {"met", "on_track", "behind", "no_data"};

int agg_briefing_load(PGconn *conn, const struct agg_briefing_query *q, struct agg_briefing **out,
                      char *err, size_t err_size)
{
    struct agg_briefing *b = calloc(1, sizeof(*b));
    int rc = -1, n;

    *out = NULL;
    if (b == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (agg_progress_load(conn, q->year, q->as_of_ms, NULL, &b->progress_owned, err, err_size) != 0)
        goto out;
    b->progress = b->progress_owned;
    b->res_units = agg_db_query(conn, "reading the reporting units",
                                "SELECT id, name_zh, name_en FROM units ORDER BY position", 0, NULL,
                                PGRES_TUPLES_OK, err, err_size);
    if (b->res_units == NULL)
        goto out;
    n = PQntuples(b->res_units);
    if ((b->units_storage = calloc((size_t)n + 1, sizeof(*b->units_storage))) == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        b->units_storage[i] = (struct agg_briefing_unit){PQgetvalue(b->res_units, i, 0),
                                                         PQgetvalue(b->res_units, i, 1),
                                                         PQgetvalue(b->res_units, i, 2)};
    b->units = b->units_storage;
    b->n_units = (size_t)n;
    b->paced = true; /* progress.c always computes the pace of section 8 */
    if (agg_assessment_load(conn, q->year, q->as_of_ms, &b->assessment_owned, err, err_size) != 0)
        goto out;
    b->assessment = b->assessment_owned;
    /* The optional sections still to come (completeness, changes) are loaded here by the
     * modules that compute them; until then they stay NULL and are left out. */
    *out = b;
    rc = 0;
out:
    if (rc != 0)
        agg_briefing_free(b);
    return rc;
}

void agg_briefing_free(struct agg_briefing *b)
{
    if (b == NULL)
        return;
    agg_progress_free(b->progress_owned);
    agg_assessment_free(b->assessment_owned);
    PQclear(b->res_units);
    free(b->units_storage);
    free(b);
}

int64_t agg_briefing_previous_month_end(int64_t as_of_ms)
{
    int64_t local_ms = as_of_ms + CT_TZ_OFFSET_MS;
    /* floor division: instants before 1970 too */
    time_t local_s = (time_t)(local_ms >= 0 ? local_ms / 1000 : -((-local_ms + 999) / 1000));
    struct tm tm;

    gmtime_r(&local_s, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return (int64_t)timegm(&tm) * 1000 - CT_TZ_OFFSET_MS - 1;
}

void agg_briefing_as_of_text(int64_t as_of_ms, char *buf, size_t size)
{
    const int64_t day = 86400000;
    int64_t local = as_of_ms + CT_TZ_OFFSET_MS;

    ct_time_format(as_of_ms, buf, size);
    if (((local % day) + day) % day == day - 1 && strlen(buf) >= 10)
        buf[10] = '\0'; /* YYYY-MM-DD of "YYYY-MM-DDT23:59:59.999+08:00" */
}

void agg_briefing_status_counts(const struct agg_progress *p, size_t counts[4])
{
    memset(counts, 0, 4 * sizeof(counts[0]));
    for (size_t i = 0; i < p->n_targets; i++) {
        size_t s = 3;
        for (size_t k = 0; k < 4; k++) {
            if (strcmp(p->targets[i].status, status_codes[k]) == 0)
                s = k;
        }
        counts[s]++;
    }
}
