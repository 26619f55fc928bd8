/*
 * loadgen.h - K collectors in one thread, speaking protocol v1 like the real collector.
 *
 * Each simulated agent sends updates 1..N (an `add` of a value derived from its seq, so
 * every total is known in advance) in batches, keeps a window of batches in flight, and
 * recovers like the collector does: resend from the acked seq on timeout, `unavailable`
 * or `seq_gap`, and a fresh hello after silence (the aggregator may have been restarted).
 * It measures acked updates/s and ack latency.
 *
 * Used by the fault tests (tests/integration) and the benchmark (tests/bench). A loadgen
 * owns its sockets and arrays; the ZeroMQ context is the caller's.
 */
#ifndef CT_LOADGEN_H
#define CT_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loadgen_config {
    const char *endpoint;
    size_t agents; /* agents named "<prefix><i>" for i in 0..agents-1 */
    const char *agent_prefix;
    const char *const *districts; /* agent i reports for districts[i % n_districts] */
    size_t n_districts;
    uint64_t updates_per_agent;
    size_t batch;          /* updates per batch, <= 1000 */
    size_t window;         /* batches in flight per agent */
    double rate;           /* total updates/s to offer; 0 = as fast as acks allow */
    int timeout_ms;        /* resend after this long without a reply */
    const char *indicator; /* a flow indicator every district may report */
    bool sets; /* each update a `set` of the running total loadgen_total(seq) instead of an
                  `add` of loadgen_value(seq): the figures end the same, and every set
                  passes the plausibility checks */
    int period;
    int64_t at_ms;
    /* CURVE, when server_public_key is not NULL: one key pair per agent (Z85). */
    const char *server_public_key;
    const char *const *client_public_keys;
    const char *const *client_secret_keys;
};

struct loadgen_result {
    uint64_t acked; /* updates acked in all */
    double seconds; /* from first send to last ack */
    double updates_per_s;
    double latency_p50_ms, latency_p99_ms, latency_max_ms;
    uint64_t resends; /* batches sent again */
    uint64_t errors;  /* error replies, by any code */
    uint64_t unavailable;
};

/* The value agent seq `seq` sends: 1..7, so sums stay exact and easy to predict. */
int64_t loadgen_value(uint64_t seq);

/* Sum of loadgen_value(1..n), in closed form. */
int64_t loadgen_total(uint64_t n);

struct loadgen;

struct loadgen *loadgen_new(void *zmq_ctx, const struct loadgen_config *config);
void loadgen_free(struct loadgen *lg);

/* Runs until every agent's updates are acked, or `deadline_ms` (monotonic) passes, or
 * `progress` returns false. `progress` (may be NULL) is called about every 50 ms with the
 * acked count, and lets a test inject faults mid-run. Returns 0 when all were acked. */
int loadgen_run(struct loadgen *lg, long long deadline_ms,
                bool (*progress)(void *ctx, uint64_t acked), void *ctx,
                struct loadgen_result *result);

/* Sends hello from every agent and waits until each got its welcome (or the deadline).
 * Returns the number welcomed; the connections stay open until loadgen_free(). */
size_t loadgen_connect_all(struct loadgen *lg, long long deadline_ms);

#endif
