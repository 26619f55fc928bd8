/*
 * copy_ceiling.c - the ceiling the end-to-end path is measured against.
 *
 *   citytally-copy-ceiling CONNINFO TABLE AGENTS PER_AGENT [ROWS_PER_TXN [SESSIONS [RATE]]]
 *
 * COPYs AGENTS x PER_AGENT rows shaped exactly like the aggregator's own COPY into TABLE
 * (text format, ROWS_PER_TXN rows per transaction, default 10,000) and prints
 * "copy_rows=<n> seconds=<s> rate=<rows/s>". TABLE is meant to be a fresh copy of the update
 * log with the same indexes (CREATE TABLE .. (LIKE updates INCLUDING ALL)): raw COPY, with
 * none of what the real path adds (dedup, rejection, last_seq, current values, acks).
 *
 * One session by default: the ceiling issue 8 measures against. With SESSIONS > 1 that
 * many processes share the agents (agent a goes to session a % SESSIONS), each on its own
 * connection, as the aggregator's writers share the districts; the rate is for all of them
 * from the first row to the last COMMIT.
 *
 * With RATE (rows/s, all sessions together) it is the floor for ack latency instead: each
 * session offers its share of RATE in evenly spaced transactions, the sessions' schedules
 * interleaved, and the line adds p50_ms, p99_ms and max_ms of the time from a transaction's
 * due moment to its COMMIT. A transaction that is late because the one before it stalled
 * counts from when it was due, as a batch waiting behind a stall does in the real path.
 */
#include <libpq-fe.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Where a paced run keeps its schedule and results; the array is shared with the sessions'
 * processes, each writing only the slots of its own transactions (index txn x sessions +
 * session), so the parent reads them all after wait(). */
struct pacing {
    double rate;        /* rows/s for all sessions; 0 = as fast as possible */
    double started_s;   /* CLOCK_MONOTONIC seconds of the first transaction's due moment */
    double *latency_ms; /* one slot per transaction, -1 until it commits */
    size_t n_slots;
};

static void sleep_until(double when_s)
{
    struct timespec ts = {.tv_sec = (time_t)when_s,
                          .tv_nsec = (long)((when_s - (double)(time_t)when_s) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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

/* COPYs the rows of agents a with a % sessions == session. Returns 0 or 1. */
static int copy_share(const char *conninfo, const char *table, long agents, long per_agent,
                      long per_txn, long session, long sessions, const struct pacing *pacing)
{
    static const char *districts[] = {"zhongyuan", "erqi",  "guancheng", "jinshui",
                                      "shangjie",  "huiji", "zhongmu",   "gongyi"};
    char copy_sql[256], *buf;
    size_t cap = 1 << 22, len = 0;
    long in_txn = 0, last_agent = agents - 1, txn = 0;
    double due_s = 0;
    PGconn *conn;
    PGresult *res;
    int rc = 1;

    while (last_agent % sessions != session)
        last_agent--;
    conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    snprintf(copy_sql, sizeof(copy_sql),
             "COPY %s (agent_id, seq, district, indicator, period, op, value, observed_at, note)"
             " FROM STDIN",
             table);
    buf = malloc(cap);
    if (buf == NULL)
        goto out;
    /* Rows go in the order the daemon sees them: agents interleaved, seqs rising. */
    for (long seq = 1; seq <= per_agent; seq++) {
        for (long a = session; a < agents; a += sessions) {
            len += (size_t)snprintf(buf + len, cap - len,
                                    "b%ld\t%ld\t%s\tst_enterprises\t2015\tadd\t%ld\t"
                                    "2015-06-30T12:00:00+08:00\t\\N\n",
                                    a, seq, districts[a % 8], seq % 7 + 1);
            if (++in_txn < per_txn && !(seq == per_agent && a == last_agent))
                continue;
            if (pacing->rate > 0) {
                due_s = pacing->started_s +
                        (double)(txn * sessions + session) * (double)per_txn / pacing->rate;
                sleep_until(due_s);
            }
            if (!exec_ok(conn, "BEGIN"))
                goto out;
            res = PQexec(conn, copy_sql);
            if (PQresultStatus(res) != PGRES_COPY_IN) {
                fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(conn));
                PQclear(res);
                goto out;
            }
            PQclear(res);
            if (PQputCopyData(conn, buf, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
                fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(conn));
                goto out;
            }
            while ((res = PQgetResult(conn)) != NULL) {
                int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
                PQclear(res);
                if (!ok) {
                    fprintf(stderr, "copy_ceiling: %s", PQerrorMessage(conn));
                    goto out;
                }
            }
            if (!exec_ok(conn, "COMMIT"))
                goto out;
            if (pacing->rate > 0 && (size_t)(txn * sessions + session) < pacing->n_slots)
                pacing->latency_ms[txn * sessions + session] = (now_s() - due_s) * 1000;
            txn++;
            len = 0;
            in_txn = 0;
        }
    }
    rc = 0;
out:
    free(buf);
    PQfinish(conn);
    return rc;
}

/* Prints p50, p99 and max of the committed transactions' latencies. Returns 0, or 1 when
 * none committed. */
static int print_latency(struct pacing *pacing)
{
    size_t n = 0;

    for (size_t i = 0; i < pacing->n_slots; i++)
        if (pacing->latency_ms[i] >= 0)
            pacing->latency_ms[n++] = pacing->latency_ms[i];
    if (n == 0) {
        fprintf(stderr, "copy_ceiling: no transaction committed\n");
        return 1;
    }
    qsort(pacing->latency_ms, n, sizeof(double), compare_double);
    printf(" transactions=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f", n, pacing->latency_ms[n / 2],
           pacing->latency_ms[(size_t)((double)n * 0.99)], pacing->latency_ms[n - 1]);
    return 0;
}

/* Parses argument `name` as a whole number in [min, max]. Returns 0, or -1 after saying why. */
static int parse_arg(const char *name, const char *text, double min, double max, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(*out >= min && *out <= max) ||
        *out != (double)(long long)*out) {
        fprintf(stderr, "copy_ceiling: %s must be a whole number from %.0f to %.0f, not \"%s\"\n",
                name, min, max, text);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long agents, per_agent, per_txn, sessions, failed = 0;
    struct pacing pacing = {0};
    double seconds, v[4] = {0, 0, 10000, 1};
    static const char *const names[] = {"AGENTS", "PER_AGENT", "ROWS_PER_TXN", "SESSIONS"};
    /* A transaction's rows must fit copy_share's 4 MiB buffer (at most ~110 bytes a row). */
    static const double max[] = {100000, 100000000, 30000, 64};

    if (argc < 5 || argc > 8) {
        fprintf(stderr, "usage: citytally-copy-ceiling CONNINFO TABLE AGENTS PER_AGENT"
                        " [ROWS_PER_TXN [SESSIONS [RATE]]]\n");
        return 2;
    }
    for (int i = 0; i < 4 && 3 + i < argc; i++) {
        if (parse_arg(names[i], argv[3 + i], 1, max[i], &v[i]) != 0)
            return 2;
    }
    if (argc > 7 && parse_arg("RATE", argv[7], 0, 1e9, &pacing.rate) != 0)
        return 2;
    agents = (long)v[0];
    per_agent = (long)v[1];
    per_txn = (long)v[2];
    sessions = (long)v[3];
    if (sessions > agents) {
        fprintf(stderr, "copy_ceiling: SESSIONS (%ld) must not exceed AGENTS (%ld)\n", sessions,
                agents);
        return 2;
    }
    if (pacing.rate > 0) {
        long rows_per_session = (agents + sessions - 1) / sessions * per_agent;
        pacing.n_slots = (size_t)(sessions * ((rows_per_session + per_txn - 1) / per_txn));
        pacing.latency_ms = mmap(NULL, pacing.n_slots * sizeof(double), PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (pacing.latency_ms == MAP_FAILED) {
            perror("copy_ceiling: mmap");
            return 1;
        }
        for (size_t i = 0; i < pacing.n_slots; i++)
            pacing.latency_ms[i] = -1;
    }
    pacing.started_s = now_s();
    if (sessions == 1) {
        failed = copy_share(argv[1], argv[2], agents, per_agent, per_txn, 0, 1, &pacing);
    } else {
        for (long s = 0; s < sessions; s++) {
            pid_t pid = fork();
            if (pid < 0) {
                perror("copy_ceiling: fork");
                failed++;
                break;
            }
            if (pid == 0)
                _exit(
                    copy_share(argv[1], argv[2], agents, per_agent, per_txn, s, sessions, &pacing));
        }
        for (;;) {
            int status;
            pid_t pid = wait(&status);
            if (pid < 0)
                break; /* ECHILD: all of them are done */
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                failed++;
        }
    }
    seconds = now_s() - pacing.started_s;
    if (!failed) {
        printf("copy_rows=%ld seconds=%.3f rate=%.0f", agents * per_agent, seconds,
               (double)(agents * per_agent) / seconds);
        if (pacing.rate > 0 && print_latency(&pacing) != 0)
            failed = 1;
        printf("\n");
    }
    if (pacing.latency_ms != NULL)
        munmap(pacing.latency_ms, pacing.n_slots * sizeof(double));
    return failed ? 1 : 0;
}
