/* aggregator/db.c and a COMMIT whose wait for synchronous replication is cancelled: the
 * server answers COMMIT with only a WARNING, and a watched connection reports it as lost.
 *
 * The test runs its own cluster, whose synchronous_standby_names names a standby that
 * never comes, so every COMMIT with synchronous_commit = on waits until cancelled. The
 * setting is server-wide: on the shared cluster it would hold every other test. Its
 * default synchronous_commit is local, so setting up waits for nothing. */
#include "db.h"
#include "pgtest.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORT "55491"
#define WAIT_MS 10000

static char cluster_dir[256];

static void run_script(const char *action)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/tests/support/pg_cluster.sh %s %s %s >/dev/null",
             getenv("CT_SOURCE_DIR"), action, cluster_dir, PORT);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void start_cluster(void)
{
    snprintf(cluster_dir, sizeof(cluster_dir), "/tmp/ct-pg-syncrep-%d", (int)getpid());
    setenv("CT_PG_OPTS", "-c synchronous_standby_names=nobody -c synchronous_commit=local", 1);
    run_script("start");
    unsetenv("CT_PG_OPTS");
    setenv("CT_TEST_PGHOST", cluster_dir, 1);
    setenv("CT_TEST_PGPORT", PORT, 1);
}

static void teardown(void)
{
    if (cluster_dir[0] != '\0')
        run_script("stop");
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct committer {
    PGconn *conn;
    const struct agg_db_step *steps;
    size_t n_steps;
    enum agg_db_outcome outcome;
    char err[AGG_DB_ERR_MAX];
};

static void *commit_main(void *arg)
{
    struct committer *c = arg;
    c->outcome = agg_db_pipeline(c->conn, c->steps, c->n_steps, c->err, sizeof(c->err));
    return NULL;
}

/* Waits until the backend `pid` waits for the standby, then cancels that wait. */
static void cancel_when_waiting(PGconn *admin, int pid)
{
    char waiting[256], cancel[128];
    long long deadline = now_ms() + WAIT_MS;

    snprintf(waiting, sizeof(waiting),
             "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND wait_event = 'SyncRep'",
             pid);
    while (pgtest_scalar(admin, waiting) == 0) {
        cr_assert_lt(now_ms(), deadline, "backend %d never waited for the standby", pid);
        poll(NULL, 0, 20);
    }
    snprintf(cancel, sizeof(cancel), "SELECT pg_cancel_backend(%d)::int", pid);
    cr_assert_eq(pgtest_scalar(admin, cancel), 1);
}

Test(db_syncrep, a_commit_whose_replication_wait_was_cancelled_counts_as_lost, .fini = teardown)
{
    char conninfo[512];
    PGconn *admin, *writer;
    const struct agg_db_step steps[] = {
        {.what = "BEGIN", .sql = "BEGIN", .expect = PGRES_COMMAND_OK},
        {.what = "inserting", .sql = "INSERT INTO t VALUES (1)", .expect = PGRES_COMMAND_OK},
        {.what = "COMMIT", .sql = "COMMIT", .expect = PGRES_COMMAND_OK, .tag = "COMMIT"},
    };
    struct committer c = {.steps = steps, .n_steps = 3};
    pthread_t thread;

    start_cluster();
    admin = pgtest_fresh_db("ct_syncrep", conninfo, sizeof(conninfo));
    pgtest_exec(admin, "CREATE TABLE t (id int PRIMARY KEY)");
    writer = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(writer), CONNECTION_OK, "%s", PQerrorMessage(writer));
    cr_assert_eq(agg_db_watch_replication(writer), 0);
    cr_assert_eq(agg_db_watch_replication(writer), 0, "a second watch is a no-op");
    pgtest_exec(writer, "SET synchronous_commit = on");

    c.conn = writer;
    cr_assert_eq(pthread_create(&thread, NULL, commit_main, &c), 0);
    cancel_when_waiting(admin, PQbackendPID(writer));
    cr_assert_eq(pthread_join(thread, NULL), 0);

    cr_assert_eq(c.outcome, AGG_DB_LOST);
    cr_assert_str_eq(c.err, "COMMIT: WARNING:  canceling wait for synchronous replication due to"
                            " user request; DETAIL:  The transaction has already committed"
                            " locally, but might not have been replicated to the standby.");
    /* Committed here: exactly why it must not be acknowledged as safe. */
    cr_assert_eq(pgtest_scalar(admin, "SELECT count(*) FROM t"), 1);
    PQfinish(writer);
    PQfinish(admin);
}

/* Any other warning, and a commit that did not wait, leave the outcome alone. */
Test(db_syncrep, other_warnings_do_not_fail_a_commit, .fini = teardown)
{
    char conninfo[512], err[AGG_DB_ERR_MAX] = "";
    PGconn *admin, *writer;
    const struct agg_db_step steps[] = {
        {.what = "BEGIN", .sql = "BEGIN", .expect = PGRES_COMMAND_OK},
        {.what = "warning",
         .sql = "DO $$ BEGIN RAISE WARNING 'only a warning'; END $$",
         .expect = PGRES_COMMAND_OK},
        {.what = "inserting", .sql = "INSERT INTO t VALUES (1)", .expect = PGRES_COMMAND_OK},
        {.what = "COMMIT", .sql = "COMMIT", .expect = PGRES_COMMAND_OK, .tag = "COMMIT"},
    };

    start_cluster();
    admin = pgtest_fresh_db("ct_syncrep_other", conninfo, sizeof(conninfo));
    pgtest_exec(admin, "CREATE TABLE t (id int PRIMARY KEY)");
    writer = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(writer), CONNECTION_OK, "%s", PQerrorMessage(writer));
    cr_assert_eq(agg_db_watch_replication(writer), 0);

    cr_assert_eq(agg_db_pipeline(writer, steps, 4, err, sizeof(err)), AGG_DB_OK, "%s", err);
    cr_assert_eq(pgtest_scalar(admin, "SELECT count(*) FROM t"), 1);
    PQfinish(writer);
    PQfinish(admin);
}
