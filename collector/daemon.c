/*
 * daemon.c - the collector agent: one event loop over the aggregator connection, the drop
 * folder and signals.
 *
 * zmq_poll waits on the DEALER and its monitor (sender.c), the spool's inotify descriptor
 * (spool.c) and a signalfd, so signals are ordinary events and need no handler state.
 * Rows that `submit` and `import` add to the outbox from other processes are noticed at
 * the next tick (OUTBOX_POLL_MS): a cheap PRAGMA data_version check (shared memory, no
 * disk I/O) decides whether the sender reads the outbox again. Every few seconds the daemon writes
 * a short report of itself into the outbox for `status`.
 *
 * SIGTERM/SIGINT: stop at once; everything unacknowledged is already on disk. SIGHUP:
 * reread the config file (flags still win), keeping the old settings if it is bad.
 */
#include "cli.h"
#include "col_settings.h"
#include "commands.h"
#include "http_status.h"
#include "log.h"
#include "outbox.h"
#include "receipt.h"
#include "sender.h"
#include "signals.h"
#include "spool.h"
#include "text.h"
#include "timefmt.h"
#include "transport_policy.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <zmq.h>

#define SUBJECT "collector"
#define OUTBOX_POLL_MS 100
#define REPORT_EVERY_MS 2000

struct daemon {
    int argc;
    char **argv; /* borrowed from main, reparsed on SIGHUP */
    struct col_settings settings;
    struct ct_log log;
    struct col_outbox *ob;
    void *zmq_ctx;
    struct col_sender *sender;
    struct col_spool *spool;
    struct col_http *http;     /* /metrics and /healthz (http_status.h) */
    struct ct_signals signals; /* SIGTERM, SIGINT, SIGHUP */
    int64_t started_ms;
    uint64_t earlier_moves; /* made by senders that a SIGHUP replaced */
    int64_t next_rescan_mono;
    int64_t next_report_mono;
};

static enum ct_cli_result parse(int argc, char **argv, struct col_settings *s, char *config_path,
                                size_t config_path_size)
{
    struct ct_cli cli = {
        .program = COL_PROGRAM,
        .usage = "[options]",
        .summary = "Runs a district's collector agent in the foreground: it queues figures "
                   "from the drop folder (--spool) and from `submit`/`import` in the "
                   "durable outbox of --state-dir, and delivers them to the aggregator at "
                   "--connect exactly once. Commands: submit, import, status, keygen "
                   "(each has --help).",
        .config = col_settings_table,
        .n_config = col_settings_count,
        .settings = s,
    };
    int first;
    enum ct_cli_result r;

    col_settings_defaults(s);
    r = ct_cli_parse(&cli, argc, argv, &first, config_path, config_path_size);
    if (r == CT_CLI_RUN && first != argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (commands: submit, import, status, keygen)\n",
                COL_PROGRAM, argv[first]);
        return CT_CLI_ERROR;
    }
    return r;
}

/* The checks a config must pass before the daemon starts or adopts it on SIGHUP. */
static int validate(const struct col_settings *s)
{
    struct ct_transport_policy policy;
    struct col_endpoints endpoints;
    char err[1024];

    if (!ct_id_valid(s->agent, strlen(s->agent))) {
        fprintf(stderr,
                "%s: --agent %s: an agent id of 1 to %d characters a-z, 0-9, _ or - is "
                "required\n",
                COL_PROGRAM, s->agent[0] ? s->agent : "(missing)", CT_ID_MAX);
        return -1;
    }
    if (!ct_id_valid(s->district, strlen(s->district))) {
        fprintf(stderr,
                "%s: --district %s: the id of this agent's reporting unit is required "
                "(e.g. erqi)\n",
                COL_PROGRAM, s->district[0] ? s->district : "(missing)");
        return -1;
    }
    if (s->connect[0] == '\0') {
        fprintf(stderr, "%s: --connect: the aggregator's endpoint is required\n", COL_PROGRAM);
        return -1;
    }
    if (col_settings_endpoints(s->connect, &endpoints, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: --connect %s: %s\n", COL_PROGRAM, s->connect, err);
        return -1;
    }
    /* Keys are read here so a bad one stops the start (or the reload), not a send. Every
     * endpoint of the list must pass: the collector may move to any of them. */
    for (size_t i = 0; i < endpoints.n; i++) {
        policy = (struct ct_transport_policy){
            .end = CT_TRANSPORT_SEND,
            .endpoint = endpoints.at[i],
            .secret_key_file = s->key,
            .peer_public_key = s->server_public_key,
            .insecure = s->insecure,
        };
        if (ct_transport_check(&policy, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s\n", COL_PROGRAM, err);
            return -1;
        }
    }
    return 0;
}

static void report(struct daemon *d, bool running)
{
    struct col_sender_counters c = {0};
    struct col_daemon_report r = {0};
    char err[COL_OUTBOX_ERROR_MAX];

    if (d->sender != NULL)
        col_sender_counters(d->sender, &c);
    if (running) {
        r.pid = (int64_t)getpid();
        r.started_ms = d->started_ms;
        r.heartbeat_ms = ct_time_now_ms();
        r.connected = c.welcomed;
        r.in_flight_batches = c.in_flight_batches;
        r.in_flight_updates = c.in_flight_updates;
        ct_strlcpy(r.endpoint, c.endpoint, sizeof(r.endpoint)); /* "" while no sender */
        r.moves = (int64_t)(d->earlier_moves + c.moves);
    }
    if (col_outbox_report_daemon(d->ob, &r, err, sizeof(err)) != 0)
        ct_log_debug(&d->log, SUBJECT, "%s", err);
}

static int open_spool(struct daemon *d)
{
    char err[1024];
    if (d->settings.spool[0] == '\0')
        return 0;
    d->spool = col_spool_new(d->settings.spool, d->settings.settle_ms, &d->log, err, sizeof(err));
    if (d->spool == NULL) {
        ct_log_error(&d->log, SUBJECT, "%s", err);
        return -1;
    }
    d->next_rescan_mono = 0; /* look at once: files may have arrived while we were down */
    return 0;
}

static int open_sender(struct daemon *d)
{
    char err[1024];
    d->sender = col_sender_new(d->zmq_ctx, &d->settings, d->ob, &d->log, err, sizeof(err));
    if (d->sender == NULL) {
        ct_log_error(&d->log, SUBJECT, "%s", err);
        return -1;
    }
    return 0;
}

static void reload(struct daemon *d)
{
    struct col_settings next, *cur = &d->settings;
    const struct ct_config_option *restart[32];
    size_t n_restart;
    bool new_sender, new_spool;

    (void)sd_notify(0, "RELOADING=1");
    if (parse(d->argc, d->argv, &next, NULL, 0) != CT_CLI_RUN || validate(&next) != 0) {
        ct_log_error(&d->log, SUBJECT,
                     "SIGHUP: the configuration has errors (see above); "
                     "keeping the running one");
        goto out;
    }
    new_sender = strcmp(next.connect, cur->connect) != 0 || strcmp(next.key, cur->key) != 0 ||
                 strcmp(next.server_public_key, cur->server_public_key) != 0 ||
                 next.insecure != cur->insecure;
    new_spool = strcmp(next.spool, cur->spool) != 0 || next.settle_ms != cur->settle_ms;
    if (new_sender) {
        struct col_sender_counters c = {0};
        if (d->sender != NULL) /* NULL when the last one could not be made */
            col_sender_counters(d->sender, &c);
        d->earlier_moves += c.moves;
        col_sender_free(d->sender);
        d->sender = NULL;
    }
    if (new_spool) {
        col_spool_free(d->spool);
        d->spool = NULL;
    }
    /* The table says what SIGHUP may change: those are applied, the rest named. */
    (void)ct_config_reload(col_settings_table, col_settings_count, cur, &next, restart,
                           sizeof(restart) / sizeof(restart[0]), &n_restart);
    for (size_t i = 0; i < n_restart; i++)
        ct_log_warn(&d->log, SUBJECT,
                    "SIGHUP: [%s] %s changes only with a restart; keeping the running value",
                    restart[i]->section, restart[i]->name);
    d->log.level = cur->log_level;
    if (new_sender)
        (void)open_sender(d); /* on failure the loop retries */
    else
        col_sender_reconfigure(d->sender, cur);
    if (new_spool)
        (void)open_spool(d);
    ct_log_info(&d->log, SUBJECT, "SIGHUP: configuration reloaded");
out:
    (void)sd_notify(0, "READY=1");
}

/* Returns 1 when the daemon should stop. */
static int read_signals(struct daemon *d)
{
    int stop = 0, signo;

    while ((signo = ct_signals_next(&d->signals)) != 0) {
        if (signo == SIGHUP) {
            reload(d);
        } else {
            ct_log_info(&d->log, SUBJECT,
                        "%s: stopping; unacknowledged updates stay in the "
                        "outbox",
                        signo == SIGTERM ? "SIGTERM" : "SIGINT");
            stop = 1;
        }
    }
    return stop;
}

static int run(struct daemon *d)
{
    zmq_pollitem_t items[COL_SENDER_POLLITEMS + 2];

    for (;;) {
        int64_t now = ct_time_mono_ms(), timeout = OUTBOX_POLL_MS, t;
        size_t n = 0, sig_at, spool_at = SIZE_MAX;
        int rc;

        if (d->sender != NULL) {
            col_sender_pollitems(d->sender, items);
            n = COL_SENDER_POLLITEMS;
            t = col_sender_timeout_ms(d->sender);
            if (t >= 0 && t < timeout)
                timeout = t;
        }
        sig_at = n;
        items[n++] = (zmq_pollitem_t){NULL, d->signals.fd, ZMQ_POLLIN, 0};
        if (d->spool != NULL) {
            spool_at = n;
            items[n++] = (zmq_pollitem_t){NULL, col_spool_fd(d->spool), ZMQ_POLLIN, 0};
            t = d->next_rescan_mono - now;
            if (t < timeout)
                timeout = t < 0 ? 0 : t;
        }
        rc = zmq_poll(items, (int)n, (long)timeout);
        if (rc < 0 && zmq_errno() != EINTR) {
            ct_log_error(&d->log, SUBJECT, "zmq_poll: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (rc > 0 && (items[sig_at].revents & ZMQ_POLLIN) && read_signals(d))
            return 0;

        now = ct_time_mono_ms();
        if (d->spool != NULL) {
            bool scan = now >= d->next_rescan_mono;
            if (spool_at != SIZE_MAX && rc > 0 && (items[spool_at].revents & ZMQ_POLLIN))
                scan = col_spool_drain(d->spool) || scan;
            if (scan) {
                struct col_spool_counters sc;
                col_spool_scan(d->spool, d->ob, d->settings.district, d->settings.outbox_max);
                col_spool_counters(d->spool, &sc);
                if (d->sender != NULL)
                    col_sender_outbox_grew(d->sender);
                /* A file left unsettled is looked at again soon, not a whole rescan later. */
                d->next_rescan_mono =
                    ct_time_mono_ms() +
                    (sc.waiting > 0 && d->settings.rescan_ms > d->settings.settle_ms
                         ? d->settings.settle_ms
                         : d->settings.rescan_ms);
            }
        }
        if (d->sender == NULL && open_sender(d) != 0)
            continue;
        if (col_outbox_changed(d->ob))
            col_sender_outbox_grew(d->sender);
        if (col_sender_run(d->sender) != 0)
            return -1;
        if (now >= d->next_report_mono) {
            report(d, true);
            col_receipt_write_due(d->ob, &d->log); /* failures are logged and retried */
            col_http_observe(d->http, &d->settings, d->ob, d->sender, d->spool);
            d->next_report_mono = now + REPORT_EVERY_MS;
        }
    }
}

/* -t/--check-config: the parser checks each key on its own; the --connect list is checked
 * here too, so a bad one is named before a start. The rest of validate() (agent id, keys)
 * needs a unit's own values, which the shipped example leaves empty. The flag is taken out
 * of argv, which stays NULL-terminated. */
static bool take_check_flag(int *argc, char **argv)
{
    bool found = false;
    int kept = 1;

    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--check-config") == 0)
            found = true;
        else
            argv[kept++] = argv[i];
    }
    argv[kept] = NULL;
    *argc = kept;
    return found;
}

static int check_config(const struct col_settings *s, const char *config_path)
{
    struct col_endpoints endpoints;
    char err[512];

    if (col_settings_endpoints(s->connect, &endpoints, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: --connect %s: %s\n", COL_PROGRAM, s->connect, err);
        return CT_EXIT_USAGE;
    }
    printf("%s: configuration ok (%s)\n", COL_PROGRAM,
           config_path[0] ? config_path : "no config file");
    return CT_EXIT_OK;
}

int col_cmd_daemon(int argc, char **argv)
{
    struct daemon d = {0};
    char err[1024], config_path[PATH_MAX] = "";
    int rc = CT_EXIT_FAILURE;
    bool check_only = take_check_flag(&argc, argv);

    d.argc = argc;
    d.argv = argv;
    d.signals.fd = -1;
    enum ct_cli_result parsed = parse(argc, argv, &d.settings, config_path, sizeof(config_path));
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (check_only)
        return check_config(&d.settings, config_path);
    if (validate(&d.settings) != 0)
        return CT_EXIT_USAGE;
    ct_log_init(&d.log);
    if (ct_log_catch_fatal_signals() != 0)
        ct_log_warn(&d.log, "daemon", "fatal signals will leave no line: %s", strerror(errno));
    d.log.level = d.settings.log_level;
    d.started_ms = ct_time_now_ms();

    if (col_outbox_new(d.settings.state_dir, &d.ob, err, sizeof(err)) != 0) {
        ct_log_error(&d.log, SUBJECT, "%s", err);
        goto out;
    }
    if (col_outbox_bind(d.ob, d.settings.agent, d.settings.district, err, sizeof(err)) != 0) {
        ct_log_error(&d.log, SUBJECT, "%s", err);
        rc = CT_EXIT_USAGE;
        goto out;
    }
    /* Before ZeroMQ's and libmicrohttpd's threads exist, so they inherit the mask. */
    if (ct_signals_init(&d.signals, err, sizeof(err)) != 0) {
        ct_log_error(&d.log, SUBJECT, "%s", err);
        goto out;
    }
    d.zmq_ctx = zmq_ctx_new();
    if (d.zmq_ctx == NULL) {
        ct_log_error(&d.log, SUBJECT, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    if (open_sender(&d) != 0 || open_spool(&d) != 0)
        goto out;
    d.http = col_http_new(&d.settings, &d.log, err, sizeof(err));
    if (d.http == NULL) {
        ct_log_error(&d.log, SUBJECT, "%s", err);
        goto out;
    }
    col_http_observe(d.http, &d.settings, d.ob, d.sender, d.spool);
    report(&d, true);
    {
        struct col_outbox_stats st;
        if (col_outbox_stats(d.ob, &st, err, sizeof(err)) != 0) {
            ct_log_error(&d.log, SUBJECT, "%s", err);
            goto out;
        }
        ct_log_info(&d.log, SUBJECT,
                    "ready: agent %s of %s, outbox %s/%s with %lld pending, sending to %s%s%s",
                    d.settings.agent, d.settings.district, d.settings.state_dir, COL_OUTBOX_FILE,
                    (long long)st.pending, d.settings.connect, d.spool ? ", watching " : "",
                    d.spool ? d.settings.spool : "");
    }
    (void)sd_notify(0, "READY=1");
    if (run(&d) == 0)
        rc = CT_EXIT_OK;
    (void)sd_notify(0, "STOPPING=1");
    report(&d, false);
out:
    col_http_free(d.http);
    col_spool_free(d.spool);
    col_sender_free(d.sender);
    if (d.zmq_ctx != NULL)
        zmq_ctx_term(d.zmq_ctx);
    ct_signals_release(&d.signals);
    col_outbox_free(d.ob);
    return rc;
}
