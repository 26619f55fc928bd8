#include "migrate.h"

#include "db.h"
#include "embedded.h"
#include "seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated from aggregator/sql/NNN_*.sql by ct_embed_files (aggregator/CMakeLists.txt),
 * in version order. */
extern const struct ct_embedded_file agg_sql_files[];

/* Any fixed number, the same for every citytally binary: 'ctmg'. */
#define MIGRATE_LOCK_KEY "1668574567"

/* The NNN of "NNN_name.sql", or -1. */
static int file_version(const char *name)
{
    int v = 0, digits = 0;

    for (; name[digits] >= '0' && name[digits] <= '9' && digits < 6; digits++)
        v = v * 10 + (name[digits] - '0');
    return digits > 0 && name[digits] == '_' ? v : -1;
}

int agg_migrate_latest(void)
{
    int latest = 0;
    for (const struct ct_embedded_file *f = agg_sql_files; f->name != NULL; f++) {
        if (file_version(f->name) > latest)
            latest = file_version(f->name);
    }
    return latest;
}

static int read_version(PGconn *conn, int *version, char *err, size_t err_size)
{
    PGresult *res = agg_db_query(conn, "reading the schema version",
                                 "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL,
                                 PGRES_TUPLES_OK, err, err_size);
    if (res == NULL)
        return -1;
    *version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int agg_migrate_current(PGconn *conn, int *version, char *err, size_t err_size)
{
    PGresult *res = agg_db_query(conn, "reading the schema version",
                                 "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL,
                                 PGRES_TUPLES_OK, err, err_size);
    int exists;

    if (res == NULL)
        return -1;
    exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!exists) {
        *version = 0;
        return 0;
    }
    return read_version(conn, version, err, err_size);
}

/* 1 when migration `version` is recorded, 0 when not, -1 on error. */
static int is_applied(PGconn *conn, int version, char *err, size_t err_size)
{
    char version_text[16];
    const char *params[1] = {version_text};
    PGresult *res;
    int applied;

    snprintf(version_text, sizeof(version_text), "%d", version);
    res = agg_db_query(conn, "reading the applied migrations",
                       "SELECT count(*) FROM schema_migrations WHERE version = $1", 1, params,
                       PGRES_TUPLES_OK, err, err_size);
    if (res == NULL)
        return -1;
    applied = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
    PQclear(res);
    return applied;
}

static int apply(PGconn *conn, const struct ct_embedded_file *f, int version, char *err,
                 size_t err_size)
{
    char what[128], version_text[16];
    const char *params[2] = {version_text, f->name};
    PGresult *res;

    snprintf(what, sizeof(what), "migration %s", f->name);
    /* PQexec, not PQexecParams: a migration is a script of many statements. */
    res = PQexec(conn, (const char *)f->data);
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        agg_db_error(conn, res, what, err, err_size);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    if (version == 1 && agg_seed_load(conn, err, err_size) != 0)
        return -1;
    snprintf(version_text, sizeof(version_text), "%d", version);
    return agg_db_exec(conn, what, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                       2, params, err, err_size);
}

int agg_migrate(PGconn *conn, int *version, char *err, size_t err_size)
{
    int current = 0, latest = agg_migrate_latest();
    PGresult *lock;
    int rc = -1;

    if (agg_db_begin(conn, err, err_size) != 0)
        return -1;
    /* The lock comes first, so that even creating schema_migrations is serialised: the
     * second of two concurrent runs waits here and then finds everything applied. */
    lock = agg_db_query(conn, "taking the migration lock",
                        "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", 0, NULL,
                        PGRES_TUPLES_OK, err, err_size);
    if (lock == NULL)
        goto out;
    PQclear(lock);
    /* "already exists, skipping" notices are noise on every run but the first. */
    if (agg_db_exec(conn, "quietening notices", "SET LOCAL client_min_messages = warning", 0, NULL,
                    err, err_size) != 0)
        goto out;
    if (agg_db_exec(conn, "creating schema_migrations",
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version int PRIMARY KEY,"
                    " name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    0, NULL, err, err_size) != 0)
        goto out;
    if (read_version(conn, &current, err, err_size) != 0)
        goto out;
    if (current > latest) {
        snprintf(err, err_size,
                 "the database schema is at version %d, newer than this program knows (%d); "
                 "upgrade citytally",
                 current, latest);
        goto out;
    }
    /* Numbers are handed out to work done in parallel, so a build may lack some of them
     * for a while: every embedded file not yet recorded is applied, in version order. */
    for (int v = 1; v <= latest; v++) {
        const struct ct_embedded_file *f = NULL;
        int applied;
        for (const struct ct_embedded_file *g = agg_sql_files; g->name != NULL; g++) {
            if (file_version(g->name) == v)
                f = g;
        }
        if (f == NULL)
            continue;
        if ((applied = is_applied(conn, v, err, err_size)) < 0)
            goto out;
        if (!applied && apply(conn, f, v, err, err_size) != 0)
            goto out;
    }
    if (agg_db_commit(conn, err, err_size) != 0)
        goto out;
    *version = latest;
    rc = 0;
out:
    if (rc != 0)
        agg_db_rollback(conn);
    return rc;
}
