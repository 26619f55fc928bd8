/*
 * test_collector_delivery.c - the real citytally-collector daemon against a small ROUTER
 * peer in this file that speaks protocol v1 over real ZeroMQ sockets: hello on every
 * (re)connection, the window, resends after a lost ack, renumbering after a lost outbox,
 * backoff on refusals with the operator's log line, rejections in `status`, signals.
 * (test_collector_e2e.c runs the same paths against the real aggregator and PostgreSQL.)
 */
#include "test_collector_support.h"
#include "wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <zmq.h>

/* ------------------------------------------------------------------ the peer */

struct stored {
    uint64_t seq;
    char ind[CT_ID_MAX + 1];
    struct ct_value value;
    enum ct_op op;
    int64_t period;
    bool rejected;
};

struct peer {
    void *ctx;
    void *router;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mu;
    /* Under mu: */
    uint64_t last_seq;
    struct stored *rows;
    size_t n_rows, cap_rows;
    int hellos, welcomes, batches, duplicates;
    int refuse_remaining; /* answer this many messages with `refuse_code` */
    const char *refuse_code;
    int swallow_remaining; /* commit this many batches but lose their ack */
    bool ignore_batches;   /* never answer batches (an aggregator that hangs) */
    bool send_catalog;
};

static struct peer peer;

static void peer_send(struct peer *p, zmq_msg_t *id, const struct ct_msg *m,
                      struct ct_wire_encoder *enc)
{
    const void *bytes;
    size_t len;
    cr_assert_eq(ct_wire_encode(enc, m, &bytes, &len), 0);
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, id);
    zmq_msg_send(&copy, p->router, ZMQ_SNDMORE);
    zmq_send(p->router, bytes, len, 0);
}

static void peer_error(struct peer *p, zmq_msg_t *id, struct ct_wire_encoder *enc, const char *code,
                       const char *msg)
{
    struct ct_msg out = {0};
    out.type = CT_MSG_ERROR;
    out.error.error = ct_wire_error_parse(code);
    ct_strlcpy(out.error.code, code, sizeof(out.error.code));
    ct_strlcpy(out.error.msg, msg, sizeof(out.error.msg));
    out.error.last_seq = p->last_seq;
    peer_send(p, id, &out, enc);
}

static void peer_handle(struct peer *p, zmq_msg_t *id, const void *data, size_t len,
                        struct ct_msg *in, struct ct_msg *out, struct ct_wire_encoder *enc)
{
    struct ct_wire_fault fault;
    if (ct_wire_decode(data, len, in, &fault) != 0) {
        peer_error(p, id, enc, "malformed", fault.msg);
        return;
    }
    pthread_mutex_lock(&p->mu);
    if (p->refuse_remaining > 0) {
        p->refuse_remaining--;
        peer_error(p, id, enc, p->refuse_code, "refused by the test peer");
        goto out;
    }
    if (in->type == CT_MSG_HELLO) {
        p->hellos++;
        out->type = CT_MSG_WELCOME;
        out->welcome.last_seq = p->last_seq;
        out->welcome.n_catalog = 0;
        if (p->send_catalog) {
            ct_msg_reserve(out, CT_MSG_WELCOME, 2);
            out->welcome.catalog[0] =
                (struct ct_catalog_entry){"rd_centers_municipal", "市级研发中心", "district"};
            out->welcome.catalog[1] =
                (struct ct_catalog_entry){"st_contribution_rate", "科技进步贡献率", "city"};
            out->welcome.n_catalog = 2;
        }
        p->welcomes++;
        peer_send(p, id, out, enc);
        goto out;
    }
    if (in->type != CT_MSG_BATCH) {
        peer_error(p, id, enc, "malformed", "unexpected message type");
        goto out;
    }
    p->batches++;
    if (p->ignore_batches)
        goto out;
    size_t first_new = SIZE_MAX;
    for (size_t i = 0; i < in->batch.n_updates; i++) {
        if (in->batch.updates[i].seq > p->last_seq) {
            first_new = i;
            break;
        }
        p->duplicates++;
    }
    if (first_new != SIZE_MAX && in->batch.updates[first_new].seq != p->last_seq + 1) {
        peer_error(p, id, enc, "seq_gap", "first new seq is not last_seq + 1");
        goto out;
    }
    out->type = CT_MSG_ACK;
    out->ack.n_rejected = 0;
    ct_msg_reserve(out, CT_MSG_ACK, in->batch.n_updates);
    for (size_t i = first_new; first_new != SIZE_MAX && i < in->batch.n_updates; i++) {
        const struct ct_update *u = &in->batch.updates[i];
        if (p->n_rows == p->cap_rows) {
            p->cap_rows = p->cap_rows ? p->cap_rows * 2 : 1024;
            p->rows = realloc(p->rows, p->cap_rows * sizeof(*p->rows));
        }
        struct stored *r = &p->rows[p->n_rows++];
        r->seq = u->seq;
        ct_strlcpy(r->ind, u->ind, sizeof(r->ind));
        r->value = u->value;
        r->op = u->op;
        r->period = u->period;
        r->rejected = strcmp(u->ind, "no_such_indicator") == 0;
        if (r->rejected) {
            struct ct_rejection *rj = &out->ack.rejected[out->ack.n_rejected++];
            rj->seq = u->seq;
            strcpy(rj->code, "unknown_indicator");
            strcpy(rj->msg, "no indicator no_such_indicator in the catalog");
        }
        p->last_seq = u->seq;
    }
    if (p->swallow_remaining > 0) {
        p->swallow_remaining--;
        goto out;
    }
    out->ack.last_seq = p->last_seq;
    peer_send(p, id, out, enc);
out:
    pthread_mutex_unlock(&p->mu);
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    struct ct_msg *in = ct_msg_new(), *out = ct_msg_new();
    struct ct_wire_encoder *enc = ct_wire_encoder_new();
    while (!atomic_load(&p->stop)) {
        zmq_pollitem_t item = {p->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 20) <= 0)
            continue;
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, p->router, 0) >= 0 && zmq_msg_more(&id) &&
            zmq_msg_recv(&body, p->router, 0) >= 0)
            peer_handle(p, &id, zmq_msg_data(&body), zmq_msg_size(&body), in, out, enc);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    ct_msg_free(in);
    ct_msg_free(out);
    ct_wire_encoder_free(enc);
    return NULL;
}

static char root[64], state_dir[128], spool_dir[128], log_path[128], endpoint[128];

/* Binds the peer (again) on its endpoint and starts answering. */
static void peer_start(struct peer *p)
{
    int linger = 0;
    p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
    zmq_setsockopt(p->router, ZMQ_LINGER, &linger, sizeof(linger));
    cr_assert(WAIT_FOR(zmq_bind(p->router, endpoint) == 0, 5000), "bind %s: %s", endpoint,
              zmq_strerror(zmq_errno()));
    atomic_store(&p->stop, 0);
    cr_assert_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

/* Stops answering and closes the socket, as an aggregator that goes down. */
static void peer_stop(struct peer *p)
{
    if (p->router == NULL)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    zmq_close(p->router);
    p->router = NULL;
}

static int peer_get(int *field)
{
    pthread_mutex_lock(&peer.mu);
    int v = *field;
    pthread_mutex_unlock(&peer.mu);
    return v;
}

static size_t peer_rows(void)
{
    pthread_mutex_lock(&peer.mu);
    size_t n = peer.n_rows;
    pthread_mutex_unlock(&peer.mu);
    return n;
}

/* ------------------------------------------------------------------ the collector */

static pid_t collector = -1;

static void setup(void)
{
    memset(&peer, 0, sizeof(peer));
    pthread_mutex_init(&peer.mu, NULL);
    peer.ctx = zmq_ctx_new();
    ts_scratch(root, sizeof(root), "coldeliv");
    /* An endpoint in the test's own directory: a TCP port freed and reused by a test
     * running alongside could connect this collector to someone else's peer. */
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/router", root);
    snprintf(state_dir, sizeof(state_dir), "%s/state", root);
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", root);
    snprintf(log_path, sizeof(log_path), "%s/collector.log", root);
    cr_assert_eq(mkdir(spool_dir, 0750), 0);
    collector = -1;
}

static void teardown(void)
{
    if (collector > 0) {
        kill(collector, SIGKILL);
        ts_wait(collector, 5000);
    }
    peer_stop(&peer);
    zmq_ctx_term(peer.ctx);
    free(peer.rows);
    proc_remove_scratch(root);
}

TestSuite(delivery, .init = setup, .fini = teardown, .timeout = 120);

static void start_collector_with(const char *extra1, const char *extra2)
{
    const char *argv[] = {ts_bin("citytally-collector"),
                          "--agent",
                          "erqi-1",
                          "--district",
                          "erqi",
                          "--state-dir",
                          state_dir,
                          "--spool",
                          spool_dir,
                          "--connect",
                          endpoint,
                          "--insecure",
                          "--ack-timeout",
                          "500ms",
                          "--rescan",
                          "500ms",
                          extra1,
                          extra2,
                          NULL};
    collector = ts_spawn(argv, log_path);
}

static void start_collector(void)
{
    start_collector_with(NULL, NULL);
}

static int submit(const char *ind, const char *value)
{
    char out[2048];
    const char *argv[] = {
        ts_bin("citytally-collector"), "submit", "--state-dir", state_dir, ind, value, NULL};
    int rc = ts_run(argv, out, sizeof(out));
    cr_log_info("submit: %s", out);
    return rc;
}

static char status_text[8192];
static const char *status(void)
{
    const char *argv[] = {ts_bin("citytally-collector"), "status", "--state-dir", state_dir, NULL};
    /* Before the daemon has created the outbox, status says there is none (exit 1). */
    (void)ts_run(argv, status_text, sizeof(status_text));
    return status_text;
}

static bool status_has(const char *text)
{
    return strstr(status(), text) != NULL;
}

static void drop_rows(const char *name, size_t rows, int64_t base)
{
    size_t cap = 64 + rows * 48, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv + len, cap - len, "indicator,value,op\r\n");
    for (size_t i = 0; i < rows; i++)
        len += (size_t)snprintf(csv + len, cap - len, "rd_centers_municipal,%lld,add\r\n",
                                (long long)(base + (int64_t)i));
    ts_drop(spool_dir, name, csv, len);
    free(csv);
}

/* Every seq 1..n stored exactly once, in order. */
static void assert_exactly_once(size_t n, uint64_t first_seq)
{
    pthread_mutex_lock(&peer.mu);
    cr_assert_eq(peer.n_rows, n, "stored %zu rows, expected %zu", peer.n_rows, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(peer.rows[i].seq, first_seq + i);
    pthread_mutex_unlock(&peer.mu);
}

/* ------------------------------------------------------------------ tests */

Test(delivery, spool_and_submit_updates_arrive_once_in_order_in_several_batches)
{
    char want[256];
    peer_start(&peer);
    start_collector();
    drop_rows("q2.csv", 2500, 1);
    cr_assert(WAIT_FOR(ts_exists("%s/done/q2.csv", spool_dir), 10000));
    cr_assert_eq(submit("rd_centers_municipal", "7"), 0);
    cr_assert(WAIT_FOR(peer_rows() == 2501, 20000), "stored %zu", peer_rows());
    assert_exactly_once(2501, 1);
    pthread_mutex_lock(&peer.mu);
    cr_assert_eq(peer.rows[0].value.as.i, 1);
    cr_assert_eq(peer.rows[0].op, CT_OP_ADD);
    cr_assert_eq(peer.rows[2499].value.as.i, 2500);
    cr_assert_eq(peer.rows[2500].value.as.i, 7);
    cr_assert_eq(peer.rows[2500].op, CT_OP_SET);
    cr_assert_geq(peer.batches, 3, "batches of at most 1000");
    pthread_mutex_unlock(&peer.mu);
    cr_assert(WAIT_FOR(status_has("pending:     0 (next seq 2502)"), 5000), "%s", status_text);
    cr_assert(strstr(status_text, "last ack:    seq 2501 at ") != NULL, "%s", status_text);
    cr_assert(strstr(status_text, "daemon:      running") != NULL, "%s", status_text);
    snprintf(want, sizeof(want), ", connected to the aggregator at %s\n", endpoint);
    cr_assert(strstr(status_text, want) != NULL, "%s", status_text);
}

Test(delivery, hello_again_after_the_aggregator_restarts_and_nothing_is_lost)
{
    peer_start(&peer);
    start_collector();
    for (int i = 0; i < 5; i++)
        cr_assert_eq(submit("rd_centers_municipal", "1"), 0);
    cr_assert(WAIT_FOR(peer_rows() == 5, 10000));
    peer_stop(&peer);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(submit("rd_centers_municipal", "2"), 0);
    cr_assert(WAIT_FOR(ts_file_contains(log_path, "lost the connection to the aggregator"), 10000));
    peer_start(&peer);
    cr_assert(WAIT_FOR(peer_rows() == 10, 15000), "stored %zu", peer_rows());
    assert_exactly_once(10, 1);
    cr_assert_geq(peer_get(&peer.hellos), 2, "a hello on each connection");
}

Test(delivery, aggregator_down_and_collector_killed_then_all_arrive_once)
{
    char want[256];
    start_collector();
    drop_rows("a.csv", 300, 1);
    cr_assert(WAIT_FOR(ts_exists("%s/done/a.csv", spool_dir), 10000));
    for (int i = 0; i < 3; i++)
        cr_assert_eq(submit("rd_centers_municipal", "5"), 0);
    ts_kill9(collector);
    collector = -1;
    drop_rows("b.csv", 200, 1000);
    start_collector();
    cr_assert(WAIT_FOR(ts_exists("%s/done/b.csv", spool_dir), 10000));
    snprintf(want, sizeof(want), ", NOT connected to the aggregator (trying %s)\n", endpoint);
    cr_assert(WAIT_FOR(status_has(want), 5000), "%s", status_text);
    peer_start(&peer);
    cr_assert(WAIT_FOR(peer_rows() == 503, 15000), "stored %zu", peer_rows());
    assert_exactly_once(503, 1);
}

Test(delivery, lost_ack_is_resent_after_the_timeout_and_stored_once)
{
    peer.swallow_remaining = 1;
    peer_start(&peer);
    start_collector();
    cr_assert_eq(submit("rd_centers_municipal", "1"), 0);
    cr_assert(WAIT_FOR(ts_file_contains(log_path, "no ack for seqs 1 to 1 after 0.5 s"), 10000));
    cr_assert(WAIT_FOR(status_has("pending:     0"), 10000), "%s", status_text);
    assert_exactly_once(1, 1);
    cr_assert_geq(peer_get(&peer.hellos), 2, "resynchronised with a new hello");
}

Test(delivery, aggregator_ahead_after_a_lost_outbox_renumbers_and_logs_an_error)
{
    peer.last_seq = 500; /* the aggregator has 1..500 from an outbox that was lost */
    peer_start(&peer);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(submit("rd_centers_municipal", "9"), 0);
    start_collector();
    cr_assert(WAIT_FOR(peer_rows() == 3, 10000));
    assert_exactly_once(3, 501);
    cr_assert(
        ts_file_contains(log_path, "error sender: the aggregator already has seqs up to 500"));
    cr_assert(ts_file_contains(log_path, "another collector used its agent id or its state was "
                                         "restored. Renumbered 3 pending updates (never sent, "
                                         "from seq 1) to follow on at 501"));
    cr_assert_eq(submit("rd_centers_municipal", "1"), 0);
    cr_assert(WAIT_FOR(peer_rows() == 4, 10000));
    assert_exactly_once(4, 501);
}

Test(delivery, unavailable_backs_off_then_delivers)
{
    peer.refuse_remaining = 3;
    peer.refuse_code = "unavailable";
    peer_start(&peer);
    cr_assert_eq(submit("rd_centers_municipal", "1"), 0);
    start_collector();
    cr_assert(WAIT_FOR(peer_rows() == 1, 30000));
    assert_exactly_once(1, 1);
    cr_assert(ts_file_contains(log_path, "the aggregator refused us: unavailable: refused by the "
                                         "test peer. Its database is down; nothing to do here."));
    cr_assert(ts_file_contains(log_path, "the aggregator accepts us again"));
    cr_assert(WAIT_FOR(status_has("last error:  unavailable: refused by the test peer at "), 5000),
              "%s", status_text);
}

Test(delivery, unknown_agent_tells_the_operator_how_to_register_and_keeps_updates)
{
    peer.refuse_remaining = 1000000;
    peer.refuse_code = "unknown_agent";
    peer_start(&peer);
    cr_assert_eq(submit("rd_centers_municipal", "1"), 0);
    start_collector();
    cr_assert(WAIT_FOR(ts_file_contains(log_path, "Ask the bureau to register this agent: "
                                                  "citytally-aggregator agent add erqi-1 "
                                                  "--district erqi"),
                       10000));
    cr_assert(ts_file_contains(log_path, "1 updates stay queued here; trying again in "));
    cr_assert_eq(peer_rows(), 0);
    cr_assert(status_has("pending:     1 (seqs 1 to 1)"), "%s", status_text);
    /* Registered at last: delivery resumes by itself. */
    pthread_mutex_lock(&peer.mu);
    peer.refuse_remaining = 0;
    pthread_mutex_unlock(&peer.mu);
    cr_assert(WAIT_FOR(peer_rows() == 1, 70000));
}

Test(delivery, rejected_updates_are_listed_by_status_with_their_reason)
{
    peer_start(&peer);
    start_collector();
    ts_drop(spool_dir, "r.csv", "indicator,value\nrd_centers_municipal,1\nno_such_indicator,2\n",
            strlen("indicator,value\nrd_centers_municipal,1\nno_such_indicator,2\n"));
    cr_assert(WAIT_FOR(status_has("rejected:    1 kept"), 10000), "%s", status_text);
    cr_assert(strstr(status_text, "seq 2  no_such_indicator ") != NULL, "%s", status_text);
    cr_assert(strstr(status_text, "(r.csv line 3) at ") != NULL, "%s", status_text);
    cr_assert(strstr(status_text, "unknown_indicator: no indicator no_such_indicator in the "
                                  "catalog") != NULL,
              "%s", status_text);
    cr_assert(strstr(status_text, "pending:     0") != NULL, "%s", status_text);
}

Test(delivery, sigterm_stops_cleanly_keeping_every_unacknowledged_update)
{
    peer.ignore_batches = true;
    peer_start(&peer);
    start_collector();
    for (int i = 0; i < 4; i++)
        cr_assert_eq(submit("rd_centers_municipal", "1"), 0);
    cr_assert(WAIT_FOR(peer_get(&peer.batches) >= 1, 10000));
    cr_assert(WAIT_FOR(status_has("in flight:   1 batches, 4 updates"), 10000), "%s", status_text);
    cr_assert_eq(kill(collector, SIGTERM), 0);
    int st = ts_wait(collector, 10000);
    collector = -1;
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    cr_assert(ts_file_contains(log_path, "SIGTERM: stopping; unacknowledged updates stay in the "
                                         "outbox"));
    cr_assert(status_has("pending:     4 (seqs 1 to 4)"), "%s", status_text);
    cr_assert(strstr(status_text, "daemon:      not running") != NULL, "%s", status_text);
}

Test(delivery, sighup_rereads_the_config_file)
{
    char conf[160];
    snprintf(conf, sizeof(conf), "%s/collector.conf", root);
    FILE *f = fopen(conf, "w");
    fputs("[delivery]\nwindow = 2\n", f);
    fclose(f);
    peer_start(&peer);
    start_collector_with("-c", conf);
    cr_assert(WAIT_FOR(ts_file_contains(log_path, "ready: agent erqi-1"), 10000));
    f = fopen(conf, "w");
    fputs("[delivery]\nwindow = nonsense\n", f);
    fclose(f);
    cr_assert_eq(kill(collector, SIGHUP), 0);
    cr_assert(WAIT_FOR(ts_file_contains(log_path, "keeping the running one"), 10000));
    f = fopen(conf, "w");
    fputs("[delivery]\nwindow = 8\n", f);
    fclose(f);
    cr_assert_eq(kill(collector, SIGHUP), 0);
    cr_assert(WAIT_FOR(ts_file_contains(log_path, "SIGHUP: configuration reloaded"), 10000));
    cr_assert_eq(submit("rd_centers_municipal", "1"), 0);
    cr_assert(WAIT_FOR(peer_rows() == 1, 10000), "still delivering after the reload");
}

Test(delivery, catalog_from_welcome_lets_people_use_chinese_names)
{
    peer.send_catalog = true;
    peer_start(&peer);
    start_collector();
    cr_assert(WAIT_FOR(status_has("catalog:     2 indicators, received"), 10000), "%s",
              status_text);
    cr_assert_eq(submit("市级研发中心", "5"), 0);
    cr_assert_eq(submit("科技进步贡献率", "5"), 2, "a city-only indicator, refused for erqi");
    cr_assert(WAIT_FOR(peer_rows() == 1, 10000));
    pthread_mutex_lock(&peer.mu);
    cr_assert_str_eq(peer.rows[0].ind, "rd_centers_municipal");
    pthread_mutex_unlock(&peer.mu);
}
