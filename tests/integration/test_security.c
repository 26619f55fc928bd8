/*
 * CURVE admission bound to districts (CONTRACT sections 1 and 3), on real sockets against
 * the real daemon: only keys registered to active agents get in, the key decides who
 * speaks, and revocation takes effect on the next message.
 */
#include "aggtest.h"
#include "curve_keys.h"
#include "ingest.h"
#include "pgtest.h"
#include "wireclient.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define JUNE_30_NOON 1435636800000LL
#define REPLY_MS 10000

static struct aggtest agg;
static struct ct_curve_keypair server, erqi, stranger;
static char server_key_path[512];

static void make_key(const char *dir, const char *name, struct ct_curve_keypair *out)
{
    char path[512], err[256], pub[CT_CURVE_KEY_LEN + 1];

    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    cr_assert_eq(ct_curve_keygen(path, pub, sizeof(pub), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(ct_curve_load_secret(path, out, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(out->public_key, pub);
}

static char key_dir[256]; /* the keys of the running test, removed by teardown() */

static void setup_curve(const char *name)
{
    char sql[256], *dir = key_dir;

    snprintf(key_dir, sizeof(key_dir), "/tmp/ct-keys-%s-%d", name, (int)getpid());
    mkdir(dir, 0700);
    make_key(dir, "server", &server);
    make_key(dir, "erqi", &erqi);
    make_key(dir, "stranger", &stranger);
    snprintf(server_key_path, sizeof(server_key_path), "%s/server.key", dir);
    agg.extra_args[0] = "--server-key";
    agg.extra_args[1] = server_key_path;
    agg.extra_args[2] = NULL;
    aggtest_start(&agg, name);
    snprintf(sql, sizeof(sql),
             "INSERT INTO agents (agent_id, district, public_key) VALUES ('erqi-1', 'erqi', '%s');"
             " NOTIFY citytally_agents",
             erqi.public_key);
    pgtest_exec(agg.db, sql);
    cr_assert(proc_wait_log(&agg.proc, "1 agents", 10000), "agent not loaded");
}

static void teardown(void)
{
    aggtest_stop(&agg);
    proc_remove_scratch(key_dir);
    key_dir[0] = '\0';
}

static struct wc_client *curve_client(const char *agent, const char *district,
                                      const struct ct_curve_keypair *keys)
{
    return aggtest_client(&agg, agent, district, server.public_key, keys->public_key,
                          keys->secret_key);
}

Test(security, registered_key_is_admitted_and_commits, .fini = teardown)
{
    setup_curve("sec_ok");
    struct wc_client *c = curve_client("erqi-1", "erqi", &erqi);
    int64_t v[1] = {5};

    cr_assert_eq(wc_send_hello(c, 1), 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0);
    cr_assert_eq(c->reply->type, CT_MSG_WELCOME);
    cr_assert_eq(wc_send_batch(c, 1, 1, "st_enterprises", CT_OP_ADD, v, 2015, JUNE_30_NOON), 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0);
    cr_assert_eq(c->reply->type, CT_MSG_ACK);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 1);
}

Test(security, unregistered_key_gets_no_answer_and_stores_nothing, .fini = teardown)
{
    setup_curve("sec_unknown_key");
    /* Even claiming a registered agent's name does not help. */
    struct wc_client *c = curve_client("erqi-1", "erqi", &stranger);
    int64_t v[1] = {5};

    cr_assert_eq(wc_send_hello(c, 1), 0);
    cr_assert_eq(wc_send_batch(c, 1, 1, "st_enterprises", CT_OP_ADD, v, 2015, JUNE_30_NOON), 0);
    cr_assert_eq(wc_recv(c, 3000), -1, "an unregistered key got an answer");
    cr_assert(proc_wait_log(&agg.proc, "is not registered to an active agent", 5000));
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 0);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM rejected_updates"), 0);
}

Test(security, plain_text_client_cannot_talk_to_curve_aggregator, .fini = teardown)
{
    setup_curve("sec_plain");
    struct wc_client *c = aggtest_client(&agg, "erqi-1", "erqi", NULL, NULL, NULL);
    int64_t v[1] = {5};

    cr_assert_eq(wc_send_hello(c, 1), 0);
    cr_assert_eq(wc_send_batch(c, 1, 1, "st_enterprises", CT_OP_ADD, v, 2015, JUNE_30_NOON), 0);
    cr_assert_eq(wc_recv(c, 3000), -1, "a plain-text client got an answer");
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 0);
}

Test(security, registered_agent_for_another_district_is_refused, .fini = teardown)
{
    setup_curve("sec_district");
    struct wc_client *c = curve_client("erqi-1", "jinshui", &erqi);
    int64_t v[1] = {5};

    cr_assert_eq(wc_send_batch(c, 1, 1, "st_enterprises", CT_OP_ADD, v, 2015, JUNE_30_NOON), 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0);
    cr_assert_eq(c->reply->type, CT_MSG_ERROR);
    cr_assert_str_eq(c->reply->error.code, "wrong_district");
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 0);
}

Test(security, key_decides_who_speaks_not_the_agent_field, .fini = teardown)
{
    setup_curve("sec_impersonate");
    /* erqi's key, claiming to be the city agent. */
    pgtest_exec(agg.db, "INSERT INTO agents (agent_id, district) VALUES ('city-1', 'city');"
                        " NOTIFY citytally_agents");
    struct wc_client *c = curve_client("city-1", "city", &erqi);
    int64_t v[1] = {60};

    cr_assert_eq(wc_send_batch(c, 1, 1, "st_contribution_rate", CT_OP_SET, v, 2015, JUNE_30_NOON),
                 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0);
    cr_assert_eq(c->reply->type, CT_MSG_ERROR);
    cr_assert_str_eq(c->reply->error.code, "unknown_agent");
    cr_assert(strstr(c->reply->error.msg, "belongs to agent erqi-1") != NULL, "%s",
              c->reply->error.msg);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 0);
}

Test(security, revoked_key_is_cut_off_on_its_next_message, .fini = teardown)
{
    setup_curve("sec_revoke");
    struct wc_client *c = curve_client("erqi-1", "erqi", &erqi);
    int64_t v[1] = {5};

    cr_assert_eq(wc_send_batch(c, 1, 1, "st_enterprises", CT_OP_ADD, v, 2015, JUNE_30_NOON), 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0);
    cr_assert_eq(c->reply->type, CT_MSG_ACK);
    pgtest_exec(agg.db, "UPDATE agents SET revoked_at = now() WHERE agent_id = 'erqi-1';"
                        " NOTIFY citytally_agents");
    cr_assert_eq(wc_send_batch(c, 2, 1, "st_enterprises", CT_OP_ADD, v, 2015, JUNE_30_NOON), 0);
    cr_assert_eq(wc_recv(c, REPLY_MS), 0);
    cr_assert_eq(c->reply->type, CT_MSG_ERROR);
    cr_assert_str_eq(c->reply->error.code, "unknown_agent");
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT count(*) FROM updates"), 1);

    /* And a new connection with that key is not admitted at all. */
    struct wc_client *again = curve_client("erqi-1", "erqi", &erqi);
    cr_assert_eq(wc_send_hello(again, 3), 0);
    cr_assert_eq(wc_recv(again, 3000), -1, "a revoked key was admitted again");
}

/* Startup refusals: checked before the daemon touches the database or the network. */
static void expect_refusal(char *const argv[], const char *needle)
{
    char out[4096];
    int status = proc_run(argv, out, sizeof(out));

    cr_assert_eq(status, 2, "exit %d: %s", status, out);
    cr_assert(strstr(out, needle) != NULL, "missing '%s' in: %s", needle, out);
}

Test(security, insecure_on_a_network_address_is_refused)
{
    char *argv[] = {"citytally-aggregator",
                    "--insecure",
                    "--listen",
                    "tcp://0.0.0.0:5560",
                    "--db",
                    "host=/nonexistent",
                    "--http",
                    "off",
                    NULL};
    expect_refusal(argv, "refuses to listen on tcp://0.0.0.0:5560");
}

Test(security, no_key_and_no_insecure_is_refused)
{
    char *argv[] = {"citytally-aggregator", "--db", "host=/nonexistent", "--http", "off", NULL};
    expect_refusal(argv, "refusing to start without CURVE");
}

Test(security, secret_key_readable_by_others_is_refused)
{
    char dir[128], path[256], pub[CT_CURVE_KEY_LEN + 1], err[256];
    struct ct_curve_keypair keys;

    snprintf(dir, sizeof(dir), "/tmp/ct-keys-mode-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/server.key", dir);
    cr_assert_eq(ct_curve_keygen(path, pub, sizeof(pub), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(ct_curve_load_secret(path, &keys, err, sizeof(err)), -1);
    cr_assert(strstr(err, "mode 0644") != NULL, "%s", err);

    char *argv[] = {"citytally-aggregator", "--server-key", path,  "--db",
                    "host=/nonexistent",    "--http",       "off", NULL};
    expect_refusal(argv, "accessible by group or others");
    unlink(path);
    snprintf(path, sizeof(path), "%s/server.key.pub", dir);
    unlink(path);
    rmdir(dir);
}

Test(security, missing_zap_handler_fails_closed)
{
    char dir[128], path[256], pub[CT_CURVE_KEY_LEN + 1], err[256];
    struct ct_curve_keypair keys, client;
    struct agg_settings settings;
    struct ct_log log;
    struct agg_ingest *in;
    void *ctx = zmq_ctx_new();

    snprintf(dir, sizeof(dir), "/tmp/ct-keys-nozap-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/server.key", dir);
    cr_assert_eq(ct_curve_keygen(path, pub, sizeof(pub), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(ct_curve_load_secret(path, &keys, err, sizeof(err)), 0);
    cr_assert_eq(zmq_curve_keypair(client.public_key, client.secret_key), 0);
    agg_settings_defaults(&settings);
    snprintf(settings.server_key, sizeof(settings.server_key), "%s", path);
    snprintf(settings.listen, sizeof(settings.listen), "ipc://%s/router", dir);
    ct_log_init(&log);
    /* The ingest socket alone, with no ZAP handler bound in its context. */
    in = agg_ingest_new(ctx, &settings, &log, err, sizeof(err));
    cr_assert_not_null(in, "%s", err);

    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, keys.public_key, 40);
    zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, client.public_key, 40);
    zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, client.secret_key, 40);
    cr_assert_eq(zmq_connect(dealer, settings.listen), 0);
    cr_assert_eq(zmq_send(dealer, "x", 1, 0), 1);
    zmq_pollitem_t item = {agg_ingest_socket(in), 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&item, 1, 2000), 0, "a frame got through without a ZAP handler");

    zmq_close(dealer);
    agg_ingest_free(in);
    zmq_ctx_term(ctx);
    proc_remove_scratch(dir);
}

/* The real collector, as a district would run it: its own key, the aggregator's public key
 * file, an update submitted to its outbox, delivered over CURVE. */
Test(security, collector_delivers_over_curve_with_its_registered_key, .fini = teardown)
{
    char dir[256], key[600], server_pub[600], state[300], log_path[300], out[4096];
    struct proc collector;

    setup_curve("sec_collector");
    snprintf(dir, sizeof(dir), "%s", agg.dir);
    /* setup_curve() wrote the agents' keys next to the server's. */
    snprintf(key, sizeof(key), "%.*s/erqi.key",
             (int)(strrchr(server_key_path, '/') - server_key_path), server_key_path);
    snprintf(server_pub, sizeof(server_pub), "%s.pub", server_key_path);
    snprintf(state, sizeof(state), "%s/collector-state", dir);
    snprintf(log_path, sizeof(log_path), "%s/collector.log", dir);

    char *submit[] = {"citytally-collector",
                      "submit",
                      "rd_centers_municipal",
                      "12",
                      "--op",
                      "add",
                      "--at",
                      "2015-06-30",
                      "--state-dir",
                      state,
                      "--agent",
                      "erqi-1",
                      "--district",
                      "erqi",
                      NULL};
    cr_assert_eq(proc_run(submit, out, sizeof(out)), 0, "%s", out);
    char *daemon[] = {"citytally-collector",
                      "--agent",
                      "erqi-1",
                      "--district",
                      "erqi",
                      "--connect",
                      agg.endpoint,
                      "--state-dir",
                      state,
                      "--key",
                      key,
                      "--server-public-key",
                      server_pub,
                      "--http",
                      "off",
                      NULL};
    proc_start(&collector, log_path, daemon);
    cr_assert_eq(aggtest_wait_scalar(&agg, "SELECT count(*) FROM updates", 1, 20000), 1,
                 "nothing delivered; see %s", log_path);
    cr_assert_eq(pgtest_scalar(agg.db, "SELECT value FROM updates WHERE agent_id = 'erqi-1'"
                                       " AND district = 'erqi'"),
                 12);
    cr_assert(proc_stop(&collector, SIGTERM, 5000));
    cr_assert_eq(collector.exit_status, 0);
}

Test(security, collector_refuses_plain_text_to_a_network_endpoint)
{
    char out[4096];
    char *argv[] = {"citytally-collector",
                    "--agent",
                    "erqi-1",
                    "--district",
                    "erqi",
                    "--connect",
                    "tcp://10.1.2.3:5560",
                    "--insecure",
                    "--state-dir",
                    "/tmp/ct-sec-never-created",
                    "--http",
                    "off",
                    NULL};
    int status = proc_run(argv, out, sizeof(out));

    cr_assert_eq(status, 2, "exit %d: %s", status, out);
    cr_assert(strstr(out, "refuses to send to tcp://10.1.2.3:5560") != NULL, "%s", out);
}

Test(security, collector_refuses_a_secret_key_readable_by_others)
{
    char dir[128], path[256], pub[CT_CURVE_KEY_LEN + 1], err[256], out[4096];

    snprintf(dir, sizeof(dir), "/tmp/ct-keys-colmode-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/erqi.key", dir);
    cr_assert_eq(ct_curve_keygen(path, pub, sizeof(pub), err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(chmod(path, 0640), 0);
    char *argv[] = {"citytally-collector",
                    "--agent",
                    "erqi-1",
                    "--district",
                    "erqi",
                    "--connect",
                    "tcp://10.1.2.3:5560",
                    "--key",
                    path,
                    "--server-public-key",
                    pub,
                    "--state-dir",
                    "/tmp/ct-sec-never-created",
                    "--http",
                    "off",
                    NULL};
    int status = proc_run(argv, out, sizeof(out));
    cr_assert_eq(status, 2, "exit %d: %s", status, out);
    cr_assert(strstr(out, "accessible by group or others (mode 0640)") != NULL, "%s", out);
    proc_remove_scratch(dir);
}
