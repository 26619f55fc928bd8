/*
 * load_updates.c - fills `updates` the way the aggregator daemon does: COPY (text), a fixed
 * number of rows per transaction, one session. Prints the rate, so the same program
 * measures the write cost of the schema (trigger, indexes) and builds the benchmark log.
 *
 *   load_updates CONNINFO ROWS [BATCH] [FIRST_DAY LAST_DAY] [SET_PERCENT] [JITTER_MS] [SEED]
 *                [RECEIVED_LAG_MS]
 *
 * ROWS updates from the 17 units' agents (agent "a-<unit>", seq rising by one per agent,
 * continuing from agents.last_seq if the agent exists), indicator picked at random, period
 * the year of observed_at (with 5% of January rows still for the previous year),
 * observed_at rising evenly from FIRST_DAY to LAST_DAY (YYYY-MM-DD, UTC+8), SET_PERCENT of
 * them `set` (default 80), the rest `add`. JITTER_MS (default 0) moves each observed_at
 * back by up to that much at random, so some updates of a key arrive after later ones:
 * the out-of-order case the store must replay. RECEIVED_LAG_MS (default: none, the
 * database's now()) stamps received_at that long after each row's unjittered observed_at,
 * as collectors that send at once would: received_at then rises with id, as it does in
 * production, and "as known at" (issue 18) has a history to look back into.
 */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *units[] = {"zhongyuan", "erqi",     "guancheng", "jinshui",  "shangjie",
                              "huiji",     "zhongmu",  "gongyi",    "xingyang", "xinmi",
                              "xinzheng",  "dengfeng", "jingkai",   "gaoxin",   "hangkonggang",
                              "zhengdong", "city"};
#define N_UNITS (sizeof(units) / sizeof(units[0]))

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t day_ms(const char *ymd)
{
    struct tm tm = {0};
    if (sscanf(ymd, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
        fprintf(stderr, "bad date %s\n", ymd);
        exit(2);
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 - 8 * 3600 * 1000LL;
}

static void die(PGconn *conn, const char *what)
{
    fprintf(stderr, "%s: %s", what, PQerrorMessage(conn));
    exit(1);
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die(conn, sql);
    if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0)
        die(conn, "COMMIT rolled back");
    PQclear(r);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: load_updates CONNINFO ROWS [BATCH] [FIRST_DAY LAST_DAY] "
                        "[SET_PERCENT] [JITTER_MS] [SEED] [RECEIVED_LAG_MS]\n");
        return 2;
    }
    long long rows = atoll(argv[2]);
    long long batch = argc > 3 ? atoll(argv[3]) : 10000;
    int64_t first = day_ms(argc > 5 ? argv[4] : "2014-01-01");
    int64_t last = day_ms(argc > 5 ? argv[5] : "2015-12-31") + 86399999;
    int set_percent = argc > 6 ? atoi(argv[6]) : 80;
    long long jitter_ms = argc > 7 ? atoll(argv[7]) : 0;
    if (argc > 8)
        rng_state = strtoull(argv[8], NULL, 10) | 1;
    long long received_lag_ms = argc > 9 ? atoll(argv[9]) : -1;
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK)
        die(conn, "connect");

    /* indicators and where they may come from */
    PGresult *ind = PQexec(conn, "SELECT code, reported_by = 'city' FROM indicators ORDER BY 1");
    if (PQresultStatus(ind) != PGRES_TUPLES_OK)
        die(conn, "indicators");
    int n_ind = PQntuples(ind);
    long long seq[N_UNITS];
    for (size_t u = 0; u < N_UNITS; u++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO agents (agent_id, district) VALUES ('a-%s', '%s') "
                 "ON CONFLICT (agent_id) DO UPDATE SET last_seq = agents.last_seq "
                 "RETURNING last_seq",
                 units[u], units[u]);
        PGresult *r = PQexec(conn, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die(conn, "agent");
        seq[u] = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
    }

    char *buf = malloc((size_t)batch * 200);
    double started = now_s(), copy_time = 0;
    long long done = 0;
    while (done < rows) {
        long long n = rows - done < batch ? rows - done : batch;
        size_t len = 0;
        long long last_seq[N_UNITS];
        memcpy(last_seq, seq, sizeof(seq));
        for (long long i = 0; i < n; i++) {
            long long k = done + i;
            size_t u = (size_t)(k % (long long)N_UNITS);
            int idx;
            do {
                idx = (int)(rng() % (uint64_t)n_ind);
            } while ((strcmp(units[u], "city") != 0) != (PQgetvalue(ind, idx, 1)[0] == 'f'));
            int64_t base = first + (int64_t)((double)(last - first) * (double)k / (double)rows);
            int64_t at = base - (jitter_ms > 0 ? (int64_t)(rng() % (uint64_t)jitter_ms) : 0);
            time_t secs = (time_t)((at + 8 * 3600 * 1000LL) / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            int period = tm.tm_year + 1900;
            if (tm.tm_mon == 0 && rng() % 20 == 0)
                period--;
            int is_set = (int)(rng() % 100) < set_percent;
            long long value = is_set ? (long long)(rng() % 100000) : (long long)(rng() % 21) - 5;
            seq[u]++;
            len += (size_t)sprintf(buf + len,
                                   "a-%s\t%lld\t%s\t%s\t%d\t%s\t%lld.%02d\t%04d-%02d-%02d "
                                   "%02d:%02d:%02d.%03d+08\t\\N\n",
                                   units[u], seq[u], units[u], PQgetvalue(ind, idx, 0), period,
                                   is_set ? "set" : "add", value, (int)(rng() % 100),
                                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                   tm.tm_min, tm.tm_sec, (int)(at % 1000));
            if (received_lag_ms >= 0) {
                int64_t rcv = base + received_lag_ms;
                time_t rsecs = (time_t)((rcv + 8 * 3600 * 1000LL) / 1000);
                gmtime_r(&rsecs, &tm);
                len--; /* the newline */
                len += (size_t)sprintf(buf + len, "\t%04d-%02d-%02d %02d:%02d:%02d.%03d+08\n",
                                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                       tm.tm_min, tm.tm_sec, (int)(rcv % 1000));
            }
        }
        double t0 = now_s();
        exec_ok(conn, "BEGIN");
        PGresult *r = PQexec(conn, received_lag_ms >= 0
                                       ? "COPY updates (agent_id, seq, district, indicator, period,"
                                         " op, value, observed_at, note, received_at) FROM STDIN"
                                       : "COPY updates (agent_id, seq, district, indicator, period,"
                                         " op, value, observed_at, note) FROM STDIN");
        if (PQresultStatus(r) != PGRES_COPY_IN)
            die(conn, "COPY");
        PQclear(r);
        if (PQputCopyData(conn, buf, (int)len) != 1 || PQputCopyEnd(conn, NULL) != 1)
            die(conn, "copy data");
        r = PQgetResult(conn);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die(conn, "COPY end");
        PQclear(r);
        while ((r = PQgetResult(conn)) != NULL)
            PQclear(r);
        for (size_t u = 0; u < N_UNITS; u++) {
            char sql[160];
            if (seq[u] == last_seq[u])
                continue;
            snprintf(sql, sizeof(sql), "UPDATE agents SET last_seq = %lld WHERE agent_id = 'a-%s'",
                     seq[u], units[u]);
            exec_ok(conn, sql);
        }
        exec_ok(conn, "COMMIT");
        copy_time += now_s() - t0;
        done += n;
    }
    double total = now_s() - started;
    printf("rows %lld batch %lld: %.1f s in COPY+COMMIT, %.0f rows/s (wall %.1f s)\n", rows, batch,
           copy_time, (double)rows / copy_time, total);
    free(buf);
    PQclear(ind);
    PQfinish(conn);
    return 0;
}
