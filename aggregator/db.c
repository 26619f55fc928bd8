#include "db.h"

#include <stdio.h>
#include <string.h>

/* Copies a libpq message as one line: newlines become "; ", the trailing one goes. */
static void one_line(const char *msg, char *out, size_t out_size)
{
    size_t k = 0;

    if (out_size == 0)
        return;
    for (size_t i = 0; msg != NULL && msg[i] != '\0' && k + 1 < out_size; i++) {
        if (msg[i] == '\n') {
            if (msg[i + 1] == '\0')
                break;
            if (k + 3 >= out_size)
                break;
            out[k++] = ';';
            out[k++] = ' ';
            while (msg[i + 1] == ' ' || msg[i + 1] == '\t')
                i++;
            continue;
        }
        out[k++] = msg[i];
    }
    out[k] = '\0';
}

void agg_db_error(PGconn *conn, const PGresult *res, const char *what, char *err, size_t err_size)
{
    char msg[AGG_DB_ERR_MAX];
    const char *text = NULL;

    if (res != NULL)
        text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (text == NULL && res != NULL && PQresultErrorMessage(res)[0] != '\0')
        text = PQresultErrorMessage(res);
    if (text == NULL && conn != NULL)
        text = PQerrorMessage(conn);
    if (text == NULL || text[0] == '\0')
        text = res != NULL ? PQresStatus(PQresultStatus(res)) : "no connection";
    one_line(text, msg, sizeof(msg));
    snprintf(err, err_size, "%s: %s", what, msg);
}

const char *agg_db_sqlstate(const PGresult *res)
{
    const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s != NULL ? s : "";
}

PGconn *agg_db_connect(const char *conninfo, char *err, size_t err_size)
{
    PGconn *conn = PQconnectdb(conninfo != NULL ? conninfo : "");

    if (conn == NULL) {
        snprintf(err, err_size, "cannot connect to the database: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        /* libpq's connection messages name host, port and user, never the password. */
        agg_db_error(conn, NULL, "cannot connect to the database", err, err_size);
        PQfinish(conn);
        return NULL;
    }
    if (PQsetClientEncoding(conn, "UTF8") != 0) {
        agg_db_error(conn, NULL, "cannot set client_encoding UTF8", err, err_size);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

PGresult *agg_db_query(PGconn *conn, const char *what, const char *sql, int n_params,
                       const char *const *params, ExecStatusType expect, char *err, size_t err_size)
{
    PGresult *res = PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0);

    if (res == NULL || PQresultStatus(res) != expect) {
        agg_db_error(conn, res, what, err, err_size);
        PQclear(res);
        return NULL;
    }
    return res;
}

int agg_db_exec(PGconn *conn, const char *what, const char *sql, int n_params,
                const char *const *params, char *err, size_t err_size)
{
    PGresult *res =
        agg_db_query(conn, what, sql, n_params, params, PGRES_COMMAND_OK, err, err_size);

    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

int agg_db_begin(PGconn *conn, char *err, size_t err_size)
{
    return agg_db_exec(conn, "BEGIN", "BEGIN", 0, NULL, err, err_size);
}

int agg_db_commit(PGconn *conn, char *err, size_t err_size)
{
    PGresult *res = PQexec(conn, "COMMIT");
    int rc = -1;

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        agg_db_error(conn, res, "COMMIT", err, err_size);
        goto out;
    }
    if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        snprintf(err, err_size, "COMMIT: the server rolled the transaction back (%s)",
                 PQcmdStatus(res));
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

void agg_db_rollback(PGconn *conn)
{
    /* Best effort by design: after a failure the caller reports the first error, and a
     * dead connection rolls back by itself. */
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
}
