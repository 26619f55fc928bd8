/*
 * wireexpect.h - Criterion assertions on the aggregator's replies to a test client.
 *
 * Each waits up to WC_REPLY_MS for one reply on the client's socket and fails the test,
 * saying what came instead, unless it is the one expected. The reply stays in c->reply,
 * owned by the client, for further checks.
 */
#ifndef CT_WIREEXPECT_H
#define CT_WIREEXPECT_H

#include "wireclient.h"

#include <stddef.h>
#include <stdint.h>

#define WC_REPLY_MS 10000

/* Sends hello until welcomed: the daemon learns of an agent added a moment ago by NOTIFY,
 * so it may answer unknown_agent until then. The welcome must carry `last_seq`. */
void wc_expect_welcome(struct wc_client *c, uint64_t last_seq);

/* An ack up to `last_seq`, listing `n_rejected` rejected updates. */
void wc_expect_ack(struct wc_client *c, uint64_t last_seq, size_t n_rejected);

/* An error `error` with `last_seq` and a message. */
void wc_expect_error(struct wc_client *c, enum ct_wire_error error, uint64_t last_seq);

#endif
