#include "ingest.h"
#include "auth.h"
#include "buf.h"
#include "curve_keys.h"
#include "db.h"
#include "due.h"
#include "feed.h"
#include "group.h"
#include "lanes.h"
#include "presence.h"
#include "session.h"
#include "text.h"
#include "timefmt.h"
#include "writer.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SUBJECT "ingest"

/* Socket settings, chosen rather than inherited. */
#define ROUTER_RCVHWM 64       /* messages queued per collector; a collector's window is ~4 */
#define ROUTER_SNDHWM 256      /* replies queued per collector before they are dropped */
#define HEARTBEAT_IVL_MS 10000 /* ZMTP PING, so dead peers are noticed */
#define HEARTBEAT_TIMEOUT_MS 30000
#define HANDSHAKE_IVL_MS 10000 /* a peer that does not finish the handshake is dropped */
#define LINGER_MS 1000         /* on shutdown, give the last acks time to leave */
/* libzmq drops, without a word, a peer whose frame is over MAXMSGSIZE; a little above the
 * protocol's 1 MiB, frames just over it still arrive, and get their `too_large` answer. */
#define ROUTER_MAXMSGSIZE (CT_WIRE_MAX_MESSAGE + 64 * 1024)
#define HELLO_QUERY_MS 3000 /* a hello's last_seq comes from the database within this */
/* How often the presence rows of connections that spoke are moved forward: the other
 * aggregators see a connection live for up to this much less than the timeout. */
#define PRESENCE_REFRESH_MS 1000
/* The connection watcher: a ZeroMQ socket monitor of the ROUTER, read on a thread. */
#define MONITOR_ENDPOINT "inproc://citytally-agg-router-monitor"
#define MAX_WATCHED 4096
#define WATCH_POLL_MS 200

/* libzmq 4.3 defines this only in its draft API: with it set, a CURVE socket whose ZAP
 * handler is missing refuses connections instead of admitting everyone. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

struct agg_ingest {
    void *zmq_ctx;
    void *router;
    struct agg_directory_catch_up catch_up;
    bool curve; /* connections are authenticated; User-Id names the agent */
    const struct ct_log *log;
    struct agg_batch incoming; /* the frame being decoded; joins a lane's group if accepted */
    struct agg_lanes *lanes;
    struct ct_wire_encoder *enc;
    struct ct_msg *reply;
    struct agg_presence *presence;
    int64_t presence_refreshed_mono_ms;
    struct ct_buf presence_params[3]; /* agg_presence_spoken's arrays */
    struct agg_ingest_stats stats;
    struct ct_ratelimit bad_frame_rl;
    struct ct_ratelimit refused_rl;
    struct ct_ratelimit send_rl;

    /* The connection watcher's thread; it owns the PAIR socket it reads the monitor on. */
    pthread_t watcher;
    bool watching;
    atomic_bool watch_stop;
    atomic_int connections;
};

static void answer_finished(void *ctx, struct agg_group *g, const struct agg_writer_done *done,
                            struct agg_directory *dir, struct agg_feed *feed);
static void refuse_group(void *ctx, struct agg_group *g, const char *why);

static int set_int(void *socket, int option, int value)
{
    return zmq_setsockopt(socket, option, &value, sizeof(value));
}

void agg_ingest_set_catch_up(struct agg_ingest *in, struct agg_directory_catch_up catch_up)
{
    in->catch_up = catch_up;
}

struct agg_ingest *agg_ingest_new(void *zmq_ctx, const struct agg_settings *settings,
                                  const struct ct_log *log, char *err, size_t err_size)
{
    struct agg_ingest *in = calloc(1, sizeof(*in));
    /* Groups come back here to be answered: acks and errors are the protocol's. */
    struct agg_lanes_answer answer = {
        .ctx = in, .finished = answer_finished, .refuse = refuse_group};
    int64_t max_message = ROUTER_MAXMSGSIZE;

    if (in == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    in->zmq_ctx = zmq_ctx;
    in->log = log;
    atomic_init(&in->watch_stop, false);
    atomic_init(&in->connections, 0);
    in->bad_frame_rl = (struct ct_ratelimit)CT_RATELIMIT_INIT(10000, 5);
    in->refused_rl = (struct ct_ratelimit)CT_RATELIMIT_INIT(10000, 10);
    in->send_rl = (struct ct_ratelimit)CT_RATELIMIT_INIT(10000, 5);
    in->incoming.msg = ct_msg_new();
    in->enc = ct_wire_encoder_new();
    in->reply = ct_msg_new();
    in->presence = agg_presence_new(HEARTBEAT_TIMEOUT_MS);
    if (in->incoming.msg == NULL || in->enc == NULL || in->reply == NULL || in->presence == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    in->lanes = agg_lanes_new(settings, log, answer, err, err_size);
    if (in->lanes == NULL)
        goto fail;
    in->router = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    if (in->router == NULL) {
        snprintf(err, err_size, "creating the ROUTER socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    /* ROUTER_MANDATORY makes a reply to a vanished collector an error we see, not a
     * silent drop; MAXMSGSIZE makes libzmq drop a peer that sends a frame far over 1 MiB
     * before any of it is buffered (ct_wire_decode refuses the ones just over it). */
    if (set_int(in->router, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        zmq_setsockopt(in->router, ZMQ_MAXMSGSIZE, &max_message, sizeof(max_message)) != 0 ||
        set_int(in->router, ZMQ_RCVHWM, ROUTER_RCVHWM) != 0 ||
        set_int(in->router, ZMQ_SNDHWM, ROUTER_SNDHWM) != 0 ||
        set_int(in->router, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS) != 0 ||
        set_int(in->router, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS) != 0 ||
        set_int(in->router, ZMQ_HANDSHAKE_IVL, HANDSHAKE_IVL_MS) != 0 ||
        set_int(in->router, ZMQ_LINGER, LINGER_MS) != 0) {
        snprintf(err, err_size, "configuring the ROUTER socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (settings->server_key[0] != '\0') {
        struct ct_curve_keypair keys;
        int rc;
        if (ct_curve_load_secret(settings->server_key, &keys, err, err_size) != 0)
            goto fail;
        rc = set_int(in->router, ZMQ_CURVE_SERVER, 1) != 0 ||
             zmq_setsockopt(in->router, ZMQ_CURVE_SECRETKEY, keys.secret_key, CT_CURVE_KEY_LEN) !=
                 0 ||
             zmq_setsockopt(in->router, ZMQ_ZAP_DOMAIN, AGG_ZAP_DOMAIN, strlen(AGG_ZAP_DOMAIN)) !=
                 0 ||
             set_int(in->router, ZMQ_ZAP_ENFORCE_DOMAIN, 1) != 0;
        memset(&keys, 0, sizeof(keys));
        if (rc) {
            snprintf(err, err_size, "configuring CURVE: %s", zmq_strerror(zmq_errno()));
            goto fail;
        }
        in->curve = true;
    }
    if (zmq_bind(in->router, settings->listen) != 0) {
        snprintf(err, err_size, "cannot listen on %s: %s", settings->listen,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    return in;
fail:
    agg_ingest_free(in);
    return NULL;
}

void agg_ingest_free(struct agg_ingest *in)
{
    if (in == NULL)
        return;
    if (in->watching) {
        /* Stopped first, while the router is open: an event sent to a monitor nobody
         * reads any more would stay allocated inside libzmq. */
        (void)zmq_socket_monitor(in->router, NULL, 0);
        atomic_store(&in->watch_stop, true);
        pthread_join(in->watcher, NULL);
    }
    if (in->router != NULL)
        zmq_close(in->router);
    agg_lanes_free(in->lanes);
    ct_msg_free(in->incoming.msg);
    ct_wire_encoder_free(in->enc);
    ct_msg_free(in->reply);
    agg_presence_free(in->presence);
    for (size_t i = 0; i < 3; i++)
        ct_buf_free(&in->presence_params[i]);
    free(in);
}

void *agg_ingest_socket(const struct agg_ingest *in)
{
    return in->router;
}

struct agg_lanes *agg_ingest_lanes(struct agg_ingest *in)
{
    return in->lanes;
}

const struct agg_ingest_stats *agg_ingest_stats(const struct agg_ingest *in)
{
    return &in->stats;
}

void agg_ingest_reconfigure(struct agg_ingest *in, const struct agg_settings *settings)
{
    agg_lanes_reconfigure(in->lanes, settings);
}

/* ---------------------------------------------------------------- replies */

static void send_reply(struct agg_ingest *in, const unsigned char *route, size_t route_len,
                       const struct ct_msg *msg)
{
    const void *bytes;
    size_t len;

    if (ct_wire_encode(in->enc, msg, &bytes, &len) != 0) {
        ct_log_limited(in->log, &in->send_rl, CT_LOG_ERROR, SUBJECT, "could not encode a %s reply",
                       ct_msg_type_name(msg->type));
        return;
    }
    if (zmq_send(in->router, route, route_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(in->router, bytes, len, ZMQ_DONTWAIT) < 0) {
        /* EHOSTUNREACH: the collector left; EAGAIN: it stopped reading. Either way it
         * will resend, and the resend is acked as a duplicate. */
        ct_log_limited(in->log, &in->send_rl, CT_LOG_DEBUG, SUBJECT, "%s reply not sent: %s",
                       ct_msg_type_name(msg->type), zmq_strerror(zmq_errno()));
    }
}

static void send_error(struct agg_ingest *in, const unsigned char *route, size_t route_len,
                       enum ct_wire_error error, uint64_t last_seq, const char *text)
{
    struct ct_msg *r = in->reply;

    r->type = CT_MSG_ERROR;
    r->error.error = error;
    ct_strlcpy(r->error.code, ct_wire_error_code(error), sizeof(r->error.code));
    ct_strlcpy(r->error.msg, text, sizeof(r->error.msg));
    r->error.last_seq = last_seq;
    in->stats.refused++;
    send_reply(in, route, route_len, r);
}

static void send_ack(struct agg_ingest *in, const struct agg_batch *b,
                     const struct agg_directory *dir)
{
    const struct ct_msg_batch *batch = &b->msg->batch;
    struct ct_msg *r = in->reply;
    size_t n = 0;

    r->type = CT_MSG_ACK;
    r->ack.last_seq = b->ack_seq;
    if (ct_msg_reserve(r, CT_MSG_ACK, batch->n_updates) != 0) {
        ct_log_error(in->log, SUBJECT, "out of memory building an ack for %s", batch->agent);
        return;
    }
    for (size_t i = 0; i < batch->n_updates; i++) {
        const struct ct_update *u = &batch->updates[i];
        if (u->fault == CT_REJECT_NONE)
            continue;
        r->ack.rejected[n].seq = u->seq;
        ct_strlcpy(r->ack.rejected[n].code, ct_reject_code(u->fault),
                   sizeof(r->ack.rejected[n].code));
        ct_strlcpy(r->ack.rejected[n].msg, u->fault_msg ? u->fault_msg : "",
                   sizeof(r->ack.rejected[n].msg));
        n++;
    }
    r->ack.n_rejected = n;
    r->ack.n_warnings = 0;
    if (b->n_warnings > 0 && ct_msg_reserve_warnings(r, b->n_warnings) == 0) {
        memcpy(r->ack.warnings, b->warnings, b->n_warnings * sizeof(*b->warnings));
        r->ack.n_warnings = b->n_warnings;
    }
    if (agg_due_fill(dir->due, dir, batch->district, ct_time_now_ms(), r) != 0)
        ct_log_limited(in->log, &in->send_rl, CT_LOG_ERROR, SUBJECT,
                       "out of memory listing what %s owes; ack sent without due", batch->agent);
    send_reply(in, b->route, b->route_len, r);
}

/* ---------------------------------------------------------------- receiving */

/* Checks that `agent` may speak for `district` per the directory. Returns CT_WERR_NONE or
 * the error to send, with its text in `why`. */
static enum ct_wire_error check_agent(const struct agg_directory *dir, const char *agent_id,
                                      const char *district, const struct agg_agent **agent,
                                      char *why, size_t why_size)
{
    *agent = agg_directory_agent(dir, agent_id);
    if (*agent == NULL || (*agent)->revoked) {
        snprintf(why, why_size, "agent %s is not registered%s", agent_id,
                 *agent != NULL ? " (it was removed)" : "; ask the bureau to run `agent add`");
        return CT_WERR_UNKNOWN_AGENT;
    }
    if (strcmp((*agent)->district, district) != 0) {
        snprintf(why, why_size, "agent %s reports for %s, not %s", agent_id, (*agent)->district,
                 district);
        return CT_WERR_WRONG_DISTRICT;
    }
    return CT_WERR_NONE;
}

/* The agent's last committed seq as the database has it now. Returns CT_WERR_NONE, or the
 * error to answer with (its text in `why`). */
static enum ct_wire_error committed_last_seq(struct agg_session *db, const char *agent_id,
                                             uint64_t *last_seq, char *why, size_t why_size)
{
    const char *params[1] = {agent_id};
    PGresult *res = agg_session_query(db, "reading the agent's last seq",
                                      "SELECT last_seq, revoked_at IS NOT NULL FROM agents"
                                      " WHERE agent_id = $1",
                                      1, params, PGRES_TUPLES_OK, HELLO_QUERY_MS, why, why_size);
    enum ct_wire_error error = CT_WERR_NONE;

    if (res == NULL)
        return CT_WERR_UNAVAILABLE;
    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 1)[0] == 't') {
        snprintf(why, why_size, "agent %s is not registered (it was removed)", agent_id);
        error = CT_WERR_UNKNOWN_AGENT;
    } else {
        *last_seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return error;
}

/* A hello with an instance, in one statement: claims the agent's presence row for it
 * (sql/010_agent_presence.sql) unless another instance is live on any aggregator, and reads
 * last_seq. The CTE's claim is not visible to the outer SELECT, which shows the row as it
 * was: the holder when refused. Returns CT_WERR_NONE, CT_WERR_AGENT_IN_USE with `holder` and
 * *idle_ms set, or the error to answer with (its text in `why`). */
static enum ct_wire_error claim_and_read_last_seq(struct agg_session *db, const char *agent_id,
                                                  const char *instance, uint64_t *last_seq,
                                                  char *holder, int64_t *idle_ms, char *why,
                                                  size_t why_size)
{
    char live_ms[24];
    const char *params[4] = {agent_id, instance, db->origin, live_ms};
    PGresult *res;
    enum ct_wire_error error = CT_WERR_NONE;

    snprintf(live_ms, sizeof(live_ms), "%d", HEARTBEAT_TIMEOUT_MS);
    res = agg_session_query(
        db, "claiming the agent and reading its last seq",
        "WITH claim AS ("
        " INSERT INTO agent_presence AS p (agent_id, instance, aggregator_id, seen_at)"
        " SELECT agent_id, $2, $3, now() FROM agents WHERE agent_id = $1 AND revoked_at IS NULL"
        " ON CONFLICT (agent_id) DO UPDATE SET instance = excluded.instance,"
        " aggregator_id = excluded.aggregator_id, seen_at = excluded.seen_at"
        " WHERE p.instance = excluded.instance"
        " OR p.seen_at <= now() - $4::bigint * interval '1 millisecond'"
        " RETURNING 1)"
        " SELECT a.last_seq, a.revoked_at IS NOT NULL, EXISTS (SELECT 1 FROM claim),"
        " coalesce(h.instance, ''),"
        " coalesce((extract(epoch FROM now() - h.seen_at) * 1000)::bigint, 0)"
        " FROM agents a LEFT JOIN agent_presence h ON h.agent_id = a.agent_id"
        " WHERE a.agent_id = $1",
        4, params, PGRES_TUPLES_OK, HELLO_QUERY_MS, why, why_size);

    if (res == NULL)
        return CT_WERR_UNAVAILABLE;
    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 1)[0] == 't') {
        snprintf(why, why_size, "agent %s is not registered (it was removed)", agent_id);
        error = CT_WERR_UNKNOWN_AGENT;
    } else if (PQgetvalue(res, 0, 2)[0] != 't') {
        /* Empty when the holder committed its claim after this statement's snapshot. */
        ct_strlcpy(holder, PQgetvalue(res, 0, 3)[0] ? PQgetvalue(res, 0, 3) : "unknown",
                   CT_ID_MAX + 1);
        *idle_ms = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        error = CT_WERR_AGENT_IN_USE;
    } else {
        *last_seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return error;
}

static void refuse_in_use(struct agg_ingest *in, const struct agg_batch *slot, const char *agent,
                          const char *district, const char *holder, const char *what)
{
    char why[CT_WIRE_MAX_TEXT];

    in->stats.agent_conflicts++;
    snprintf(why, sizeof(why),
             "agent %s (%s) is in use by another collector (instance %s) that spoke within "
             "the last %d s; this %s came from another instance or connection",
             agent, district, holder, HEARTBEAT_TIMEOUT_MS / 1000, what);
    ct_log_limited(in->log, &in->refused_rl, CT_LOG_WARN, SUBJECT, "%s refused: %s", what, why);
    send_error(in, slot->route, slot->route_len, CT_WERR_AGENT_IN_USE, 0, why);
}

static void handle_hello(struct agg_ingest *in, struct agg_batch *slot,
                         const struct agg_directory *dir, struct agg_session *db,
                         int64_t now_mono_ms)
{
    const struct ct_msg_hello *hello = &slot->msg->hello;
    const struct agg_agent *agent;
    char why[CT_WIRE_MAX_TEXT], holder[CT_ID_MAX + 1];
    enum ct_wire_error error;
    uint64_t last_seq = 0;
    int64_t idle_ms;

    if (!agg_session_up(db)) {
        send_error(in, slot->route, slot->route_len, CT_WERR_UNAVAILABLE, 0,
                   "the database is unavailable; retry later");
        return;
    }
    error = check_agent(dir, hello->agent, hello->district, &agent, why, sizeof(why));
    if (error == CT_WERR_UNKNOWN_AGENT && agent == NULL && in->catch_up.fn != NULL &&
        in->catch_up.fn(in->catch_up.ctx, hello->agent, NULL))
        error = check_agent(dir, hello->agent, hello->district, &agent, why, sizeof(why));
    if (error != CT_WERR_NONE) {
        ct_log_limited(in->log, &in->refused_rl, CT_LOG_WARN, SUBJECT, "hello refused: %s", why);
        send_error(in, slot->route, slot->route_len, error, 0, why);
        return;
    }
    /* This aggregator's own connections first, then every aggregator's, in the database. */
    if (!agg_presence_hello_check(in->presence, hello->agent, hello->instance, slot->route,
                                  slot->route_len, now_mono_ms, holder, &idle_ms)) {
        refuse_in_use(in, slot, hello->agent, hello->district, holder, "hello");
        return;
    }
    if (hello->instance[0] != '\0')
        error = claim_and_read_last_seq(db, hello->agent, hello->instance, &last_seq, holder,
                                        &idle_ms, why, sizeof(why));
    else
        error = committed_last_seq(db, hello->agent, &last_seq, why, sizeof(why));
    if (error == CT_WERR_AGENT_IN_USE) {
        refuse_in_use(in, slot, hello->agent, hello->district, holder, "hello");
        return;
    }
    if (error != CT_WERR_NONE) {
        ct_log_limited(in->log, &in->refused_rl, CT_LOG_WARN, SUBJECT, "hello refused: %s", why);
        send_error(in, slot->route, slot->route_len, error, 0,
                   error == CT_WERR_UNAVAILABLE ? "the database is unavailable; retry later" : why);
        return;
    }
    agg_presence_hello_take(in->presence, hello->agent, hello->instance, slot->route,
                            slot->route_len, now_mono_ms);
    if (agg_directory_catalog(dir, in->reply) != 0) {
        ct_log_error(in->log, SUBJECT, "out of memory building a welcome for %s", hello->agent);
        return;
    }
    in->reply->type = CT_MSG_WELCOME;
    in->reply->welcome.last_seq = last_seq;
    if (agg_due_fill(dir->due, dir, hello->district, ct_time_now_ms(), in->reply) != 0)
        ct_log_error(in->log, SUBJECT, "out of memory listing what %s owes; no due in its welcome",
                     hello->agent);
    ct_log_limited(in->log, &in->refused_rl, CT_LOG_INFO, SUBJECT,
                   "agent %s (%s) connected: next seq %" PRIu64 ", last committed %" PRIu64,
                   hello->agent, hello->district, hello->next_seq, last_seq);
    send_reply(in, slot->route, slot->route_len, in->reply);
}

/* Returns true when the batch joins the group. */
static bool accept_batch(struct agg_ingest *in, struct agg_batch *slot,
                         const struct agg_directory *dir, bool db_up, int64_t now_mono_ms)
{
    const struct ct_msg_batch *batch = &slot->msg->batch;
    const struct agg_agent *agent;
    char why[CT_WIRE_MAX_TEXT], holder[CT_ID_MAX + 1];
    enum ct_wire_error error;

    error = check_agent(dir, batch->agent, batch->district, &agent, why, sizeof(why));
    if (error != CT_WERR_NONE) {
        ct_log_limited(in->log, &in->refused_rl, CT_LOG_WARN, SUBJECT, "batch refused: %s", why);
        send_error(in, slot->route, slot->route_len, error,
                   error == CT_WERR_WRONG_DISTRICT ? agent->last_seq : 0, why);
        return false;
    }
    /* A batch from a connection other than the agent's live one would be numbered over
     * that one's updates, and its seqs taken for duplicates. */
    if (!agg_presence_batch(in->presence, batch->agent, slot->route, slot->route_len, now_mono_ms,
                            holder)) {
        refuse_in_use(in, slot, batch->agent, batch->district, holder, "batch");
        return false;
    }
    if (!db_up) {
        send_error(in, slot->route, slot->route_len, CT_WERR_UNAVAILABLE, agent->last_seq,
                   "the database is unavailable; retry later");
        return false;
    }
    return true;
}

/* With CURVE, the key decides who is speaking: the `agent` field must name the agent the
 * key was registered to (the User-Id our ZAP handler gave the connection). */
static bool speaks_for_itself(struct agg_ingest *in, struct agg_batch *slot, const char *user_id)
{
    const char *claimed = slot->msg->type == CT_MSG_HELLO   ? slot->msg->hello.agent
                          : slot->msg->type == CT_MSG_BATCH ? slot->msg->batch.agent
                                                            : NULL;
    char why[CT_WIRE_MAX_TEXT];

    if (claimed == NULL || strcmp(claimed, user_id) == 0)
        return true;
    snprintf(why, sizeof(why), "this connection's key belongs to agent %s, not %s", user_id,
             claimed);
    ct_log_limited(in->log, &in->refused_rl, CT_LOG_WARN, SUBJECT, "%s", why);
    send_error(in, slot->route, slot->route_len, CT_WERR_UNKNOWN_AGENT, 0, why);
    return false;
}

/* Receives the rest of a multi-frame message so the socket is ready for the next one. */
static size_t discard_more(void *socket)
{
    size_t extra = 0;
    int more = 1;
    size_t more_size = sizeof(more);

    while (zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &more_size) == 0 && more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, socket, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        zmq_msg_close(&part);
        extra++;
    }
    return extra;
}

void agg_ingest_receive(struct agg_ingest *in, const struct agg_directory *dir,
                        struct agg_session *db, int64_t now_mono_ms)
{
    struct agg_batch *slot = &in->incoming;

    while (!agg_lanes_full(in->lanes)) {
        char user_id[CT_ID_MAX + 1];
        struct ct_wire_fault fault;
        zmq_msg_t route, frame;
        int rc;

        zmq_msg_init(&route);
        if (zmq_msg_recv(&route, in->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&route);
            if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
                ct_log_limited(in->log, &in->bad_frame_rl, CT_LOG_ERROR, SUBJECT,
                               "receive failed: %s", zmq_strerror(zmq_errno()));
            return;
        }
        slot->route_len = zmq_msg_size(&route) < AGG_ROUTE_MAX ? zmq_msg_size(&route) : 0;
        memcpy(slot->route, zmq_msg_data(&route), slot->route_len);
        rc = zmq_msg_more(&route);
        zmq_msg_close(&route);
        if (!rc || slot->route_len == 0) {
            discard_more(in->router);
            continue;
        }

        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, in->router, 0) < 0) {
            zmq_msg_close(&frame);
            continue;
        }
        if (zmq_msg_more(&frame)) {
            size_t extra = discard_more(in->router);
            zmq_msg_close(&frame);
            ct_log_limited(in->log, &in->bad_frame_rl, CT_LOG_WARN, SUBJECT,
                           "malformed message: %zu frames instead of 1", extra + 1);
            send_error(in, slot->route, slot->route_len, CT_WERR_MALFORMED, 0,
                       "a message must be a single frame");
            continue;
        }
        rc = ct_wire_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), slot->msg, &fault);
        ct_strlcpy(user_id,
                   in->curve && zmq_msg_gets(&frame, "User-Id") != NULL
                       ? zmq_msg_gets(&frame, "User-Id")
                       : "",
                   sizeof(user_id));
        zmq_msg_close(&frame);
        if (rc != 0) {
            ct_log_limited(in->log, &in->bad_frame_rl, CT_LOG_WARN, SUBJECT, "%s message: %s",
                           ct_wire_error_code(fault.error), fault.msg);
            send_error(in, slot->route, slot->route_len, fault.error, 0, fault.msg);
            continue;
        }
        if (in->curve && !speaks_for_itself(in, slot, user_id))
            continue;
        switch (slot->msg->type) {
        case CT_MSG_HELLO:
            handle_hello(in, slot, dir, db, now_mono_ms);
            break;
        case CT_MSG_BATCH:
            if (accept_batch(in, slot, dir, agg_session_up(db), now_mono_ms))
                agg_lanes_add(in->lanes, dir, slot, now_mono_ms);
            break;
        default:
            send_error(in, slot->route, slot->route_len, CT_WERR_MALFORMED, 0,
                       "collectors send only hello and batch");
            break;
        }
    }
}

void agg_ingest_refresh_presence(struct agg_ingest *in, struct agg_session *db, int64_t now_mono_ms)
{
    struct ct_buf *p = in->presence_params;
    const char *params[3];
    char why[AGG_DB_ERR_MAX];
    PGresult *res;
    int n;

    if (now_mono_ms - in->presence_refreshed_mono_ms < PRESENCE_REFRESH_MS || !agg_session_up(db))
        return;
    in->presence_refreshed_mono_ms = now_mono_ms;
    n = agg_presence_spoken(in->presence, now_mono_ms, &p[0], &p[1], &p[2]);
    if (n <= 0) {
        if (n < 0)
            ct_log_limited(in->log, &in->send_rl, CT_LOG_ERROR, SUBJECT,
                           "out of memory listing live connections; presence not refreshed");
        return;
    }
    for (size_t i = 0; i < 3; i++)
        params[i] = p[i].data;
    /* Only the row of the same instance: another one may have taken over since. */
    res = agg_session_query(
        db, "refreshing the presence of live connections",
        "UPDATE agent_presence p"
        " SET seen_at = greatest(p.seen_at, now() - x.idle * interval '1 millisecond')"
        " FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(agent_id, instance, idle)"
        " WHERE p.agent_id = x.agent_id AND p.instance = x.instance",
        3, params, PGRES_COMMAND_OK, HELLO_QUERY_MS, why, sizeof(why));
    if (res == NULL)
        ct_log_limited(in->log, &in->send_rl, CT_LOG_WARN, SUBJECT, "%s", why);
    PQclear(res);
}

/* ---------------------------------------------------------------- answering groups */

/* The lanes' `refuse` (lanes.h). */
static void refuse_group(void *ctx, struct agg_group *g, const char *why)
{
    struct agg_ingest *in = ctx;

    for (size_t i = 0; i < g->n_batches; i++)
        send_error(in, g->batches[i].route, g->batches[i].route_len, CT_WERR_UNAVAILABLE, 0, why);
    agg_group_reset(g);
}

static void answer_committed(struct agg_ingest *in, struct agg_group *g,
                             const struct agg_writer_done *done, struct agg_directory *dir,
                             struct agg_feed *feed)
{
    const struct agg_store_result *result = &done->result;

    in->stats.updates_committed += result->accepted;
    in->stats.updates_rejected += result->rejected;
    in->stats.last_commit_ms = ct_time_now_ms();
    in->stats.last_commit_us = done->commit_us;
    in->stats.commit_us[in->stats.commits % AGG_INGEST_COMMIT_RING] = done->commit_us;
    in->stats.commits++;
    for (size_t k = 0; k < result->n_seqs; k++) {
        struct agg_agent *cached = agg_directory_agent(dir, result->seqs[k].agent);
        if (cached != NULL)
            cached->last_seq = result->seqs[k].last_seq;
    }
    /* What is due changes with this commit, before its acks say so. */
    for (size_t i = 0; i < g->n_batches; i++) {
        const struct ct_msg_batch *batch = &g->batches[i].msg->batch;
        long unit = agg_directory_unit_index(dir, batch->district);
        if (g->batches[i].outcome != AGG_BATCH_ACKED)
            continue;
        for (size_t k = g->batches[i].first_new; k < batch->n_updates; k++) {
            if (batch->updates[k].fault == CT_REJECT_NONE)
                agg_due_note(dir->due, dir, unit, &batch->updates[k]);
        }
    }
    for (size_t i = 0; i < g->n_batches; i++) {
        struct agg_batch *b = &g->batches[i];
        if (b->outcome == AGG_BATCH_ACKED) {
            in->stats.batches++;
            send_ack(in, b, dir);
        } else {
            ct_log_limited(in->log, &in->refused_rl, CT_LOG_WARN, SUBJECT,
                           "batch from %s refused: %s: %s", b->msg->batch.agent,
                           ct_wire_error_code(b->error), b->error_msg);
            send_error(in, b->route, b->route_len, b->error, b->error_seq, b->error_msg);
        }
    }
    for (size_t i = 0; i < result->n_periods; i++)
        agg_feed_mark(feed, dir, result->periods[i]);
    agg_group_reset(g);
}

/* For /healthz: a commit that did not happen, and why. */
static void note_failure(struct agg_ingest *in, const struct agg_writer_done *done)
{
    in->stats.last_failure_ms = ct_time_now_ms();
    snprintf(in->stats.last_failure, sizeof(in->stats.last_failure), "%s", done->err);
}

/* The lanes' `finished` (lanes.h): acks and errors for a committed group, `unavailable`
 * for every batch of one that was not. */
static void answer_finished(void *ctx, struct agg_group *g, const struct agg_writer_done *done,
                            struct agg_directory *dir, struct agg_feed *feed)
{
    struct agg_ingest *in = ctx;

    switch (done->outcome) {
    case AGG_WRITER_COMMITTED:
        answer_committed(in, g, done, dir, feed);
        break;
    case AGG_WRITER_UNAVAILABLE:
        note_failure(in, done);
        refuse_group(in, g, "the database is unavailable; retry later");
        break;
    case AGG_WRITER_FAILED:
        note_failure(in, done);
        ct_log_error(in->log, SUBJECT, "commit failed, batches refused as unavailable: %s",
                     done->err);
        refuse_group(in, g, "the database refused the commit; retry later");
        break;
    }
}

/* ---------------------------------------------------------------- the connection watcher */

/* Reads one monitor event: a frame of uint16 event + uint32 value (the fd for
 * ACCEPTED/DISCONNECTED), then the endpoint. Returns the event, or 0. */
static uint16_t read_event(void *pair, uint32_t *value)
{
    zmq_msg_t msg;
    uint16_t event = 0;
    bool first = true, more = true;

    while (more) {
        if (zmq_msg_init(&msg) != 0)
            return 0;
        if (zmq_msg_recv(&msg, pair, 0) < 0) {
            zmq_msg_close(&msg);
            return 0;
        }
        if (first && zmq_msg_size(&msg) == 6) {
            const uint8_t *d = zmq_msg_data(&msg);
            memcpy(&event, d, sizeof(event));
            memcpy(value, d + 2, sizeof(*value));
        }
        first = false;
        more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
    }
    return event;
}

static void *watch_main(void *arg)
{
    struct agg_ingest *in = arg;
    int *open_fds = calloc(MAX_WATCHED, sizeof(int)); /* fds of open connections */
    size_t n_open = 0;
    void *pair = zmq_socket(in->zmq_ctx, ZMQ_PAIR);
    int linger = 0;

    if (open_fds == NULL || pair == NULL ||
        zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_connect(pair, MONITOR_ENDPOINT) != 0) {
        ct_log_warn(in->log, SUBJECT, "cannot follow collector connections: %s",
                    zmq_strerror(zmq_errno()));
        goto out;
    }
    while (!atomic_load(&in->watch_stop)) {
        zmq_pollitem_t item = {pair, 0, ZMQ_POLLIN, 0};
        uint32_t fd = 0;
        uint16_t event;

        if (zmq_poll(&item, 1, WATCH_POLL_MS) <= 0)
            continue;
        event = read_event(pair, &fd);
        if (event == ZMQ_EVENT_ACCEPTED && n_open < MAX_WATCHED) {
            open_fds[n_open++] = (int)fd;
        } else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED) {
            for (size_t i = 0; i < n_open; i++) {
                if (open_fds[i] == (int)fd) {
                    open_fds[i] = open_fds[--n_open];
                    break;
                }
            }
        } else if (event == ZMQ_EVENT_MONITOR_STOPPED) {
            n_open = 0;
        }
        atomic_store(&in->connections, (int)n_open);
    }
out:
    if (pair != NULL)
        zmq_close(pair);
    free(open_fds);
    return NULL;
}

int agg_ingest_watch(struct agg_ingest *in, char *err, size_t err_size)
{
    if (in->watching)
        return 0;
    if (zmq_socket_monitor(in->router, MONITOR_ENDPOINT,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) != 0) {
        snprintf(err, err_size, "cannot monitor the collectors' socket: %s",
                 zmq_strerror(zmq_errno()));
        return -1;
    }
    if (pthread_create(&in->watcher, NULL, watch_main, in) != 0) {
        snprintf(err, err_size, "cannot start the connection watcher: %s", strerror(errno));
        (void)zmq_socket_monitor(in->router, NULL, 0);
        return -1;
    }
    in->watching = true;
    return 0;
}

int agg_ingest_connections(const struct agg_ingest *in)
{
    return atomic_load(&in->connections);
}
