/*
 * main.c - citytally-collector: a district's agent daemon and its subcommands.
 *
 * With no subcommand it runs the daemon; otherwise the first word picks one of
 * commands.h. Everything else (flags, config, errors) is the subcommand's.
 */
#include "cli.h"
#include "commands.h"
#include "keygen.h"
#include "col_settings.h"

#include <stdio.h>
#include <string.h>

static int keygen(int argc, char **argv)
{
    struct col_settings s;
    col_settings_defaults(&s);
    return ct_keygen_main(COL_PROGRAM, col_settings_table, col_settings_count, &s, argc, argv);
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"submit", col_cmd_submit},
    {"import", col_cmd_import},
    {"status", col_cmd_status},
    {"keygen", keygen},
};

int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] != '-') {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].run(argc - 1, argv + 1);
        }
        fprintf(stderr,
                "%s: unknown command '%s' (commands: submit, import, status, keygen; none runs "
                "the agent)\n",
                COL_PROGRAM, argv[1]);
        return CT_EXIT_USAGE;
    }
    return col_cmd_daemon(argc, argv);
}
