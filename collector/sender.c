#include "sender.h"
#include "curve_keys.h"

#include "timefmt.h"
#include "wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUBJECT "sender"
#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS 60000
#define AGENT_IN_USE_CAP_MS 10000
/* With several endpoints, moving on is immediate; only after every one failed in turn is
 * there a pause, this long at most, so a failover takes seconds (CONTRACT section 7). */
#define ROUND_BACKOFF_CAP_MS 2000
#define HELLO_RETRY_MS 50     /* a hello that found no pipe yet (EAGAIN) is tried again */
#define MAX_READS_PER_RUN 256 /* so acks cannot starve the rest of the loop */
/* Room for the batch's own keys around its updates (agent, district, type...). */
#define BATCH_OVERHEAD 1024

enum phase {
    PHASE_DOWN,    /* no completed connection, or waiting to say hello on it */
    PHASE_HELLO,   /* hello sent; waiting for welcome */
    PHASE_READY,   /* welcomed: batches flow */
    PHASE_BACKOFF, /* refused; waiting until backoff_until before saying hello again */
};

struct flight {
    uint64_t first, last;
    size_t n;
    int64_t sent_mono;
};

struct col_sender {
    void *zmq_ctx; /* borrowed */
    void *dealer;
    void *monitor;
    unsigned monitor_serial; /* names each monitor's inproc endpoint apart */
    struct col_endpoints endpoints;
    size_t current;              /* index into endpoints: the one the DEALER is connected to */
    int64_t endpoint_since_mono; /* when the DEALER was connected to it */
    size_t failed_in_row;        /* moves since the last welcome */
    const struct col_settings *settings;
    struct col_outbox *ob;
    const struct ct_log *log;
    struct ct_wire_encoder *enc;
    struct ct_msg *in;  /* decoded frames, arrays reused */
    struct ct_msg *out; /* hello and batches being encoded */

    enum phase phase;
    int64_t hello_due_mono; /* when to (re)send hello in PHASE_DOWN/HELLO; 0: not planned */
    int64_t backoff_until;
    int backoff_attempt;
    uint64_t next_send;    /* seq of the next update to put in a batch */
    uint64_t sent_through; /* the outbox's record of what has been sent, as last read */
    bool maybe_more;       /* the outbox may hold updates from next_send on: worth a look */
    struct flight flights[COL_SENDER_MAX_WINDOW];
    size_t n_flights;
    uint64_t gap_synced_to;  /* the last seq_gap's last_seq we resynchronised to ... */
    int64_t gap_synced_mono; /* ... and when, to ignore the same error for older batches */

    unsigned short rng[3]; /* nrand48 state for jitter */
    struct ct_complaint unreachable;
    struct ct_complaint refused;
    struct ct_complaint outbox_trouble;
    struct ct_ratelimit reject_lines;
    struct ct_ratelimit move_lines;
    struct col_sender_counters c;

    int64_t window, batch_max, ack_timeout_ms, keep_ms;
};

/* With keys, the DEALER is a CURVE client: it proves its own key and accepts only the
 * aggregator's. The daemon has already refused plain text to anything but loopback. */
static int configure_curve(void *sock, const struct col_settings *settings, char *err,
                           size_t err_size)
{
    struct ct_curve_keypair keys;
    char server_key[CT_CURVE_KEY_LEN + 1];
    int rc = -1;

    if (settings->key[0] == '\0')
        return 0;
    if (ct_curve_load_secret(settings->key, &keys, err, err_size) != 0 ||
        ct_curve_load_public(settings->server_public_key, server_key, err, err_size) != 0)
        goto out;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, CT_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, keys.public_key, CT_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys.secret_key, CT_CURVE_KEY_LEN) != 0) {
        snprintf(err, err_size, "cannot set the CURVE keys on the DEALER socket: %s",
                 zmq_strerror(zmq_errno()));
        goto out;
    }
    rc = 0;
out:
    memset(&keys, 0, sizeof(keys));
    return rc;
}

/* Every option of the DEALER in one place, set before it connects, so that one function
 * says how the socket behaves on every (re)connection; the CURVE keys come last because
 * they depend on the settings (--key, --server-public-key). */
static int configure_dealer(void *sock, const struct col_settings *settings, char *err,
                            size_t err_size)
{
    /* Queue nothing for a connection that is not complete: what is unsent stays in the
     * outbox, which is where it belongs, rather than in a pipe that may die. */
    int immediate = 1;
    /* Nothing in the socket is precious (the outbox has it), so closing never waits. */
    int linger = 0;
    /* Reconnect quickly after a blip, backing off to 5 s while the aggregator is away. */
    int reconnect_ivl = 100, reconnect_max = 5000;
    /* ZMTP heartbeats notice a dead peer (a pulled cable sends no FIN) within ~30 s, so
     * the DEALER reconnects and says hello again. */
    int hb_ivl = 10000, hb_timeout = 30000, hb_ttl = 30000;
    /* The aggregator never sends more than 1 MiB in one message. */
    int64_t max_msg = CT_WIRE_MAX_MESSAGE + 4096;
    /* At most `window` batches are ever outstanding; these only bound a misbehaving peer. */
    int sndhwm = 1000, rcvhwm = 1000;
    struct {
        int option;
        const void *value;
        size_t size;
        const char *name;
    } opts[] = {
        {ZMQ_IMMEDIATE, &immediate, sizeof(int), "ZMQ_IMMEDIATE"},
        {ZMQ_LINGER, &linger, sizeof(int), "ZMQ_LINGER"},
        {ZMQ_RECONNECT_IVL, &reconnect_ivl, sizeof(int), "ZMQ_RECONNECT_IVL"},
        {ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof(int), "ZMQ_RECONNECT_IVL_MAX"},
        {ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof(int), "ZMQ_HEARTBEAT_IVL"},
        {ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(int), "ZMQ_HEARTBEAT_TIMEOUT"},
        {ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof(int), "ZMQ_HEARTBEAT_TTL"},
        {ZMQ_MAXMSGSIZE, &max_msg, sizeof(int64_t), "ZMQ_MAXMSGSIZE"},
        {ZMQ_SNDHWM, &sndhwm, sizeof(int), "ZMQ_SNDHWM"},
        {ZMQ_RCVHWM, &rcvhwm, sizeof(int), "ZMQ_RCVHWM"},
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (zmq_setsockopt(sock, opts[i].option, opts[i].value, opts[i].size) != 0) {
            snprintf(err, err_size, "cannot set %s on the DEALER socket: %s", opts[i].name,
                     zmq_strerror(zmq_errno()));
            return -1;
        }
    }
    return configure_curve(sock, settings, err, err_size);
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void col_sender_reconfigure(struct col_sender *s, const struct col_settings *settings)
{
    s->settings = settings;
    s->window = clamp(settings->window, 1, COL_SENDER_MAX_WINDOW);
    s->batch_max = clamp(settings->batch_max, 1, CT_WIRE_MAX_BATCH);
    s->ack_timeout_ms = clamp(settings->ack_timeout_ms, 100, 3600000);
    s->keep_ms = settings->rejected_keep_ms;
    col_outbox_set_keep_acked(s->ob, settings->keep_acked_ms);
}

static const char *current_endpoint(const struct col_sender *s)
{
    return s->endpoints.at[s->current];
}

static void close_dealer(void **dealer, void **monitor)
{
    if (*dealer != NULL) {
        (void)zmq_socket_monitor(*dealer, NULL, 0);
        zmq_close(*dealer);
    }
    if (*monitor != NULL)
        zmq_close(*monitor);
    *dealer = NULL;
    *monitor = NULL;
}

/* A DEALER connected (in the background) to `endpoint`, with a monitor of its own: a new
 * pair per endpoint, so nothing queued for, or reported about, the previous one can reach
 * us once we moved on. Returns 0 with both set, or -1 with one line in `err`. */
static int open_dealer(struct col_sender *s, const char *endpoint, void **dealer, void **monitor,
                       char *err, size_t err_size)
{
    char name[96];

    *dealer = zmq_socket(s->zmq_ctx, ZMQ_DEALER);
    *monitor = NULL;
    if (*dealer == NULL) {
        snprintf(err, err_size, "cannot create the DEALER socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (configure_dealer(*dealer, s->settings, err, err_size) != 0)
        goto fail;
    /* The monitor tells us about every completed handshake, which is when hello is due. */
    snprintf(name, sizeof(name), "inproc://col-sender-monitor-%p-%u", (void *)s,
             s->monitor_serial++);
    if (zmq_socket_monitor(*dealer, name,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
        snprintf(err, err_size, "cannot monitor the DEALER socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    *monitor = zmq_socket(s->zmq_ctx, ZMQ_PAIR);
    if (*monitor == NULL || zmq_connect(*monitor, name) != 0) {
        snprintf(err, err_size, "cannot connect the socket monitor: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zmq_connect(*dealer, endpoint) != 0) {
        snprintf(err, err_size, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    return 0;
fail:
    close_dealer(dealer, monitor);
    return -1;
}

struct col_sender *col_sender_new(void *zmq_ctx, const struct col_settings *settings,
                                  struct col_outbox *outbox, const struct ct_log *log, char *err,
                                  size_t err_size)
{
    struct col_sender *s = calloc(1, sizeof(*s));
    char why[256];
    int64_t seed;

    if (s == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s->zmq_ctx = zmq_ctx;
    s->ob = outbox;
    s->log = log;
    col_sender_reconfigure(s, settings);
    s->reject_lines = (struct ct_ratelimit)CT_RATELIMIT_INIT(10000, 20);
    s->move_lines = (struct ct_ratelimit)CT_RATELIMIT_INIT(60000, 10);
    seed = ct_time_mono_ms() ^ ((int64_t)getpid() << 16) ^ (int64_t)(uintptr_t)s;
    s->rng[0] = (unsigned short)seed;
    s->rng[1] = (unsigned short)(seed >> 16);
    s->rng[2] = (unsigned short)(seed >> 32);

    if (col_settings_endpoints(settings->connect, &s->endpoints, why, sizeof(why)) != 0) {
        snprintf(err, err_size, "--connect %s: %s", settings->connect, why);
        goto fail;
    }
    s->enc = ct_wire_encoder_new();
    s->in = ct_msg_new();
    s->out = ct_msg_new();
    if (s->enc == NULL || s->in == NULL || s->out == NULL ||
        ct_msg_reserve(s->out, CT_MSG_BATCH, CT_WIRE_MAX_BATCH) != 0) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    if (open_dealer(s, current_endpoint(s), &s->dealer, &s->monitor, err, err_size) != 0)
        goto fail;
    s->endpoint_since_mono = ct_time_mono_ms();
    s->phase = PHASE_DOWN;
    return s;
fail:
    col_sender_free(s);
    return NULL;
}

void col_sender_free(struct col_sender *s)
{
    if (s == NULL)
        return;
    close_dealer(&s->dealer, &s->monitor);
    ct_wire_encoder_free(s->enc);
    ct_msg_free(s->in);
    ct_msg_free(s->out);
    free(s);
}

void col_sender_pollitems(struct col_sender *s, zmq_pollitem_t *items)
{
    items[0] = (zmq_pollitem_t){s->dealer, 0, ZMQ_POLLIN, 0};
    items[1] = (zmq_pollitem_t){s->monitor, 0, ZMQ_POLLIN, 0};
}

void col_sender_counters(const struct col_sender *s, struct col_sender_counters *out)
{
    *out = s->c;
    out->in_flight_batches = (int64_t)s->n_flights;
    out->in_flight_updates = 0;
    for (size_t i = 0; i < s->n_flights; i++)
        out->in_flight_updates += (int64_t)s->flights[i].n;
    out->welcomed = s->phase == PHASE_READY;
    out->backoff_until = s->phase == PHASE_BACKOFF ? s->backoff_until : 0;
    ct_strlcpy(out->endpoint, current_endpoint(s), sizeof(out->endpoint));
}

/* ------------------------------------------------------------------ outbox trouble */

/* An outbox failure (disk full, say) stops delivery until it clears; it is logged once
 * when it starts and at growing intervals. */
static void outbox_failed(struct col_sender *s, const char *err)
{
    ct_complain(s->log, &s->outbox_trouble, CT_LOG_ERROR, SUBJECT, "%s", err);
}

static void outbox_ok(struct col_sender *s)
{
    ct_complaint_release(s->log, &s->outbox_trouble, SUBJECT, "the outbox can be written again");
}

static void record_error(struct col_sender *s, const char *text)
{
    char err[COL_OUTBOX_ERROR_MAX];
    if (col_outbox_set_error(s->ob, text, err, sizeof(err)) != 0)
        ct_log_debug(s->log, SUBJECT, "%s", err);
}

/* ------------------------------------------------------------------ sending */

static void forget_flights(struct col_sender *s)
{
    if (s->n_flights > 0)
        s->c.resends++;
    s->n_flights = 0;
}

static int send_frame(struct col_sender *s, const struct ct_msg *msg)
{
    const void *bytes;
    size_t len;

    if (ct_wire_encode(s->enc, msg, &bytes, &len) != 0) {
        ct_log_error(s->log, SUBJECT, "cannot encode a %s message (a bug: please report it)",
                     ct_msg_type_name(msg->type));
        return -1;
    }
    if (zmq_send(s->dealer, bytes, len, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
            ct_log_warn(s->log, SUBJECT, "cannot send a %s message: %s",
                        ct_msg_type_name(msg->type), zmq_strerror(zmq_errno()));
        return 1; /* not sent; try again later */
    }
    return 0;
}

static void send_hello(struct col_sender *s)
{
    struct col_outbox_stats st;
    char err[COL_OUTBOX_ERROR_MAX];
    int64_t now = ct_time_mono_ms();

    if (col_outbox_stats(s->ob, &st, err, sizeof(err)) != 0) {
        outbox_failed(s, err);
        s->hello_due_mono = now + s->ack_timeout_ms;
        return;
    }
    s->out->type = CT_MSG_HELLO;
    ct_strlcpy(s->out->hello.agent, s->settings->agent, sizeof(s->out->hello.agent));
    ct_strlcpy(s->out->hello.district, s->settings->district, sizeof(s->out->hello.district));
    s->out->hello.next_seq = st.next_seq;
    ct_strlcpy(s->out->hello.instance, st.instance, sizeof(s->out->hello.instance));
    s->sent_through = st.sent_through;
    forget_flights(s);
    switch (send_frame(s, s->out)) {
    case 0:
        s->phase = PHASE_HELLO;
        s->hello_due_mono = now + s->ack_timeout_ms; /* no welcome by then: say it again */
        ct_log_debug(s->log, SUBJECT, "hello sent (next_seq %llu)",
                     (unsigned long long)st.next_seq);
        break;
    case 1:
        s->phase = PHASE_DOWN;
        s->hello_due_mono = now + HELLO_RETRY_MS;
        break;
    default:
        s->phase = PHASE_DOWN;
        s->hello_due_mono = now + s->ack_timeout_ms;
        break;
    }
}

/* Sends batches while the window has room and the outbox has updates past next_send. */
static void fill_window(struct col_sender *s)
{
    char err[COL_OUTBOX_ERROR_MAX];

    while (s->phase == PHASE_READY && s->maybe_more && s->n_flights < (size_t)s->window) {
        struct ct_msg *m = s->out;
        size_t n = 0;
        if (col_outbox_fetch(s->ob, s->next_send, (size_t)s->batch_max,
                             CT_WIRE_MAX_MESSAGE - BATCH_OVERHEAD, m->batch.updates, &n, err,
                             sizeof(err)) != 0) {
            outbox_failed(s, err);
            return;
        }
        if (n == 0) {
            s->maybe_more = false; /* until the daemon sees the outbox change */
            return;
        }
        if (m->batch.updates[0].seq != s->next_send) {
            /* Only an outbox changed behind our back (renumbered by another process) does
             * this; a fresh hello finds out where things stand. */
            ct_log_warn(s->log, SUBJECT,
                        "expected seq %llu next in the outbox, found %llu; "
                        "resynchronising",
                        (unsigned long long)s->next_send,
                        (unsigned long long)m->batch.updates[0].seq);
            send_hello(s);
            return;
        }
        m->type = CT_MSG_BATCH;
        ct_strlcpy(m->batch.agent, s->settings->agent, sizeof(m->batch.agent));
        ct_strlcpy(m->batch.district, s->settings->district, sizeof(m->batch.district));
        m->batch.n_updates = n;
        /* On disk before it leaves: from now on these may be committed, so a later
         * welcome may drop them as ours (CONTRACT section 7). */
        if (m->batch.updates[n - 1].seq > s->sent_through) {
            if (col_outbox_mark_sent(s->ob, m->batch.updates[n - 1].seq, err, sizeof(err)) != 0) {
                outbox_failed(s, err);
                return;
            }
            s->sent_through = m->batch.updates[n - 1].seq;
        }
        if (send_frame(s, m) != 0)
            return;
        s->flights[s->n_flights++] = (struct flight){
            m->batch.updates[0].seq, m->batch.updates[n - 1].seq, n, ct_time_mono_ms()};
        s->next_send = m->batch.updates[n - 1].seq + 1;
        s->c.batches_sent++;
    }
}

/* Full jitter: a uniformly random wait in [0, min(cap, base * 2^attempt)], so that
 * seventeen collectors refused at once do not all come back at once. */
static int64_t backoff_delay(struct col_sender *s, int64_t cap_ms)
{
    int attempt = s->backoff_attempt < 20 ? s->backoff_attempt : 20;
    int64_t ceiling = (int64_t)BACKOFF_BASE_MS << attempt;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    s->backoff_attempt++;
    return (int64_t)((double)ceiling * ((double)nrand48(s->rng) / 2147483648.0));
}

/* ------------------------------------------------------------------ moving on */

/* With more than one endpoint, gives up the current connection and connects to the next
 * endpoint (round robin); the hello goes out when its handshake completes. In-flight
 * batches are forgotten: the next welcome's last_seq says what was committed, and the
 * rest is resent (the aggregator skips seqs it has). Moving is immediate, but once every
 * endpoint failed in turn since the last welcome there is a short pause first.
 * Returns false, having done nothing, with a single endpoint (or when no new socket can
 * be made): the caller then acts as it would with one aggregator. */
__attribute__((format(printf, 2, 3))) static bool move_on(struct col_sender *s,
                                                          const char *reason_fmt, ...)
{
    char reason[256], err[512], pause[64] = "";
    size_t next = (s->current + 1) % s->endpoints.n;
    void *dealer, *monitor;
    va_list ap;

    if (s->endpoints.n < 2)
        return false;
    va_start(ap, reason_fmt);
    vsnprintf(reason, sizeof(reason), reason_fmt, ap);
    va_end(ap);
    if (open_dealer(s, s->endpoints.at[next], &dealer, &monitor, err, sizeof(err)) != 0) {
        ct_log_error(s->log, SUBJECT, "cannot move on from %s (%s): %s", current_endpoint(s),
                     reason, err);
        return false;
    }
    close_dealer(&s->dealer, &s->monitor);
    s->dealer = dealer;
    s->monitor = monitor;
    forget_flights(s);
    s->c.connected = false;
    s->c.moves++;
    s->hello_due_mono = 0;
    s->endpoint_since_mono = ct_time_mono_ms();
    if (++s->failed_in_row % s->endpoints.n == 0) {
        int64_t delay = backoff_delay(s, ROUND_BACKOFF_CAP_MS);
        int64_t until = s->endpoint_since_mono + delay;
        if (s->phase != PHASE_BACKOFF || s->backoff_until < until)
            s->backoff_until = until;
        s->phase = PHASE_BACKOFF;
        snprintf(pause, sizeof(pause), " (every endpoint failed in turn: pausing %.1f s)",
                 (double)delay / 1000.0);
    } else if (s->phase != PHASE_BACKOFF) {
        s->phase = PHASE_DOWN; /* a refusal's backoff still runs; it is not the endpoint's */
    }
    ct_log_limited(s->log, &s->move_lines, CT_LOG_INFO, SUBJECT, "moving from %s to %s: %s%s",
                   s->endpoints.at[s->current], s->endpoints.at[next], reason, pause);
    s->current = next;
    return true;
}

/* ------------------------------------------------------------------ what arrives */

/* Refused: waits before the next hello, and tells the operator what to do (`advice_fmt`). */
__attribute__((format(printf, 4, 5))) static void back_off(struct col_sender *s,
                                                           enum ct_log_level level,
                                                           const struct ct_msg_error *e,
                                                           const char *advice_fmt, ...)
{
    struct col_outbox_stats st;
    char err[COL_OUTBOX_ERROR_MAX], advice[384];
    va_list ap;
    /* Another instance stops counting as live within the aggregator's heartbeat timeout,
     * so that wait need not grow to the full cap. */
    int64_t delay =
        backoff_delay(s, e->error == CT_WERR_AGENT_IN_USE ? AGENT_IN_USE_CAP_MS : BACKOFF_CAP_MS);
    long long pending = col_outbox_stats(s->ob, &st, err, sizeof(err)) == 0 ? st.pending : -1;

    va_start(ap, advice_fmt);
    vsnprintf(advice, sizeof(advice), advice_fmt, ap);
    va_end(ap);
    forget_flights(s);
    s->phase = PHASE_BACKOFF;
    s->backoff_until = ct_time_mono_ms() + delay;
    ct_complain(s->log, &s->refused, level, SUBJECT,
                "the aggregator refused us: %s: %s. %s %lld updates stay queued here; trying "
                "again in %.1f s",
                e->code, e->msg, advice, pending, (double)delay / 1000.0);
}

/* The aggregator's M is below what this collector saw acknowledged, and keep_acked has
 * already forgotten some of M+1..held: sending now could only fill seqs that stood for
 * other updates, so nothing is sent or renumbered, and a hello is tried again later (an
 * `agent skip` at the bureau, or a database brought back, resolves it). The bureau has to
 * act, so the wait stays short once it has. */
static void hold_behind(struct col_sender *s, uint64_t m, const struct col_sync_result *r)
{
    int64_t delay = backoff_delay(s, AGENT_IN_USE_CAP_MS);
    char text[COL_OUTBOX_ERROR_MAX + 256];

    forget_flights(s);
    s->phase = PHASE_BACKOFF;
    s->backoff_until = ct_time_mono_ms() + delay;
    snprintf(text, sizeof(text),
             "the aggregator's last seq %llu for agent %s is below %llu, which it had "
             "acknowledged to this collector (its database was restored from a backup?), and "
             "seqs %s (%lld in all) are no longer kept here (keep_acked): sending nothing "
             "until the bureau runs `citytally-aggregator agent skip %s --to %llu`",
             (unsigned long long)m, s->settings->agent, (unsigned long long)r->held_seq, r->missing,
             (long long)r->n_missing, s->settings->agent, (unsigned long long)r->missing_to);
    record_error(s, text);
    ct_complain(s->log, &s->refused, CT_LOG_ERROR, SUBJECT,
                "%s. Holding every pending update (none is renumbered or dropped); asking "
                "again in %.1f s",
                text, (double)delay / 1000.0);
}

/* Says what col_outbox_sync() did. Returns false when it held (behind, and not all of the
 * seqs to resend are kept). */
static bool report_sync(struct col_sender *s, uint64_t m, const struct col_sync_result *r)
{
    if (r->behind && !r->refill) {
        hold_behind(s, m, r);
        return false;
    }
    if (r->behind)
        ct_log_warn(s->log, SUBJECT,
                    "the aggregator's last seq %llu for agent %s is below %llu, which it had "
                    "acknowledged to this collector: its database was restored from a backup. "
                    "Resending seqs %llu to %llu from the acknowledged updates kept here, then "
                    "the pending ones (nothing is renumbered)",
                    (unsigned long long)m, s->settings->agent, (unsigned long long)r->held_seq,
                    (unsigned long long)(m + 1), (unsigned long long)r->held_seq);
    else if (r->renumbered > 0)
        ct_log_error(s->log, SUBJECT,
                     "the aggregator already has seqs up to %llu from agent %s that this "
                     "collector never sent: another collector used its agent id or its state "
                     "was restored. Renumbered %lld pending updates (never sent, from seq %llu) "
                     "to follow on at %llu",
                     (unsigned long long)m, s->settings->agent, (long long)r->renumbered,
                     (unsigned long long)r->renumbered_from, (unsigned long long)(m + 1));
    else if (r->committed > 0)
        ct_log_info(s->log, SUBJECT, "%lld updates were already committed (their ack was lost)",
                    (long long)r->committed);
    return true;
}

static void on_welcome(struct col_sender *s, const struct ct_msg_welcome *w)
{
    struct col_sync_result r;
    char err[COL_OUTBOX_ERROR_MAX];

    if (w->n_catalog > 0 &&
        col_outbox_set_catalog(s->ob, w->catalog, w->n_catalog, err, sizeof(err)) != 0)
        ct_log_warn(s->log, SUBJECT, "cannot cache the catalog: %s", err);
    if (col_outbox_sync(s->ob, w->last_seq, &r, err, sizeof(err)) != 0) {
        /* Without the sync our seqs may be wrong: send nothing until a later hello. */
        outbox_failed(s, err);
        s->phase = PHASE_DOWN;
        s->hello_due_mono = ct_time_mono_ms() + s->ack_timeout_ms;
        return;
    }
    outbox_ok(s);
    if (!report_sync(s, w->last_seq, &r))
        return;
    if (s->sent_through < w->last_seq)
        s->sent_through = w->last_seq; /* as the sync recorded */
    forget_flights(s);
    s->next_send = w->last_seq + 1;
    s->maybe_more = true;
    s->phase = PHASE_READY;
    s->backoff_attempt = 0;
    s->failed_in_row = 0;
    ct_complaint_release(s->log, &s->refused, SUBJECT, "the aggregator accepts us again");
    ct_log_info(s->log, SUBJECT, "welcomed by the aggregator at %s: last seq %llu, %lld pending",
                current_endpoint(s), (unsigned long long)w->last_seq,
                (long long)(r.next_seq - w->last_seq - 1));
}

static void on_ack(struct col_sender *s, const struct ct_msg_ack *a)
{
    char err[COL_OUTBOX_ERROR_MAX];
    size_t covered = 0, rejected = 0, k = 0;

    if (col_outbox_ack_warned(s->ob, a->last_seq, a->rejected, a->n_rejected, a->warnings,
                              a->n_warnings, s->keep_ms, err, sizeof(err)) != 0) {
        /* The aggregator has them; a later ack (seq <= S deletes all before it) or the next
         * welcome will remove them. Until then they may be sent again, harmlessly. */
        outbox_failed(s, err);
    } else {
        outbox_ok(s);
    }
    for (size_t i = 0; i < a->n_rejected; i++) {
        if (a->rejected[i].seq > a->last_seq)
            continue;
        rejected++;
        ct_log_limited(s->log, &s->reject_lines, CT_LOG_WARN, SUBJECT,
                       "the aggregator rejected seq %llu: %s: %s (see `status`)",
                       (unsigned long long)a->rejected[i].seq, a->rejected[i].code,
                       a->rejected[i].msg);
    }
    if (s->n_flights > 0 && s->flights[0].last <= a->last_seq)
        ct_log_debug(s->log, SUBJECT, "ack %llu, %.1f ms after its batch was sent",
                     (unsigned long long)a->last_seq,
                     (double)(ct_time_mono_ms() - s->flights[0].sent_mono));
    while (k < s->n_flights && s->flights[k].last <= a->last_seq)
        covered += s->flights[k++].n;
    if (k > 0) {
        memmove(s->flights, s->flights + k, (s->n_flights - k) * sizeof(s->flights[0]));
        s->n_flights -= k;
    }
    if (a->last_seq >= s->next_send) {
        forget_flights(s);
        s->next_send = a->last_seq + 1;
        s->maybe_more = true;
    }
    s->c.updates_acked += covered > rejected ? covered - rejected : 0;
    s->c.updates_rejected += rejected;
    s->c.last_ack_ms = ct_time_now_ms();
    s->backoff_attempt = 0;
}

static void on_seq_gap(struct col_sender *s, const struct ct_msg_error *e)
{
    struct col_sync_result r;
    char err[COL_OUTBOX_ERROR_MAX];
    int64_t now = ct_time_mono_ms();

    /* Batches sent before we resynchronised meet the same gap: their errors carry the same
     * last_seq and are answered already. */
    if (e->last_seq == s->gap_synced_to && now - s->gap_synced_mono < s->ack_timeout_ms)
        return;
    ct_log_warn(s->log, SUBJECT,
                "the aggregator expects seq %llu next (%s); resending from "
                "there",
                (unsigned long long)(e->last_seq + 1), e->msg);
    if (col_outbox_sync(s->ob, e->last_seq, &r, err, sizeof(err)) != 0) {
        outbox_failed(s, err);
        s->phase = PHASE_DOWN;
        s->hello_due_mono = now + s->ack_timeout_ms;
        return;
    }
    if (!report_sync(s, e->last_seq, &r))
        return;
    if (s->sent_through < e->last_seq)
        s->sent_through = e->last_seq;
    forget_flights(s);
    s->next_send = e->last_seq + 1;
    s->maybe_more = true;
    s->gap_synced_to = e->last_seq;
    s->gap_synced_mono = now;
}

static void on_error(struct col_sender *s, const struct ct_msg_error *e)
{
    char text[CT_WIRE_MAX_CODE + CT_WIRE_MAX_TEXT + 8];

    snprintf(text, sizeof(text), "%s: %s", e->code, e->msg);
    record_error(s, text);
    if (e->error == CT_WERR_SEQ_GAP) {
        if (s->phase == PHASE_READY)
            on_seq_gap(s, e);
        return;
    }
    if (s->phase == PHASE_BACKOFF)
        return; /* the answer to a batch sent before we backed off */
    switch (e->error) {
    case CT_WERR_UNAVAILABLE:
        /* Another aggregator of the installation may reach the database. */
        if (!move_on(s, "it answered unavailable: %s", e->msg))
            back_off(s, CT_LOG_WARN, e, "Its database is down; nothing to do here.");
        break;
    case CT_WERR_UNKNOWN_AGENT:
        back_off(s, CT_LOG_ERROR, e,
                 "Ask the bureau to register this agent: citytally-aggregator agent add %s "
                 "--district %s (and --key with this agent's public key when CURVE is on).",
                 s->settings->agent, s->settings->district);
        break;
    case CT_WERR_AGENT_IN_USE:
        back_off(s, CT_LOG_ERROR, e,
                 "Another collector (another state directory) is connected as agent %s right "
                 "now: two collectors must never share an agent id; stop one of them, or give "
                 "it its own id with `agent add`.",
                 s->settings->agent);
        break;
    case CT_WERR_WRONG_DISTRICT:
        back_off(s, CT_LOG_ERROR, e,
                 "Agent %s is registered for another district than %s: fix --district here, "
                 "or ask the bureau to check `citytally-aggregator agent list`.",
                 s->settings->agent, s->settings->district);
        break;
    default:
        back_off(s, CT_LOG_ERROR, e,
                 "This collector and the aggregator disagree about the protocol: check that "
                 "both run the same citytally version, and report this line.");
        break;
    }
}

/* What is due, for `status` and /metrics; stored only when it changed. */
static void keep_due(struct col_sender *s, const struct ct_due *due)
{
    char err[COL_OUTBOX_ERROR_MAX];

    if (due->has_due && col_outbox_set_due(s->ob, due, err, sizeof(err)) != 0)
        outbox_failed(s, err);
}

static void handle_frame(struct col_sender *s, const void *data, size_t len)
{
    struct ct_wire_fault fault;

    if (ct_wire_decode(data, len, s->in, &fault) != 0) {
        ct_log_error(s->log, SUBJECT, "undecodable message from the aggregator: %s", fault.msg);
        return;
    }
    switch (s->in->type) {
    case CT_MSG_WELCOME:
        on_welcome(s, &s->in->welcome);
        keep_due(s, &s->in->due);
        break;
    case CT_MSG_ACK:
        if (s->phase == PHASE_READY || s->phase == PHASE_HELLO)
            on_ack(s, &s->in->ack);
        keep_due(s, &s->in->due);
        break;
    case CT_MSG_ERROR:
        on_error(s, &s->in->error);
        break;
    default:
        ct_log_error(s->log, SUBJECT,
                     "the aggregator sent a %s message, which only collectors "
                     "send",
                     ct_msg_type_name(s->in->type));
        break;
    }
}

static void read_dealer(struct col_sender *s)
{
    for (int i = 0; i < MAX_READS_PER_RUN; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s->dealer, ZMQ_DONTWAIT) < 0) {
            if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
                ct_log_warn(s->log, SUBJECT, "receive failed: %s", zmq_strerror(zmq_errno()));
            zmq_msg_close(&msg);
            return;
        }
        if (zmq_msg_more(&msg)) {
            /* The protocol is one frame per message: drop the whole multi-part message. */
            while (zmq_msg_more(&msg)) {
                zmq_msg_close(&msg);
                zmq_msg_init(&msg);
                if (zmq_msg_recv(&msg, s->dealer, 0) < 0)
                    break;
            }
            ct_log_error(s->log, SUBJECT, "the aggregator sent a multi-part message; ignored");
        } else {
            handle_frame(s, zmq_msg_data(&msg), zmq_msg_size(&msg));
        }
        zmq_msg_close(&msg);
    }
}

static void read_monitor(struct col_sender *s)
{
    for (;;) {
        zmq_msg_t msg;
        uint16_t event = 0;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        if (zmq_msg_size(&msg) >= 6)
            memcpy(&event, zmq_msg_data(&msg), sizeof(event));
        while (zmq_msg_more(&msg)) { /* the second frame names the endpoint */
            zmq_msg_close(&msg);
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, s->monitor, 0) < 0)
                break;
        }
        zmq_msg_close(&msg);

        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            s->c.connected = true;
            ct_complaint_release(s->log, &s->unreachable, SUBJECT, "connected to %s",
                                 current_endpoint(s));
            forget_flights(s);
            if (s->phase != PHASE_BACKOFF)
                send_hello(s);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            /* A closed connection or a failed ZMTP heartbeat: another endpoint may answer. */
            if (move_on(s, "the connection was lost"))
                break;
            s->c.connected = false;
            forget_flights(s);
            if (s->phase != PHASE_BACKOFF)
                s->phase = PHASE_DOWN;
            s->hello_due_mono = 0;
            ct_complain(s->log, &s->unreachable, CT_LOG_WARN, SUBJECT,
                        "lost the connection to the aggregator at %s; updates stay queued and "
                        "are sent when it is back",
                        current_endpoint(s));
            break;
        case ZMQ_EVENT_CONNECT_RETRIED:
            /* Refused: move on, except while pausing after a full round of failures. */
            if (s->phase != PHASE_BACKOFF && move_on(s, "it refuses connections"))
                break;
            ct_complain(s->log, &s->unreachable, CT_LOG_WARN, SUBJECT,
                        "the aggregator at %s is unreachable; updates stay queued and are sent "
                        "when it is back",
                        current_endpoint(s));
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            ct_complain(s->log, &s->unreachable, CT_LOG_ERROR, SUBJECT,
                        "the handshake with %s failed%s", current_endpoint(s),
                        event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                            ? " (authentication: is this agent's key registered?)"
                            : "");
            break;
        default:
            break;
        }
    }
}

static void check_timers(struct col_sender *s)
{
    int64_t now = ct_time_mono_ms();

    switch (s->phase) {
    case PHASE_BACKOFF:
        if (now < s->backoff_until)
            return;
        s->phase = PHASE_DOWN;
        if (s->c.connected)
            send_hello(s);
        else
            s->endpoint_since_mono = now; /* its time to connect starts after the pause */
        return;
    case PHASE_DOWN:
    case PHASE_HELLO:
        if (!s->c.connected && s->endpoints.n > 1 &&
            now - s->endpoint_since_mono >= s->ack_timeout_ms) {
            (void)move_on(s, "no connection after %.1f s", (double)s->ack_timeout_ms / 1000.0);
            return;
        }
        if (s->c.connected && s->hello_due_mono != 0 && now >= s->hello_due_mono) {
            if (s->phase == PHASE_HELLO &&
                move_on(s, "no welcome after %.1f s", (double)s->ack_timeout_ms / 1000.0))
                return;
            if (s->phase == PHASE_HELLO)
                ct_log_warn(s->log, SUBJECT,
                            "no welcome from the aggregator after %.1f s; "
                            "saying hello again",
                            (double)s->ack_timeout_ms / 1000.0);
            send_hello(s);
        }
        return;
    case PHASE_READY:
        if (s->n_flights > 0 && now - s->flights[0].sent_mono >= s->ack_timeout_ms) {
            if (move_on(s, "no ack for seqs %llu to %llu after %.1f s",
                        (unsigned long long)s->flights[0].first,
                        (unsigned long long)s->flights[0].last, (double)s->ack_timeout_ms / 1000.0))
                return;
            ct_log_warn(s->log, SUBJECT,
                        "no ack for seqs %llu to %llu after %.1f s; resynchronising and "
                        "resending",
                        (unsigned long long)s->flights[0].first,
                        (unsigned long long)s->flights[0].last, (double)s->ack_timeout_ms / 1000.0);
            send_hello(s);
        }
        return;
    }
}

void col_sender_outbox_grew(struct col_sender *s)
{
    s->maybe_more = true;
}

int col_sender_run(struct col_sender *s)
{
    read_monitor(s);
    read_dealer(s);
    check_timers(s);
    fill_window(s);
    return 0;
}

int64_t col_sender_timeout_ms(const struct col_sender *s)
{
    int64_t now = ct_time_mono_ms(), due = -1;

    switch (s->phase) {
    case PHASE_BACKOFF:
        due = s->backoff_until;
        break;
    case PHASE_DOWN:
    case PHASE_HELLO:
        if (s->c.connected && s->hello_due_mono != 0)
            due = s->hello_due_mono;
        else if (!s->c.connected && s->endpoints.n > 1)
            due = s->endpoint_since_mono + s->ack_timeout_ms;
        break;
    case PHASE_READY:
        if (s->n_flights > 0)
            due = s->flights[0].sent_mono + s->ack_timeout_ms;
        break;
    }
    if (due < 0)
        return -1;
    return due > now ? due - now : 0;
}
