/*
 * main.c - citytally-collector: a district's agent daemon and its subcommands.
 *
 * With no subcommand it runs the daemon; otherwise the first word picks one of
 * commands.h. Everything else (flags, config, errors) is the subcommand's.
 */
#include "cli.h"
#include "col_settings.h"
#include "commands.h"
#include "keygen.h"

static int keygen(int argc, char **argv)
{
    struct col_settings s;
    col_settings_defaults(&s);
    return ct_keygen_main(COL_PROGRAM, col_settings_table, col_settings_count, &s, argc, argv);
}

static const struct ct_cli_command commands[] = {
    {"submit", col_cmd_submit},
    {"import", col_cmd_import},
    {"status", col_cmd_status},
    {"keygen", keygen},
};

int main(int argc, char **argv)
{
    static const struct ct_cli_command daemon = {"agent", col_cmd_daemon};

    return ct_cli_dispatch(COL_PROGRAM, &daemon, commands, sizeof(commands) / sizeof(commands[0]),
                           argc, argv);
}
