/*
 * auth.h - who may connect: the ZAP handler for CURVE on the ingest socket.
 *
 * With CURVE on, libzmq asks this handler (a REP socket at inproc://zeromq.zap.01, in the
 * daemon's context) about every new connection. It admits a client key only if an active
 * agent was registered with it (`agent add --key`), and names that agent as the
 * connection's User-Id. ingest.c then reads User-Id from every message, so the key, not
 * the `agent` field, decides who is speaking. The ingest socket enforces the ZAP domain
 * (ZMQ_ZAP_ENFORCE_DOMAIN), so if this handler were missing, connections would fail
 * rather than be let in.
 *
 * Revocation needs no restart: the directory is reloaded on NOTIFY, new handshakes are
 * refused, and messages on connections admitted earlier are refused by ingest.c (the
 * directory says revoked) and by the commit transaction (the row says revoked).
 *
 * The handler owns its REP socket. The directory is borrowed per call.
 */
#ifndef AGG_AUTH_H
#define AGG_AUTH_H

#include "directory.h"
#include "log.h"

#include <stddef.h>

#define AGG_ZAP_DOMAIN "citytally"

struct agg_auth;

struct agg_auth *agg_auth_new(void *zmq_ctx, const struct ct_log *log, char *err, size_t err_size);
void agg_auth_free(struct agg_auth *auth);

void *agg_auth_socket(const struct agg_auth *auth);

/* How a key the directory does not hold catches up (directory.h). */
void agg_auth_set_catch_up(struct agg_auth *auth, struct agg_directory_catch_up catch_up);

/* Answers every waiting ZAP request. */
void agg_auth_handle(struct agg_auth *auth, const struct agg_directory *dir);

#endif
