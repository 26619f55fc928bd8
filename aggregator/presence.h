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
 * agent id, and grows as agents connect (one entry per agent ever seen since start). The
 * other aggregators' connections are in the database (sql/010_agent_presence.sql): a hello
 * passes agg_presence_hello_check here, then the database's claim (ingest.c), and only then
 * is recorded with agg_presence_hello_take, so a refused hello never displaces the holder.
 * agg_presence_spoken hands over, for that table, who spoke since it was last called.
 */
#ifndef AGG_PRESENCE_H
#define AGG_PRESENCE_H

#include "buf.h"
#include "group.h"
#include "text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg_presence;

struct agg_presence *agg_presence_new(int64_t live_ms);
void agg_presence_free(struct agg_presence *p);

/* A hello from `instance` ("" when the collector sent none) on `route`. Returns true when
 * it may go on, false when another instance is live: its id is copied to `holder`
 * (CT_ID_MAX + 1 bytes) and how long ago it last spoke to *idle_ms. Records nothing. */
bool agg_presence_hello_check(const struct agg_presence *p, const char *agent, const char *instance,
                              const unsigned char *route, size_t route_len, int64_t now_mono_ms,
                              char *holder, int64_t *idle_ms);

/* Records a hello that may go on: its connection is now the agent's live one. Records
 * nothing for a hello without an instance, or when out of memory. */
void agg_presence_hello_take(struct agg_presence *p, const char *agent, const char *instance,
                             const unsigned char *route, size_t route_len, int64_t now_mono_ms);

/* A batch on `route`. Returns true when it may go on (it comes from the agent's live
 * connection, or no instance holds the agent), and then counts as speaking. */
bool agg_presence_batch(struct agg_presence *p, const char *agent, const unsigned char *route,
                        size_t route_len, int64_t now_mono_ms, char *holder);

/* The holders that spoke through a batch since the last call, as three PostgreSQL array
 * literals: agent ids, their instances, and how many ms ago each spoke. Ids and instances
 * are [a-z0-9_-] (the decoder checks them), so nothing needs quoting. Returns how many (the
 * buffers are then filled), 0 when none, -1 when out of memory. */
int agg_presence_spoken(struct agg_presence *p, int64_t now_mono_ms, struct ct_buf *agents,
                        struct ct_buf *instances, struct ct_buf *idle_ms);

#endif
