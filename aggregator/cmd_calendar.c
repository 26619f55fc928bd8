/* `citytally-aggregator calendar import FILE.csv`: load or replace years of reporting rounds
 * (CONTRACT section 9). */
#include "calendar.h"
#include "cli.h"
#include "commands.h"
#include "csv_load.h"
#include "db.h"
#include "settings.h"

#include <stdio.h>
#include <string.h>

static int load(void *ctx, PGconn *conn, const char *path, const char *data, size_t len,
                struct ct_buf *problems, char *err, size_t err_size)
{
    size_t *n_rows = ctx;
    int rc = agg_calendar_load(conn, path, data, len, problems, n_rows, err, err_size);

    if (rc != AGG_CALENDAR_OK)
        return rc;
    /* Running daemons reload what is due (agents' channel: they reload their directory). */
    if (agg_db_exec(conn, "notifying the daemons", "NOTIFY citytally_agents", 0, NULL, err,
                    err_size) != 0)
        return AGG_CSV_DB_ERROR;
    return AGG_CSV_OK;
}

int agg_cmd_calendar(int argc, char **argv)
{
    struct agg_settings settings;
    struct ct_cli cli = {
        .program = AGG_PROGRAM,
        .command = "calendar",
        .usage = "calendar import FILE.csv",
        .summary = "Checks a calendar of reporting rounds (columns year,round,period_end,"
                   "due,indicators, as data/calendar-2015.csv) whole, then replaces the "
                   "rounds of every year it names; on any error nothing changes and every "
                   "problem is listed with its line.",
        .config = agg_settings_table,
        .n_config = agg_settings_count,
        .settings = &settings,
    };
    size_t n_rows = 0;
    int first;

    agg_settings_defaults(&settings);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (argc - first != 2 || strcmp(argv[first], "import") != 0) {
        fprintf(stderr, "%s calendar: usage: calendar import FILE.csv\n", AGG_PROGRAM);
        return CT_EXIT_USAGE;
    }
    const struct agg_csv_import imp = {
        .command = "calendar",
        .db = settings.db,
        .path = argv[first + 1],
        .file_max = AGG_CALENDAR_FILE_MAX,
        .load = load,
        .ctx = &n_rows,
    };
    if (agg_csv_import(&imp) != CT_EXIT_OK)
        return CT_EXIT_FAILURE;
    printf("%zu rounds loaded from %s\n", n_rows, imp.path);
    return CT_EXIT_OK;
}
