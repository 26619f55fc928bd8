#include "col_settings.h"
#include "outbox.h"
#include "spool.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* OPT: changes only with a restart; ROPT: SIGHUP applies it. */
#define OPT_(section, name, type, field, min, max, help, reloadable)                               \
    {                                                                                              \
        section, name, type, offsetof(struct col_settings, field),                                 \
            sizeof(((struct col_settings *)0)->field), min, max, help, reloadable                  \
    }
#define OPT(section, name, type, field, min, max, help)                                            \
    OPT_(section, name, type, field, min, max, help, false)
#define ROPT(section, name, type, field, min, max, help)                                           \
    OPT_(section, name, type, field, min, max, help, true)

const struct ct_config_option col_settings_table[] = {
    OPT("collector", "agent", CT_CONFIG_STRING, agent, 0, 0, "this agent's id"),
    OPT("collector", "district", CT_CONFIG_STRING, district, 0, 0,
        "the reporting unit this agent speaks for"),
    ROPT("collector", "connect", CT_CONFIG_STRING, connect, 0, 0,
         "the aggregators' endpoints, comma-separated: one live at a time"),
    OPT("collector", "state_dir", CT_CONFIG_STRING, state_dir, 0, 0,
        "where the durable outbox lives"),
    ROPT("collector", "spool", CT_CONFIG_STRING, spool, 0, 0, "drop folder watched for CSV files"),
    ROPT("collector", "server_public_key", CT_CONFIG_STRING, server_public_key, 0, 0,
         "the aggregator's CURVE public key: Z85 text or a .pub file"),
    ROPT("collector", "key", CT_CONFIG_STRING, key, 0, 0,
         "this agent's CURVE secret key file written by keygen"),
    ROPT("collector", "insecure", CT_CONFIG_BOOL, insecure, 0, 0,
         "send without CURVE (loopback endpoints only)"),
    OPT("collector", "http", CT_CONFIG_HTTP_ADDR, http, 0, 0,
        "ADDR:PORT for /metrics and /healthz, or off"),
    ROPT("collector", "log_level", CT_CONFIG_LOG_LEVEL, log_level, 0, 0,
         "error, warn, info or debug"),
    ROPT("outbox", "outbox_max", CT_CONFIG_INT, outbox_max, 1, 1000000000,
         "pending updates before new submits and imports are refused"),
    ROPT("outbox", "rejected_keep", CT_CONFIG_DURATION, rejected_keep_ms, 0, 3650LL * 86400000,
         "how long rejected updates stay listed by status"),
    ROPT("outbox", "keep_acked", CT_CONFIG_DURATION, keep_acked_ms, 0, 3650LL * 86400000,
         "how long acknowledged updates are kept to refill a restored bureau (0: not kept)"),
    ROPT("delivery", "batch_max", CT_CONFIG_INT, batch_max, 1, 1000, "updates per batch"),
    ROPT("delivery", "window", CT_CONFIG_INT, window, 1, 64, "batches in flight"),
    ROPT("delivery", "ack_timeout", CT_CONFIG_DURATION, ack_timeout_ms, 100, 3600000,
         "resend a batch when no ack came after this long"),
    ROPT("spool", "rescan", CT_CONFIG_DURATION, rescan_ms, 100, 3600000,
         "drop-folder rescan interval, in case inotify misses a file"),
    ROPT("spool", "settle", CT_CONFIG_DURATION, settle_ms, 100, 3600000,
         "how long a file not renamed in must stay unchanged before it is imported"),
    ROPT("health", "stale_after", CT_CONFIG_DURATION, stale_after_ms, 1000, 365LL * 86400000,
         "/healthz fails while the oldest pending update is older than this"),
};

const size_t col_settings_count = sizeof(col_settings_table) / sizeof(col_settings_table[0]);

void col_settings_defaults(struct col_settings *s)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->connect, "tcp://127.0.0.1:5560");
    strcpy(s->state_dir, "/var/lib/citytally-collector");
    strcpy(s->http, "off");
    s->log_level = CT_LOG_INFO;
    s->outbox_max = 1000000;
    s->rejected_keep_ms = 30LL * 86400000;
    s->keep_acked_ms = COL_OUTBOX_KEEP_ACKED_MS;
    s->batch_max = 1000;
    s->window = 8;
    s->ack_timeout_ms = 10000;
    s->rescan_ms = 10000;
    s->settle_ms = COL_SPOOL_SETTLE_MS;
    s->stale_after_ms = 3600000;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int col_settings_endpoints(const char *list, struct col_endpoints *out, char *err, size_t err_size)
{
    const char *p = list;

    out->n = 0;
    for (;;) {
        const char *end = strchr(p, ',');
        const char *stop = end != NULL ? end : p + strlen(p);
        size_t len;
        char *e;

        while (p < stop && is_blank(*p))
            p++;
        while (stop > p && is_blank(stop[-1]))
            stop--;
        len = (size_t)(stop - p);
        if (len == 0) {
            snprintf(err, err_size, "endpoint %zu of the list is empty (a stray comma?)",
                     out->n + 1);
            return -1;
        }
        if (out->n == COL_CONNECT_MAX) {
            snprintf(err, err_size, "more than %d endpoints in the list", COL_CONNECT_MAX);
            return -1;
        }
        if (len > COL_ENDPOINT_MAX) {
            snprintf(err, err_size, "endpoint %zu is longer than %d bytes", out->n + 1,
                     COL_ENDPOINT_MAX);
            return -1;
        }
        e = out->at[out->n];
        memcpy(e, p, len);
        e[len] = '\0';
        if (strstr(e, "://") == NULL || strstr(e, "://") == e) {
            snprintf(err, err_size,
                     "'%s' is not an endpoint (transport://address, e.g. "
                     "tcp://aggregator-1.example:5560)",
                     e);
            return -1;
        }
        for (size_t i = 0; i < out->n; i++) {
            if (strcmp(out->at[i], e) == 0) {
                snprintf(err, err_size, "'%s' is listed twice", e);
                return -1;
            }
        }
        out->n++;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}
