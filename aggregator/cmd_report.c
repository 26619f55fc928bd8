/* `citytally-aggregator report`: progress against one year's targets (CONTRACT section 4). */
#include "assessment.h"
#include "briefing.h"
#include "calendar.h"
#include "cli.h"
#include "commands.h"
#include "completeness_render.h"
#include "db.h"
#include "diff.h"
#include "known_at.h"
#include "progress.h"
#include "report.h"
#include "settings.h"
#include "text.h"
#include "timefmt.h"
#include "xlsx_report.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct report_args {
    int year; /* 0: the year of --as-of, else the latest year with targets */
    bool have_as_of;
    int64_t as_of_ms;
    char district[CT_ID_MAX + 1]; /* "" for the city */
    enum agg_report_format format;
    bool xlsx;                              /* --format xlsx: a workbook written to --output */
    const char *output;                     /* --output FILE (argv's) */
    bool assessment;                        /* --assessment: the units' ranking (section 8) */
    bool completeness;                      /* --completeness (CONTRACT section 9) */
    char round[AGG_CALENDAR_ROUND_MAX + 1]; /* --round: "" for every round */
    int64_t known_at_ms;                    /* AGG_KNOWN_AT_NOW unless --known-at */
    const char *diff_from; /* --diff FROM TO: FROM as given, TO the one argument left */
};

static const struct ct_cli_option report_options[] = {
    {"year", 0, true, "YEAR", "the targets' year (default: the year of --as-of, else the latest)"},
    {"as-of", 0, true, "TIME", "figures as of TIME, ISO 8601; a date means its end (default: now)"},
    {"district", 0, true, "ID", "one unit's own figures instead of the city's"},
    {"format", 0, true, "FORMAT", "table (default), csv, json, or xlsx (with --output)"},
    {"output", 0, true, "FILE", "where --format xlsx writes the workbook (replaced whole)"},
    {"assessment", 0, false, NULL, "the units' assessment: scores on their own targets, ranked"},
    {"completeness", 0, false, NULL, "who reported each round of the year, and on time"},
    {"round", 0, true, "ROUND", "with --completeness: only this round (Q1, H1 ...)"},
    {"known-at", 0, true, "TIME", "only updates committed by TIME (default: now)"},
    {"diff", 0, true, "FROM", "--diff FROM TO: what changed between as of FROM and as of TO"},
};

static int report_flag(void *ctx, size_t index, const char *value, char *err, size_t err_size)
{
    struct report_args *a = ctx;
    char *end;

    switch (index) {
    case 0: {
        long y = strtol(value, &end, 10);
        if (*value == '\0' || *end != '\0' || y < 1900 || y > 9999) {
            snprintf(err, err_size, "'%s' is not a year (1900-9999)", value);
            return -1;
        }
        a->year = (int)y;
        return 0;
    }
    case 1:
        a->have_as_of = true;
        return ct_time_parse(value, &a->as_of_ms, err, err_size);
    case 2:
        if (!ct_id_valid(value, strlen(value))) {
            snprintf(err, err_size, "'%s' is not a unit id", value);
            return -1;
        }
        ct_strlcpy(a->district, value, sizeof(a->district));
        return 0;
    case 3:
        a->xlsx = strcmp(value, "xlsx") == 0;
        if (!a->xlsx && agg_report_format_parse(value, &a->format) != 0) {
            snprintf(err, err_size, "'%s' is not one of table, csv, json, xlsx", value);
            return -1;
        }
        return 0;
    case 4:
        a->output = value;
        return 0;
    case 5:
        a->assessment = true;
        return 0;
    case 6:
        a->completeness = true;
        return 0;
    case 7:
        if (strlen(value) == 0 || strlen(value) > AGG_CALENDAR_ROUND_MAX) {
            snprintf(err, err_size, "'%s' is not a round name", value);
            return -1;
        }
        ct_strlcpy(a->round, value, sizeof(a->round));
        return 0;
    case 8:
        return ct_time_parse(value, &a->known_at_ms, err, err_size);
    default: /* 9: --diff FROM */
        a->diff_from = value;
        return 0;
    }
}

/* `report --diff FROM TO [--year Y]`: table or json (CONTRACT section 11). A second
 * connection reads half of a long listing; without one (the server refused it) the first
 * reads it all, to the same result. */
static int print_diff(PGconn *conn, const char *conninfo, const struct report_args *a,
                      const char *to_text, struct ct_buf *out, char *err, size_t err_size)
{
    char helper_err[AGG_DB_ERR_MAX];
    struct agg_diff *d = NULL;
    PGconn *helper;
    int64_t from, to;
    int rc = -1;

    if (agg_known_at_parse("--diff FROM", a->diff_from, &from, err, err_size) != 0 ||
        agg_known_at_parse("--diff TO", to_text, &to, err, err_size) != 0)
        return -1;
    helper = agg_db_connect(conninfo, helper_err, sizeof(helper_err));
    rc = agg_diff_load(conn, helper, a->year, from, to, &d, err, err_size);
    PQfinish(helper);
    if (rc != 0)
        return -1;
    rc = -1;
    if (a->format == AGG_REPORT_JSON ? agg_diff_json(d, out) != 0 || ct_buf_puts(out, "\n") != 0
                                     : agg_diff_table(d, out) != 0)
        snprintf(err, err_size, "out of memory rendering the diff");
    else
        rc = 0;
    agg_diff_free(d);
    return rc;
}

static int latest_year(PGconn *conn, int *year, char *err, size_t err_size)
{
    PGresult *res =
        agg_db_query(conn, "finding the latest year with targets", "SELECT max(year) FROM targets",
                     0, NULL, PGRES_TUPLES_OK, err, err_size);
    if (res == NULL)
        return -1;
    if (PQgetisnull(res, 0, 0)) {
        snprintf(err, err_size, "no targets are loaded (run migrate, or targets import)");
        PQclear(res);
        return -1;
    }
    *year = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* The workbook of xlsx_report.h, of the city's figures. */
static int write_xlsx(PGconn *conn, const struct report_args *a, char *err, size_t err_size)
{
    struct agg_briefing_query q = {a->year, a->as_of_ms};
    struct agg_briefing *b = NULL;
    int rc = -1;

    if (agg_briefing_load(conn, &q, &b, err, err_size) == 0)
        rc = agg_xlsx_write_file(b, a->output, err, err_size);
    agg_briefing_free(b);
    return rc;
}

/* --format xlsx and --output go together, and the workbook is the city's. Returns 0, or
 * -1 with the usage error in `err`. */
static int check_xlsx_args(const struct report_args *a, char *err, size_t err_size)
{
    if (a->xlsx && a->output == NULL)
        snprintf(err, err_size, "--format xlsx needs --output FILE");
    else if (!a->xlsx && a->output != NULL)
        snprintf(err, err_size, "--output is only for --format xlsx");
    else if (a->xlsx && a->district[0] != '\0')
        snprintf(err, err_size, "--format xlsx is the city-wide workbook; drop --district");
    else if (a->output != NULL && a->output[0] == '\0')
        snprintf(err, err_size, "--output: empty file name");
    else
        return 0;
    return -1;
}

/* `report --assessment`: renders the ranking into `out`. */
static int render_assessment(PGconn *conn, const struct report_args *args, struct ct_buf *out,
                             char *err, size_t err_size)
{
    struct agg_assessment *a = NULL;
    int rc = -1;

    if (agg_assessment_load(conn, args->year, args->as_of_ms, &a, err, err_size) != 0)
        goto out;
    if (agg_assessment_render(a, args->format, out) != 0) {
        snprintf(err, err_size, "out of memory rendering the assessment");
        goto out;
    }
    rc = 0;
out:
    agg_assessment_free(a);
    return rc;
}

int agg_cmd_report(int argc, char **argv)
{
    struct agg_settings settings;
    struct report_args args = {.format = AGG_REPORT_TABLE, .known_at_ms = AGG_KNOWN_AT_NOW};
    struct ct_cli cli = {
        .program = AGG_PROGRAM,
        .command = "report",
        .usage = "report [--year Y] [--as-of TIME] [--known-at TIME] "
                 "[--district ID | --assessment] [--format table|csv|json] | "
                 "[--format xlsx --output FILE] | report --completeness [--year Y] "
                 "[--round R] [--format table|csv|json] | report --diff FROM TO [--year Y]",
        .summary = "Prints progress against a year's targets: the city's figures, or with "
                   "--district one unit's own. Colour only on a terminal without NO_COLOR.",
        .config = agg_settings_table,
        .n_config = agg_settings_count,
        .settings = &settings,
        .options = report_options,
        .n_options = sizeof(report_options) / sizeof(report_options[0]),
        .handler = report_flag,
        .handler_ctx = &args,
    };
    char err[AGG_DB_ERR_MAX];
    struct agg_progress *progress = NULL;
    struct ct_buf out = CT_BUF_INIT;
    PGconn *conn = NULL;
    int first, rc = CT_EXIT_FAILURE;

    agg_settings_defaults(&settings);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (args.diff_from != NULL && first != argc - 1) {
        fprintf(stderr, "%s report: --diff FROM needs its TO after it\n", AGG_PROGRAM);
        return CT_EXIT_USAGE;
    }
    if (args.diff_from == NULL && first < argc) {
        fprintf(stderr, "%s report: unexpected argument '%s'\n", AGG_PROGRAM, argv[first]);
        return CT_EXIT_USAGE;
    }
    if (check_xlsx_args(&args, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s report: %s\n", AGG_PROGRAM, err);
        return CT_EXIT_USAGE;
    }
    if (args.assessment && args.district[0]) {
        fprintf(stderr, "%s report: --assessment ranks every unit; it takes no --district\n",
                AGG_PROGRAM);
        return CT_EXIT_USAGE;
    }
    if (args.completeness || args.round[0] != '\0') {
        if (!args.completeness || args.have_as_of || args.district[0] != '\0' || args.assessment ||
            args.xlsx) {
            fprintf(stderr,
                    "%s report: --round goes with --completeness, which takes no "
                    "--as-of, --district, --assessment or xlsx\n",
                    AGG_PROGRAM);
            return CT_EXIT_USAGE;
        }
        return agg_completeness_report(&settings, args.year, args.round[0] ? args.round : NULL,
                                       args.format);
    }
    if (!args.have_as_of)
        args.as_of_ms = ct_time_now_ms();
    if (args.year == 0 && args.have_as_of)
        args.year = ct_time_year_of(args.as_of_ms);
    if (args.year == 0 && args.diff_from != NULL) {
        int64_t to;
        if (agg_known_at_parse("--diff TO", argv[first], &to, err, sizeof(err)) != 0)
            goto fail;
        args.year = ct_time_year_of(to);
    }
    if ((conn = agg_db_connect(settings.db, err, sizeof(err))) == NULL)
        goto fail;
    if (args.year == 0 && latest_year(conn, &args.year, err, sizeof(err)) != 0)
        goto fail;
    if (args.xlsx) {
        if (write_xlsx(conn, &args, err, sizeof(err)) != 0)
            goto fail;
        rc = CT_EXIT_OK;
        goto out;
    }
    if (args.assessment) {
        if (render_assessment(conn, &args, &out, err, sizeof(err)) != 0)
            goto fail;
        goto write;
    }
    if (args.diff_from != NULL) {
        if (print_diff(conn, settings.db, &args, argv[first], &out, err, sizeof(err)) != 0)
            goto fail;
        goto write;
    }
    if (agg_progress_load_known(conn, args.year, args.as_of_ms, args.known_at_ms,
                                args.district[0] ? args.district : NULL, &progress, err,
                                sizeof(err)) != 0)
        goto fail;
    bool colour = args.format == AGG_REPORT_TABLE && isatty(STDOUT_FILENO) &&
                  (getenv("NO_COLOR") == NULL || getenv("NO_COLOR")[0] == '\0');
    if (agg_report_render(progress, args.format, colour, &out) != 0) {
        snprintf(err, sizeof(err), "out of memory rendering the report");
        goto fail;
    }
write:
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        snprintf(err, sizeof(err), "cannot write the report to stdout");
        goto fail;
    }
    rc = CT_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "%s report: %s\n", AGG_PROGRAM, err);
out:
    ct_buf_free(&out);
    agg_progress_free(progress);
    PQfinish(conn);
    return rc;
}
