/*
 * col_settings.h - everything an operator can set for a district collector, and its defaults.
 *
 * One `struct col_settings` holds the result of defaults, then the -c file, then flags
 * (see common/cli.h). The table in col_settings.c is the single list of keys: it drives the
 * INI parser, the flags, --help and the example config. Plain values; nothing to free.
 */
#ifndef COL_SETTINGS_H
#define COL_SETTINGS_H

#include "config.h"
#include "log.h"
#include "text.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* `connect` is a comma-separated list of aggregators of one installation (CONTRACT
 * section 7): at most COL_CONNECT_MAX of them, each at most COL_ENDPOINT_MAX bytes. */
#define COL_CONNECT_MAX 8
#define COL_ENDPOINT_MAX 255

struct col_settings {
    char agent[CT_ID_MAX + 1];
    char district[CT_ID_MAX + 1];
    char connect[COL_CONNECT_MAX * (COL_ENDPOINT_MAX + 2)]; /* endpoints, comma-separated */
    char state_dir[PATH_MAX];
    char spool[PATH_MAX];             /* "" when there is no drop folder */
    char server_public_key[PATH_MAX]; /* Z85 text or a zcert .pub file */
    char key[PATH_MAX];               /* this agent's CURVE secret key file */
    bool insecure;
    char http[128]; /* ADDR:PORT or "off" */
    enum ct_log_level log_level;
    int64_t outbox_max;       /* pending updates before submits are refused */
    int64_t batch_max;        /* updates per batch, <= 1000 */
    int64_t window;           /* batches in flight */
    int64_t ack_timeout_ms;   /* resend when no ack comes */
    int64_t rescan_ms;        /* drop-folder rescan, the fallback to inotify */
    int64_t settle_ms;        /* a file not renamed in must stay unchanged this long */
    int64_t stale_after_ms;   /* /healthz turns 503 when the oldest pending is older */
    int64_t rejected_keep_ms; /* how long rejected updates stay visible in status */
    int64_t keep_acked_ms;    /* how long acknowledged updates stay, to refill a restore */
};

extern const struct ct_config_option col_settings_table[];
extern const size_t col_settings_count;

void col_settings_defaults(struct col_settings *s);

/* The `connect` list split up, in the order given; plain values, nothing to free. */
struct col_endpoints {
    char at[COL_CONNECT_MAX][COL_ENDPOINT_MAX + 1];
    size_t n;
};

/* Splits a `connect` list at its commas (blanks around an endpoint are dropped). Returns 0,
 * or -1 with one line in `err` naming the problem: an empty entry, more than
 * COL_CONNECT_MAX, one longer than COL_ENDPOINT_MAX, one that is not transport://address,
 * or one listed twice. */
int col_settings_endpoints(const char *list, struct col_endpoints *out, char *err, size_t err_size);

#endif
