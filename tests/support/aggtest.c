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
#include <zmq.h>

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
    char sql[512], loaded[64];
    snprintf(sql, sizeof(sql),
             "INSERT INTO agents (agent_id, district) VALUES ('%s', '%s'); NOTIFY citytally_agents",
             id, district);
    pgtest_exec(t->db, sql);
    /* The daemon reloads its directory on the NOTIFY; wait until it has, so the agent is
     * known before the test speaks for it. */
    snprintf(loaded, sizeof(loaded), "directory: %lld agents",
             pgtest_scalar(t->db, "SELECT count(*) FROM agents"));
    cr_assert(proc_wait_log(&t->proc, loaded, 10000), "the daemon did not load agent %s", id);
}

struct wc_client *aggtest_client(struct aggtest *t, const char *agent, const char *district,
                                 const char *server_public_key, const char *client_public_key,
                                 const char *client_secret_key)
{
    struct wc_client *c;

    if (t->zctx == NULL)
        t->zctx = zmq_ctx_new();
    cr_assert(t->n_clients < sizeof(t->clients) / sizeof(t->clients[0]), "too many clients");
    c = wc_new(t->zctx, t->endpoint, agent, district, server_public_key, client_public_key,
               client_secret_key);
    cr_assert_not_null(c, "cannot connect a test client to %s", t->endpoint);
    t->clients[t->n_clients++] = c;
    return c;
}

struct loadgen *aggtest_loadgen(struct aggtest *t, struct loadgen_config *config)
{
    struct loadgen *lg;

    if (t->zctx == NULL)
        t->zctx = zmq_ctx_new();
    cr_assert(t->n_loadgens < sizeof(t->loadgens) / sizeof(t->loadgens[0]));
    config->endpoint = t->endpoint;
    lg = loadgen_new(t->zctx, config);
    cr_assert_not_null(lg);
    t->loadgens[t->n_loadgens++] = lg;
    return lg;
}

void aggtest_stop(struct aggtest *t)
{
    for (size_t i = 0; i < t->n_clients; i++)
        wc_free(t->clients[i]);
    for (size_t i = 0; i < t->n_loadgens; i++)
        loadgen_free(t->loadgens[i]);
    t->n_clients = t->n_loadgens = 0;
    if (t->zctx != NULL)
        zmq_ctx_term(t->zctx);
    t->zctx = NULL;
    if (t->proc.pid != 0) {
        cr_expect(proc_stop(&t->proc, SIGTERM, 5000), "aggregator did not stop within 5 s");
        cr_expect_eq(t->proc.exit_status, 0, "aggregator exit status %d; see %s",
                     t->proc.exit_status, t->proc.log_path);
    }
    if (t->db != NULL)
        PQfinish(t->db);
    t->db = NULL;
    proc_remove_scratch(t->dir);
    t->dir[0] = '\0';
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
