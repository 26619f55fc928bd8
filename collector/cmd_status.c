/*
 * cmd_status.c - `citytally-collector status`: what the outbox holds and how delivery goes,
 * read from the outbox of --state-dir (WAL lets it read while the daemon writes). What
 * only the running daemon knows (batches in flight, whether it is connected and to which
 * endpoint of --connect, how often it moved on) comes from the report the daemon writes into
 * the outbox every few seconds.
 *
 * File names come from whoever dropped the file, and codes and messages from the
 * aggregator: they reach the terminal with control characters escaped (ct_text_escape),
 * so a name like "q2\x1b]0;...\x07.csv" cannot drive the operator's terminal.
 */
#include "cli.h"
#include "col_settings.h"
#include "commands.h"
#include "due_view.h"
#include "outbox.h"
#include "text.h"
#include "timefmt.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

/* One kept rejection or warning: every text in it came from a file or the aggregator. */
static void print_kept(const struct col_kept_row *k)
{
    char stamp[CT_TIME_TEXT_MAX], where[4 * 128 + 32], safe_origin[4 * 128];
    char safe_ind[4 * (CT_ID_MAX + 1)], safe_value[4 * CT_VALUE_TEXT_MAX];
    char safe_code[4 * (CT_WIRE_MAX_CODE + 1)], safe_msg[4 * (CT_WIRE_MAX_TEXT + 1)];

    ct_time_format(k->at_ms, stamp, sizeof(stamp));
    shown(k->origin, safe_origin, sizeof(safe_origin));
    if (k->line > 0)
        snprintf(where, sizeof(where), "%s line %lld", safe_origin, (long long)k->line);
    else
        snprintf(where, sizeof(where), "%s", safe_origin);
    printf("  seq %llu  %s %lld = %s (%s) at %s: %s: %s\n", (unsigned long long)k->seq,
           shown(k->ind, safe_ind, sizeof(safe_ind)), (long long)k->period,
           shown(k->value, safe_value, sizeof(safe_value)), where, stamp,
           shown(k->code, safe_code, sizeof(safe_code)), shown(k->msg, safe_msg, sizeof(safe_msg)));
}

static bool daemon_alive(const struct col_daemon_report *d, int64_t now)
{
    if (d->pid <= 0 || now - d->heartbeat_ms > DAEMON_STALE_MS)
        return false;
    return kill((pid_t)d->pid, 0) == 0 || errno == EPERM;
}

/* "running, pid 12, connected to the aggregator at tcp://10.0.0.2:5560; 1 move between
 * aggregators since it started". The endpoint is only where the daemon connects: the keys
 * are settings of their own and never pass through the report. */
static void print_daemon(const struct col_daemon_report *d, bool alive, int64_t now)
{
    char text[128], safe[4 * (COL_ENDPOINT_MAX + 1)], at[sizeof(safe) + 16];

    if (!alive) {
        if (d->pid > 0) {
            when(now, d->heartbeat_ms, text, sizeof(text));
            printf("daemon:      not running (last report %s)\n", text);
        } else {
            printf("daemon:      not running\n");
        }
        return;
    }
    shown(d->endpoint, safe, sizeof(safe)); /* the outbox is a file others could write */
    at[0] = '\0';
    if (safe[0] != '\0')
        snprintf(at, sizeof(at), d->connected ? " at %s" : " (trying %s)", safe);
    printf("daemon:      running, pid %lld, %s%s", (long long)d->pid,
           d->connected ? "connected to the aggregator" : "NOT connected to the aggregator", at);
    if (d->moves > 0)
        printf("; %lld move%s between aggregators since it started", (long long)d->moves,
               d->moves == 1 ? "" : "s");
    printf("\n");
}

/* The plausibility warnings kept from recent acks (CONTRACT section 10): the figures were
 * stored and count; a clerk confirms one by sending it again with a note. */
static int print_warnings(struct col_outbox *ob)
{
    struct col_kept_row rows[STATUS_REJECTIONS];
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
    for (size_t i = 0; i < n; i++)
        print_kept(&rows[i]);
    return 0;
}

static const char *name_zh(const struct ct_catalog_entry *catalog, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(catalog[i].code, code) == 0)
            return catalog[i].name_zh;
    }
    return NULL;
}

/* "报送期限 due 2015-04-10, 还有 5 天 in 5 days" or "..., 逾期 3 天 3 days overdue". */
static void due_when(const struct col_due_row *r, int64_t now, char *out, size_t size)
{
    int64_t end = col_due_end_ms(r), day = 24LL * 3600 * 1000;

    if (end == 0)
        snprintf(out, size, "报送期限 due %s", r->due);
    else if (end >= now)
        snprintf(out, size, "报送期限 due %s, 还有 %lld 天 in %lld days", r->due,
                 (long long)((end - now) / day), (long long)((end - now) / day));
    else
        snprintf(out, size, "报送期限 due %s, 逾期 %lld 天 %lld days overdue", r->due,
                 (long long)((now - end) / day + 1), (long long)((now - end) / day + 1));
}

/* The rounds the aggregator said are due (its last welcome or ack) and what this unit has
 * not reported for them, with the Chinese names of the cached catalog. */
static int print_due(struct col_outbox *ob, int64_t now, char *err, size_t err_size)
{
    struct ct_catalog_entry *catalog = NULL;
    struct col_due_row *rows = NULL;
    size_t n = 0, n_catalog = 0;
    int64_t received = 0;
    char text[256];
    int status;

    if ((status = col_outbox_due(ob, &rows, &n, &received, err, err_size)) != 0 ||
        (status = col_outbox_load_catalog(ob, &catalog, &n_catalog, err, err_size)) != 0)
        goto out;
    if (received == 0 && n == 0) {
        printf("due 应报:     尚未收到 not received yet (the aggregator sends it with welcome and "
               "ack)\n");
        goto out;
    }
    if (n == 0) {
        printf("due 应报:     当前无待报轮次 no round is due\n");
        goto out;
    }
    when(now, received, text, sizeof(text));
    printf("due 应报:     %zu 个轮次 rounds, as the aggregator said at %s\n", n, text);
    for (size_t i = 0; i < n; i++) {
        struct col_due_row *r = &rows[i]; /* ours: strtok cuts its list */
        char *save = NULL;
        due_when(r, now, text, sizeof(text));
        if (r->n_missing == 0) {
            printf("  %lld %s  %s: 已报齐 nothing missing\n", (long long)r->year, r->round, text);
            continue;
        }
        printf("  %lld %s  %s: 尚缺 %lld 项 %lld still missing\n", (long long)r->year, r->round,
               text, (long long)r->n_missing, (long long)r->n_missing);
        for (char *code = strtok_r(r->missing, " ", &save); code != NULL;
             code = strtok_r(NULL, " ", &save)) {
            const char *zh = name_zh(catalog, n_catalog, code);
            printf("    %s%s%s\n", zh != NULL ? zh : "", zh != NULL ? " " : "", code);
        }
    }
out:
    free(rows);
    free(catalog);
    return status;
}

int col_cmd_status(int argc, char **argv)
{
    struct col_settings s;
    struct ct_cli cli = {
        .program = COL_PROGRAM,
        .command = "status",
        .usage = "status [options]",
        .summary = "Shows the outbox of --state-dir: whether the daemon runs and which "
                   "aggregator of --connect it is connected to (or trying), updates pending "
                   "and the age of the oldest, batches in flight, the last acknowledgement, "
                   "the last error, "
                   "which reporting rounds are due and what is still missing, recent "
                   "rejections with their reasons, and recent plausibility warnings.",
        .config = col_settings_table,
        .n_config = col_settings_count,
        .settings = &s,
    };
    struct col_outbox *ob = NULL;
    struct col_outbox_stats st;
    struct col_daemon_report d;
    struct col_kept_row rows[STATUS_REJECTIONS];
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
    if (col_outbox_new(s.state_dir, &ob, err, sizeof(err)) != 0 ||
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
    print_daemon(&d, alive, now);
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
    if (print_due(ob, now, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s status: %s\n", COL_PROGRAM, err);
        goto out;
    }
    printf("imported:    %lld files\n", (long long)st.imported_files);
    printf("rejected:    %lld kept", (long long)st.rejected);
    printf(n_rows > 0 ? "; most recent first:\n" : "\n");
    for (size_t i = 0; i < n_rows; i++)
        print_kept(&rows[i]);
    if (print_warnings(ob) != 0)
        goto out;
    rc = CT_EXIT_OK;
out:
    col_outbox_free(ob);
    return rc;
}
