#include "known_at.h"

#include "db.h"
#include "text.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int agg_known_at_parse(const char *name, const char *text, int64_t *ms, char *err, size_t err_size)
{
    char why[128], shown[64];

    if (ct_time_parse(text, ms, why, sizeof(why)) == 0)
        return 0;
    ct_text_escape(text, strlen(text), shown, sizeof(shown));
    snprintf(err, err_size, "%s: '%s': %s (use 2015-07-05 or 2015-07-05T09:00:00+08:00)", name,
             shown, why);
    return -1;
}

int agg_known_at_from_query(const struct ct_http_request *req, int64_t *ms, char *err,
                            size_t err_size)
{
    const char *text = ct_http_query(req, "known_at");

    *ms = AGG_KNOWN_AT_NOW;
    if (text == NULL || text[0] == '\0')
        return 0;
    return agg_known_at_parse("known_at", text, ms, err, err_size);
}

int agg_known_at_begin(PGconn *conn, int64_t known_at_ms, bool *opened, char *err, size_t err_size)
{
    char ms_text[24];
    const char *params[1] = {ms_text};
    PGresult *res;

    *opened = false;
    if (known_at_ms == AGG_KNOWN_AT_NOW)
        return 0;
    snprintf(ms_text, sizeof(ms_text), "%" PRId64, known_at_ms);
    if (agg_db_exec(conn, "starting a read as known at", "BEGIN READ ONLY", 0, NULL, err,
                    err_size) != 0)
        return -1;
    /* set_config(..., true) is SET LOCAL: it ends with this transaction. */
    res = agg_db_query(conn, "setting known_at",
                       "SELECT set_config('citytally.known_at', citytally_known_at_text("
                       "timestamptz 'epoch' + $1::bigint * interval '1 millisecond'), true)",
                       1, params, PGRES_TUPLES_OK, err, err_size);
    if (res == NULL) {
        agg_db_rollback(conn);
        return -1;
    }
    PQclear(res);
    *opened = true;
    return 0;
}

void agg_known_at_end(PGconn *conn, bool opened)
{
    if (opened)
        agg_db_rollback(conn);
}
