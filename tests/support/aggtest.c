#include "aggtest.h"
#include "pgtest.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void launch(struct aggtest *t)
{
    char *argv[32] = {"citytally-aggregator",
                      "--db",
                      t->conninfo,
                      "--listen",
                      t->endpoint,
                      "--publish",
                      t->feed,
                      "--insecure",
                      "--http",
                      "off",
                      "--log-level",
                      "debug"};
    size_t n = 12;
    char log_path[512];

    for (size_t i = 0; t->extra_args[i] != NULL && n < 30; i++)
        argv[n++] = t->extra_args[i];
    argv[n] = NULL;
    snprintf(log_path, sizeof(log_path), "%s/aggregator.log", t->dir);
    proc_start(&t->proc, log_path, argv);
    cr_assert(proc_wait_log(&t->proc, "ready:", 30000), "aggregator did not become ready; see %s",
              log_path);
}

void aggtest_start(struct aggtest *t, const char *name)
{
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->dir, sizeof(t->dir), "/tmp/ct-%s-%d", name, (int)getpid());
    mkdir(t->dir, 0700);
    snprintf(t->endpoint, sizeof(t->endpoint), "ipc://%s/router", t->dir);
    snprintf(t->feed, sizeof(t->feed), "ipc://%s/feed", t->dir);
    t->db = pgtest_fresh_db(name, t->conninfo, sizeof(t->conninfo));
    launch(t);
}

void aggtest_restart(struct aggtest *t)
{
    launch(t);
}

void aggtest_add_agent(struct aggtest *t, const char *id, const char *district)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO agents (agent_id, district) VALUES ('%s', '%s'); NOTIFY citytally_agents",
             id, district);
    pgtest_exec(t->db, sql);
}

void aggtest_stop(struct aggtest *t)
{
    if (t->proc.pid != 0) {
        cr_expect(proc_stop(&t->proc, SIGTERM, 5000), "aggregator did not stop within 5 s");
        cr_expect_eq(t->proc.exit_status, 0, "aggregator exit status %d; see %s",
                     t->proc.exit_status, t->proc.log_path);
    }
    if (t->db != NULL)
        PQfinish(t->db);
    t->db = NULL;
}

long long aggtest_wait_scalar(struct aggtest *t, const char *sql, long long want, int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms, value;

    for (;;) {
        value = pgtest_scalar(t->db, sql);
        if (value == want || proc_now_ms() >= deadline)
            return value;
        poll(NULL, 0, 20);
    }
}
