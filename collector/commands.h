/*
 * commands.h - the collector's subcommands, as main.c dispatches them.
 *
 * Each runs with argv[0] being its own name ("submit", "status" ...), parses its own flags
 * with common/cli.h over the collector settings, and returns a CT_EXIT_* status. Each
 * prints its own one-line errors to stderr.
 */
#ifndef COL_COMMANDS_H
#define COL_COMMANDS_H

#define COL_PROGRAM "citytally-collector"

int col_cmd_daemon(int argc, char **argv);
int col_cmd_submit(int argc, char **argv);
int col_cmd_import(int argc, char **argv);
int col_cmd_status(int argc, char **argv);

#endif
