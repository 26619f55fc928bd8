/*
 * test_cli.c - common/cli.c: command lines that share their keys with the config file.
 *
 * A small struct ct_cli (a config table, two command flags and a handler) stands in for a
 * program's. stdout and stderr are captured through a temporary file, so the exact line
 * the parser prints is checked.
 */
#include "cli.h"
#include "version.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct settings {
    char db[64];
    int64_t batch_size;
    bool insecure;
    int64_t stale_after_ms;
};

static const struct ct_config_option config[] = {
    {"aggregator", "db", CT_CONFIG_STRING, offsetof(struct settings, db), 64, 0, 0, "conninfo",
     false},
    {"aggregator", "batch_size", CT_CONFIG_INT, offsetof(struct settings, batch_size), 0, 1, 1000,
     "updates per batch", false},
    {"aggregator", "insecure", CT_CONFIG_BOOL, offsetof(struct settings, insecure), 0, 0, 0,
     "no CURVE", false},
    {"collector", "stale_after", CT_CONFIG_DURATION, offsetof(struct settings, stale_after_ms), 0,
     1, 86400000, "unhealthy after", false},
};

struct seen {
    int year;
    bool dry_run;
    int calls;
};

static const struct ct_cli_option options[] = {
    {"year", 'y', true, "YEAR", "the reporting year"},
    {"dry-run", 'n', false, NULL, "check, change nothing"},
};

static int on_option(void *ctx, size_t index, const char *value, char *err, size_t err_size)
{
    struct seen *seen = ctx;
    char *end;

    seen->calls++;
    if (index == 1) {
        seen->dry_run = true;
        return 0;
    }
    long year = strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || year < 2000 || year > 2100) {
        snprintf(err, err_size, "'%s' is not a year", value);
        return -1;
    }
    seen->year = (int)year;
    return 0;
}

static struct settings s;
static struct seen seen;
static struct ct_cli cli;
static char dir[64], out_text[8192], err_text[8192];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ct_test_cli.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    memset(&s, 0, sizeof(s));
    s.batch_size = 500;
    memset(&seen, 0, sizeof(seen));
    cli = (struct ct_cli){
        .program = "citytally-test",
        .command = "submit",
        .usage = "submit INDICATOR VALUE [options]",
        .summary = "Queues one figure.",
        .config = config,
        .n_config = sizeof(config) / sizeof(config[0]),
        .settings = &s,
        .options = options,
        .n_options = sizeof(options) / sizeof(options[0]),
        .handler = on_option,
        .handler_ctx = &seen,
    };
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli, .init = setup, .fini = teardown);

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* Points `fd` at a temporary file until capture_end() reads it into `text`. */
struct capture {
    int fd, saved;
    FILE *tmp;
};

static void capture_begin(struct capture *c, int fd)
{
    fflush(stdout);
    fflush(stderr);
    c->fd = fd;
    c->tmp = tmpfile();
    cr_assert_not_null(c->tmp);
    c->saved = dup(fd);
    cr_assert_geq(c->saved, 0);
    cr_assert_geq(dup2(fileno(c->tmp), fd), 0);
}

static void capture_end(struct capture *c, char *text, size_t size)
{
    size_t n;

    fflush(stdout);
    fflush(stderr);
    cr_assert_geq(dup2(c->saved, c->fd), 0);
    close(c->saved);
    rewind(c->tmp);
    n = fread(text, 1, size - 1, c->tmp);
    text[n] = '\0';
    fclose(c->tmp);
}

/* Parses NULL-terminated `args` (args[0] is the command word); captures both streams. */
static enum ct_cli_result parse(const char *const *args, int *first, char **argv_out,
                                char *config_path, size_t config_path_size)
{
    static char *argv[32];
    struct capture out, err;
    enum ct_cli_result r;
    int argc = 0, first_arg = -1;

    while (args[argc] != NULL) {
        argv[argc] = (char *)args[argc]; /* getopt permutes the array, not the strings */
        argc++;
    }
    argv[argc] = NULL;
    capture_begin(&out, STDOUT_FILENO);
    capture_begin(&err, STDERR_FILENO);
    r = ct_cli_parse(&cli, argc, argv, &first_arg, config_path, config_path_size);
    capture_end(&err, err_text, sizeof(err_text));
    capture_end(&out, out_text, sizeof(out_text));
    if (first != NULL)
        *first = first_arg;
    if (argv_out != NULL)
        memcpy(argv_out, argv, sizeof(char *) * (size_t)(argc + 1));
    return r;
}

static void parse_ok(const char *const *args)
{
    enum ct_cli_result r = parse(args, NULL, NULL, NULL, 0);
    cr_assert_eq(r, CT_CLI_RUN, "stderr: %s", err_text);
    cr_assert_str_eq(err_text, "");
}

static void parse_error(const char *const *args, const char *line)
{
    enum ct_cli_result r = parse(args, NULL, NULL, NULL, 0);
    cr_assert_eq(r, CT_CLI_ERROR);
    cr_assert_str_eq(err_text, line);
    cr_assert_str_eq(out_text, "");
}

/* ------------------------------------------------------------------ config keys as flags */

Test(cli, every_config_key_is_a_flag)
{
    parse_ok((const char *const[]){"submit", "--db", "dbname=x", "--batch-size", "20",
                                   "--stale-after", "5m", "--insecure", NULL});
    cr_assert_str_eq(s.db, "dbname=x");
    cr_assert_eq(s.batch_size, 20);
    cr_assert_eq(s.stale_after_ms, 300000);
    cr_assert(s.insecure);
}

Test(cli, flag_beats_file_wherever_it_stands)
{
    const char *path = write_file("c.ini", "[aggregator]\nbatch_size = 10\ndb = from-file\n");

    parse_ok((const char *const[]){"submit", "--batch-size", "20", "-c", path, NULL});
    cr_assert_eq(s.batch_size, 20);
    cr_assert_str_eq(s.db, "from-file");

    s.batch_size = 500;
    parse_ok((const char *const[]){"submit", "--config", path, "--batch-size=30", NULL});
    cr_assert_eq(s.batch_size, 30);
}

Test(cli, the_file_alone_applies)
{
    const char *path = write_file("c.ini", "[aggregator]\nbatch_size = 10\ninsecure = on\n");
    char config_path[128];
    int first;

    cr_assert_eq(parse((const char *const[]){"submit", "-c", path, NULL}, &first, NULL, config_path,
                       sizeof(config_path)),
                 CT_CLI_RUN);
    cr_assert_eq(s.batch_size, 10);
    cr_assert(s.insecure);
    cr_assert_str_eq(config_path, path, "the path is kept for SIGHUP");
}

Test(cli, no_config_file_gives_an_empty_path)
{
    char config_path[128] = "junk";

    cr_assert_eq(
        parse((const char *const[]){"submit", NULL}, NULL, NULL, config_path, sizeof(config_path)),
        CT_CLI_RUN);
    cr_assert_str_eq(config_path, "");
    cr_assert_eq(s.batch_size, 500);
}

Test(cli, later_flags_win_over_earlier_ones)
{
    parse_ok((const char *const[]){"submit", "--batch-size", "1", "--batch-size", "2", NULL});
    cr_assert_eq(s.batch_size, 2);
}

Test(cli, a_bad_flag_value_names_flag_and_reason)
{
    parse_error((const char *const[]){"submit", "--batch-size", "many", NULL},
                "citytally-test submit: --batch-size: batch_size: 'many' is not an integer in "
                "[1, 1000]\n");
    parse_error((const char *const[]){"submit", "--stale-after", "2 days", NULL},
                "citytally-test submit: --stale-after: stale_after: '2 days' is not a duration "
                "between 1ms and 86400000ms (e.g. 30s, 5m, 1h)\n");
}

Test(cli, a_bad_config_file_is_one_line_naming_file_line_and_key)
{
    const char *path = write_file("bad.ini", "[aggregator]\ncolour = blue\n");
    char want[256];

    snprintf(want, sizeof(want),
             "citytally-test submit: %s:2: unknown key 'colour' in section [aggregator]\n", path);
    parse_error((const char *const[]){"submit", "-c", path, "--batch-size", "3", NULL}, want);
    cr_assert_eq(s.batch_size, 500, "flags were applied after a config error");
}

Test(cli, a_missing_config_file_is_named)
{
    char path[128], want[256];

    snprintf(path, sizeof(path), "%s/absent.ini", dir);
    snprintf(want, sizeof(want),
             "citytally-test submit: %s: cannot open: No such file or directory\n", path);
    parse_error((const char *const[]){"submit", "--config", path, NULL}, want);
}

/* ------------------------------------------------------------------ usage errors */

Test(cli, unknown_options_are_named)
{
    parse_error((const char *const[]){"submit", "--bogus", NULL},
                "citytally-test submit: unknown option '--bogus' (try --help)\n");
    parse_error((const char *const[]){"submit", "-x", NULL},
                "citytally-test submit: unknown option '-x' (try --help)\n");
    /* in a cluster of short flags, the unknown one is named, not the cluster */
    parse_error((const char *const[]){"submit", "-nx", NULL},
                "citytally-test submit: unknown option '-x' (try --help)\n");
    parse_error((const char *const[]){"submit", "--insecure", "-xn", NULL},
                "citytally-test submit: unknown option '-x' (try --help)\n");
    /* a boolean flag takes no value */
    parse_error((const char *const[]){"submit", "--insecure=no", NULL},
                "citytally-test submit: option '--insecure' takes no value\n");
    parse_error((const char *const[]){"submit", "--dry-run=1", NULL},
                "citytally-test submit: option '--dry-run' takes no value\n");
    /* an unknown option with a value is named whole */
    parse_error((const char *const[]){"submit", "--colour=blue", NULL},
                "citytally-test submit: unknown option '--colour=blue' (try --help)\n");
}

Test(cli, a_missing_value_is_named)
{
    parse_error((const char *const[]){"submit", "--db", NULL},
                "citytally-test submit: option '--db' needs a value\n");
    parse_error((const char *const[]){"submit", "-y", NULL},
                "citytally-test submit: option '-y' needs a value\n");
    parse_error((const char *const[]){"submit", "-c", NULL},
                "citytally-test submit: option '-c' needs a value\n");
    parse_error((const char *const[]){"submit", "--config", NULL},
                "citytally-test submit: option '--config' needs a value\n");
    parse_error((const char *const[]){"submit", "--help=me", NULL},
                "citytally-test submit: option '--help' takes no value\n");
}

Test(cli, a_daemon_names_only_the_program)
{
    cli.command = NULL;
    cli.usage = "[options]";
    parse_error((const char *const[]){"citytally-test", "--bogus", NULL},
                "citytally-test: unknown option '--bogus' (try --help)\n");
}

/* ------------------------------------------------------------------ command flags */

Test(cli, command_flags_go_to_the_handler_and_positionals_stay)
{
    char *argv[32];
    int first;

    cr_assert_eq(parse((const char *const[]){"submit", "hightech_output", "--year", "2015", "12.5",
                                             "-n", NULL},
                       &first, argv, NULL, 0),
                 CT_CLI_RUN, "%s", err_text);
    cr_assert_eq(seen.year, 2015);
    cr_assert(seen.dry_run);
    cr_assert_eq(seen.calls, 2);
    /* GNU permutation moved the positionals to the end, in order */
    cr_assert_str_eq(argv[first], "hightech_output");
    cr_assert_str_eq(argv[first + 1], "12.5");
    cr_assert_null(argv[first + 2]);
}

Test(cli, short_flags_and_attached_values)
{
    parse_ok((const char *const[]){"submit", "-y2016", NULL});
    cr_assert_eq(seen.year, 2016);
    parse_ok((const char *const[]){"submit", "-ny", "2017", NULL});
    cr_assert_eq(seen.year, 2017);
    cr_assert(seen.dry_run);
    parse_ok((const char *const[]){"submit", "--year=2018", NULL});
    cr_assert_eq(seen.year, 2018);
}

Test(cli, double_dash_ends_the_options)
{
    char *argv[32];
    int first;

    cr_assert_eq(
        parse((const char *const[]){"submit", "--", "--year", "-5", NULL}, &first, argv, NULL, 0),
        CT_CLI_RUN);
    cr_assert_eq(seen.calls, 0);
    cr_assert_str_eq(argv[first], "--year");
    cr_assert_str_eq(argv[first + 1], "-5");
}

Test(cli, a_handler_refusal_names_the_flag)
{
    parse_error((const char *const[]){"submit", "--year", "20x5", NULL},
                "citytally-test submit: --year: '20x5' is not a year\n");
    parse_error((const char *const[]){"submit", "-y", "1999", NULL},
                "citytally-test submit: --year: '1999' is not a year\n");
}

Test(cli, parsing_twice_in_one_process_starts_afresh)
{
    int first;

    for (int i = 0; i < 3; i++) {
        memset(&seen, 0, sizeof(seen));
        cr_assert_eq(parse((const char *const[]){"submit", "a", "--year", "2015", "b", NULL},
                           &first, NULL, NULL, 0),
                     CT_CLI_RUN);
        cr_assert_eq(seen.year, 2015);
        cr_assert_eq(first, 3, "round %d", i);
    }
}

/* ------------------------------------------------------------------ help and version */

Test(cli, help_is_printed_and_nothing_is_applied)
{
    const char *path = write_file("bad.ini", "[nope]\nx = 1\n");

    /* --help wins even over a broken config file and bad flags */
    cr_assert_eq(parse((const char *const[]){"submit", "--batch-size", "9", "-c", path, "-h", NULL},
                       NULL, NULL, NULL, 0),
                 CT_CLI_DONE);
    cr_assert_eq(s.batch_size, 500);
    cr_assert_str_eq(err_text, "");
    cr_assert(strstr(out_text, "Usage: citytally-test submit INDICATOR VALUE [options]\n") ==
                  out_text,
              "%s", out_text);
    cr_assert(strstr(out_text, "Queues one figure.") != NULL);
    cr_assert(strstr(out_text, "-y, --year YEAR") != NULL, "%s", out_text);
    cr_assert(strstr(out_text, "-n, --dry-run") != NULL, "%s", out_text);
    cr_assert(strstr(out_text, "--batch-size VALUE") != NULL, "%s", out_text);
    cr_assert(strstr(out_text, "[aggregator] batch_size") != NULL, "%s", out_text);
    cr_assert(strstr(out_text, "--insecure ") != NULL &&
                  strstr(out_text, "--insecure VALUE") == NULL,
              "a boolean flag takes no value");
    cr_assert(strstr(out_text, "Exit status: 0 ok, 1 runtime failure, 2 usage") != NULL);
}

Test(cli, version_is_printed)
{
    char want[128];

    cr_assert_eq(parse((const char *const[]){"submit", "--version", NULL}, NULL, NULL, NULL, 0),
                 CT_CLI_DONE);
    snprintf(want, sizeof(want), "citytally-test %s\n", CT_VERSION);
    cr_assert_str_eq(out_text, want);
    cr_assert_eq(parse((const char *const[]){"submit", "-V", NULL}, NULL, NULL, NULL, 0),
                 CT_CLI_DONE);
    cr_assert_str_eq(out_text, want);
}

Test(cli, exit_statuses_match_the_contract)
{
    cr_assert_eq(CT_EXIT_OK, 0);
    cr_assert_eq(CT_EXIT_FAILURE, 1);
    cr_assert_eq(CT_EXIT_USAGE, 2);
    cr_assert_eq((int)CT_CLI_ERROR, CT_EXIT_USAGE);
}

/* ------------------------------------------------------------------ --check-config */

Test(cli, a_daemon_checks_its_config_and_stops)
{
    const char *path = write_file("c.ini", "[aggregator]\nbatch_size = 10\n");
    char want[256];

    cli.command = NULL;
    cr_assert_eq(parse((const char *const[]){"citytally-test", "-c", path, "--check-config",
                                             "--batch-size", "20", NULL},
                       NULL, NULL, NULL, 0),
                 CT_CLI_DONE, "%s", err_text);
    snprintf(want, sizeof(want), "citytally-test: configuration ok (%s)\n", path);
    cr_assert_str_eq(out_text, want);
    cr_assert_eq(s.batch_size, 20, "file and flags are applied as for a run");

    cr_assert_eq(parse((const char *const[]){"citytally-test", "-t", NULL}, NULL, NULL, NULL, 0),
                 CT_CLI_DONE);
    cr_assert_str_eq(out_text, "citytally-test: configuration ok (no config file)\n");
}

Test(cli, check_config_reports_the_first_problem)
{
    const char *path = write_file("bad.ini", "[aggregator]\nbatch_size = 0\n");
    char want[256];

    cli.command = NULL;
    snprintf(want, sizeof(want),
             "citytally-test: %s:2: batch_size: '0' is not an integer in [1, 1000]\n", path);
    parse_error((const char *const[]){"citytally-test", "-t", "-c", path, NULL}, want);
    parse_error((const char *const[]){"citytally-test", "-t", "--batch-size", "x", NULL},
                "citytally-test: --batch-size: batch_size: 'x' is not an integer in [1, 1000]\n");
    parse_error((const char *const[]){"citytally-test", "-t", "stray", NULL},
                "citytally-test: unexpected argument 'stray' (see --help)\n");
}

Test(cli, subcommands_have_no_check_config)
{
    parse_error((const char *const[]){"submit", "-t", NULL},
                "citytally-test submit: unknown option '-t' (try --help)\n");
    parse_error((const char *const[]){"submit", "--check-config", NULL},
                "citytally-test submit: unknown option '--check-config' (try --help)\n");
}

/* ------------------------------------------------------------------ dispatch */

static int ran_argc;
static const char *ran_name, *ran_argv0;

static int run_daemon(int argc, char **argv)
{
    ran_name = "daemon";
    ran_argc = argc;
    ran_argv0 = argv[0];
    return 7;
}

static int run_submit(int argc, char **argv)
{
    ran_name = "submit";
    ran_argc = argc;
    ran_argv0 = argv[0];
    return 3;
}

static const struct ct_cli_command dispatch_daemon = {"agent", run_daemon};
static const struct ct_cli_command dispatch_commands[] = {{"submit", run_submit},
                                                          {"status", run_submit}};

static int dispatch(const char *const *args)
{
    static char *argv[8];
    struct capture err;
    int argc = 0, status;

    while (args[argc] != NULL) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    ran_name = NULL;
    capture_begin(&err, STDERR_FILENO);
    status = ct_cli_dispatch("citytally-test", &dispatch_daemon, dispatch_commands, 2, argc, argv);
    capture_end(&err, err_text, sizeof(err_text));
    return status;
}

Test(cli, a_command_word_runs_its_command_with_argv_shifted)
{
    cr_assert_eq(dispatch((const char *const[]){"citytally-test", "submit", "x", NULL}), 3);
    cr_assert_str_eq(ran_name, "submit");
    cr_assert_eq(ran_argc, 2);
    cr_assert_str_eq(ran_argv0, "submit");
}

Test(cli, no_word_or_a_flag_runs_the_daemon_with_all_of_argv)
{
    cr_assert_eq(dispatch((const char *const[]){"citytally-test", NULL}), 7);
    cr_assert_str_eq(ran_name, "daemon");
    cr_assert_eq(dispatch((const char *const[]){"citytally-test", "-c", "f", NULL}), 7);
    cr_assert_eq(ran_argc, 3);
    cr_assert_str_eq(ran_argv0, "citytally-test");
}

Test(cli, an_unknown_word_lists_the_commands_and_is_a_usage_error)
{
    cr_assert_eq(dispatch((const char *const[]){"citytally-test", "agent", NULL}), CT_EXIT_USAGE);
    cr_assert_null(ran_name);
    cr_assert_str_eq(err_text, "citytally-test: unknown command 'agent' (commands: submit, "
                               "status; none runs the agent)\n");
}
