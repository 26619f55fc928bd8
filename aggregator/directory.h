/*
 * directory.h - the daemon's in-memory copy of who may speak and what they may report.
 *
 * Loaded from PostgreSQL at start, after every reconnect, on SIGHUP and when `agent add` or
 * `agent remove` sends NOTIFY citytally_agents. It answers the hot-path questions without
 * a round trip: is this agent registered and active, which district is it bound to, which
 * public key is it, what is its last committed seq, is this indicator known, may a
 * district report it.
 *
 * The database stays the authority: the commit transaction re-reads each agent's row under
 * FOR UPDATE, so a revocation or a seq that moved is caught there even if this copy is
 * stale. `last_seq` here is advanced only after a COMMIT succeeded.
 *
 * A directory is caller-owned and starts zeroed, which is an empty directory. It owns its
 * arrays; agg_directory_release() frees them. Entries are sorted by id and found by binary
 * search; pointers to entries stay valid until the next load or release.
 */
#ifndef AGG_DIRECTORY_H
#define AGG_DIRECTORY_H

#include "text.h"
#include "wire.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_Z85_KEY_LEN 40

struct agg_agent {
    char id[CT_ID_MAX + 1];
    char district[CT_ID_MAX + 1];
    char public_key[AGG_Z85_KEY_LEN + 1]; /* "" when none was registered */
    bool revoked;
    uint64_t last_seq;
};

struct agg_indicator {
    char code[CT_ID_MAX + 1];
    char name_zh[CT_WIRE_MAX_NAME + 1];
    char reported_by[CT_ID_MAX + 1]; /* "district" or "city" */
};

struct agg_directory {
    struct agg_agent *agents; /* sorted by id */
    size_t n_agents;
    struct agg_indicator *indicators; /* sorted by code */
    size_t n_indicators;
    int *target_years; /* years that have targets, ascending */
    size_t n_target_years;
    char (*units)[CT_ID_MAX + 1]; /* reporting units (districts and "city"), sorted */
    size_t n_units;
    uint64_t generation; /* counts loads, so a copy can tell that it is out of date */
    struct agg_due *due; /* what each unit owes (due.h), loaded with the rest; owned */
};

struct agg_due;

/* A way to catch up with an agent the directory does not hold yet: `agent add` tells running
 * daemons with a NOTIFY that travels apart from the new collector's hello, which can arrive
 * first. `fn` (the daemon's) asks the database about the agent, by id or (agent_id NULL) by
 * public key, and reloads the directory when it is there; it returns true when it did, so
 * the caller looks again (entries it held before are stale then). It is rate-limited by its
 * owner; fn NULL means "never". */
struct agg_directory_catch_up {
    bool (*fn)(void *ctx, const char *agent_id, const char *public_key);
    void *ctx;
};

/* Reads agents, indicators and target years (and what is due, due.h). On success replaces `dir`'s
 * contents; on failure leaves them untouched and returns -1 with a reason in `err`. */
int agg_directory_load(struct agg_directory *dir, PGconn *conn, char *err, size_t err_size);

/* Frees what `dir` holds and leaves it zeroed: empty, and ready to load again. */
void agg_directory_release(struct agg_directory *dir);

/* Makes `to` a directory of `from`'s indicators only (and its generation): what a writer
 * checks updates against, in memory of its own. Returns 0, or -1 (out of memory) with
 * `to` unchanged. */
int agg_directory_copy_indicators(struct agg_directory *to, const struct agg_directory *from);

struct agg_agent *agg_directory_agent(const struct agg_directory *dir, const char *id);

/* The active agent registered with this Z85 public key, or NULL. */
const struct agg_agent *agg_directory_agent_by_key(const struct agg_directory *dir,
                                                   const char *public_key);

const struct agg_indicator *agg_directory_indicator(const struct agg_directory *dir,
                                                    const char *code);

/* The unit's position among all units in bytewise order, or -1 if there is no such unit.
 * Stable while the units are: the ingest uses it to give each district one writer. */
long agg_directory_unit_index(const struct agg_directory *dir, const char *id);

bool agg_directory_has_targets(const struct agg_directory *dir, int year);

/* Fills a welcome message's catalog from the indicators. Returns 0 or -1 (out of memory). */
int agg_directory_catalog(const struct agg_directory *dir, struct ct_msg *welcome);

#endif
