#include "loadgen.h"
#include "wireclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MAX_WINDOW 64
#define UNAVAILABLE_BACKOFF_MS 200

struct inflight {
    uint64_t first, last;
    long long sent_us;
};

struct agent {
    struct wc_client *c;
    uint64_t acked, next;
    uint64_t offered; /* updates sent, resends included, for pacing */
    bool welcomed;
    long long hello_sent_ms, retry_at_ms;
    struct inflight window[MAX_WINDOW];
    size_t n_inflight;
};

struct loadgen {
    struct loadgen_config cfg;
    struct agent *agents;
    float *latencies_ms;
    size_t n_latencies, cap_latencies;
    struct ct_msg *scratch;
    int64_t *values;
    struct loadgen_result result;
};

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t loadgen_value(uint64_t seq)
{
    return (int64_t)(seq % 7) + 1;
}

int64_t loadgen_total(uint64_t n)
{
    /* Seqs 1..7 send 2,3,4,5,6,7,1: 28 a cycle, then (r + 3) r / 2 for the r left over. */
    int64_t r = (int64_t)(n % 7);
    return (int64_t)(n / 7) * 28 + r * (r + 3) / 2;
}

struct loadgen *loadgen_new(void *zmq_ctx, const struct loadgen_config *config)
{
    struct loadgen *lg = calloc(1, sizeof(*lg));

    if (lg == NULL)
        return NULL;
    lg->cfg = *config;
    if (lg->cfg.window > MAX_WINDOW)
        lg->cfg.window = MAX_WINDOW;
    lg->agents = calloc(config->agents, sizeof(*lg->agents));
    lg->values = calloc(config->batch, sizeof(*lg->values));
    if (lg->agents == NULL || lg->values == NULL)
        goto fail;
    for (size_t i = 0; i < config->agents; i++) {
        char name[CT_ID_MAX + 1];
        snprintf(name, sizeof(name), "%s%zu", config->agent_prefix, i);
        lg->agents[i].c =
            wc_new(zmq_ctx, config->endpoint, name, config->districts[i % config->n_districts],
                   config->server_public_key,
                   config->client_public_keys ? config->client_public_keys[i] : NULL,
                   config->client_secret_keys ? config->client_secret_keys[i] : NULL);
        if (lg->agents[i].c == NULL)
            goto fail;
        lg->agents[i].next = 1;
    }
    return lg;
fail:
    loadgen_free(lg);
    return NULL;
}

void loadgen_free(struct loadgen *lg)
{
    if (lg == NULL)
        return;
    for (size_t i = 0; lg->agents != NULL && i < lg->cfg.agents; i++)
        wc_free(lg->agents[i].c);
    free(lg->agents);
    free(lg->values);
    free(lg->latencies_ms);
    free(lg);
}

static void record_latency(struct loadgen *lg, float ms)
{
    if (lg->n_latencies == lg->cap_latencies) {
        size_t cap = lg->cap_latencies ? lg->cap_latencies * 2 : 4096;
        float *bigger = realloc(lg->latencies_ms, cap * sizeof(float));
        if (bigger == NULL)
            return;
        lg->latencies_ms = bigger;
        lg->cap_latencies = cap;
    }
    lg->latencies_ms[lg->n_latencies++] = ms;
}

static void send_hello(struct agent *a, long long now_ms)
{
    a->welcomed = false;
    a->n_inflight = 0;
    a->hello_sent_ms = now_ms;
    wc_send_hello(a->c, a->next);
}

static size_t send_batch(struct loadgen *lg, struct agent *a)
{
    uint64_t n = lg->cfg.updates_per_agent - a->next + 1;
    if (n > lg->cfg.batch)
        n = lg->cfg.batch;
    for (uint64_t i = 0; i < n; i++)
        lg->values[i] = lg->cfg.sets ? loadgen_total(a->next + i) : loadgen_value(a->next + i);
    if (wc_send_batch(a->c, a->next, (size_t)n, lg->cfg.indicator,
                      lg->cfg.sets ? CT_OP_SET : CT_OP_ADD, lg->values, lg->cfg.period,
                      lg->cfg.at_ms) != 0)
        return 0;
    a->window[a->n_inflight++] = (struct inflight){a->next, a->next + n - 1, now_us()};
    a->next += n;
    return (size_t)n;
}

static void on_acked(struct loadgen *lg, struct agent *a, uint64_t last_seq)
{
    long long t = now_us();
    size_t keep = 0;

    if (last_seq > a->acked) {
        lg->result.acked += last_seq - a->acked;
        a->acked = last_seq;
    }
    for (size_t i = 0; i < a->n_inflight; i++) {
        if (a->window[i].last <= a->acked)
            record_latency(lg, (float)(t - a->window[i].sent_us) / 1000.0f);
        else
            a->window[keep++] = a->window[i];
    }
    a->n_inflight = keep;
    if (a->next <= a->acked)
        a->next = a->acked + 1;
}

static void handle_reply(struct loadgen *lg, struct agent *a, long long now_ms)
{
    const struct ct_msg *r = a->c->reply;

    switch (r->type) {
    case CT_MSG_WELCOME:
        a->welcomed = true;
        a->n_inflight = 0;
        on_acked(lg, a, r->welcome.last_seq);
        a->next = a->acked + 1;
        break;
    case CT_MSG_ACK:
        on_acked(lg, a, r->ack.last_seq);
        break;
    case CT_MSG_ERROR:
        lg->result.errors++;
        on_acked(lg, a, r->error.last_seq);
        if (r->error.error == CT_WERR_UNAVAILABLE) {
            lg->result.unavailable++;
            a->retry_at_ms = now_ms + UNAVAILABLE_BACKOFF_MS;
        }
        if (a->n_inflight > 0)
            lg->result.resends += a->n_inflight;
        a->n_inflight = 0;
        a->next = a->acked + 1;
        break;
    default:
        break;
    }
}

static int compare_float(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

static void summarize(struct loadgen *lg, long long started_us, long long last_ack_us)
{
    struct loadgen_result *r = &lg->result;

    r->seconds = (double)(last_ack_us - started_us) / 1e6;
    r->updates_per_s = r->seconds > 0 ? (double)r->acked / r->seconds : 0;
    if (lg->n_latencies > 0) {
        qsort(lg->latencies_ms, lg->n_latencies, sizeof(float), compare_float);
        r->latency_p50_ms = lg->latencies_ms[lg->n_latencies / 2];
        r->latency_p99_ms = lg->latencies_ms[(size_t)((double)lg->n_latencies * 0.99)];
        r->latency_max_ms = lg->latencies_ms[lg->n_latencies - 1];
    }
}

/* With a rate, every agent offers its own share of it, its batches evenly spaced and its
 * schedule shifted by i/K of a batch interval, like K independent collectors. (A shared
 * budget would go to whichever agent is polled first: two or three agents would carry
 * all the load, their batches queued behind each other.) An agent that fell behind, its
 * window full, catches up at once, as a collector with a backlog does. */
static bool paced(const struct loadgen *lg, size_t i, double elapsed_s)
{
    double share = lg->cfg.rate / (double)lg->cfg.agents;
    double delay = (double)lg->cfg.batch * (double)i / (double)lg->cfg.agents; /* in updates */

    return lg->cfg.rate <= 0 || (double)lg->agents[i].offered < share * elapsed_s - delay;
}

int loadgen_run(struct loadgen *lg, long long deadline_ms,
                bool (*progress)(void *ctx, uint64_t acked), void *ctx,
                struct loadgen_result *result)
{
    const uint64_t goal = lg->cfg.updates_per_agent * lg->cfg.agents;
    zmq_pollitem_t *items = calloc(lg->cfg.agents, sizeof(*items));
    long long started_us = now_us(), last_ack_us = started_us, next_progress_ms = 0;
    int rc = -1;

    if (items == NULL)
        return -1;
    memset(&lg->result, 0, sizeof(lg->result));
    for (size_t i = 0; i < lg->cfg.agents; i++) {
        items[i] = (zmq_pollitem_t){lg->agents[i].c->socket, 0, ZMQ_POLLIN, 0};
        send_hello(&lg->agents[i], started_us / 1000);
    }
    while (lg->result.acked < goal) {
        long long now_ms = now_us() / 1000;
        double elapsed_s = (double)(now_us() - started_us) / 1e6;

        if (now_ms > deadline_ms)
            goto out;
        if (progress != NULL && now_ms >= next_progress_ms) {
            next_progress_ms = now_ms + 50;
            if (!progress(ctx, lg->result.acked))
                goto out;
        }
        for (size_t i = 0; i < lg->cfg.agents; i++) {
            struct agent *a = &lg->agents[i];
            if (a->acked == lg->cfg.updates_per_agent)
                continue;
            if (!a->welcomed) {
                if (now_ms - a->hello_sent_ms > lg->cfg.timeout_ms)
                    send_hello(a, now_ms);
                continue;
            }
            if (a->n_inflight > 0 && now_ms - a->window[0].sent_us / 1000 > lg->cfg.timeout_ms) {
                lg->result.resends += a->n_inflight;
                a->next = a->acked + 1;
                send_hello(a, now_ms);
                continue;
            }
            while (now_ms >= a->retry_at_ms && a->n_inflight < lg->cfg.window &&
                   a->next <= lg->cfg.updates_per_agent && paced(lg, i, elapsed_s)) {
                size_t sent = send_batch(lg, a);
                if (sent == 0)
                    break;
                a->offered += sent;
            }
        }
        if (zmq_poll(items, (int)lg->cfg.agents, lg->cfg.rate > 0 ? 1 : 10) < 0)
            goto out;
        for (size_t i = 0; i < lg->cfg.agents; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            while (wc_recv(lg->agents[i].c, 0) == 0) {
                handle_reply(lg, &lg->agents[i], now_us() / 1000);
                last_ack_us = now_us();
            }
        }
    }
    rc = 0;
out:
    summarize(lg, started_us, last_ack_us);
    *result = lg->result;
    free(items);
    return rc;
}

size_t loadgen_connect_all(struct loadgen *lg, long long deadline_ms)
{
    size_t welcomed = 0;

    for (size_t i = 0; i < lg->cfg.agents; i++)
        send_hello(&lg->agents[i], now_us() / 1000);
    while (welcomed < lg->cfg.agents && now_us() / 1000 < deadline_ms) {
        for (size_t i = 0; i < lg->cfg.agents; i++) {
            struct agent *a = &lg->agents[i];
            if (a->welcomed)
                continue;
            if (wc_recv(a->c, 0) == 0) {
                handle_reply(lg, a, now_us() / 1000);
                if (a->welcomed)
                    welcomed++;
            } else if (now_us() / 1000 - a->hello_sent_ms > lg->cfg.timeout_ms) {
                send_hello(a, now_us() / 1000);
            }
        }
        zmq_poll(NULL, 0, 5);
    }
    return welcomed;
}
