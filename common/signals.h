/*
 * signals.h - SIGTERM, SIGINT and SIGHUP as events on a descriptor, for a daemon's poll.
 *
 * ct_signals_init() blocks the three in the calling thread and opens a signalfd for them.
 * Call it before any thread exists (ZeroMQ's, libmicrohttpd's, a writer's): threads
 * inherit the mask, so only the signalfd ever sees these signals, there is no handler,
 * and no state is shared with one. Poll `fd` for input, then take every pending signal
 * with ct_signals_next().
 *
 * A `struct ct_signals` is the caller's; it owns the descriptor, which
 * ct_signals_release() closes. `{.fd = -1}` is a released value, so a cleanup path may
 * release it whether or not init ran.
 */
#ifndef CT_SIGNALS_H
#define CT_SIGNALS_H

#include <stddef.h>

struct ct_signals {
    int fd; /* the signalfd (non-blocking, close-on-exec), or -1 */
};

/* Returns 0, or -1 with one line in `err` (and `fd` -1). */
int ct_signals_init(struct ct_signals *signals, char *err, size_t err_size);

/* The number of the next pending signal, or 0 when none is pending. Never blocks. */
int ct_signals_next(struct ct_signals *signals);

/* Closes the descriptor; the signals stay blocked. */
void ct_signals_release(struct ct_signals *signals);

#endif
