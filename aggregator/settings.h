/*
 * settings.h - everything an operator can set for the aggregator, and its defaults.
 *
 * One `struct agg_settings` holds the result of defaults, then the -c file, then flags
 * (see common/cli.h). The table in settings.c is the single list of keys: it drives the
 * INI parser, the flags, --help and the example config. Plain values; nothing to free.
 */
#ifndef AGG_SETTINGS_H
#define AGG_SETTINGS_H

#include "config.h"
#include "log.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct agg_settings {
    char db[1024];             /* libpq conninfo; "" means libpq defaults and PG* variables */
    char listen[256];          /* ROUTER endpoint for collectors */
    char publish[256];         /* PUB endpoint for the progress feed */
    char server_key[PATH_MAX]; /* CURVE secret key file (zcert) */
    bool insecure;             /* plain text, loopback only */
    char http[128];            /* ADDR:PORT or "off" */
    enum ct_log_level log_level;
    int64_t group_max_updates; /* updates per group-commit transaction */
    int64_t group_max_wait_ms; /* how long a transaction waits for more batches */
    int64_t writers;           /* database connections committing side by side */
    int64_t publish_interval_ms;
    int64_t db_retry_max_ms; /* reconnect backoff cap */
    bool plausibility;       /* warn on implausible sets (CONTRACT section 10) */
};

extern const struct ct_config_option agg_settings_table[];
extern const size_t agg_settings_count;

/* Fills `s` with the defaults. */
void agg_settings_defaults(struct agg_settings *s);

#endif
