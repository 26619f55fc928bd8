/*
 * session.h - the daemon's database connection and its up/down state.
 *
 * PostgreSQL restarts, networks drop. The session reconnects with exponential backoff
 * (capped by the db_retry_max setting), LISTENs for citytally_agents and citytally_commits on
 * every new connection if asked to (the main session; writers' sessions do not), and logs each
 * change of
 * state once: "database unreachable" when it starts (repeated at doubling intervals while it lasts)
 * and "database reachable again" when it ends, never once per message. Log lines name the server by
 * host and database only; the conninfo, which may hold a password, is never logged.
 *
 * Every connection carries this process's aggregator id (agg_session_origin) in the setting
 * citytally.origin, so what one aggregator writes can name it: the NOTIFY of a commit
 * (store.c), which every aggregator LISTENs for to publish progress after commits of the
 * others (CONTRACT section 7), and the presence of an agent's live connection (ingest.c).
 *
 * The session owns its PGconn. Callers borrow it through agg_session_conn() while up.
 */
#ifndef AGG_SESSION_H
#define AGG_SESSION_H

#include "log.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Channels: an agent was added or removed; a commit changed figures. A commit's payload is
 * "ORIGIN PERIOD,PERIOD,..." (the aggregator that committed, then the periods it touched). */
#define AGG_CHANNEL_AGENTS "citytally_agents"
#define AGG_CHANNEL_COMMITS "citytally_commits"

#define AGG_ORIGIN_MAX 96
#define AGG_NOTES_MAX_PERIODS 32

/* What the notifications read by one agg_session_take_notifications call said. */
struct agg_notes {
    bool agents;                        /* the agents changed: reload the directory */
    int periods[AGG_NOTES_MAX_PERIODS]; /* periods another aggregator's commits touched */
    size_t n_periods;
};

struct agg_session {
    char conninfo[1024];
    PGconn *conn; /* NULL or CONNECTION_OK */
    int64_t next_attempt_mono_ms;
    int64_t backoff_ms;
    int64_t backoff_max_ms;
    struct ct_complaint down;
    bool listen;                 /* LISTEN on both channels on each new connection */
    char origin[AGG_ORIGIN_MAX]; /* agg_session_origin(), set on each connection */
    const struct ct_log *log;    /* borrowed */
};

/* A caller-owned session starts down; agg_session_release closes its connection. */
void agg_session_init(struct agg_session *s, const char *conninfo, int64_t backoff_max_ms,
                      bool listen, const struct ct_log *log);
void agg_session_release(struct agg_session *s);

/* Connects if down and an attempt is due. Returns true when connected afterwards, and
 * sets *fresh when this call made a new connection (state must then be reloaded). */
bool agg_session_ensure(struct agg_session *s, int64_t now_mono_ms, bool *fresh);

/* Drops the connection after an error; the next attempt follows the backoff. */
void agg_session_lost(struct agg_session *s, const char *why, int64_t now_mono_ms);

bool agg_session_up(const struct agg_session *s);
PGconn *agg_session_conn(const struct agg_session *s);

/* The socket to poll for notifications, or -1. */
int agg_session_socket(const struct agg_session *s);

/* This process's aggregator id, "HOST/PID": no two aggregators running at once share it. It
 * names the aggregator in the database and in log lines; it is no secret. */
void agg_session_origin(char *buf, size_t size);

/* Reads pending input into `notes`. Commits that this process's own sessions made are left
 * out: their progress is published from their results (feed.h), not a second time. Returns
 * 0, or -1 if the connection broke (the session is then down). */
int agg_session_take_notifications(struct agg_session *s, int64_t now_mono_ms,
                                   struct agg_notes *notes);

/* Runs one statement as agg_db_query() does, but waits for the answer at most
 * `timeout_ms`: a database that stopped answering (a frozen or partitioned server) must
 * not hold the daemon's loop. On timeout the query is cancelled (agg_db_cancel_async) and
 * the session dropped, so the next attempt follows the backoff. Returns the result, which
 * the caller PQclears, or NULL with "<what>: ..." in `err`. */
PGresult *agg_session_query(struct agg_session *s, const char *what, const char *sql, int n_params,
                            const char *const *params, ExecStatusType expect, int64_t timeout_ms,
                            char *err, size_t err_size);

/* A watchdog for blocking libpq calls that code outside this module makes on a session
 * (the feed's query, the directory's load): armed around such a call, it cancels the
 * statement and cuts the connection if the call has not returned by the deadline, so a
 * frozen server cannot hold the daemon's loop, and its SIGTERM, for ever. The call then
 * fails as on a lost connection. The guard owns its thread; the session is borrowed and
 * must outlive it. */
struct agg_guard;

struct agg_guard *agg_guard_new(struct agg_session *s, char *err, size_t err_size);
void agg_guard_free(struct agg_guard *g);
void agg_guard_arm(struct agg_guard *g, int64_t timeout_ms);
/* Returns true when the guard fired (the call was cut short). */
bool agg_guard_disarm(struct agg_guard *g);

/* Milliseconds until the next reconnect attempt is due (0 when up or due now). */
int64_t agg_session_wait_ms(const struct agg_session *s, int64_t now_mono_ms);

#endif
