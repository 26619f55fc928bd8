/*
 * wireclient.h - a small collector-side peer for tests and the load generator.
 *
 * It speaks protocol v1 over a real ZeroMQ DEALER socket, with no outbox and no retries:
 * a test decides what to send and checks exactly what comes back. It can also send raw
 * bytes, so tests can send what no well-behaved collector would.
 *
 * A wc_client owns its socket, encoder and reply message; wc_free() releases them. The
 * ZeroMQ context is the caller's.
 */
#ifndef CT_WIRECLIENT_H
#define CT_WIRECLIENT_H

#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wc_client {
    void *socket;
    struct ct_wire_encoder *enc;
    struct ct_msg *out;   /* what the client sends */
    struct ct_msg *reply; /* the last reply received */
    char agent[CT_ID_MAX + 1];
    char district[CT_ID_MAX + 1];
};

/* Connects a DEALER to `endpoint`. Returns NULL on error. When `server_public_key` is not
 * NULL, CURVE is used with the given client key pair (Z85 strings). */
struct wc_client *wc_new(void *zmq_ctx, const char *endpoint, const char *agent,
                         const char *district, const char *server_public_key,
                         const char *client_public_key, const char *client_secret_key);
void wc_free(struct wc_client *c);

int wc_send_hello(struct wc_client *c, uint64_t next_seq);

/* Sends updates seq first_seq .. first_seq+n-1 of indicator `ind`, op set or add, with the
 * given values, period and time. */
int wc_send_batch(struct wc_client *c, uint64_t first_seq, size_t n, const char *ind, enum ct_op op,
                  const int64_t *values, int64_t period, int64_t at_ms);

/* Sends c->out as it stands (the test filled it in). */
int wc_send_msg(struct wc_client *c);

int wc_send_raw(struct wc_client *c, const void *bytes, size_t len);

/* Waits up to `timeout_ms` for one reply and decodes it into c->reply. Returns 0, -1 on
 * timeout, -2 when the reply did not decode. */
int wc_recv(struct wc_client *c, int timeout_ms);

#endif
