#include "auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES 7 /* version, request id, domain, address, identity, mechanism, key */

struct agg_auth {
    void *rep;
    const struct ct_log *log;
    struct ct_ratelimit denied_rl;
    struct agg_directory_catch_up catch_up;
};

void agg_auth_set_catch_up(struct agg_auth *auth, struct agg_directory_catch_up catch_up)
{
    auth->catch_up = catch_up;
}

struct agg_auth *agg_auth_new(void *zmq_ctx, const struct ct_log *log, char *err, size_t err_size)
{
    struct agg_auth *auth = calloc(1, sizeof(*auth));
    int linger = 0;

    if (auth == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    auth->log = log;
    auth->denied_rl = (struct ct_ratelimit)CT_RATELIMIT_INIT(60000, 10);
    auth->rep = zmq_socket(zmq_ctx, ZMQ_REP);
    if (auth->rep == NULL || zmq_setsockopt(auth->rep, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_bind(auth->rep, ZAP_ENDPOINT) != 0) {
        snprintf(err, err_size, "starting the ZAP handler: %s", zmq_strerror(zmq_errno()));
        agg_auth_free(auth);
        return NULL;
    }
    return auth;
}

void agg_auth_free(struct agg_auth *auth)
{
    if (auth == NULL)
        return;
    if (auth->rep != NULL)
        zmq_close(auth->rep);
    free(auth);
}

void *agg_auth_socket(const struct agg_auth *auth)
{
    return auth->rep;
}

/* Receives one multi-frame ZAP request. Returns the number of frames read (all frames of
 * the request are consumed, even past `max`). */
static int receive_request(void *rep, zmq_msg_t *frames, int max)
{
    int n = 0, more = 1;

    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            break;
        }
        more = zmq_msg_more(&frame);
        if (n < max)
            frames[n] = frame;
        else
            zmq_msg_close(&frame);
        n++;
    }
    return n;
}

static bool frame_is(zmq_msg_t *frame, const char *text)
{
    return zmq_msg_size(frame) == strlen(text) &&
           memcmp(zmq_msg_data(frame), text, strlen(text)) == 0;
}

/* ZAP replies: version, request id, status code, status text, user id, metadata. */
static int reply(void *rep, zmq_msg_t *request_id, const char *status, const char *text,
                 const char *user_id)
{
    const char *version = "1.0";

    if (zmq_send(rep, version, strlen(version), ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, zmq_msg_data(request_id), zmq_msg_size(request_id), ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, status, strlen(status), ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(rep, user_id, strlen(user_id), ZMQ_SNDMORE) < 0 || zmq_send(rep, "", 0, 0) < 0)
        return -1;
    return 0;
}

void agg_auth_handle(struct agg_auth *auth, const struct agg_directory *dir)
{
    for (;;) {
        zmq_msg_t frames[ZAP_FRAMES];
        char public_key[41] = "";
        const struct agg_agent *agent = NULL;
        int n = receive_request(auth->rep, frames, ZAP_FRAMES);

        if (n == 0)
            return;
        if (n == ZAP_FRAMES && frame_is(&frames[0], "1.0") &&
            frame_is(&frames[2], AGG_ZAP_DOMAIN) && frame_is(&frames[5], "CURVE") &&
            zmq_msg_size(&frames[6]) == 32 &&
            zmq_z85_encode(public_key, zmq_msg_data(&frames[6]), 32) != NULL)
            agent = agg_directory_agent_by_key(dir, public_key);
        if (agent == NULL && public_key[0] != '\0' && auth->catch_up.fn != NULL &&
            auth->catch_up.fn(auth->catch_up.ctx, NULL, public_key))
            agent = agg_directory_agent_by_key(dir, public_key);

        if (n >= 2 && n <= ZAP_FRAMES) {
            if (agent != NULL) {
                if (reply(auth->rep, &frames[1], "200", "OK", agent->id) != 0)
                    ct_log_error(auth->log, "auth", "could not answer ZAP for %s: %s", agent->id,
                                 zmq_strerror(zmq_errno()));
            } else {
                char address[64] = "?";
                if (n >= 4) {
                    size_t len = zmq_msg_size(&frames[3]) < 63 ? zmq_msg_size(&frames[3]) : 63;
                    memcpy(address, zmq_msg_data(&frames[3]), len);
                    address[len] = '\0';
                }
                ct_log_limited(auth->log, &auth->denied_rl, CT_LOG_WARN, "auth",
                               "refused a connection from %s: key %s is not registered to an "
                               "active agent",
                               address, public_key[0] ? public_key : "(none)");
                if (reply(auth->rep, &frames[1], "400", "unknown key", "") != 0)
                    ct_log_error(auth->log, "auth", "could not answer ZAP: %s",
                                 zmq_strerror(zmq_errno()));
            }
        } else {
            /* Not a ZAP request we can answer; a REP socket must still reply. */
            if (zmq_send(auth->rep, "", 0, 0) < 0)
                ct_log_error(auth->log, "auth", "could not answer a malformed ZAP request: %s",
                             zmq_strerror(zmq_errno()));
        }
        for (int i = 0; i < n && i < ZAP_FRAMES; i++)
            zmq_msg_close(&frames[i]);
    }
}
