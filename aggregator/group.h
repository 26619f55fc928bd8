/*
 * group.h - batches waiting to share the next database transaction (group commit).
 *
 * The commit path, in file order: socket -> protocol (ingest.c) -> groups (lanes.c,
 * group.c) -> writers (writer.c) -> store (store.c) -> libpq (db.c). This is the third
 * step, with lanes.h: a group is what a lane hands its writer, and what the store commits.
 *
 * Batches that arrive together are committed by one transaction, so one fsync serves them
 * all and throughput grows with load. A group is bounded twice: by AGG_GROUP_MAX_BATCHES
 * slots and by a number of updates (`max_updates`, a setting), so the memory it holds does
 * not grow with the number of messages. When it is full the daemon stops reading the
 * socket until it has committed, and ZeroMQ's high-water mark pushes back on senders.
 *
 * The group owns one decoded message per slot for its whole life; agg_group_add() trades
 * a slot's message for the freshly decoded one, so decoding reuses arrays instead of
 * allocating per frame. After a commit each slot carries its
 * outcome (the ack to send, or an error) until agg_group_reset().
 */
#ifndef AGG_GROUP_H
#define AGG_GROUP_H

#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_GROUP_MAX_BATCHES 64
#define AGG_ROUTE_MAX 256 /* bytes of a ZeroMQ routing id */

enum agg_batch_outcome {
    AGG_BATCH_PENDING = 0, /* not yet decided */
    AGG_BATCH_ACKED,       /* committed (or all duplicates): send ack with ack_seq */
    AGG_BATCH_REFUSED,     /* nothing stored: send error */
};

struct agg_batch {
    unsigned char route[AGG_ROUTE_MAX];
    size_t route_len;
    struct ct_msg *msg; /* owned by the group; msg->batch holds the updates */

    enum agg_batch_outcome outcome;
    size_t first_new;         /* updates before this index were already committed (duplicates) */
    uint64_t ack_seq;         /* for ACKED: the agent's last committed seq */
    enum ct_wire_error error; /* for REFUSED */
    char error_msg[CT_WIRE_MAX_TEXT + 1];
    uint64_t error_seq; /* for REFUSED: last_seq to put in the error */
    /* for ACKED: plausibility warnings of its updates (plausibility.h), for the ack; the
     * array belongs to the slot and is kept across uses */
    struct ct_warning *warnings;
    size_t n_warnings, cap_warnings;
};

struct agg_group {
    struct agg_batch batches[AGG_GROUP_MAX_BATCHES];
    size_t n_batches;
    size_t n_updates;
    size_t max_updates;
    int64_t opened_mono_ms; /* when the first batch joined */
    bool plausibility;      /* [ingest] plausibility: check its sets (plausibility.h) */
};

/* Allocates the slot messages. Returns NULL when out of memory. */
struct agg_group *agg_group_new(size_t max_updates);
void agg_group_free(struct agg_group *g);

bool agg_group_full(const struct agg_group *g);

/* Moves a decoded batch into the group, which must not be full: the slot's message and
 * `incoming`'s trade places, so nothing is copied but the route and every message's
 * arrays are reused by the next decode. */
void agg_group_add(struct agg_group *g, struct agg_batch *incoming, int64_t now_mono_ms);

/* Empties the group for the next transaction, keeping the slots' memory. */
void agg_group_reset(struct agg_group *g);

#endif
