/*
 * transport_policy.h - whether a daemon may use its collector link as configured.
 *
 * The link between collectors and the aggregator is CURVE-encrypted whenever keys are
 * given. Plain text is allowed only when asked for (--insecure) and only where no one else
 * can listen (endpoint.h). Keys are read here, so a bad key stops the start rather than
 * the first send. Both daemons check through this one function; each end has its own
 * flags and words, so the messages name exactly the flags the user gave.
 *
 * Nothing is kept: the key material read is wiped before returning, and every string of
 * the policy is borrowed for the call.
 */
#ifndef CT_TRANSPORT_POLICY_H
#define CT_TRANSPORT_POLICY_H

#include <stdbool.h>
#include <stddef.h>

enum ct_transport_end {
    CT_TRANSPORT_LISTEN, /* the aggregator: --listen, --server-key */
    CT_TRANSPORT_SEND,   /* a collector: --connect, --key, --server-public-key */
};

struct ct_transport_policy {
    enum ct_transport_end end;
    const char *endpoint;        /* what is listened on or sent to */
    const char *secret_key_file; /* this end's key pair; "" for none */
    const char *peer_public_key; /* SEND only: the aggregator's key; "" for none */
    bool insecure;               /* plain text was asked for */
};

/* Returns 0 when the daemon may start with `policy`; otherwise -1 with one line in `err`
 * (without the program's name) saying what to give instead. */
int ct_transport_check(const struct ct_transport_policy *policy, char *err, size_t err_size);

#endif
