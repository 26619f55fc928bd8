/* Entry points whose issues have not landed yet; each is replaced by its own file. */
#include "cli.h"
#include "commands.h"
#include "settings.h"

#include <stdio.h>

__attribute__((unused)) static int later(int argc, char **argv, const char *command,
                                          const char *issue)
{
    struct agg_settings settings;
    struct ct_cli cli = {AGG_PROGRAM,
                         command,
                         "[options]",
                         "Not built yet.",
                         agg_settings_table,
                         agg_settings_count,
                         &settings,
                         NULL,
                         0,
                         NULL,
                         NULL};
    int first;

    agg_settings_defaults(&settings);
    switch (ct_cli_parse(&cli, argc, argv, &first, NULL, 0)) {
    case CT_CLI_DONE:
        return CT_EXIT_OK;
    case CT_CLI_ERROR:
        return CT_EXIT_USAGE;
    case CT_CLI_RUN:
        break;
    }
    fprintf(stderr, "%s: %s arrives with issue %s\n", AGG_PROGRAM, command ? command : "daemon",
            issue);
    return CT_EXIT_FAILURE;
}

