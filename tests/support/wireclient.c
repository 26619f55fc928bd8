#include "wireclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct wc_client *wc_new(void *zmq_ctx, const char *endpoint, const char *agent,
                         const char *district, const char *server_public_key,
                         const char *client_public_key, const char *client_secret_key)
{
    struct wc_client *c = calloc(1, sizeof(*c));
    int linger = 0;

    if (c == NULL)
        return NULL;
    snprintf(c->agent, sizeof(c->agent), "%s", agent);
    snprintf(c->district, sizeof(c->district), "%s", district);
    c->enc = ct_wire_encoder_new();
    c->out = ct_msg_new();
    c->reply = ct_msg_new();
    c->socket = zmq_socket(zmq_ctx, ZMQ_DEALER);
    if (c->enc == NULL || c->out == NULL || c->reply == NULL || c->socket == NULL)
        goto fail;
    if (zmq_setsockopt(c->socket, ZMQ_LINGER, &linger, sizeof(linger)) != 0)
        goto fail;
    if (server_public_key != NULL &&
        (zmq_setsockopt(c->socket, ZMQ_CURVE_SERVERKEY, server_public_key, 40) != 0 ||
         zmq_setsockopt(c->socket, ZMQ_CURVE_PUBLICKEY, client_public_key, 40) != 0 ||
         zmq_setsockopt(c->socket, ZMQ_CURVE_SECRETKEY, client_secret_key, 40) != 0))
        goto fail;
    if (zmq_connect(c->socket, endpoint) != 0)
        goto fail;
    return c;
fail:
    wc_free(c);
    return NULL;
}

void wc_free(struct wc_client *c)
{
    if (c == NULL)
        return;
    if (c->socket != NULL)
        zmq_close(c->socket);
    ct_wire_encoder_free(c->enc);
    ct_msg_free(c->out);
    ct_msg_free(c->reply);
    free(c);
}

int wc_send_raw(struct wc_client *c, const void *bytes, size_t len)
{
    return zmq_send(c->socket, bytes, len, 0) < 0 ? -1 : 0;
}

int wc_send_msg(struct wc_client *c)
{
    const void *bytes;
    size_t len;

    if (ct_wire_encode(c->enc, c->out, &bytes, &len) != 0)
        return -1;
    return wc_send_raw(c, bytes, len);
}

int wc_send_hello(struct wc_client *c, uint64_t next_seq)
{
    c->out->type = CT_MSG_HELLO;
    snprintf(c->out->hello.agent, sizeof(c->out->hello.agent), "%s", c->agent);
    snprintf(c->out->hello.district, sizeof(c->out->hello.district), "%s", c->district);
    c->out->hello.next_seq = next_seq;
    return wc_send_msg(c);
}

int wc_send_batch(struct wc_client *c, uint64_t first_seq, size_t n, const char *ind, enum ct_op op,
                  const int64_t *values, int64_t period, int64_t at_ms)
{
    struct ct_msg_batch *b = &c->out->batch;

    if (ct_msg_reserve(c->out, CT_MSG_BATCH, n) != 0)
        return -1;
    c->out->type = CT_MSG_BATCH;
    snprintf(b->agent, sizeof(b->agent), "%s", c->agent);
    snprintf(b->district, sizeof(b->district), "%s", c->district);
    b->n_updates = n;
    for (size_t i = 0; i < n; i++) {
        struct ct_update *u = &b->updates[i];
        memset(u, 0, sizeof(*u));
        u->seq = first_seq + i;
        snprintf(u->ind, sizeof(u->ind), "%s", ind);
        u->op = op;
        u->value.kind = CT_VALUE_INT;
        u->value.as.i = values[i];
        u->period = period;
        u->at_ms = at_ms;
    }
    return wc_send_msg(c);
}

int wc_recv(struct wc_client *c, int timeout_ms)
{
    zmq_pollitem_t item = {c->socket, 0, ZMQ_POLLIN, 0};
    struct ct_wire_fault fault;
    zmq_msg_t msg;
    int rc;

    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return -1;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, c->socket, 0) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    rc = ct_wire_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), c->reply, &fault);
    zmq_msg_close(&msg);
    return rc == 0 ? 0 : -2;
}
