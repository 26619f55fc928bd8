/*
 * aggtest.h - a running citytally-aggregator for integration tests.
 *
 * aggtest_start() gives a test its own database (in the shared test cluster, or a cluster
 * of the test's own when it must stop PostgreSQL), registers agents with SQL, and starts
 * the real daemon on an ipc:// endpoint in a scratch directory, waiting for its "ready"
 * line. aggtest_stop() stops it with SIGTERM and checks that it exits 0.
 */
#ifndef CT_AGGTEST_H
#define CT_AGGTEST_H

#include "loadgen.h"
#include "proc.h"
#include "wireclient.h"

#include <libpq-fe.h>
#include <stddef.h>

struct aggtest {
    char name[64];
    char dir[256]; /* scratch directory, /tmp/ct-<name>-<pid> */
    char conninfo[512];
    char endpoint[300]; /* ROUTER, ipc:// */
    char feed[300];     /* PUB, ipc:// */
    PGconn *db;         /* the test's own connection */
    struct proc proc;
    char *extra_args[16]; /* more daemon flags, NULL-terminated */
    /* ZeroMQ peers of the test, closed by aggtest_stop() even when the test failed half
     * way (zmq_ctx_term would otherwise wait for them for ever). */
    void *zctx;
    struct wc_client *clients[64];
    size_t n_clients;
    struct loadgen *loadgens[4];
    size_t n_loadgens;
};

/* Fresh database `name`, migrated by the daemon; scratch dir; the daemon running. */
void aggtest_start(struct aggtest *t, const char *name);

/* Starts the daemon again on the same database and endpoints (after a kill). */
void aggtest_restart(struct aggtest *t);

/* Adds agent `id` for `district` directly in the database and tells the daemon. */
void aggtest_add_agent(struct aggtest *t, const char *id, const char *district);

/* A test client on the daemon's endpoint (CURVE when server_public_key is not NULL). */
struct wc_client *aggtest_client(struct aggtest *t, const char *agent, const char *district,
                                 const char *server_public_key, const char *client_public_key,
                                 const char *client_secret_key);

/* A load generator on the daemon's endpoint; config->endpoint is filled in. */
struct loadgen *aggtest_loadgen(struct aggtest *t, struct loadgen_config *config);

/* SIGTERM, expect exit 0 within 5 s; close the test's peers and its connection. */
void aggtest_stop(struct aggtest *t);

/* Polls `sql` (one number) until it equals `want` or `timeout_ms` passes; returns the
 * last value seen. */
long long aggtest_wait_scalar(struct aggtest *t, const char *sql, long long want, int timeout_ms);

#endif
