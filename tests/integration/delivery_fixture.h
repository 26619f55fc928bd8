/*
 * delivery_fixture.h - the scaffolding of the tests that run real collectors against real
 * aggregators on one PostgreSQL database (failover, moves, refill, e2e, receipts), so that
 * each test file says only what it does differently: which flags, which names, which agents.
 * Header-only, like store_fixture.h: each test file is its own binary.
 *
 * A test file keeps one `static struct delivery_fixture fx;` and calls df_setup() from its
 * suite's .init and df_teardown() from its .fini. Everything lives in a scratch directory
 * ROOT (fx.root): an aggregator NAME listens on ipc://ROOT/NAME, a collector's state is
 * ROOT/STATE and its log ROOT/STATE.log unless the test names another.
 *
 * Ownership: the caller owns the struct; the fixture owns what it makes in it: the scratch
 * directory, the connection fx.db (NULL until df_fresh_db) and every child started with
 * df_spawn() (and so df_start_aggregator/df_start_collector). df_teardown() kills and reaps
 * every such child still running, whatever path the test took to get there, then closes
 * fx.db and removes ROOT. A child stopped with df_stop/df_kill9, or reaped by the test and
 * handed back with df_forget, is no longer the fixture's. df_path()/df_log() return one of
 * four rotating static buffers: valid until the fourth call after; df_status() one buffer.
 */
#ifndef CT_DELIVERY_FIXTURE_H
#define CT_DELIVERY_FIXTURE_H

#include "pgtest.h"
#include "test_collector_support.h"

#include <sqlite3.h>
#include <sys/resource.h>

#define DF_MAX_PROCS 8

struct delivery_fixture {
    char root[64];
    char conninfo[512];
    PGconn *db;
    pid_t procs[DF_MAX_PROCS]; /* -1: stopped and reaped, no longer ours */
    size_t n_procs;
};

/* An agent as `agent add` registers it. */
struct delivery_agent {
    const char *id;
    const char *district;
};

/* A collector's flags. NULL leaves a flag out; names are under ROOT. */
struct delivery_collector {
    const char *agent, *district;
    const char *state;       /* --state-dir ROOT/STATE */
    const char *connect;     /* "a,b": --connect ipc://ROOT/a,ipc://ROOT/b */
    const char *spool;       /* --spool ROOT/SPOOL */
    const char *log;         /* a full path; NULL: ROOT/STATE.log */
    const char *rescan;      /* --rescan */
    const char *ack_timeout; /* --ack-timeout */
    const char *batch_max;   /* --batch-max */
    const char *window;      /* --window */
    const char *keep_acked;  /* --keep-acked */
    const char *outbox_max;  /* --outbox-max */
    rlim_t fsize_soft;       /* > 0: files it writes are capped (a full disk) */
};

static inline void df_setup(struct delivery_fixture *fx, const char *what)
{
    memset(fx, 0, sizeof(*fx));
    ts_scratch(fx->root, sizeof(fx->root), what);
}

/* Kills (SIGCONT first: a test may have left one stopped) and reaps every child still the
 * fixture's. No assertions here: a failed one would skip the rest of the cleanup. */
static inline void df_teardown(struct delivery_fixture *fx)
{
    for (size_t i = 0; i < fx->n_procs; i++) {
        if (fx->procs[i] > 0) {
            kill(fx->procs[i], SIGCONT);
            kill(fx->procs[i], SIGKILL);
        }
    }
    for (size_t i = 0; i < fx->n_procs; i++) {
        int64_t deadline = ts_now_ms() + 10000;
        while (fx->procs[i] > 0) {
            pid_t r = waitpid(fx->procs[i], NULL, WNOHANG);
            if (r == fx->procs[i] || (r == -1 && errno != EINTR) || ts_now_ms() >= deadline)
                fx->procs[i] = -1;
            else
                ts_pause_ms(10);
        }
    }
    if (fx->db != NULL)
        PQfinish(fx->db);
    fx->db = NULL;
    proc_remove_scratch(fx->root);
}

/* ROOT/NAME, or with `suffix` ROOT/NAMESUFFIX, in one of four rotating buffers (as
 * ts_bin's), so that one expression can hold a few. */
static inline const char *df_path_suffixed(const struct delivery_fixture *fx, const char *name,
                                           const char *suffix)
{
    static char path[4][192];
    static unsigned next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s%s", fx->root, name, suffix);
    return p;
}

/* ROOT/NAME. */
static inline const char *df_path(const struct delivery_fixture *fx, const char *name)
{
    return df_path_suffixed(fx, name, "");
}

/* ROOT/NAME.log. */
static inline const char *df_log(const struct delivery_fixture *fx, const char *name)
{
    return df_path_suffixed(fx, name, ".log");
}

/* Starts argv[] as ts_spawn_limited() does; the child is the fixture's until stopped. */
static inline pid_t df_spawn_limited(struct delivery_fixture *fx, const char *const argv[],
                                     const char *log, rlim_t fsize_soft)
{
    /* Checked before the fork, so no child is ever started that teardown would not know. */
    cr_assert_lt(fx->n_procs, DF_MAX_PROCS);
    pid_t pid = ts_spawn_limited(argv, log, fsize_soft);
    fx->procs[fx->n_procs++] = pid;
    return pid;
}

static inline pid_t df_spawn(struct delivery_fixture *fx, const char *const argv[], const char *log)
{
    return df_spawn_limited(fx, argv, log, 0);
}

/* `pid` was reaped: it is no longer the fixture's to kill. */
static inline void df_forget(struct delivery_fixture *fx, pid_t pid)
{
    for (size_t i = 0; i < fx->n_procs; i++) {
        if (fx->procs[i] == pid)
            fx->procs[i] = -1;
    }
}

/* kill -9, and expects death by that signal within 10 s. */
static inline void df_kill9(struct delivery_fixture *fx, pid_t pid)
{
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int st = ts_wait(pid, 10000);
    if (st != -1)
        df_forget(fx, pid);
    cr_assert(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* SIGTERM, and expects a clean exit within 15 s. */
static inline void df_stop(struct delivery_fixture *fx, pid_t pid)
{
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int st = ts_wait(pid, 15000);
    if (st != -1)
        df_forget(fx, pid);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
}

/* Runs `citytally-aggregator ARGS --db CONNINFO` (args NULL-terminated, at most 8) to its
 * end, its output in `out`. Returns its exit status. */
static inline int df_aggregator_run(struct delivery_fixture *fx, const char *const args[],
                                    char *out, size_t out_size)
{
    const char *argv[12] = {ts_bin("citytally-aggregator")};
    size_t n = 1;
    for (size_t i = 0; args[i] != NULL; i++) {
        cr_assert_lt(n, sizeof(argv) / sizeof(argv[0]) - 3);
        argv[n++] = args[i];
    }
    argv[n++] = "--db";
    argv[n++] = fx->conninfo;
    argv[n] = NULL;
    return ts_run(argv, out, out_size);
}

/* A fresh database `name` (fx.db, fx.conninfo) at the latest schema, with `agents`
 * registered. */
static inline void df_fresh_db(struct delivery_fixture *fx, const char *name,
                               const struct delivery_agent *agents, size_t n_agents)
{
    char out[4096];
    fx->db = pgtest_fresh_db(name, fx->conninfo, sizeof(fx->conninfo));
    const char *migrate[] = {"migrate", NULL};
    cr_assert_eq(df_aggregator_run(fx, migrate, out, sizeof(out)), 0, "migrate: %s", out);
    for (size_t i = 0; i < n_agents; i++) {
        const char *add[] = {"agent", "add", agents[i].id, "--district", agents[i].district, NULL};
        cr_assert_eq(df_aggregator_run(fx, add, out, sizeof(out)), 0, "agent add: %s", out);
    }
}

/* Starts an aggregator on fx.db listening on ipc://ROOT/NAME, publishing on
 * ipc://ROOT/LOG-feed, logging to ROOT/LOG.log, with `--http HTTP`. With `nth_ready` > 0,
 * waits until its log says "daemon: ready" that many times (a restart appends to the same
 * log); 0 does not wait. */
static inline pid_t df_start_aggregator(struct delivery_fixture *fx, const char *name,
                                        const char *log, const char *http, int nth_ready)
{
    char endpoint[192], publish[192], log_path[192];
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/%s", fx->root, name);
    snprintf(publish, sizeof(publish), "ipc://%s/%s-feed", fx->root, log);
    snprintf(log_path, sizeof(log_path), "%s/%s.log", fx->root, log);
    const char *argv[] = {ts_bin("citytally-aggregator"),
                          "--db",
                          fx->conninfo,
                          "--insecure",
                          "--listen",
                          endpoint,
                          "--publish",
                          publish,
                          "--http",
                          http,
                          NULL};
    pid_t pid = df_spawn(fx, argv, log_path);
    if (nth_ready > 0)
        cr_assert(WAIT_FOR(ts_occurrences(log_path, "daemon: ready") >= nth_ready, 30000),
                  "%s did not start", log);
    return pid;
}

/* Starts a collector with the flags in `c` (always --insecure); does not wait for it. */
static inline pid_t df_start_collector(struct delivery_fixture *fx,
                                       const struct delivery_collector *c)
{
    char state_dir[192], spool_dir[192], connect[512], log[192];
    const char *argv[32];
    size_t n = 0, len = 0;

    snprintf(state_dir, sizeof(state_dir), "%s/%s", fx->root, c->state);
    snprintf(spool_dir, sizeof(spool_dir), "%s/%s", fx->root, c->spool ? c->spool : "");
    connect[0] = '\0';
    for (const char *at = c->connect; *at != '\0';) {
        size_t k = strcspn(at, ",");
        len += (size_t)snprintf(connect + len, sizeof(connect) - len, "%sipc://%s/%.*s",
                                len ? "," : "", fx->root, (int)k, at);
        cr_assert_lt(len, sizeof(connect));
        at += k + (at[k] == ',');
    }
    if (c->log != NULL)
        snprintf(log, sizeof(log), "%s", c->log);
    else
        snprintf(log, sizeof(log), "%s/%s.log", fx->root, c->state);

    argv[n++] = ts_bin("citytally-collector");
    argv[n++] = "--agent";
    argv[n++] = c->agent;
    argv[n++] = "--district";
    argv[n++] = c->district;
    argv[n++] = "--state-dir";
    argv[n++] = state_dir;
    if (c->spool != NULL) {
        argv[n++] = "--spool";
        argv[n++] = spool_dir;
    }
    argv[n++] = "--connect";
    argv[n++] = connect;
    argv[n++] = "--insecure";
    const char *flags[][2] = {{"--rescan", c->rescan},         {"--ack-timeout", c->ack_timeout},
                              {"--batch-max", c->batch_max},   {"--window", c->window},
                              {"--keep-acked", c->keep_acked}, {"--outbox-max", c->outbox_max}};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (flags[i][1] != NULL) {
            argv[n++] = flags[i][0];
            argv[n++] = flags[i][1];
        }
    }
    argv[n] = NULL;
    return df_spawn_limited(fx, argv, log, c->fsize_soft);
}

/* Queues `add V` for V = first .. first + rows - 1 in the collector state ROOT/STATE
 * through `citytally-collector import` (safe while the daemon runs), from the file
 * ROOT/STATE-FIRST.csv. With `note`, each row's note is "NOTE V"; NULL: no note column. */
static inline void df_import_values(struct delivery_fixture *fx, const char *state,
                                    const char *note, long long first, size_t rows)
{
    char path[192], state_dir[192], out[4096];
    size_t cap = 64 + rows * 80, len = 0;
    char *csv = malloc(cap);
    cr_assert_not_null(csv);
    len += (size_t)snprintf(csv + len, cap - len, "indicator,value,op,observed_at%s\r\n",
                            note ? ",note" : "");
    for (size_t i = 0; i < rows; i++) {
        long long v = first + (long long)i;
        if (note != NULL)
            len += (size_t)snprintf(csv + len, cap - len,
                                    "rd_centers_municipal,%lld,add,2015-06-30,%s %lld\r\n", v, note,
                                    v);
        else
            len += (size_t)snprintf(csv + len, cap - len,
                                    "rd_centers_municipal,%lld,add,2015-06-30\r\n", v);
    }
    snprintf(path, sizeof(path), "%s/%s-%lld.csv", fx->root, state, first);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(csv, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    free(csv);
    snprintf(state_dir, sizeof(state_dir), "%s/%s", fx->root, state);
    const char *argv[] = {
        ts_bin("citytally-collector"), "import", "--state-dir", state_dir, path, NULL};
    cr_assert_eq(ts_run(argv, out, sizeof(out)), 0, "import: %s", out);
}

/* `SELECT WHAT FROM updates WHERE agent_id = AGENT` (an aggregate: one value). */
static inline long long df_stored(struct delivery_fixture *fx, const char *agent, const char *what)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT %s FROM updates WHERE agent_id = '%s'", what, agent);
    return pgtest_scalar(fx->db, sql);
}

/* Exactly the values 1..n for `agent`, each once, under seqs 1..n. */
static inline void df_assert_exactly_once(struct delivery_fixture *fx, const char *agent,
                                          long long n)
{
    cr_assert_eq(df_stored(fx, agent, "count(*)"), n);
    cr_assert_eq(df_stored(fx, agent, "count(DISTINCT seq)"), n);
    cr_assert_eq(df_stored(fx, agent, "min(seq)"), 1);
    cr_assert_eq(df_stored(fx, agent, "max(seq)"), n);
    cr_assert_eq(df_stored(fx, agent, "count(DISTINCT value)"), n);
    cr_assert_eq(df_stored(fx, agent, "sum(value)::bigint"), n * (n + 1) / 2);
}

/* What `citytally-collector status` prints for the state ROOT/STATE, in a static buffer
 * valid until the next call (before the daemon made the outbox: that there is none). */
static inline const char *df_status(const struct delivery_fixture *fx, const char *state)
{
    static char out[16384];
    char state_dir[192];
    snprintf(state_dir, sizeof(state_dir), "%s/%s", fx->root, state);
    const char *argv[] = {ts_bin("citytally-collector"), "status", "--state-dir", state_dir, NULL};
    (void)ts_run(argv, out, sizeof(out));
    return out;
}

/* Rows in the pending table of ROOT/STATE/outbox.db, read straight from SQLite (it waits
 * up to 10 s for a running daemon's lock). */
static inline long long df_outbox_pending(struct delivery_fixture *fx, const char *state)
{
    char path[256];
    sqlite3 *s;
    sqlite3_stmt *st;
    long long n;
    snprintf(path, sizeof(path), "%s/%s/outbox.db", fx->root, state);
    cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
    sqlite3_busy_timeout(s, 10000);
    cr_assert_eq(sqlite3_prepare_v2(s, "SELECT count(*) FROM pending", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return n;
}

#endif
