/*
 * agents.h - the collectors allowed to send: `agent add`, `agent list`, `agent remove`.
 *
 * An agent is an id bound to one unit (district) and, with CURVE, to one public key. The
 * `agents` table owns them; the daemon reads it and reloads it when these commands
 * NOTIFY the `citytally_agents` channel (in the same transaction, so the notice arrives
 * only with the committed change). A removed agent keeps its row with revoked_at set, so
 * its history stays attributable and its id can never be reused.
 *
 * `agent skip` records seqs the bureau accepts as lost after a restore (agent_gaps, see
 * sql/009_agent_gaps.sql) and moves the agent's last_seq past them, which the next
 * `welcome` carries (CONTRACT section 7).
 */
#ifndef AGG_AGENTS_H
#define AGG_AGENTS_H

#include "buf.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_Z85_KEY_LEN 40
#define AGG_AGENTS_CHANNEL "citytally_agents"

/* True when `s` is exactly 40 characters of the Z85 alphabet (a CURVE public key). */
bool agg_z85_key_valid(const char *s);

/* Reads a public key given as 40 Z85 characters or as the path of a zcert public key file
 * (`public-key = "..."` in its `curve` section). Refuses a file that holds a secret key.
 * Writes the key (and a NUL) to `key`. Returns 0, or -1 with one line in `err`. */
int agg_agent_key_read(const char *arg, char key[AGG_Z85_KEY_LEN + 1], char *err, size_t err_size);

/* 0 when `agent_id` is a well-formed id (text.h); else -1 with one line in `err`. */
int agg_agent_id_check(const char *agent_id, char *err, size_t err_size);

/* Registers `agent_id` for `district` with `public_key` (NULL: none). Refuses an invalid
 * id, an unknown district, an id in use or removed before, and a key already registered,
 * each with its own message. Returns 0 or -1. */
int agg_agent_add(PGconn *conn, const char *agent_id, const char *district, const char *public_key,
                  char *err, size_t err_size);

/* Marks `agent_id` removed. Returns 0, or -1 for an unknown or already removed agent. */
int agg_agent_remove(PGconn *conn, const char *agent_id, char *err, size_t err_size);

/* Records that seqs last_seq + 1 .. `to_seq` of `agent_id` are lost (who: the OS user
 * running this, and the database user; when: now) and sets its last_seq to `to_seq`, in one
 * transaction. `*from_seq` gets last_seq + 1. Refuses an unknown or removed agent and a
 * `to_seq` at or below its last_seq, changing nothing. Returns 0 or -1. */
int agg_agent_skip(PGconn *conn, const char *agent_id, uint64_t to_seq, uint64_t *from_seq,
                   char *err, size_t err_size);

/* Appends a table of all agents, removed ones included, to `out`. Returns 0 or -1. */
int agg_agent_list(PGconn *conn, struct ct_buf *out, char *err, size_t err_size);

#endif
