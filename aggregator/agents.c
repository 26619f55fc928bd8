#include "agents.h"

#include "db.h"
#include "text.h"
#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_FILE_MAX (64 * 1024)

static const char z85_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";

bool agg_z85_key_valid(const char *s)
{
    size_t n = strlen(s);
    return n == AGG_Z85_KEY_LEN && strspn(s, z85_alphabet) == n;
}

/* Finds `name = "value"` in section `section` of a zcert file (sections are unindented
 * names; their entries are indented). Returns 1 with the value copied, 0 if absent. */
static int zcert_value(char *text, const char *section, const char *name, char *value,
                       size_t value_size)
{
    bool in_section = false;

    for (char *line = text, *next; line != NULL; line = next) {
        size_t len = strcspn(line, "\r\n");
        next = line[len] != '\0' ? line + len + 1 : NULL;
        line[len] = '\0';
        if (line[0] == '#' || len == 0)
            continue;
        if (line[0] != ' ' && line[0] != '\t') {
            in_section = strcmp(line, section) == 0;
            continue;
        }
        if (!in_section)
            continue;
        line += strspn(line, " \t");
        size_t key_len = strcspn(line, " \t=");
        if (key_len != strlen(name) || strncmp(line, name, key_len) != 0)
            continue;
        char *v = line + key_len;
        v += strspn(v, " \t");
        if (*v != '=')
            continue;
        v++;
        v += strspn(v, " \t");
        if (*v == '"') {
            char *close = strchr(++v, '"');
            if (close == NULL)
                return 0;
            *close = '\0';
        }
        ct_strlcpy(value, v, value_size);
        return 1;
    }
    return 0;
}

int agg_agent_key_read(const char *arg, char key[AGG_Z85_KEY_LEN + 1], char *err, size_t err_size)
{
    char *text = NULL, *copy = NULL, value[128];
    FILE *f = NULL;
    size_t n;
    int rc = -1;

    if (agg_z85_key_valid(arg)) {
        memcpy(key, arg, AGG_Z85_KEY_LEN + 1);
        return 0;
    }
    if ((f = fopen(arg, "r")) == NULL) {
        snprintf(err, err_size,
                 "--key: '%s' is neither a 40-character Z85 public key nor a readable key file "
                 "(%s)",
                 arg, strerror(errno));
        goto out;
    }
    text = malloc(KEY_FILE_MAX + 1);
    copy = malloc(KEY_FILE_MAX + 1);
    if (text == NULL || copy == NULL) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    n = fread(text, 1, KEY_FILE_MAX + 1, f);
    if (ferror(f) || n > KEY_FILE_MAX) {
        snprintf(err, err_size, "--key: cannot read %s (or it is over %d bytes)", arg,
                 KEY_FILE_MAX);
        goto out;
    }
    text[n] = '\0';
    memcpy(copy, text, n + 1);
    if (zcert_value(copy, "curve", "secret-key", value, sizeof(value))) {
        snprintf(err, err_size, "--key: %s holds a secret key; give its .pub file instead", arg);
        goto out;
    }
    if (!zcert_value(text, "curve", "public-key", value, sizeof(value))) {
        snprintf(err, err_size, "--key: %s has no public-key in a curve section", arg);
        goto out;
    }
    if (!agg_z85_key_valid(value)) {
        snprintf(err, err_size, "--key: the public-key in %s is not 40 Z85 characters", arg);
        goto out;
    }
    memcpy(key, value, AGG_Z85_KEY_LEN + 1);
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    free(text);
    free(copy);
    return rc;
}

/* The first row of a one-row query, or NULL (no row, or an error in `err`; *failed says). */
static PGresult *lookup(PGconn *conn, const char *what, const char *sql, const char *param,
                        bool *failed, char *err, size_t err_size)
{
    const char *params[1] = {param};
    PGresult *res = agg_db_query(conn, what, sql, 1, params, PGRES_TUPLES_OK, err, err_size);

    *failed = res == NULL;
    if (res != NULL && PQntuples(res) == 0) {
        PQclear(res);
        return NULL;
    }
    return res;
}

static int notify(PGconn *conn, const char *agent_id, char *err, size_t err_size)
{
    const char *params[2] = {AGG_AGENTS_CHANNEL, agent_id};
    PGresult *res = agg_db_query(conn, "notifying the daemon", "SELECT pg_notify($1, $2)", 2,
                                 params, PGRES_TUPLES_OK, err, err_size);
    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

int agg_agent_id_check(const char *agent_id, char *err, size_t err_size)
{
    char shown[4 * CT_ID_MAX + 4];

    if (ct_id_valid(agent_id, strlen(agent_id)))
        return 0;
    ct_text_escape(agent_id, strlen(agent_id), shown, sizeof(shown));
    snprintf(err, err_size, "'%s' is not a valid agent id ([a-z0-9_-], 1-%d bytes)", shown,
             CT_ID_MAX);
    return -1;
}

int agg_agent_add(PGconn *conn, const char *agent_id, const char *district, const char *public_key,
                  char *err, size_t err_size)
{
    const char *params[3] = {agent_id, district, public_key};
    PGresult *res = NULL;
    bool failed;
    int rc = -1;

    if (agg_agent_id_check(agent_id, err, err_size) != 0)
        return -1;
    if (public_key != NULL && !agg_z85_key_valid(public_key)) {
        snprintf(err, err_size, "the public key is not 40 Z85 characters");
        return -1;
    }
    if (agg_db_begin(conn, err, err_size) != 0)
        return -1;
    if ((res = lookup(conn, "checking the district", "SELECT 1 FROM units WHERE id = $1", district,
                      &failed, err, err_size)) == NULL) {
        if (!failed)
            snprintf(err, err_size, "unknown district '%s' (see data/districts.csv)", district);
        goto out;
    }
    PQclear(res);
    res = lookup(conn, "checking the agent id",
                 "SELECT district, to_char((revoked_at AT TIME ZONE 'UTC') + interval '8 hours', "
                 "'YYYY-MM-DD')"
                 " FROM agents WHERE agent_id = $1",
                 agent_id, &failed, err, err_size);
    if (failed)
        goto out;
    if (res != NULL) {
        if (!PQgetisnull(res, 0, 1))
            snprintf(err, err_size,
                     "agent '%s' was removed on %s; a removed id is never reused, choose "
                     "another",
                     agent_id, PQgetvalue(res, 0, 1));
        else
            snprintf(err, err_size, "agent '%s' already exists (district %s)", agent_id,
                     PQgetvalue(res, 0, 0));
        goto out;
    }
    if (public_key != NULL) {
        res = lookup(conn, "checking the key", "SELECT agent_id FROM agents WHERE public_key = $1",
                     public_key, &failed, err, err_size);
        if (failed)
            goto out;
        if (res != NULL) {
            snprintf(err, err_size, "this public key is already registered to agent '%s'",
                     PQgetvalue(res, 0, 0));
            goto out;
        }
    }
    if (agg_db_exec(conn, "adding the agent",
                    "INSERT INTO agents (agent_id, district, public_key) VALUES ($1, $2, $3)", 3,
                    params, err, err_size) != 0 ||
        notify(conn, agent_id, err, err_size) != 0 || agg_db_commit(conn, err, err_size) != 0)
        goto out;
    rc = 0;
out:
    PQclear(res);
    if (rc != 0)
        agg_db_rollback(conn);
    return rc;
}

int agg_agent_remove(PGconn *conn, const char *agent_id, char *err, size_t err_size)
{
    const char *params[1] = {agent_id};
    PGresult *res = NULL;
    int rc = -1;

    if (agg_db_begin(conn, err, err_size) != 0)
        return -1;
    res = agg_db_query(conn, "removing the agent",
                       "UPDATE agents SET revoked_at = now()"
                       " WHERE agent_id = $1 AND revoked_at IS NULL RETURNING 1",
                       1, params, PGRES_TUPLES_OK, err, err_size);
    if (res == NULL)
        goto out;
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = agg_db_query(conn, "checking the agent", "SELECT 1 FROM agents WHERE agent_id = $1",
                           1, params, PGRES_TUPLES_OK, err, err_size);
        if (res != NULL)
            snprintf(err, err_size,
                     PQntuples(res) ? "agent '%s' is already removed" : "unknown agent '%s'",
                     agent_id);
        goto out;
    }
    if (notify(conn, agent_id, err, err_size) != 0 || agg_db_commit(conn, err, err_size) != 0)
        goto out;
    rc = 0;
out:
    PQclear(res);
    if (rc != 0)
        agg_db_rollback(conn);
    return rc;
}

/* Who runs this command: the login name of the effective uid, or the uid itself. */
static void os_user(char *out, size_t size)
{
    struct passwd *pw = getpwuid(geteuid());

    if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
        ct_strlcpy(out, pw->pw_name, size);
    else
        snprintf(out, size, "uid %ld", (long)geteuid());
}

int agg_agent_skip(PGconn *conn, const char *agent_id, uint64_t to_seq, uint64_t *from_seq,
                   char *err, size_t err_size)
{
    char to_text[24], from_text[24], who[256];
    const char *params[4] = {agent_id, to_text, from_text, who};
    PGresult *res = NULL;
    bool failed;
    uint64_t last_seq;
    int rc = -1;

    if (agg_agent_id_check(agent_id, err, err_size) != 0)
        return -1;
    if (to_seq == 0 || to_seq > (uint64_t)INT64_MAX) {
        snprintf(err, err_size, "--to must be a seq between 1 and %" PRId64, INT64_MAX);
        return -1;
    }
    if (agg_db_begin(conn, err, err_size) != 0)
        return -1;
    /* FOR UPDATE: a daemon committing this agent's updates holds the same row lock, so the
     * check below sees its last_seq as committed, and its next commit sees ours. */
    res = lookup(conn, "reading the agent",
                 "SELECT last_seq, revoked_at IS NOT NULL FROM agents WHERE agent_id = $1"
                 " FOR UPDATE",
                 agent_id, &failed, err, err_size);
    if (res == NULL) {
        if (!failed)
            snprintf(err, err_size, "unknown agent '%s' (see `agent list`)", agent_id);
        goto out;
    }
    if (PQgetvalue(res, 0, 1)[0] == 't') {
        snprintf(err, err_size, "agent '%s' is removed; nothing to skip", agent_id);
        goto out;
    }
    last_seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    res = NULL;
    if (to_seq <= last_seq) {
        snprintf(err, err_size,
                 "agent '%s' is already at seq %" PRIu64 "; --to must be above that (nothing "
                 "was changed)",
                 agent_id, last_seq);
        goto out;
    }
    snprintf(to_text, sizeof(to_text), "%" PRIu64, to_seq);
    snprintf(from_text, sizeof(from_text), "%" PRIu64, last_seq + 1);
    os_user(who, sizeof(who));
    if (agg_db_exec(conn, "recording the gap",
                    "INSERT INTO agent_gaps (agent_id, from_seq, to_seq, os_user)"
                    " VALUES ($1, $3, $2, $4)",
                    4, params, err, err_size) != 0 ||
        agg_db_exec(conn, "setting the agent's last seq",
                    "UPDATE agents SET last_seq = $2 WHERE agent_id = $1", 2, params, err,
                    err_size) != 0 ||
        notify(conn, agent_id, err, err_size) != 0 || agg_db_commit(conn, err, err_size) != 0)
        goto out;
    *from_seq = last_seq + 1;
    rc = 0;
out:
    PQclear(res);
    if (rc != 0)
        agg_db_rollback(conn);
    return rc;
}

int agg_agent_list(PGconn *conn, struct ct_buf *out, char *err, size_t err_size)
{
    PGresult *res = agg_db_query(conn, "listing agents",
                                 "SELECT agent_id, district, coalesce(public_key, '-'), last_seq,"
                                 " (extract(epoch FROM created_at) * 1000)::bigint,"
                                 " (extract(epoch FROM revoked_at) * 1000)::bigint"
                                 " FROM agents ORDER BY agent_id",
                                 0, NULL, PGRES_TUPLES_OK, err, err_size);
    size_t w_id = strlen("AGENT"), w_district = strlen("DISTRICT"), w_key = strlen("KEY");
    char when[CT_TIME_TEXT_MAX];

    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        size_t w;
        if ((w = strlen(PQgetvalue(res, i, 0))) > w_id)
            w_id = w;
        if ((w = strlen(PQgetvalue(res, i, 1))) > w_district)
            w_district = w;
        if ((w = strlen(PQgetvalue(res, i, 2))) > w_key)
            w_key = w;
    }
    ct_buf_printf(out, "%-*s  %-*s  %-*s  %10s  %-25s  %s\n", (int)w_id, "AGENT", (int)w_district,
                  "DISTRICT", (int)w_key, "KEY", "LAST SEQ", "CREATED", "STATE");
    for (int i = 0; i < PQntuples(res); i++) {
        ct_time_format(strtoll(PQgetvalue(res, i, 4), NULL, 10), when, sizeof(when));
        ct_buf_printf(out, "%-*s  %-*s  %-*s  %10s  %-25s  ", (int)w_id, PQgetvalue(res, i, 0),
                      (int)w_district, PQgetvalue(res, i, 1), (int)w_key, PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3), when);
        if (PQgetisnull(res, i, 5)) {
            ct_buf_puts(out, "active\n");
        } else {
            ct_time_format(strtoll(PQgetvalue(res, i, 5), NULL, 10), when, sizeof(when));
            ct_buf_printf(out, "removed %s\n", when);
        }
    }
    if (PQntuples(res) == 0)
        ct_buf_puts(out, "(no agents; add one with `agent add ID --district ID`)\n");
    PQclear(res);
    if (out->failed) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
}
