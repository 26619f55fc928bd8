/*
 * commands.h - the aggregator's subcommands, as main.c dispatches them.
 *
 * Each runs with argv[0] being its own name ("report", "agent" ...), parses its own flags
 * with common/cli.h over a copy of the settings, and returns a CT_EXIT_* status. Each
 * prints its own one-line errors to stderr.
 */
#ifndef AGG_COMMANDS_H
#define AGG_COMMANDS_H

#define AGG_PROGRAM "citytally-aggregator"

int agg_cmd_daemon(int argc, char **argv);
int agg_cmd_migrate(int argc, char **argv);
int agg_cmd_agent(int argc, char **argv);
int agg_cmd_report(int argc, char **argv);
int agg_cmd_targets(int argc, char **argv);
int agg_cmd_calendar(int argc, char **argv);

#endif
