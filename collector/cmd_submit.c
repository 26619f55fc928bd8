/*
 * cmd_submit.c - `citytally-collector submit INDICATOR VALUE`: one figure typed by a person,
 * queued in the outbox of --state-dir. It writes the outbox directly (one transaction), so
 * it works whether or not the daemon runs; the daemon notices the new row and sends it.
 */
#include "cli.h"
#include "col_settings.h"
#include "commands.h"
#include "csv_import.h"
#include "outbox.h"
#include "timefmt.h"
#include "value.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct submit_flags {
    const char *op, *period, *at, *note;
};

static const struct ct_cli_option submit_options[] = {
    {"op", 0, true, "set|add", "set (the whole year-to-date value; default) or add (a change)"},
    {"period", 0, true, "YEAR", "the year the figure belongs to (default: the year of --at)"},
    {"at", 0, true, "TIME", "when it was observed, ISO 8601 (default: now)"},
    {"note", 0, true, "TEXT", "a remark kept with the figure (at most 256 bytes)"},
};

static int on_flag(void *ctx, size_t index, const char *value, char *err, size_t err_size)
{
    struct submit_flags *f = ctx;
    const char **slot[] = {&f->op, &f->period, &f->at, &f->note};
    (void)err;
    (void)err_size;
    *slot[index] = value;
    return 0;
}

/* True for "-2", "-0.5", "-1,000": a negative VALUE, which getopt would take for a flag. */
static bool negative_number(const char *a)
{
    return a[0] == '-' &&
           ((a[1] >= '0' && a[1] <= '9') || (a[1] == '.' && a[2] >= '0' && a[2] <= '9'));
}

/* Whether `flag` ("--note", "-c") takes the next argument as its value. */
static bool takes_value(const char *flag)
{
    if (strcmp(flag, "-c") == 0 || strcmp(flag, "--config") == 0)
        return true;
    if (strncmp(flag, "--", 2) != 0 || strchr(flag, '=') != NULL)
        return false;
    for (size_t i = 0; i < sizeof(submit_options) / sizeof(submit_options[0]); i++) {
        if (strcmp(flag + 2, submit_options[i].name) == 0)
            return submit_options[i].takes_value;
    }
    const struct ct_config_option *o =
        ct_config_find_flag(col_settings_table, col_settings_count, flag + 2);
    return o != NULL && o->type != CT_CONFIG_BOOL;
}

/* Rewrites argv so that negative numbers given as positional arguments follow a "--":
 * `submit rd_centers_municipal -2 --op add` then means what it says. GNU getopt keeps the
 * positional order (arguments it skipped come before those after "--"). `out` has room
 * for argc + 2 pointers. */
static int protect_negative_values(int argc, char **argv, char **out)
{
    int n = 0, moved = 0;
    char *tail[2];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                out[n++] = argv[i++];
            break;
        }
        if (i > 0 && negative_number(argv[i]) && !takes_value(argv[i - 1]) && moved < 2) {
            tail[moved++] = argv[i];
            continue;
        }
        out[n++] = argv[i];
    }
    if (moved > 0) {
        bool has_dashes = false;
        for (int i = 0; i < n; i++)
            has_dashes = has_dashes || strcmp(out[i], "--") == 0;
        if (!has_dashes)
            out[n++] = "--";
        for (int i = 0; i < moved; i++)
            out[n++] = tail[i];
    }
    out[n] = NULL;
    return n;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, COL_PROGRAM " submit: " __VA_ARGS__);                                      \
        fputc('\n', stderr);                                                                       \
        goto out;                                                                                  \
    } while (0)

int col_cmd_submit(int argc, char **argv)
{
    struct col_settings s;
    struct submit_flags f = {0};
    struct ct_cli cli = {
        .program = COL_PROGRAM,
        .command = "submit",
        .usage = "submit INDICATOR VALUE [--op set|add] [--period YEAR] [--at TIME] "
                 "[--note TEXT] [options]",
        .summary = "Queues one figure in the outbox of --state-dir, whether or not the "
                   "agent runs. INDICATOR is a code or its Chinese name; VALUE a number "
                   "(negative ones too: submit rd_centers_municipal -2 --op add).",
        .config = col_settings_table,
        .n_config = col_settings_count,
        .settings = &s,
        .options = submit_options,
        .n_options = sizeof(submit_options) / sizeof(submit_options[0]),
        .handler = on_flag,
        .handler_ctx = &f,
    };
    struct col_outbox *ob = NULL;
    struct ct_catalog_entry *catalog = NULL;
    struct col_outbox_stats st;
    struct col_new_update u = {0};
    char err[COL_OUTBOX_ERROR_MAX * 2], code[CT_ID_MAX + 1], when[CT_TIME_TEXT_MAX];
    char value_text[CT_VALUE_TEXT_MAX];
    size_t n_catalog = 0;
    uint64_t seq = 0;
    int first, rc = CT_EXIT_USAGE, status;

    char **args = calloc((size_t)argc + 3, sizeof(char *));
    if (args == NULL) {
        fprintf(stderr, "%s submit: out of memory\n", COL_PROGRAM);
        return CT_EXIT_FAILURE;
    }
    argc = protect_negative_values(argc, argv, args);
    argv = args;
    col_settings_defaults(&s);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN) {
        rc = ct_cli_exit_status(parsed);
        goto out;
    }
    if (argc - first != 2)
        FAIL("expected INDICATOR VALUE, got %d argument%s (see --help)", argc - first,
             argc - first == 1 ? "" : "s");

    u.op = CT_OP_SET;
    if (f.op != NULL && (u.op = ct_op_parse(f.op)) == CT_OP_INVALID)
        FAIL("--op '%s': must be set or add", f.op);
    if (ct_value_parse(argv[first + 1], &u.value, err, sizeof(err)) != 0)
        FAIL("value '%s': %s", argv[first + 1], err);
    u.at_ms = ct_time_now_ms();
    if (f.at != NULL && ct_time_parse(f.at, &u.at_ms, err, sizeof(err)) != 0)
        FAIL("--at '%s': %s", f.at, err);
    if (u.at_ms < CT_WIRE_AT_MIN_MS || u.at_ms >= CT_WIRE_AT_MAX_MS)
        FAIL("--at: the time must be within the years 2000 to 2099");
    u.period = ct_time_year_of(u.at_ms);
    if (f.period != NULL) {
        char *end;
        long p = strtol(f.period, &end, 10);
        if (*f.period == '\0' || *end != '\0' || p < CT_WIRE_PERIOD_MIN || p > CT_WIRE_PERIOD_MAX)
            FAIL("--period '%s': must be a year from %d to %d", f.period, CT_WIRE_PERIOD_MIN,
                 CT_WIRE_PERIOD_MAX);
        u.period = p;
    }
    if (f.note != NULL) {
        size_t len = strlen(f.note);
        if (len > CT_WIRE_MAX_NOTE)
            FAIL("--note is %zu bytes long; at most %d are allowed", len, CT_WIRE_MAX_NOTE);
        if (!ct_utf8_valid(f.note, len))
            FAIL("--note is not valid UTF-8");
        if (len > 0)
            u.note = f.note;
    }

    rc = CT_EXIT_FAILURE;
    if (col_outbox_new(s.state_dir, &ob, err, sizeof(err)) != 0)
        FAIL("%s", err);
    if (col_outbox_stats(ob, &st, err, sizeof(err)) != 0 ||
        col_outbox_load_catalog(ob, &catalog, &n_catalog, err, sizeof(err)) != 0)
        FAIL("%s", err);
    if (s.district[0] != '\0' && st.district[0] != '\0' && strcmp(s.district, st.district) != 0)
        FAIL("--district %s, but the outbox in %s belongs to district %s", s.district, s.state_dir,
             st.district);
    if (col_resolve_indicator(argv[first], catalog, n_catalog,
                              s.district[0] ? s.district : st.district, code, sizeof(code), err,
                              sizeof(err)) != 0) {
        rc = CT_EXIT_USAGE;
        FAIL("%s", err);
    }
    u.ind = code;
    status = col_outbox_append(ob, &u, 1, NULL, s.outbox_max, &seq, err, sizeof(err));
    if (status != 0)
        FAIL("%s", err);
    ct_value_format(&u.value, value_text, sizeof(value_text));
    ct_time_format(u.at_ms, when, sizeof(when));
    printf("queued seq %llu: %s %s %s for %lld, observed at %s\n", (unsigned long long)seq, code,
           ct_op_name(u.op), value_text, (long long)u.period, when);
    rc = CT_EXIT_OK;
out:
    free(catalog);
    col_outbox_free(ob);
    free(args);
    return rc;
}
