/*
 * main.c - citytally-aggregator: the bureau's daemon and its admin subcommands.
 *
 * With no subcommand it runs the daemon; otherwise the first word picks one of
 * commands.h. Everything else (flags, config, errors) is the subcommand's.
 */
#include "cli.h"
#include "commands.h"
#include "keygen.h"
#include "settings.h"

#include <stdio.h>
#include <string.h>

static int keygen(int argc, char **argv)
{
    struct agg_settings s;
    agg_settings_defaults(&s);
    return ct_keygen_main(AGG_PROGRAM, agg_settings_table, agg_settings_count, &s, argc, argv);
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"migrate", agg_cmd_migrate}, {"agent", agg_cmd_agent},     {"keygen", keygen},
    {"report", agg_cmd_report},   {"targets", agg_cmd_targets}, {"calendar", agg_cmd_calendar},
};

int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] != '-') {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].run(argc - 1, argv + 1);
        }
        fprintf(stderr,
                "%s: unknown command '%s' (commands: migrate, agent, keygen, report, targets, "
                "calendar; "
                "none runs the daemon)\n",
                AGG_PROGRAM, argv[1]);
        return CT_EXIT_USAGE;
    }
    return agg_cmd_daemon(argc, argv);
}
