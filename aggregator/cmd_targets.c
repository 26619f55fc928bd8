/* `citytally-aggregator targets import FILE.csv`: load or replace one year's targets. */
#include "cli.h"
#include "commands.h"
#include "db.h"
#include "settings.h"
#include "targets.h"

#include <errno.h>
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

/* Reads at most AGG_TARGETS_FILE_MAX bytes; *len beyond it means "too large". */
static char *read_file(const char *path, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;

    if (f == NULL) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    data = malloc(AGG_TARGETS_FILE_MAX + 2);
    if (data == NULL) {
        snprintf(err, err_size, "out of memory");
    } else {
        *len = fread(data, 1, AGG_TARGETS_FILE_MAX + 1, f);
        if (ferror(f)) {
            snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
            free(data);
            data = NULL;
        } else {
            data[*len] = '\0';
        }
    }
    fclose(f);
    return data;
}

int agg_cmd_targets(int argc, char **argv)
{
    struct agg_settings settings;
    struct targets_args args = {0};
    struct ct_cli cli = {AGG_PROGRAM,
                         "targets",
                         "targets import FILE.csv [--year YEAR]",
                         "Checks a targets file (shaped like data/targets-2015.csv) whole, then "
                         "replaces that year's targets with it; on any error nothing changes and "
                         "every problem is listed with its line. An optional last column "
                         "`district` makes a row that unit's own target for the city-wide row "
                         "of the same code (see deploy/sample/targets-2015-units.csv).",
                         agg_settings_table,
                         agg_settings_count,
                         &settings,
                         targets_options,
                         1,
                         targets_flag,
                         &args};
    char err[AGG_DB_ERR_MAX];
    struct ct_buf problems = CT_BUF_INIT;
    PGconn *conn = NULL;
    char *data = NULL;
    size_t len = 0;
    int first, rc = CT_EXIT_FAILURE;
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
    if ((data = read_file(path, &len, err, sizeof(err))) == NULL)
        goto fail;
    if ((conn = agg_db_connect(settings.db, err, sizeof(err))) == NULL ||
        agg_db_begin(conn, err, sizeof(err)) != 0)
        goto fail;
    switch (agg_targets_load(conn, args.year, path, data, len, &problems, err, sizeof(err))) {
    case AGG_TARGETS_OK:
        break;
    case AGG_TARGETS_INVALID:
        agg_db_rollback(conn);
        fprintf(stderr, "%s", problems.data ? problems.data : "");
        fprintf(stderr, "%s targets: %s is invalid; nothing was changed\n", AGG_PROGRAM, path);
        rc = CT_EXIT_FAILURE;
        goto out;
    case AGG_TARGETS_DB_ERROR:
        goto fail;
    }
    if (agg_db_commit(conn, err, sizeof(err)) != 0)
        goto fail;
    printf("targets for %d replaced from %s\n", args.year, path);
    rc = CT_EXIT_OK;
    goto out;
fail:
    if (conn != NULL)
        agg_db_rollback(conn);
    fprintf(stderr, "%s targets: %s\n", AGG_PROGRAM, err);
out:
    ct_buf_free(&problems);
    free(data);
    PQfinish(conn);
    return rc;
}
