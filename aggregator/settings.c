#include "settings.h"

#include <stddef.h>
#include <string.h>

/* OPT: changes only with a restart; ROPT: SIGHUP applies it. */
#define OPT_(section, name, type, field, min, max, help, reloadable)                               \
    {                                                                                              \
        section, name, type, offsetof(struct agg_settings, field),                                 \
            sizeof(((struct agg_settings *)0)->field), min, max, help, reloadable                  \
    }
#define OPT(section, name, type, field, min, max, help)                                            \
    OPT_(section, name, type, field, min, max, help, false)
#define ROPT(section, name, type, field, min, max, help)                                           \
    OPT_(section, name, type, field, min, max, help, true)

const struct ct_config_option agg_settings_table[] = {
    OPT("aggregator", "db", CT_CONFIG_STRING, db, 0, 0,
        "libpq connection string (default: libpq defaults and PG* variables)"),
    OPT("aggregator", "listen", CT_CONFIG_STRING, listen, 0, 0, "ROUTER endpoint for collectors"),
    OPT("aggregator", "publish", CT_CONFIG_STRING, publish, 0, 0,
        "PUB endpoint for the progress feed"),
    OPT("aggregator", "server_key", CT_CONFIG_STRING, server_key, 0, 0,
        "CURVE secret key file written by keygen"),
    OPT("aggregator", "insecure", CT_CONFIG_BOOL, insecure, 0, 0,
        "run without CURVE (loopback endpoints only)"),
    OPT("aggregator", "http", CT_CONFIG_HTTP_ADDR, http, 0, 0,
        "ADDR:PORT for /metrics, /healthz, /api/progress and the dashboard, or off"),
    ROPT("aggregator", "log_level", CT_CONFIG_LOG_LEVEL, log_level, 0, 0,
         "error, warn, info or debug"),
    ROPT("ingest", "group_max_updates", CT_CONFIG_INT, group_max_updates, 1, 1000000,
         "most updates committed in one transaction"),
    ROPT("ingest", "group_max_wait", CT_CONFIG_DURATION, group_max_wait_ms, 0, 1000,
         "how long a transaction waits for more batches"),
    OPT("ingest", "writers", CT_CONFIG_INT, writers, 1, 16,
        "database connections committing side by side, each for its own districts"),
    OPT("ingest", "publish_interval", CT_CONFIG_DURATION, publish_interval_ms, 100, 3600000,
        "least time between two progress messages for one year"),
    OPT("ingest", "db_retry_max", CT_CONFIG_DURATION, db_retry_max_ms, 100, 3600000,
        "longest wait between database reconnect attempts"),
    OPT("ingest", "plausibility", CT_CONFIG_BOOL, plausibility, 0, 0,
        "warn on implausible figures in the ack (on by default; off only to measure its cost)"),
};

const size_t agg_settings_count = sizeof(agg_settings_table) / sizeof(agg_settings_table[0]);

void agg_settings_defaults(struct agg_settings *s)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->listen, "tcp://127.0.0.1:5560");
    strcpy(s->publish, "tcp://127.0.0.1:5561");
    strcpy(s->http, "127.0.0.1:9560");
    s->log_level = CT_LOG_INFO;
    s->group_max_updates = 10000;
    s->group_max_wait_ms = 2;
    s->writers = 2;
    s->publish_interval_ms = 1000;
    s->db_retry_max_ms = 5000;
    s->plausibility = true;
}
