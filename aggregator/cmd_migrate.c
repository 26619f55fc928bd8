/* `citytally-aggregator migrate`: bring the database to this binary's schema. */
#include "cli.h"
#include "commands.h"
#include "db.h"
#include "migrate.h"
#include "settings.h"

#include <stdio.h>

int agg_cmd_migrate(int argc, char **argv)
{
    struct agg_settings settings;
    struct ct_cli cli = {
        .program = AGG_PROGRAM,
        .command = "migrate",
        .usage = "migrate [--db CONNINFO]",
        .summary = "Applies pending schema migrations in one transaction (safe to run "
                   "concurrently and repeatedly) and prints the schema version.",
        .config = agg_settings_table,
        .n_config = agg_settings_count,
        .settings = &settings,
    };
    char err[AGG_DB_ERR_MAX];
    PGconn *conn = NULL;
    int first, version, rc = CT_EXIT_FAILURE;

    agg_settings_defaults(&settings);
    enum ct_cli_result parsed = ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
    if (parsed != CT_CLI_RUN)
        return ct_cli_exit_status(parsed);
    if (first < argc) {
        fprintf(stderr, "%s migrate: unexpected argument '%s'\n", AGG_PROGRAM, argv[first]);
        return CT_EXIT_USAGE;
    }
    if ((conn = agg_db_connect(settings.db, err, sizeof(err))) == NULL ||
        agg_migrate(conn, &version, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s migrate: %s\n", AGG_PROGRAM, err);
        goto out;
    }
    printf("schema version %d\n", version);
    rc = CT_EXIT_OK;
out:
    PQfinish(conn);
    return rc;
}
