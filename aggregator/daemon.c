/*
 * daemon.c - citytally-aggregator's main loop.
 *
 * The main thread does the protocol work: it polls the ROUTER socket, a signalfd, the
 * writers' eventfd and its database socket (for NOTIFY), hands groups of batches to the
 * writer threads that commit them (ingest.h, lanes.h, writer.h), sends the acks when they
 * are back, and publishes progress. Signals arrive through the signalfd, so there is no
 * handler and no global state:
 * - SIGTERM/SIGINT: stop reading, commit (or give up) what is waiting, ack only what is
 *   committed, close with a short linger so the last acks leave, exit 0. A database that
 *   stopped answering cannot hold this: the main thread's own queries are cut after
 *   MAIN_QUERY_MS (agg_guard), and commits still open 3 s into the stop are cancelled and
 *   their connections cut (agg_writer_abort), unacknowledged.
 * - SIGHUP: reread the config file (flags still win), reload agents and the catalog.
 *
 * When the database goes away the daemon answers `unavailable`; a group whose COMMIT may
 * or may not have happened is held by its writer for up to AGG_WRITER_HOLD_MS and replayed
 * after reconnecting: the locked last_seq then tells what is already in, so nothing is
 * lost and nothing counted twice.
 */
#include "auth.h"
#include "cli.h"
#include "commands.h"
#include "directory.h"
#include "feed.h"
#include "http_api.h"
#include "ingest.h"
#include "lanes.h"
#include "log.h"
#include "migrate.h"
#include "session.h"
#include "settings.h"
#include "signals.h"
#include "timefmt.h"
#include "transport_policy.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <zmq.h>

#define IDLE_POLL_MS 1000 /* longest sleep, so clocks and backoffs are rechecked */
/* The main thread's own queries (directory, feed) that take longer are cut short: a
 * database that stopped answering must not keep SIGTERM from being read. */
#define MAIN_QUERY_MS 4000

struct daemon {
    int argc;
    char **argv;
    char config_path[PATH_MAX];
    struct agg_settings settings;
    struct ct_log log;
    struct agg_session db;
    struct agg_guard *db_guard; /* watches the main thread's blocking queries on `db` */
    struct agg_directory dir;
    void *zmq_ctx;
    struct agg_auth *auth; /* NULL without CURVE */
    struct agg_ingest *ingest;
    struct agg_feed *feed;
    struct agg_http *http;     /* /metrics, /healthz, /api/progress, the dashboard */
    struct ct_signals signals; /* SIGTERM, SIGINT, SIGHUP */
    bool stopping;
    /* catch_up(): lookups left in this second, and when the second began (monotonic) */
    int catch_up_left;
    int64_t catch_up_window_ms;
};

/* Lookups of agents the directory does not hold, at most this many a second: each is one
 * indexed query, so names or keys from the network cannot load the database. */
#define CATCH_UP_PER_S 100

static const char daemon_summary[] =
    "Runs the aggregator in the foreground: receives batches from the district collectors,\n"
    "commits them to PostgreSQL exactly once, and publishes progress. Stops on SIGTERM or\n"
    "SIGINT; rereads its configuration on SIGHUP.";

/* Reads defaults, the -c file and the flags into `settings`. */
static enum ct_cli_result parse_settings(struct daemon *d, struct agg_settings *settings)
{
    struct ct_cli cli = {
        .program = AGG_PROGRAM,
        .usage = "[options]",
        .summary = daemon_summary,
        .config = agg_settings_table,
        .n_config = agg_settings_count,
        .settings = settings,
    };
    int first;
    enum ct_cli_result result;

    agg_settings_defaults(settings);
    result = ct_cli_parse(&cli, d->argc, d->argv, &first, d->config_path, sizeof(d->config_path));
    if (result == CT_CLI_RUN && first < d->argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", AGG_PROGRAM, d->argv[first]);
        return CT_CLI_ERROR;
    }
    return result;
}

/* Plain text is for tests and a single machine only; a key must be usable before the
 * daemon waits for anything. */
static int check_transport(const struct agg_settings *s)
{
    const struct ct_transport_policy policy = {
        .end = CT_TRANSPORT_LISTEN,
        .endpoint = s->listen,
        .secret_key_file = s->server_key,
        .peer_public_key = "",
        .insecure = s->insecure,
    };
    char err[1024];

    if (ct_transport_check(&policy, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", AGG_PROGRAM, err);
        return -1;
    }
    return 0;
}

/* Every collector is a TCP connection: a bureau with a thousand agents needs more than the
 * default soft limit of 1,024 descriptors, and the hard limit is what the admin allowed. */
static void raise_file_limit(const struct ct_log *log)
{
    struct rlimit nofile;

    if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == nofile.rlim_max)
        return;
    nofile.rlim_cur = nofile.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nofile) != 0)
        ct_log_warn(log, "daemon", "cannot raise the open-file limit: %s", strerror(errno));
}

static void reload_directory(struct daemon *d)
{
    char err[512];
    int rc;

    agg_guard_arm(d->db_guard, MAIN_QUERY_MS);
    rc = agg_directory_load(&d->dir, agg_session_conn(&d->db), err, sizeof(err));
    if (agg_guard_disarm(d->db_guard))
        snprintf(err, sizeof(err), "loading the directory: no answer within %d s",
                 MAIN_QUERY_MS / 1000);
    if (rc != 0) {
        agg_session_lost(&d->db, err, ct_time_mono_ms());
        return;
    }
    ct_log_info(&d->log, "directory", "%zu agents, %zu indicators, %zu target years",
                d->dir.n_agents, d->dir.n_indicators, d->dir.n_target_years);
}

enum startup {
    STARTUP_READY = 0,
    STARTUP_STOPPED, /* a signal asked to stop while waiting: a clean exit */
    STARTUP_FAILED,  /* err says why */
};

/* agg_directory_catch_up for ingest.c and auth.c: a hello or a key for an agent the
 * directory does not hold. If the database has it (just added; its NOTIFY not here yet),
 * the directory is reloaded now, so the collector is welcomed on its first try. */
static bool catch_up(void *ctx, const char *agent_id, const char *public_key)
{
    struct daemon *d = ctx;
    const char *params[1] = {agent_id != NULL ? agent_id : public_key};
    int64_t now = ct_time_mono_ms();
    char why[512];
    PGresult *res;
    bool known;

    if (!agg_session_up(&d->db))
        return false;
    if (now - d->catch_up_window_ms >= 1000) {
        d->catch_up_window_ms = now;
        d->catch_up_left = CATCH_UP_PER_S;
    }
    if (d->catch_up_left <= 0)
        return false;
    d->catch_up_left--;
    res = agg_session_query(
        &d->db, "looking up an agent the directory does not hold",
        agent_id != NULL ? "SELECT 1 FROM agents WHERE agent_id = $1 AND revoked_at IS NULL"
                         : "SELECT 1 FROM agents WHERE public_key = $1 AND revoked_at IS NULL",
        1, params, PGRES_TUPLES_OK, MAIN_QUERY_MS, why, sizeof(why));
    known = res != NULL && PQntuples(res) == 1;
    PQclear(res);
    if (!known)
        return false;
    ct_log_info(&d->log, "directory", "agent %s was added since the directory was read; reloading",
                agent_id != NULL ? agent_id : "with that key");
    reload_directory(d);
    return agg_session_up(&d->db);
}

/* Waits for the database, migrates it and loads the directory. Between attempts it waits
 * on the signal fd, not in a sleep, so SIGTERM ends the wait at once. */
static enum startup connect_and_migrate(struct daemon *d, char *err, size_t err_size)
{
    for (;;) {
        struct pollfd signals = {.fd = d->signals.fd, .events = POLLIN};
        int64_t now = ct_time_mono_ms();
        bool fresh;
        int version, rc, signo;

        while ((signo = ct_signals_next(&d->signals)) != 0) {
            if (signo != SIGHUP) {
                snprintf(err, err_size, "stopped by signal %d while waiting for the database",
                         signo);
                return STARTUP_STOPPED;
            }
        }
        if (agg_session_ensure(&d->db, now, &fresh)) {
            if (agg_migrate(agg_session_conn(&d->db), &version, err, err_size) != 0)
                return STARTUP_FAILED;
            ct_log_info(&d->log, "database", "schema at version %d", version);
            agg_guard_arm(d->db_guard, MAIN_QUERY_MS);
            rc = agg_directory_load(&d->dir, agg_session_conn(&d->db), err, err_size);
            if (agg_guard_disarm(d->db_guard))
                snprintf(err, err_size, "loading the directory: no answer within %d s",
                         MAIN_QUERY_MS / 1000);
            return rc == 0 ? STARTUP_READY : STARTUP_FAILED;
        }
        if (poll(&signals, 1, (int)agg_session_wait_ms(&d->db, ct_time_mono_ms())) < 0 &&
            errno != EINTR) {
            snprintf(err, err_size, "waiting for the database: %s", strerror(errno));
            return STARTUP_FAILED;
        }
    }
}

static void reload_settings(struct daemon *d)
{
    struct agg_settings fresh;

    sd_notify(0, "RELOADING=1");
    if (parse_settings(d, &fresh) != CT_CLI_RUN) {
        ct_log_error(&d->log, "config", "reload failed; keeping the running configuration");
    } else {
        const struct ct_config_option *restart[32];
        size_t n_restart;
        /* The table says what SIGHUP may change: those are applied, the rest named. */
        (void)ct_config_reload(agg_settings_table, agg_settings_count, &d->settings, &fresh,
                               restart, sizeof(restart) / sizeof(restart[0]), &n_restart);
        for (size_t i = 0; i < n_restart; i++)
            ct_log_warn(&d->log, "config",
                        "SIGHUP: [%s] %s changes only with a restart; keeping the running value",
                        restart[i]->section, restart[i]->name);
        d->log.level = d->settings.log_level;
        agg_ingest_reconfigure(d->ingest, &d->settings);
        ct_log_info(&d->log, "config", "reloaded %s",
                    d->config_path[0] ? d->config_path : "(no config file)");
    }
    if (agg_session_up(&d->db))
        reload_directory(d);
    sd_notify(0, "READY=1");
}

static void handle_signals(struct daemon *d)
{
    int signo;

    while ((signo = ct_signals_next(&d->signals)) != 0) {
        if (signo == SIGHUP) {
            reload_settings(d);
        } else {
            ct_log_info(&d->log, "daemon", "signal %d: stopping", signo);
            d->stopping = true;
        }
    }
}

static int64_t poll_timeout(struct daemon *d, int64_t now)
{
    int64_t timeout = IDLE_POLL_MS, wait;

    wait = agg_lanes_wait_ms(agg_ingest_lanes(d->ingest), now);
    if (wait >= 0 && wait < timeout)
        timeout = wait;
    wait = agg_feed_wait_ms(d->feed, now);
    if (wait >= 0 && agg_session_up(&d->db) && wait < timeout)
        timeout = wait;
    if (!agg_session_up(&d->db)) {
        wait = agg_session_wait_ms(&d->db, now);
        if (wait < timeout)
            timeout = wait;
    }
    return timeout;
}

/* The directory follows agents added or removed; the feed follows commits of the other
 * aggregators (CONTRACT section 7), coalesced with this one's own by agg_feed_mark. */
static void dispatch_notifications(struct daemon *d, int64_t now)
{
    struct agg_notes notes;

    if (agg_session_take_notifications(&d->db, now, &notes) != 0)
        return;
    if (notes.agents) {
        ct_log_info(&d->log, "directory", "agents changed; reloading");
        reload_directory(d);
    }
    for (size_t i = 0; i < notes.n_periods; i++)
        agg_feed_mark(d->feed, &d->dir, notes.periods[i]);
}

static void run_loop(struct daemon *d)
{
    struct agg_lanes *lanes = agg_ingest_lanes(d->ingest);

    while (!d->stopping) {
        zmq_pollitem_t items[5] = {{0}};
        int64_t now = ct_time_mono_ms();
        bool fresh;
        int n = 0, rc;

        if (agg_session_ensure(&d->db, now, &fresh) && fresh) {
            reload_directory(d);
            /* Other aggregators' commits while the session was down sent notifications
             * nobody here heard: publish every year once more. */
            for (size_t i = 0; i < d->dir.n_target_years; i++)
                agg_feed_mark(d->feed, &d->dir, d->dir.target_years[i]);
        }

        items[n++] = (zmq_pollitem_t){NULL, d->signals.fd, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){NULL, agg_lanes_done_fd(lanes), ZMQ_POLLIN, 0};
        const zmq_pollitem_t *writers_done = &items[n - 1];
        /* A full group stops reading: the backlog stays in ZeroMQ, bounded by its HWM. */
        if (!agg_lanes_full(lanes))
            items[n++] = (zmq_pollitem_t){agg_ingest_socket(d->ingest), 0, ZMQ_POLLIN, 0};
        if (agg_session_up(&d->db))
            items[n++] = (zmq_pollitem_t){NULL, agg_session_socket(&d->db), ZMQ_POLLIN, 0};
        if (d->auth != NULL)
            items[n++] = (zmq_pollitem_t){agg_auth_socket(d->auth), 0, ZMQ_POLLIN, 0};

        rc = zmq_poll(items, n, (long)poll_timeout(d, now));
        if (rc < 0 && zmq_errno() != EINTR) {
            ct_log_error(&d->log, "daemon", "poll failed: %s", zmq_strerror(zmq_errno()));
            d->stopping = true;
            break;
        }
        now = ct_time_mono_ms();
        handle_signals(d);
        if (agg_session_up(&d->db))
            dispatch_notifications(d, now);

        /* The eventfd stays readable until collected, so no finished group is missed. */
        if (writers_done->revents & ZMQ_POLLIN)
            agg_lanes_collect(lanes, &d->dir, d->feed);
        if (d->auth != NULL)
            agg_auth_handle(d->auth, &d->dir);
        agg_ingest_receive(d->ingest, &d->dir, &d->db, now);
        agg_ingest_refresh_presence(d->ingest, &d->db, now);
        agg_lanes_dispatch(lanes, &d->dir, now, false);
        if (agg_session_up(&d->db)) {
            agg_guard_arm(d->db_guard, MAIN_QUERY_MS);
            rc = agg_feed_publish_due(d->feed, agg_session_conn(&d->db), now);
            if (agg_guard_disarm(d->db_guard) || rc != 0)
                agg_session_lost(&d->db, "publishing progress", now);
        }
        agg_http_observe(d->http, agg_ingest_stats(d->ingest), agg_session_up(&d->db));
    }

    /* Stopping: whatever is committed now gets its ack; the rest is resent later. */
    agg_lanes_drain(lanes, &d->dir, d->feed, agg_session_up(&d->db));
}

int agg_cmd_daemon(int argc, char **argv)
{
    struct daemon d = {.argc = argc, .argv = argv, .signals = {.fd = -1}};
    char err[1024];
    int status = CT_EXIT_FAILURE;

    ct_log_init(&d.log);
    if (ct_log_catch_fatal_signals() != 0)
        ct_log_warn(&d.log, "daemon", "fatal signals will leave no line: %s", strerror(errno));
    enum ct_cli_result parsed = parse_settings(&d, &d.settings);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (check_transport(&d.settings) != 0)
        return CT_EXIT_USAGE;
    d.log.level = d.settings.log_level;
    /* msgpack-c frees its decoding zone after every frame; without these glibc would hand
     * that memory back to the kernel each time (measured: 500-update batches decode 5x slower). */
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);

    raise_file_limit(&d.log);
    /* Before any thread exists (ZeroMQ's, libmicrohttpd's), so all of them inherit the
     * mask and only the signalfd sees the signals. */
    if (ct_signals_init(&d.signals, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: cannot set up signal handling: %s\n", AGG_PROGRAM, err);
        return CT_EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Before the database wait, so /healthz can say what is wrong meanwhile; after the
     * signal mask, so libmicrohttpd's threads inherit it. */
    d.http = agg_http_new(&d.settings, &d.log, err, sizeof(err));
    if (d.http == NULL) {
        ct_log_error(&d.log, "daemon", "%s", err);
        goto out;
    }
    agg_session_init(&d.db, d.settings.db, d.settings.db_retry_max_ms, true, &d.log);
    d.db_guard = agg_guard_new(&d.db, err, sizeof(err));
    if (d.db_guard == NULL) {
        ct_log_error(&d.log, "daemon", "%s", err);
        goto out;
    }
    sd_notify(0, "STATUS=waiting for the database");
    switch (connect_and_migrate(&d, err, sizeof(err))) {
    case STARTUP_READY:
        break;
    case STARTUP_STOPPED:
        ct_log_info(&d.log, "daemon", "%s", err);
        status = CT_EXIT_OK;
        goto out;
    case STARTUP_FAILED:
        ct_log_error(&d.log, "daemon", "%s", err);
        goto out;
    }

    d.zmq_ctx = zmq_ctx_new();
    if (d.zmq_ctx == NULL) {
        ct_log_error(&d.log, "daemon", "cannot create a ZeroMQ context: %s",
                     zmq_strerror(zmq_errno()));
        goto out;
    }
    /* The ZAP handler must exist before the first connection can arrive. */
    if (d.settings.server_key[0] != '\0') {
        d.auth = agg_auth_new(d.zmq_ctx, &d.log, err, sizeof(err));
        if (d.auth == NULL) {
            ct_log_error(&d.log, "daemon", "%s", err);
            goto out;
        }
        agg_auth_set_catch_up(d.auth, (struct agg_directory_catch_up){catch_up, &d});
    }
    d.ingest = agg_ingest_new(d.zmq_ctx, &d.settings, &d.log, err, sizeof(err));
    if (d.ingest == NULL) {
        ct_log_error(&d.log, "daemon", "%s", err);
        goto out;
    }
    agg_ingest_set_catch_up(d.ingest, (struct agg_directory_catch_up){catch_up, &d});
    d.feed = agg_feed_new(d.zmq_ctx, d.settings.publish, d.settings.publish_interval_ms, &d.log,
                          err, sizeof(err));
    if (d.feed == NULL) {
        ct_log_error(&d.log, "daemon", "%s", err);
        goto out;
    }

    if (agg_ingest_watch(d.ingest, err, sizeof(err)) != 0)
        ct_log_warn(&d.log, "daemon", "%s; citytally_agents_connected stays 0", err);
    agg_http_count_connections(d.http, d.ingest);
    ct_log_info(&d.log, "daemon", "ready: collectors on %s (%s), progress on %s, database %s",
                d.settings.listen, d.settings.server_key[0] ? "CURVE" : "plain text, loopback",
                d.settings.publish, PQdb(agg_session_conn(&d.db)));
    sd_notifyf(0, "READY=1\nSTATUS=listening on %s", d.settings.listen);
    run_loop(&d);
    sd_notify(0, "STOPPING=1");
    status = CT_EXIT_OK;
out:
    agg_http_free(d.http); /* it counts the ingest's connections */
    agg_feed_free(d.feed);
    agg_ingest_free(d.ingest);
    agg_auth_free(d.auth);
    if (d.zmq_ctx != NULL)
        zmq_ctx_term(d.zmq_ctx);
    agg_guard_free(d.db_guard);
    agg_session_release(&d.db);
    agg_directory_release(&d.dir);
    ct_signals_release(&d.signals);
    if (status == CT_EXIT_OK)
        ct_log_info(&d.log, "daemon", "stopped");
    return status;
}
