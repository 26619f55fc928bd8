/*
 * sender.h - delivery of the outbox to the aggregator over ZeroMQ (CONTRACT section 3).
 *
 * One DEALER socket connected to the aggregator's ROUTER, and a monitor on it, so that a
 * `hello` goes out on every completed (re)connection. `--connect` may list several
 * aggregators of one installation; the DEALER is connected to one of them at a time. After
 * `welcome` the sender reads pending updates from the outbox in order and keeps up to `window`
 * batches in flight (each at most `batch_max` updates and under 1 MiB). It never holds an update
 * the outbox does not: state here is only which seqs are in flight, and all of it can be thrown
 * away and rebuilt from the outbox plus the aggregator's last_seq at any time.
 *
 * - ack: the outbox deletes what it covers and keeps the rejected updates with reasons.
 * - no ack within ack_timeout, or a reconnection: in-flight batches are forgotten and a
 *   new `hello` resynchronises; resent seqs are skipped by the aggregator as duplicates.
 * - before a batch leaves, the outbox records that its seqs were sent (col_outbox_mark_sent).
 * - welcome / seq_gap: col_outbox_sync() to the aggregator's last_seq M: sent updates <= M
 *   leave as committed, never-sent ones <= M are renumbered after M (another collector used
 *   the agent id, or this state was restored). When M is below what this collector saw
 *   acknowledged (the bureau's database was restored), nothing is renumbered: it resends
 *   M+1.. from the acknowledged updates it kept (keep_acked), then the pending ones; or,
 *   when some of those are no longer kept, logs which, sends nothing, and says hello again
 *   later, until `agent skip` at the bureau moves M past them.
 * - hello carries the outbox's instance id; agent_in_use (another instance is live) backs
 *   off like the refusals below, keeping every update.
 * - several endpoints: no connection, no welcome or no ack within ack_timeout, a lost
 *   connection (closed, or its ZMTP heartbeat failed) or `unavailable` closes the DEALER
 *   and opens one to the next endpoint (round robin) at once, which says hello again; in
 *   flight batches are resent after its welcome. Only after every endpoint failed in turn
 *   is there a pause, of at most 2 s. One info line per move. With one endpoint none of
 *   this applies: it stays connected and retries as below.
 * - unavailable / unknown_agent / wrong_district (and protocol errors): exponential backoff
 *   with full jitter before the next hello, and one log line telling the operator what to
 *   do, repeated at growing intervals while the condition lasts.
 *
 * Owns: the DEALER and monitor sockets, the encoder and a decode buffer. Borrows: the
 * ZeroMQ context, the outbox, the log, and the settings (for the socket's security
 * options, see configure_dealer() in sender.c).
 */
#ifndef COL_SENDER_H
#define COL_SENDER_H

#include "col_settings.h"
#include "log.h"
#include "outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define COL_SENDER_MAX_WINDOW 64
#define COL_SENDER_POLLITEMS 2

/* What the sender reports for `status` and /metrics. */
struct col_sender_counters {
    bool connected; /* a completed ZeroMQ connection exists */
    bool welcomed;  /* ... and its `welcome` came: batches flow */
    int64_t in_flight_batches;
    int64_t in_flight_updates;
    int64_t last_ack_ms;    /* wall clock, 0 when none since start */
    uint64_t batches_sent;  /* including resends */
    uint64_t updates_acked; /* acknowledged as stored (not rejected) */
    uint64_t updates_rejected;
    uint64_t resends;                    /* times in-flight batches were given up and resent */
    int64_t backoff_until;               /* monotonic ms; 0 when not backing off */
    uint64_t moves;                      /* times it moved on to the next endpoint of --connect */
    char endpoint[COL_ENDPOINT_MAX + 1]; /* the endpoint it is connected (or connecting) to */
};

struct col_sender;

/* Creates the sockets and connects to the first endpoint of settings->connect (ZeroMQ
 * connects in the background). Returns NULL with one line in `err`. */
struct col_sender *col_sender_new(void *zmq_ctx, const struct col_settings *settings,
                                  struct col_outbox *outbox, const struct ct_log *log, char *err,
                                  size_t err_size);
void col_sender_free(struct col_sender *s);

/* Applies new window, batch_max, ack_timeout, rejected_keep and keep_acked (SIGHUP). `settings`
 * stays borrowed. */
void col_sender_reconfigure(struct col_sender *s, const struct col_settings *settings);

/* Fills `items` with the sockets to poll (COL_SENDER_POLLITEMS of them). */
void col_sender_pollitems(struct col_sender *s, zmq_pollitem_t *items);

/* Does all the work that is due: reads what arrived, handles timeouts and backoff, and
 * sends batches while the window has room. Call after every poll. Returns 0, or -1 when
 * the outbox failed in a way the daemon cannot go on from (logged). */
int col_sender_run(struct col_sender *s);

/* Tells the sender that updates may have been queued (by the spool, or by `submit` and
 * `import` in other processes): it reads the outbox only after this, a welcome or a
 * resync, never on every turn of the loop. */
void col_sender_outbox_grew(struct col_sender *s);

/* Milliseconds until the sender next needs col_sender_run() without socket activity. */
int64_t col_sender_timeout_ms(const struct col_sender *s);

void col_sender_counters(const struct col_sender *s, struct col_sender_counters *out);

#endif
