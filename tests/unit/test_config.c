/*
 * test_config.c - common/config.c: INI files and single settings, checked the same way.
 *
 * A small settings struct of every option type stands in for a program's; files are
 * written to a fresh temporary directory per test.
 */
#include "config.h"
#include "log.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct settings {
    char db[128];
    char state_dir[16];
    int64_t batch_size;
    bool insecure;
    int64_t stale_after_ms;
    enum ct_log_level log_level;
};

#define OPT(section, name, type, field, min, max)                                                  \
    {                                                                                              \
        section, name, type, offsetof(struct settings, field),                                     \
            sizeof(((struct settings *)0)->field), min, max, "help for " name,                     \
            strcmp(name, "db") != 0 && strcmp(name, "state_dir") != 0                              \
    }

static const struct ct_config_option opts[] = {
    OPT("aggregator", "db", CT_CONFIG_STRING, db, 0, 0),
    OPT("collector", "state_dir", CT_CONFIG_STRING, state_dir, 0, 0),
    OPT("aggregator", "batch_size", CT_CONFIG_INT, batch_size, 1, 1000),
    OPT("aggregator", "insecure", CT_CONFIG_BOOL, insecure, 0, 0),
    OPT("collector", "stale_after", CT_CONFIG_DURATION, stale_after_ms, 1, 7 * 86400000LL),
    OPT("log", "level", CT_CONFIG_LOG_LEVEL, log_level, 0, 0),
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static char dir[64];
static struct settings s;
static char err[CT_CONFIG_ERR_MAX];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ct_test_config.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    memset(&s, 0, sizeof(s));
    s.batch_size = 500;
    s.log_level = CT_LOG_INFO;
    err[0] = '\0';
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Writes `text` to DIR/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(text, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static void load_ok(const char *path)
{
    cr_assert_eq(ct_config_load_file(path, opts, N_OPTS, &s, err, sizeof(err)), 0, "%s", err);
}

/* Loads `text` and expects the error "PATH:LINE: <why...>". */
static void load_fails(const char *text, int line, const char *why)
{
    const char *path = write_file("bad.ini", text);
    char prefix[160];

    cr_assert_eq(ct_config_load_file(path, opts, N_OPTS, &s, err, sizeof(err)), -1, "accepted:\n%s",
                 text);
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
    cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "'%s' does not start with '%s'", err,
                 prefix);
    cr_assert(strstr(err, why) != NULL, "'%s' does not say '%s'", err, why);
}

/* ------------------------------------------------------------------ files */

Test(config, a_file_sets_every_kind_of_option)
{
    load_ok(write_file("ok.ini", "; a comment\n"
                                 "# another\n"
                                 "\n"
                                 "[aggregator]\n"
                                 "db = host=/tmp dbname=citytally\n"
                                 "batch_size = 250\n"
                                 "insecure = yes\n"
                                 "\n"
                                 "[collector]\n"
                                 "state_dir=/var/lib/x ; inline comment\n"
                                 "stale_after = 90m\n"
                                 "[log]\n"
                                 "level = debug\n"));
    cr_assert_str_eq(s.db, "host=/tmp dbname=citytally");
    cr_assert_str_eq(s.state_dir, "/var/lib/x");
    cr_assert_eq(s.batch_size, 250);
    cr_assert(s.insecure);
    cr_assert_eq(s.stale_after_ms, 90 * 60000LL);
    cr_assert_eq(s.log_level, CT_LOG_DEBUG);
}

Test(config, windows_line_ends_and_a_bom_are_read)
{
    load_ok(write_file("crlf.ini", "\xef\xbb\xbf[aggregator]\r\nbatch_size = 7\r\n"));
    cr_assert_eq(s.batch_size, 7);
}

Test(config, an_empty_file_changes_nothing)
{
    load_ok(write_file("empty.ini", ""));
    cr_assert_eq(s.batch_size, 500);
    cr_assert_eq(s.log_level, CT_LOG_INFO);
}

Test(config, unknown_key_names_file_line_and_key)
{
    load_fails("[aggregator]\nbatch_size = 5\ncolour = blue\n", 3,
               "unknown key 'colour' in section [aggregator]");
}

Test(config, key_in_the_wrong_section_is_unknown)
{
    load_fails("[collector]\n\nbatch_size = 5\n", 3,
               "unknown key 'batch_size' in section [collector]");
}

Test(config, unknown_section_is_refused)
{
    load_fails("[aggregatr]\ndb = x\n", 2, "unknown key 'db' in section [aggregatr]");
}

Test(config, key_before_any_section_is_refused)
{
    load_fails("db = x\n", 1, "unknown key 'db' in section []");
}

Test(config, bad_values_name_the_key)
{
    load_fails("[aggregator]\nbatch_size = lots\n", 2,
               "batch_size: 'lots' is not an integer in [1, 1000]");
    load_fails("[aggregator]\nbatch_size = 1001\n", 2, "batch_size: '1001' is not an integer");
    load_fails("[aggregator]\nbatch_size = 0\n", 2, "batch_size: '0' is not an integer");
    load_fails("[aggregator]\nbatch_size = 5x\n", 2, "batch_size: '5x'");
    load_fails("[aggregator]\nbatch_size =\n", 2, "batch_size: '' is not an integer");
    load_fails("[aggregator]\ninsecure = maybe\n", 2, "insecure: 'maybe' is not a boolean");
    load_fails("[collector]\nstale_after = soon\n", 2, "stale_after: 'soon' is not a duration");
    load_fails("[collector]\nstale_after = 8d\n", 2, "stale_after: '8d' is not a duration");
    load_fails("[log]\nlevel = loud\n", 2, "level: 'loud' is not one of error, warn, info, debug");
    load_fails("[collector]\nstate_dir = /a/path/that/is/too/long\n", 2,
               "state_dir: value longer than 15 bytes");
}

Test(config, the_first_problem_is_reported)
{
    /* a syntax error on line 2 comes before the unknown key on line 3 */
    load_fails("[aggregator]\nthis line has no equals sign\ncolour = blue\n", 2, "syntax error");
    load_fails("[aggregator]\ncolour = blue\nthis line has no equals sign\n", 2,
               "unknown key 'colour'");
    load_fails("[aggregator\n", 1, "syntax error");
}

Test(config, settings_before_an_error_are_applied_and_after_it_are_not)
{
    load_fails("[aggregator]\nbatch_size = 9\ncolour = blue\ndb = after\n", 3, "colour");
    cr_assert_eq(s.batch_size, 9);
    cr_assert_str_eq(s.db, "");
}

Test(config, a_line_longer_than_the_parser_limit_is_refused)
{
    /* inih reads lines of up to 198 bytes here; a longer value must not be cut silently */
    char text[512];
    int n = snprintf(text, sizeof(text), "[aggregator]\ndb = ");

    memset(text + n, 'x', 300);
    strcpy(text + n + 300, "\nbatch_size = 3\n");
    load_fails(text, 2, "line longer than 198 bytes");
    cr_assert_str_eq(s.db, "", "a cut value was stored");
    cr_assert_eq(s.batch_size, 500, "a line after the error was applied");
}

Test(config, a_line_at_the_limit_is_read_whole)
{
    char text[512];
    int n = snprintf(text, sizeof(text), "[aggregator]\ndb=");

    memset(text + n, 'y', 123); /* a 123-byte value fits db's 127 bytes */
    strcpy(text + n + 123, "\n");
    load_ok(write_file("long.ini", text));
    cr_assert_eq(strlen(s.db), 123);
    /* a 198-byte line is read whole: its value is then refused for the field, not cut */
    memset(text + n, 'z', 195);
    strcpy(text + n + 195, "\n");
    load_fails(text, 2, "db: value longer than 127 bytes");
    /* one byte more and the line itself is refused */
    memset(text + n, 'z', 196);
    strcpy(text + n + 196, "\n");
    load_fails(text, 2, "line longer than 198 bytes");
    /* also as the last line, without a line end */
    memset(text + n, 'z', 196);
    text[n + 196] = '\0';
    load_fails(text, 2, "line longer than 198 bytes");
    memset(text + n, 'z', 195);
    text[n + 195] = '\0';
    load_fails(text, 2, "db: value longer than 127 bytes");
}

Test(config, a_missing_file_is_named)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/nope.ini", dir);
    cr_assert_eq(ct_config_load_file(path, opts, N_OPTS, &s, err, sizeof(err)), -1);
    cr_assert(strstr(err, path) == err, "%s", err);
    cr_assert(strstr(err, "cannot open: No such file or directory") != NULL, "%s", err);
}

Test(config, a_directory_is_not_a_config_file)
{
    cr_assert_eq(ct_config_load_file(dir, opts, N_OPTS, &s, err, sizeof(err)), -1);
    cr_assert(strstr(err, dir) == err, "%s", err);
    cr_assert(strstr(err, "cannot read: Is a directory") != NULL, "%s", err);
}

/* ------------------------------------------------------------------ single values */

static int64_t duration(const char *text)
{
    cr_assert_eq(
        ct_config_set(opts, N_OPTS, &s, "collector", "stale_after", text, err, sizeof(err)), 0,
        "'%s': %s", text, err);
    return s.stale_after_ms;
}

static void duration_fails(const char *text)
{
    cr_assert_eq(
        ct_config_set(opts, N_OPTS, &s, "collector", "stale_after", text, err, sizeof(err)), -1,
        "'%s' accepted", text);
    cr_assert(strstr(err, "stale_after") != NULL, "%s", err);
}

Test(config, durations_take_units)
{
    cr_assert_eq(duration("250ms"), 250);
    cr_assert_eq(duration("30s"), 30000);
    cr_assert_eq(duration("5m"), 300000);
    cr_assert_eq(duration("1h"), 3600000);
    cr_assert_eq(duration("2d"), 172800000);
    cr_assert_eq(duration("45"), 45000); /* plain seconds */
    cr_assert_eq(duration("7d"), 7 * 86400000LL);
    duration_fails("1.5h");
    duration_fails("-5s");
    duration_fails("5 m");
    duration_fails("5M");
    duration_fails("5min");
    duration_fails("");
    duration_fails("ms");
    duration_fails("0s");                 /* below the option's minimum of 1 ms */
    duration_fails("8d");                 /* above its maximum */
    duration_fails("99999999999999999d"); /* overflows int64 ms */
}

Test(config, booleans_take_the_usual_words)
{
    static const char *const yes[] = {"true", "TRUE", "yes", "on", "1", "Yes"};
    static const char *const no[] = {"false", "no", "off", "0", "OFF"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        s.insecure = false;
        cr_assert_eq(
            ct_config_set(opts, N_OPTS, &s, "aggregator", "insecure", yes[i], err, sizeof(err)), 0);
        cr_assert(s.insecure, "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        s.insecure = true;
        cr_assert_eq(
            ct_config_set(opts, N_OPTS, &s, "aggregator", "insecure", no[i], err, sizeof(err)), 0);
        cr_assert_not(s.insecure, "%s", no[i]);
    }
    cr_assert_eq(ct_config_set(opts, N_OPTS, &s, "aggregator", "insecure", "2", err, sizeof(err)),
                 -1);
    cr_assert_eq(ct_config_set(opts, N_OPTS, &s, "aggregator", "insecure", "", err, sizeof(err)),
                 -1);
}

Test(config, log_levels)
{
    static const struct {
        const char *text;
        enum ct_log_level level;
    } levels[] = {{"error", CT_LOG_ERROR},
                  {"warn", CT_LOG_WARN},
                  {"warning", CT_LOG_WARN},
                  {"info", CT_LOG_INFO},
                  {"DEBUG", CT_LOG_DEBUG}};

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        cr_assert_eq(
            ct_config_set(opts, N_OPTS, &s, "log", "level", levels[i].text, err, sizeof(err)), 0);
        cr_assert_eq(s.log_level, levels[i].level, "%s", levels[i].text);
    }
}

Test(config, a_string_that_just_fits_is_kept_whole)
{
    cr_assert_eq(ct_config_set(opts, N_OPTS, &s, "collector", "state_dir", "/fifteen/bytes/", err,
                               sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(s.state_dir, "/fifteen/bytes/");
    cr_assert_eq(ct_config_set(opts, N_OPTS, &s, "collector", "state_dir", "/sixteen/bytes/x", err,
                               sizeof(err)),
                 -1);
    cr_assert_str_eq(s.state_dir, "/fifteen/bytes/", "a refused value changed the setting");
}

Test(config, an_unknown_key_set_directly_is_refused)
{
    cr_assert_eq(ct_config_set(opts, N_OPTS, &s, "aggregator", "nope", "1", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "unknown key 'nope' in section [aggregator]");
}

Test(config, flags_find_their_option_with_dashes_for_underscores)
{
    cr_assert_eq(ct_config_find_flag(opts, N_OPTS, "state-dir"), &opts[1]);
    cr_assert_eq(ct_config_find_flag(opts, N_OPTS, "state_dir"), &opts[1]);
    cr_assert_eq(ct_config_find_flag(opts, N_OPTS, "batch-size"), &opts[2]);
    cr_assert_eq(ct_config_find_flag(opts, N_OPTS, "level"), &opts[5]);
    cr_assert_null(ct_config_find_flag(opts, N_OPTS, "state"));
    cr_assert_null(ct_config_find_flag(opts, N_OPTS, "state-dir-x"));
    cr_assert_null(ct_config_find_flag(opts, N_OPTS, ""));
}

Test(config, reload_applies_reloadable_options_and_names_the_others)
{
    struct settings fresh;
    const struct ct_config_option *restart[8];
    size_t n_restart = 99;

    strcpy(s.db, "dbname=a");
    strcpy(s.state_dir, "/var/a");
    s.insecure = false;
    s.stale_after_ms = 1000;
    fresh = s;
    /* Bytes after a string's NUL are not a change. */
    memset(fresh.db, 'x', sizeof(fresh.db));
    strcpy(fresh.db, "dbname=a");
    cr_assert_eq(ct_config_reload(opts, N_OPTS, &s, &fresh, restart, 8, &n_restart), 0);
    cr_assert_eq(n_restart, 0);

    strcpy(fresh.db, "dbname=b");      /* not reloadable */
    strcpy(fresh.state_dir, "/var/b"); /* not reloadable */
    fresh.batch_size = 7;
    fresh.insecure = true;
    fresh.stale_after_ms = 2000;
    fresh.log_level = CT_LOG_DEBUG;
    cr_assert_eq(ct_config_reload(opts, N_OPTS, &s, &fresh, restart, 8, &n_restart), 4);
    cr_assert_eq(n_restart, 2);
    cr_assert_str_eq(restart[0]->name, "db");
    cr_assert_str_eq(restart[1]->name, "state_dir");
    cr_assert_str_eq(s.db, "dbname=a", "a restart-only option kept its running value");
    cr_assert_str_eq(s.state_dir, "/var/a");
    cr_assert_eq(s.batch_size, 7);
    cr_assert(s.insecure);
    cr_assert_eq(s.stale_after_ms, 2000);
    cr_assert_eq(s.log_level, CT_LOG_DEBUG);
}

Test(config, reload_lists_no_more_restart_options_than_there_is_room_for)
{
    struct settings fresh = s;
    const struct ct_config_option *restart[1];
    size_t n_restart;

    strcpy(fresh.db, "other");
    strcpy(fresh.state_dir, "/other");
    cr_assert_eq(ct_config_reload(opts, N_OPTS, &s, &fresh, restart, 1, &n_restart), 0);
    cr_assert_eq(n_restart, 1);
    cr_assert_str_eq(restart[0]->name, "db");
}
