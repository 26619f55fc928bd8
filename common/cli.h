/*
 * cli.h - command lines that share their vocabulary with the config file.
 *
 * Every key of a program's config table is also a long flag (state_dir -> --state-dir;
 * booleans take no argument), so `-c FILE --db X` reads FILE and then lets the flag win.
 * A (sub)command adds its own flags (--year, --op ...) with a handler. -c/--config,
 * -h/--help and -V/--version are always there.
 *
 * The parser prints its own errors (one line on stderr naming the flag) and help text, so
 * callers just map its result to an exit status. Nothing is allocated that outlives it.
 *
 * A daemon's command line (command == NULL) also takes -t/--check-config: the file and
 * flags are read and checked exactly as for a run, then "PROGRAM: configuration ok (FILE)"
 * is printed and the result is CT_CLI_DONE (exit 0), or the first problem is printed and
 * the result is CT_CLI_ERROR (exit 2), as `nginx -t` and `collectd -t` do.
 *
 * ct_cli_dispatch() is each program's main(): the first word picks a subcommand from the
 * program's table, and no word runs its daemon.
 */
#ifndef CT_CLI_H
#define CT_CLI_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

/* Exit statuses of the contract. */
#define CT_EXIT_OK 0
#define CT_EXIT_FAILURE 1
#define CT_EXIT_USAGE 2

struct ct_cli_option {
    const char *name; /* long flag without dashes */
    char short_name;  /* 0 for none */
    bool takes_value;
    const char *value_name; /* e.g. "YEAR", for help */
    const char *help;
};

/* Called for each of the command's own flags, with its index in `options` and its value
 * (NULL for flags without one). Returns 0, or -1 with a reason in `err`. */
typedef int (*ct_cli_handler)(void *ctx, size_t option_index, const char *value, char *err,
                              size_t err_size);

struct ct_cli {
    const char *program; /* "citytally-collector" */
    const char *command; /* "submit", or NULL for the daemon */
    const char *usage;   /* "submit INDICATOR VALUE [options]", after the program name */
    const char *summary; /* one paragraph for --help */
    const struct ct_config_option *config;
    size_t n_config;
    void *settings;
    const struct ct_cli_option *options;
    size_t n_options;
    ct_cli_handler handler;
    void *handler_ctx;
};

enum ct_cli_result {
    CT_CLI_RUN = 0,  /* go on; positional arguments are argv[*first_arg .. argc) */
    CT_CLI_DONE = 1, /* --help, --version or --check-config's verdict was printed; exit 0 */
    CT_CLI_ERROR = 2 /* a message was printed; exit CT_EXIT_USAGE */
};

/* Parses argv (argv[0] is the command word or program name). Loads the config file named
 * by -c first, then applies flags in order. `config_path_out`, when not NULL, receives the
 * -c path (or "" if none) so the program can reread it on SIGHUP. */
enum ct_cli_result ct_cli_parse(const struct ct_cli *cli, int argc, char **argv, int *first_arg,
                                char *config_path_out, size_t config_path_size);

/* The exit status for a result other than CT_CLI_RUN: 0 after DONE, CT_EXIT_USAGE after
 * ERROR. */
int ct_cli_exit_status(enum ct_cli_result result);

/* Prints the help text of `cli` to stdout. */
void ct_cli_print_help(const struct ct_cli *cli);

/* A program's subcommands, as its main() dispatches them. With no command word the
 * program runs its daemon; otherwise argv[1] picks one entry, which then owns everything
 * else (its flags through ct_cli_parse, its config file, its errors). Tables are borrowed
 * static data. */
struct ct_cli_command {
    const char *name;                  /* the word after the program name: "report" */
    int (*run)(int argc, char **argv); /* argv[0] is `name`; returns a CT_EXIT_* status */
};

/* Runs `daemon` with the whole argv when argv[1] is absent or a flag, else the command
 * argv[1] names, with argv shifted by one. `daemon->name` is not a command word; it is what
 * the error for an unknown word says runs without one ("none runs the agent"). That error
 * is one line on stderr listing the commands in table order, and CT_EXIT_USAGE. Returns
 * the exit status for main(). */
int ct_cli_dispatch(const char *program, const struct ct_cli_command *daemon,
                    const struct ct_cli_command *commands, size_t n_commands, int argc,
                    char **argv);

#endif
