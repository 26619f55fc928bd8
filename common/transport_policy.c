#include "transport_policy.h"
#include "curve_keys.h"
#include "endpoint.h"

#include <stdio.h>
#include <string.h>

/* What each end says; the flag names are the contract's (CONTRACT section 1). */
static const struct {
    const char *key_prefix; /* before a key file's own error */
    const char *no_curve;
    const char *verb; /* "--insecure refuses to VERB ENDPOINT" */
    const char *only; /* "plain text is allowed only ONLY 127.0.0.0/8 ..." */
} ends[] = {
    [CT_TRANSPORT_LISTEN] = {"--server-key: ",
                             "refusing to start without CURVE: give --server-key FILE (see "
                             "keygen), or --insecure to listen in plain text on a loopback "
                             "address",
                             "listen on", "on"},
    [CT_TRANSPORT_SEND] = {"",
                           "refusing to send without CURVE: give --key FILE and "
                           "--server-public-key KEY, or --insecure for plain text to a loopback "
                           "endpoint",
                           "send to", "to"},
};

/* Reads the keys the policy names; 0, or -1 with the reason in `err`. */
static int load_keys(const struct ct_transport_policy *p, char *err, size_t err_size)
{
    struct ct_curve_keypair keys;
    char server_key[CT_CURVE_KEY_LEN + 1], why[512];
    int rc;

    if (p->end == CT_TRANSPORT_SEND &&
        (p->secret_key_file[0] == '\0' || p->peer_public_key[0] == '\0')) {
        snprintf(err, err_size,
                 "CURVE needs both --key (this agent's secret key file) and "
                 "--server-public-key (the aggregator's key)");
        return -1;
    }
    rc = ct_curve_load_secret(p->secret_key_file, &keys, why, sizeof(why));
    memset(&keys, 0, sizeof(keys));
    if (rc == 0 && p->end == CT_TRANSPORT_SEND)
        rc = ct_curve_load_public(p->peer_public_key, server_key, why, sizeof(why));
    if (rc != 0) {
        snprintf(err, err_size, "%s%s", ends[p->end].key_prefix, why);
        return -1;
    }
    return 0;
}

int ct_transport_check(const struct ct_transport_policy *p, char *err, size_t err_size)
{
    bool curve = p->secret_key_file[0] != '\0' ||
                 (p->end == CT_TRANSPORT_SEND && p->peer_public_key[0] != '\0');

    if (curve)
        return load_keys(p, err, err_size);
    if (!p->insecure) {
        snprintf(err, err_size, "%s", ends[p->end].no_curve);
        return -1;
    }
    if (!ct_endpoint_is_loopback(p->endpoint)) {
        snprintf(err, err_size,
                 "--insecure refuses to %s %s: plain text is allowed only %s 127.0.0.0/8, ::1, "
                 "ipc:// or inproc://",
                 ends[p->end].verb, p->endpoint, ends[p->end].only);
        return -1;
    }
    return 0;
}
