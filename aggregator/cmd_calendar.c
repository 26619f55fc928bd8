/* `citytally-aggregator calendar import FILE.csv`: load or replace years of reporting rounds
 * (CONTRACT section 9). */
#include "calendar.h"
#include "cli.h"
#include "commands.h"
#include "db.h"
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads at most AGG_CALENDAR_FILE_MAX + 1 bytes, so a larger file is seen as such. */
static char *read_file(const char *path, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;

    if (f == NULL) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    data = malloc(AGG_CALENDAR_FILE_MAX + 2);
    if (data == NULL) {
        snprintf(err, err_size, "out of memory");
    } else {
        *len = fread(data, 1, AGG_CALENDAR_FILE_MAX + 1, f);
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

int agg_cmd_calendar(int argc, char **argv)
{
    struct agg_settings settings;
    struct ct_cli cli = {AGG_PROGRAM,
                         "calendar",
                         "calendar import FILE.csv",
                         "Checks a calendar of reporting rounds (columns year,round,period_end,"
                         "due,indicators, as data/calendar-2015.csv) whole, then replaces the "
                         "rounds of every year it names; on any error nothing changes and every "
                         "problem is listed with its line.",
                         agg_settings_table,
                         agg_settings_count,
                         &settings,
                         NULL,
                         0,
                         NULL,
                         NULL};
    char err[AGG_DB_ERR_MAX];
    struct ct_buf problems = CT_BUF_INIT;
    PGconn *conn = NULL;
    char *data = NULL;
    size_t len = 0, n_rows = 0;
    int first, rc = CT_EXIT_FAILURE;
    const char *path;

    agg_settings_defaults(&settings);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (argc - first != 2 || strcmp(argv[first], "import") != 0) {
        fprintf(stderr, "%s calendar: usage: calendar import FILE.csv\n", AGG_PROGRAM);
        return CT_EXIT_USAGE;
    }
    path = argv[first + 1];
    if ((data = read_file(path, &len, err, sizeof(err))) == NULL)
        goto fail;
    if ((conn = agg_db_connect(settings.db, err, sizeof(err))) == NULL ||
        agg_db_begin(conn, err, sizeof(err)) != 0)
        goto fail;
    switch (agg_calendar_load(conn, path, data, len, &problems, &n_rows, err, sizeof(err))) {
    case AGG_CALENDAR_OK:
        break;
    case AGG_CALENDAR_INVALID:
        agg_db_rollback(conn);
        fprintf(stderr, "%s", problems.data ? problems.data : "");
        fprintf(stderr, "%s calendar: %s is invalid; nothing was changed\n", AGG_PROGRAM, path);
        goto out;
    case AGG_CALENDAR_DB_ERROR:
        goto fail;
    }
    /* Running daemons reload what is due (agents' channel: they reload their directory). */
    if (agg_db_exec(conn, "notifying the daemons", "NOTIFY citytally_agents", 0, NULL, err,
                    sizeof(err)) != 0 ||
        agg_db_commit(conn, err, sizeof(err)) != 0)
        goto fail;
    printf("%zu rounds loaded from %s\n", n_rows, path);
    rc = CT_EXIT_OK;
    goto out;
fail:
    if (conn != NULL)
        agg_db_rollback(conn);
    fprintf(stderr, "%s calendar: %s\n", AGG_PROGRAM, err);
out:
    ct_buf_free(&problems);
    free(data);
    PQfinish(conn);
    return rc;
}
