/* `citytally-aggregator targets import FILE.csv`: load or replace one year's targets. */
#include "cli.h"
#include "commands.h"
#include "csv_load.h"
#include "settings.h"
#include "targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct targets_args {
    int year;
};

static const struct ct_cli_option targets_options[] = {
    {"year", 0, true, "YEAR",
     "the year the file's targets are for (default: from the file name, "
     "as in targets-2016.csv)"},
};

static int targets_flag(void *ctx, size_t index, const char *value, char *err, size_t err_size)
{
    struct targets_args *a = ctx;
    char *end;
    long y = strtol(value, &end, 10);

    (void)index;
    if (*value == '\0' || *end != '\0' || y < 1900 || y > 9999) {
        snprintf(err, err_size, "'%s' is not a year (1900-9999)", value);
        return -1;
    }
    a->year = (int)y;
    return 0;
}

static int load(void *ctx, PGconn *conn, const char *path, const char *data, size_t len,
                struct ct_buf *problems, char *err, size_t err_size)
{
    const struct targets_args *a = ctx;

    return agg_targets_load(conn, a->year, path, data, len, problems, err, err_size);
}

int agg_cmd_targets(int argc, char **argv)
{
    struct agg_settings settings;
    struct targets_args args = {0};
    struct ct_cli cli = {
        .program = AGG_PROGRAM,
        .command = "targets",
        .usage = "targets import FILE.csv [--year YEAR]",
        .summary = "Checks a targets file (shaped like data/targets-2015.csv) whole, then "
                   "replaces that year's targets with it; on any error nothing changes and "
                   "every problem is listed with its line. An optional last column "
                   "`district` makes a row that unit's own target for the city-wide row "
                   "of the same code (see deploy/sample/targets-2015-units.csv).",
        .config = agg_settings_table,
        .n_config = agg_settings_count,
        .settings = &settings,
        .options = targets_options,
        .n_options = sizeof(targets_options) / sizeof(targets_options[0]),
        .handler = targets_flag,
        .handler_ctx = &args,
    };
    int first;
    const char *path;

    agg_settings_defaults(&settings);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (argc - first != 2 || strcmp(argv[first], "import") != 0) {
        fprintf(stderr, "%s targets: usage: targets import FILE.csv [--year YEAR]\n", AGG_PROGRAM);
        return CT_EXIT_USAGE;
    }
    path = argv[first + 1];
    if (args.year == 0 && agg_targets_year_from_name(path, &args.year) != 0) {
        fprintf(stderr, "%s targets: %s: no year in the file name; give --year YEAR\n", AGG_PROGRAM,
                path);
        return CT_EXIT_USAGE;
    }
    const struct agg_csv_import imp = {
        .command = "targets",
        .db = settings.db,
        .path = path,
        .file_max = AGG_TARGETS_FILE_MAX,
        .load = load,
        .ctx = &args,
    };
    if (agg_csv_import(&imp) != CT_EXIT_OK)
        return CT_EXIT_FAILURE;
    printf("targets for %d replaced from %s\n", args.year, path);
    return CT_EXIT_OK;
}
