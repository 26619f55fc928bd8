/* Entry points whose issues have not landed yet; each is replaced by its own file. */
#include "cli.h"
#include "commands.h"
#include "settings.h"

#include <stdio.h>

static int later(int argc, char **argv, const char *command, const char *issue)
{
    struct col_settings settings;
    struct ct_cli cli = {COL_PROGRAM,
                         command,
                         "[options]",
                         "Not built yet.",
                         col_settings_table,
                         col_settings_count,
                         &settings,
                         NULL,
                         0,
                         NULL,
                         NULL};
    int first;

    col_settings_defaults(&settings);
    switch (ct_cli_parse(&cli, argc, argv, &first, NULL, 0)) {
    case CT_CLI_DONE:
        return CT_EXIT_OK;
    case CT_CLI_ERROR:
        return CT_EXIT_USAGE;
    case CT_CLI_RUN:
        break;
    }
    fprintf(stderr, "%s: %s arrives with issue %s\n", COL_PROGRAM, command ? command : "daemon",
            issue);
    return CT_EXIT_FAILURE;
}

int col_cmd_keygen(int argc, char **argv)
{
    return later(argc, argv, "keygen", "#6");
}
