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

static int keygen(int argc, char **argv)
{
    struct agg_settings s;
    agg_settings_defaults(&s);
    return ct_keygen_main(AGG_PROGRAM, agg_settings_table, agg_settings_count, &s, argc, argv);
}

static const struct ct_cli_command commands[] = {
    {"migrate", agg_cmd_migrate}, {"agent", agg_cmd_agent},     {"keygen", keygen},
    {"report", agg_cmd_report},   {"targets", agg_cmd_targets}, {"calendar", agg_cmd_calendar},
};

int main(int argc, char **argv)
{
    static const struct ct_cli_command daemon = {"daemon", agg_cmd_daemon};

    return ct_cli_dispatch(AGG_PROGRAM, &daemon, commands, sizeof(commands) / sizeof(commands[0]),
                           argc, argv);
}
