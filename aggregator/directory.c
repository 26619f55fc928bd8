#include "directory.h"
#include "db.h"
#include "due.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PGresult *query(PGconn *conn, const char *sql, char *err, size_t err_size)
{
    return agg_db_query(conn, "loading agents and indicators", sql, 0, NULL, PGRES_TUPLES_OK, err,
                        err_size);
}

static int compare_agents(const void *a, const void *b)
{
    return strcmp(((const struct agg_agent *)a)->id, ((const struct agg_agent *)b)->id);
}

static int compare_indicators(const void *a, const void *b)
{
    return strcmp(((const struct agg_indicator *)a)->code, ((const struct agg_indicator *)b)->code);
}

static int compare_units(const void *a, const void *b)
{
    return strcmp(a, b);
}

int agg_directory_load(struct agg_directory *dir, PGconn *conn, char *err, size_t err_size)
{
    struct agg_directory fresh = {0};
    PGresult *agents = NULL, *indicators = NULL, *years = NULL, *units = NULL;
    int rc = -1;

    agents = query(conn,
                   "SELECT agent_id, district, coalesce(public_key, ''), revoked_at IS NOT NULL,"
                   " last_seq FROM agents",
                   err, err_size);
    if (agents == NULL)
        goto out;
    indicators = query(conn, "SELECT code, name_zh, reported_by FROM indicators", err, err_size);
    if (indicators == NULL)
        goto out;
    years = query(conn, "SELECT DISTINCT year FROM targets ORDER BY year", err, err_size);
    if (years == NULL)
        goto out;
    units = query(conn, "SELECT id FROM units", err, err_size);
    if (units == NULL)
        goto out;

    fresh.n_agents = (size_t)PQntuples(agents);
    fresh.n_indicators = (size_t)PQntuples(indicators);
    fresh.n_target_years = (size_t)PQntuples(years);
    fresh.n_units = (size_t)PQntuples(units);
    fresh.agents = calloc(fresh.n_agents + 1, sizeof(*fresh.agents));
    fresh.indicators = calloc(fresh.n_indicators + 1, sizeof(*fresh.indicators));
    fresh.target_years = calloc(fresh.n_target_years + 1, sizeof(*fresh.target_years));
    fresh.units = calloc(fresh.n_units + 1, sizeof(*fresh.units));
    if (fresh.agents == NULL || fresh.indicators == NULL || fresh.target_years == NULL ||
        fresh.units == NULL) {
        snprintf(err, err_size, "loading the directory: out of memory");
        goto out;
    }
    for (size_t i = 0; i < fresh.n_agents; i++) {
        struct agg_agent *a = &fresh.agents[i];
        ct_strlcpy(a->id, PQgetvalue(agents, (int)i, 0), sizeof(a->id));
        ct_strlcpy(a->district, PQgetvalue(agents, (int)i, 1), sizeof(a->district));
        ct_strlcpy(a->public_key, PQgetvalue(agents, (int)i, 2), sizeof(a->public_key));
        a->revoked = PQgetvalue(agents, (int)i, 3)[0] == 't';
        a->last_seq = strtoull(PQgetvalue(agents, (int)i, 4), NULL, 10);
    }
    for (size_t i = 0; i < fresh.n_indicators; i++) {
        struct agg_indicator *ind = &fresh.indicators[i];
        ct_strlcpy(ind->code, PQgetvalue(indicators, (int)i, 0), sizeof(ind->code));
        ct_strlcpy(ind->name_zh, PQgetvalue(indicators, (int)i, 1), sizeof(ind->name_zh));
        ct_strlcpy(ind->reported_by, PQgetvalue(indicators, (int)i, 2), sizeof(ind->reported_by));
    }
    for (size_t i = 0; i < fresh.n_target_years; i++)
        fresh.target_years[i] = atoi(PQgetvalue(years, (int)i, 0));
    for (size_t i = 0; i < fresh.n_units; i++)
        ct_strlcpy(fresh.units[i], PQgetvalue(units, (int)i, 0), sizeof(fresh.units[i]));
    /* Sorted here rather than by ORDER BY: the database's collation need not be bytewise. */
    qsort(fresh.agents, fresh.n_agents, sizeof(*fresh.agents), compare_agents);
    qsort(fresh.indicators, fresh.n_indicators, sizeof(*fresh.indicators), compare_indicators);
    qsort(fresh.units, fresh.n_units, sizeof(*fresh.units), compare_units);

    if ((fresh.due = agg_due_load(conn, &fresh, ct_time_now_ms(), err, err_size)) == NULL)
        goto out;
    fresh.generation = dir->generation + 1;
    agg_directory_release(dir);
    *dir = fresh;
    memset(&fresh, 0, sizeof(fresh));
    rc = 0;
out:
    agg_directory_release(&fresh);
    PQclear(units);
    PQclear(years);
    PQclear(indicators);
    PQclear(agents);
    return rc;
}

void agg_directory_release(struct agg_directory *dir)
{
    free(dir->agents);
    free(dir->indicators);
    free(dir->target_years);
    free(dir->units);
    agg_due_free(dir->due);
    memset(dir, 0, sizeof(*dir));
}

int agg_directory_copy_indicators(struct agg_directory *to, const struct agg_directory *from)
{
    struct agg_indicator *copy = calloc(from->n_indicators + 1, sizeof(*copy));

    if (copy == NULL)
        return -1;
    memcpy(copy, from->indicators, from->n_indicators * sizeof(*copy));
    agg_directory_release(to);
    to->indicators = copy;
    to->n_indicators = from->n_indicators;
    to->generation = from->generation;
    return 0;
}

struct agg_agent *agg_directory_agent(const struct agg_directory *dir, const char *id)
{
    struct agg_agent key;

    if (dir->n_agents == 0 || ct_strlcpy(key.id, id, sizeof(key.id)) >= sizeof(key.id))
        return NULL;
    return bsearch(&key, dir->agents, dir->n_agents, sizeof(key), compare_agents);
}

const struct agg_agent *agg_directory_agent_by_key(const struct agg_directory *dir,
                                                   const char *public_key)
{
    for (size_t i = 0; i < dir->n_agents; i++) {
        const struct agg_agent *a = &dir->agents[i];
        if (!a->revoked && a->public_key[0] != '\0' && strcmp(a->public_key, public_key) == 0)
            return a;
    }
    return NULL;
}

const struct agg_indicator *agg_directory_indicator(const struct agg_directory *dir,
                                                    const char *code)
{
    struct agg_indicator key;

    if (dir->n_indicators == 0 || ct_strlcpy(key.code, code, sizeof(key.code)) >= sizeof(key.code))
        return NULL;
    return bsearch(&key, dir->indicators, dir->n_indicators, sizeof(key), compare_indicators);
}

long agg_directory_unit_index(const struct agg_directory *dir, const char *id)
{
    char key[CT_ID_MAX + 1];
    const char(*found)[CT_ID_MAX + 1];

    if (dir->n_units == 0 || ct_strlcpy(key, id, sizeof(key)) >= sizeof(key))
        return -1;
    found = bsearch(key, dir->units, dir->n_units, sizeof(*dir->units), compare_units);
    return found != NULL ? (long)(found - dir->units) : -1;
}

bool agg_directory_has_targets(const struct agg_directory *dir, int year)
{
    for (size_t i = 0; i < dir->n_target_years; i++) {
        if (dir->target_years[i] == year)
            return true;
    }
    return false;
}

int agg_directory_catalog(const struct agg_directory *dir, struct ct_msg *welcome)
{
    if (ct_msg_reserve(welcome, CT_MSG_WELCOME, dir->n_indicators) != 0)
        return -1;
    for (size_t i = 0; i < dir->n_indicators; i++) {
        struct ct_catalog_entry *e = &welcome->welcome.catalog[i];
        ct_strlcpy(e->code, dir->indicators[i].code, sizeof(e->code));
        ct_strlcpy(e->name_zh, dir->indicators[i].name_zh, sizeof(e->name_zh));
        ct_strlcpy(e->reported_by, dir->indicators[i].reported_by, sizeof(e->reported_by));
    }
    welcome->welcome.n_catalog = dir->n_indicators;
    return 0;
}
