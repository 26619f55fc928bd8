/*
 * copy_ceiling.c - the ceiling the end-to-end path is measured against.
 *
 *   citytally-copy-ceiling CONNINFO TABLE AGENTS PER_AGENT [ROWS_PER_TXN]
 *
 * COPYs AGENTS x PER_AGENT rows shaped exactly like the aggregator's own COPY into TABLE
 * (text format, ROWS_PER_TXN rows per transaction, default 10,000, one session) and prints
 * "copy_rows=<n> seconds=<s> rate=<rows/s>". TABLE is meant to be a fresh copy of the update
 * log with the same indexes (CREATE TABLE .. (LIKE updates INCLUDING ALL)): raw COPY, with
 * none of what the real path adds (dedup, rejection, last_seq, current values, acks).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK &&
             (strcmp(sql, "COMMIT") != 0 || strcmp(PQcmdStatus(res), "COMMIT") == 0);
    if (!ok)
        fprintf(stderr, "copy_ceiling: %s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    return ok;
}

int main(int argc, char **argv)
{
    static const char *districts[] = {"zhongyuan", "erqi",  "guancheng", "jinshui",
                                      "shangjie",  "huiji", "zhongmu",   "gongyi"};
    char copy_sql[256], *buf;
    size_t cap = 1 << 22, len = 0;
    long agents, per_agent, per_txn = 10000, in_txn = 0;
    double started;
    PGconn *conn;
    PGresult *res;

    if (argc < 5) {
        fprintf(stderr,
                "usage: citytally-copy-ceiling CONNINFO TABLE AGENTS PER_AGENT [ROWS_PER_TXN]\n");
        return 2;
    }
    agents = atol(argv[3]);
    per_agent = atol(argv[4]);
    if (argc > 5)
        per_txn = atol(argv[5]);
    conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(conn));
        return 1;
    }
    snprintf(copy_sql, sizeof(copy_sql),
             "COPY %s (agent_id, seq, district, indicator, period, op, value, observed_at, note)"
             " FROM STDIN",
             argv[2]);
    buf = malloc(cap);
    if (buf == NULL)
        return 1;
    started = now_s();
    /* Rows go in the order the daemon sees them: agents interleaved, seqs rising. */
    for (long seq = 1; seq <= per_agent; seq++) {
        for (long a = 0; a < agents; a++) {
            len += (size_t)snprintf(buf + len, cap - len,
                                    "b%ld\t%ld\t%s\tst_enterprises\t2015\tadd\t%ld\t"
                                    "2015-06-30T12:00:00+08:00\t\\N\n",
                                    a, seq, districts[a % 8], seq % 7 + 1);
            if (++in_txn == per_txn || (seq == per_agent && a == agents - 1)) {
                if (!exec_ok(conn, "BEGIN"))
                    return 1;
                res = PQexec(conn, copy_sql);
                if (PQresultStatus(res) != PGRES_COPY_IN) {
                    fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(conn));
                    return 1;
                }
                PQclear(res);
                if (PQputCopyData(conn, buf, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
                    fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(conn));
                    return 1;
                }
                while ((res = PQgetResult(conn)) != NULL) {
                    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                        fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(conn));
                        return 1;
                    }
                    PQclear(res);
                }
                if (!exec_ok(conn, "COMMIT"))
                    return 1;
                len = 0;
                in_txn = 0;
            }
        }
    }
    double seconds = now_s() - started;
    printf("copy_rows=%ld seconds=%.3f rate=%.0f\n", agents * per_agent, seconds,
           (double)(agents * per_agent) / seconds);
    free(buf);
    PQfinish(conn);
    return 0;
}
