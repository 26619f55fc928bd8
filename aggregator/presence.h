/*
 * presence.h - which instance of each agent is connected to this aggregator right now.
 *
 * CONTRACT section 7: a collector makes a random `instance` id with its outbox and sends it
 * in every `hello`. Two collectors that share an agent id (a copied state directory, a
 * second machine set up with the same id) would number their updates over each other, and
 * the aggregator would then skip the second one's as duplicates. So while an agent has a
 * live connection from one instance - one that spoke within the heartbeat timeout - a
 * hello from another instance, and a batch from any other connection, is refused with
 * `agent_in_use`.
 *
 * A hello without an instance (a collector older than section 7) claims nothing and is
 * never refused here. The table is this process's only; it owns its entries, each found by
 * agent id, and grows as agents connect (one entry per agent ever seen since start).
 */
#ifndef AGG_PRESENCE_H
#define AGG_PRESENCE_H

#include "group.h"
#include "text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg_presence;

struct agg_presence *agg_presence_new(int64_t live_ms);
void agg_presence_free(struct agg_presence *p);

/* A hello from `instance` ("" when the collector sent none) on `route`. Returns true when
 * it may go on (it is then the agent's live connection), false when another instance is
 * live: its id is copied to `holder` (CT_ID_MAX + 1 bytes) and how long ago it last spoke
 * to *idle_ms. Returns true, recording nothing, when out of memory. */
bool agg_presence_hello(struct agg_presence *p, const char *agent, const char *instance,
                        const unsigned char *route, size_t route_len, int64_t now_mono_ms,
                        char *holder, int64_t *idle_ms);

/* A batch on `route`. Returns true when it may go on (it comes from the agent's live
 * connection, or no instance holds the agent), and then counts as speaking. */
bool agg_presence_batch(struct agg_presence *p, const char *agent, const unsigned char *route,
                        size_t route_len, int64_t now_mono_ms, char *holder);

#endif
