/*
 * status.c - `citytally-collector status`: what the outbox holds and how delivery goes,
 * read from the outbox of --state-dir (WAL lets it read while the daemon writes). What
 * only the running daemon knows (batches in flight, whether it is connected) comes from
 * the report the daemon writes into the outbox every few seconds.
 *
 * File names come from whoever dropped the file, and codes and messages from the
 * aggregator: they reach the terminal with control characters escaped (ct_text_escape),
 * so a name like "q2\x1b]0;...\x07.csv" cannot drive the operator's terminal.
 */
#include "cli.h"
#include "commands.h"
#include "outbox.h"
#include "settings.h"
#include "text.h"
#include "timefmt.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STATUS_REJECTIONS 10
/* A daemon that has not reported for this long is taken to be gone. */
#define DAEMON_STALE_MS 15000

static void age(int64_t now, int64_t then, char *out, size_t size)
{
    int64_t s = (now - then) / 1000;
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(out, size, "%llds ago", (long long)s);
    else if (s < 7200)
        snprintf(out, size, "%lldm %llds ago", (long long)(s / 60), (long long)(s % 60));
    else if (s < 172800)
        snprintf(out, size, "%lldh %lldm ago", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, size, "%lld days ago", (long long)(s / 86400));
}

static void when(int64_t now, int64_t ms, char *out, size_t size)
{
    char stamp[CT_TIME_TEXT_MAX], ago[64];
    ct_time_format(ms, stamp, sizeof(stamp));
    age(now, ms, ago, sizeof(ago));
    snprintf(out, size, "%s (%s)", stamp, ago);
}

/* `s` (untrusted) as status may print it, in `buf`. */
static const char *shown(const char *s, char *buf, size_t size)
{
    ct_text_escape(s, strlen(s), buf, size);
    return buf;
}

static bool daemon_alive(const struct col_daemon_report *d, int64_t now)
{
    if (d->pid <= 0 || now - d->heartbeat_ms > DAEMON_STALE_MS)
        return false;
    return kill((pid_t)d->pid, 0) == 0 || errno == EPERM;
}

/* The plausibility warnings kept from recent acks (CONTRACT section 10): the figures were
 * stored and count; a clerk confirms one by sending it again with a note. */
static int print_warnings(struct col_outbox *ob)
{
    struct col_warning_row rows[STATUS_REJECTIONS];
    char err[COL_OUTBOX_ERROR_MAX];
    size_t n = 0;

    if (col_outbox_warnings(ob, rows, STATUS_REJECTIONS, &n, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s status: %s\n", COL_PROGRAM, err);
        return -1;
    }
    if (n == 0)
        printf("warnings:    none kept\n");
    else
        printf("warnings:    %zu most recent (the figures were stored and count; send one again "
               "with a note to confirm it):\n",
               n);
    for (size_t i = 0; i < n; i++) {
        const struct col_warning_row *w = &rows[i];
        char stamp[CT_TIME_TEXT_MAX], where[160];
        ct_time_format(w->warned_ms, stamp, sizeof(stamp));
        if (w->line > 0)
            snprintf(where, sizeof(where), "%s line %lld", w->origin, (long long)w->line);
        else
            snprintf(where, sizeof(where), "%s", w->origin);
        printf("  seq %llu  %s %lld = %s (%s) at %s: %s: %s\n", (unsigned long long)w->seq, w->ind,
               (long long)w->period, w->value, where, stamp, w->code, w->msg);
    }
    return 0;
}

int col_cmd_status(int argc, char **argv)
{
    struct col_settings s;
    struct ct_cli cli = {COL_PROGRAM,
                         "status",
                         "status [options]",
                         "Shows the outbox of --state-dir: updates pending and the age of the "
                         "oldest, batches in flight, the last acknowledgement, the last error, "
                         "recent rejections with their reasons, and recent plausibility warnings.",
                         col_settings_table,
                         col_settings_count,
                         &s,
                         NULL,
                         0,
                         NULL,
                         NULL};
    struct col_outbox *ob = NULL;
    struct col_outbox_stats st;
    struct col_daemon_report d;
    struct col_rejection_row rows[STATUS_REJECTIONS];
    char err[COL_OUTBOX_ERROR_MAX], text[PATH_MAX + 64], safe[4 * COL_OUTBOX_ERROR_MAX];
    size_t n_rows = 0;
    int64_t now = ct_time_now_ms();
    int first, rc = CT_EXIT_FAILURE;
    bool alive;

    col_settings_defaults(&s);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (argc != first) {
        fprintf(stderr, "%s status: takes no arguments (see --help)\n", COL_PROGRAM);
        return CT_EXIT_USAGE;
    }
    snprintf(text, sizeof(text), "%s/%s", s.state_dir, COL_OUTBOX_FILE);
    if (access(text, F_OK) != 0) {
        /* Opening would create an empty outbox: say plainly that there is none. */
        fprintf(stderr, "%s status: no outbox in %s (%s); is --state-dir right?\n", COL_PROGRAM,
                s.state_dir, strerror(errno));
        goto out;
    }
    if (col_outbox_open(s.state_dir, &ob, err, sizeof(err)) != 0 ||
        col_outbox_stats(ob, &st, err, sizeof(err)) != 0 ||
        col_outbox_daemon_report(ob, &d, err, sizeof(err)) != 0 ||
        col_outbox_rejections(ob, rows, STATUS_REJECTIONS, &n_rows, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s status: %s\n", COL_PROGRAM, err);
        goto out;
    }
    alive = daemon_alive(&d, now);

    printf("outbox:      %s/%s\n", s.state_dir, COL_OUTBOX_FILE);
    if (st.agent[0] != '\0')
        printf("agent:       %s (district %s)\n", st.agent, st.district);
    else
        printf("agent:       not yet bound (the agent has never run on this outbox)\n");
    if (alive)
        printf("daemon:      running, pid %lld, %s\n", (long long)d.pid,
               d.connected ? "connected to the aggregator" : "NOT connected to the aggregator");
    else if (d.pid > 0) {
        when(now, d.heartbeat_ms, text, sizeof(text));
        printf("daemon:      not running (last report %s)\n", text);
    } else
        printf("daemon:      not running\n");
    if (st.pending > 0) {
        when(now, st.oldest_queued_ms, text, sizeof(text));
        printf("pending:     %lld (seqs %llu to %llu), oldest queued %s\n", (long long)st.pending,
               (unsigned long long)st.first_pending_seq, (unsigned long long)(st.next_seq - 1),
               text);
    } else {
        printf("pending:     0 (next seq %llu)\n", (unsigned long long)st.next_seq);
    }
    printf("in flight:   %lld batches, %lld updates\n",
           alive ? (long long)d.in_flight_batches : 0LL,
           alive ? (long long)d.in_flight_updates : 0LL);
    if (st.last_ack_ms > 0) {
        when(now, st.last_ack_ms, text, sizeof(text));
        printf("last ack:    seq %llu at %s\n", (unsigned long long)st.last_ack_seq, text);
    } else {
        printf("last ack:    never\n");
    }
    if (st.last_error[0] != '\0') {
        when(now, st.last_error_ms, text, sizeof(text));
        printf("last error:  %s at %s\n", shown(st.last_error, safe, sizeof(safe)), text);
    } else {
        printf("last error:  none\n");
    }
    if (st.catalog_ms > 0) {
        when(now, st.catalog_ms, text, sizeof(text));
        printf("catalog:     %lld indicators, received %s\n", (long long)st.catalog_size, text);
    } else {
        printf("catalog:     not received yet (Chinese indicator names cannot be resolved)\n");
    }
    printf("imported:    %lld files\n", (long long)st.imported_files);
    printf("rejected:    %lld kept", (long long)st.rejected);
    printf(n_rows > 0 ? "; most recent first:\n" : "\n");
    for (size_t i = 0; i < n_rows; i++) {
        const struct col_rejection_row *r = &rows[i];
        char stamp[CT_TIME_TEXT_MAX], origin[4 * sizeof(r->origin)], where[sizeof(origin) + 32];
        char ind[4 * sizeof(r->ind)], value[4 * sizeof(r->value)], code[4 * sizeof(r->code)];
        ct_time_format(r->rejected_ms, stamp, sizeof(stamp));
        shown(r->origin, origin, sizeof(origin));
        if (r->line > 0)
            snprintf(where, sizeof(where), "%s line %lld", origin, (long long)r->line);
        else
            snprintf(where, sizeof(where), "%s", origin);
        printf("  seq %llu  %s %lld = %s (%s) at %s: %s: %s\n", (unsigned long long)r->seq,
               shown(r->ind, ind, sizeof(ind)), (long long)r->period,
               shown(r->value, value, sizeof(value)), where, stamp,
               shown(r->code, code, sizeof(code)), shown(r->msg, safe, sizeof(safe)));
    }
    if (print_warnings(ob) != 0)
        goto out;
    rc = CT_EXIT_OK;
out:
    col_outbox_free(ob);
    return rc;
}
