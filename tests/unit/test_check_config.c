/* --check-config (common/cli.c), the http address type (common/config.c), and the example
 * configs shipped in deploy/examples/: every key of both settings tables is documented
 * there and the files pass the same checks as a real start. */
#include "cli.h"
#include "config.h"

#include "col_settings.h" /* the collector's */
#include "settings.h"     /* the aggregator's */

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void example_path(const char *name, char *out, size_t size)
{
    const char *src = getenv("CT_SOURCE_DIR");
    char here[] = __FILE__;

    if (src != NULL)
        snprintf(out, size, "%s/deploy/examples/%s", src, name);
    else /* tests/unit/this.c -> deploy/examples/NAME */
        snprintf(out, size, "%s/../../deploy/examples/%s", dirname(here), name);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text;
    long n;

    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

/* True when `text` has "key =" as a line inside [section]. */
static bool documents(const char *text, const char *section, const char *key)
{
    char header[64], line[96];
    const char *start, *end;

    snprintf(header, sizeof(header), "\n[%s]\n", section);
    start = strstr(text, header);
    if (start == NULL)
        return false;
    end = strstr(start + strlen(header), "\n[");
    snprintf(line, sizeof(line), "\n%s =", key);
    const char *hit = strstr(start, line);
    return hit != NULL && (end == NULL || hit < end);
}

static void check_example(const char *name, const struct ct_config_option *table, size_t n,
                          void *settings)
{
    char path[4096], err[CT_CONFIG_ERR_MAX] = "";
    char *text;

    example_path(name, path, sizeof(path));
    text = slurp(path);
    for (size_t i = 0; i < n; i++)
        cr_expect(documents(text, table[i].section, table[i].name), "%s does not document [%s] %s",
                  name, table[i].section, table[i].name);
    cr_assert_eq(ct_config_load_file(path, table, n, settings, err, sizeof(err)), 0, "%s", err);
    free(text);
}

Test(examples, aggregator_conf_documents_every_key_and_loads)
{
    struct agg_settings s;

    agg_settings_defaults(&s);
    check_example("aggregator.conf", agg_settings_table, agg_settings_count, &s);
    cr_expect_str_eq(s.http, "127.0.0.1:9560");
    cr_expect_str_eq(s.server_key, "/var/lib/citytally-aggregator/server.key");
    cr_expect_eq(s.group_max_wait_ms, 2);
}

Test(examples, collector_conf_documents_every_key_and_loads)
{
    struct col_settings s;

    col_settings_defaults(&s);
    check_example("collector.conf", col_settings_table, col_settings_count, &s);
    cr_expect_str_eq(s.http, "off");
    cr_expect_str_eq(s.spool, "/var/lib/citytally-collector/spool");
    cr_expect_eq(s.stale_after_ms, 3600000);
    cr_expect_eq(s.rejected_keep_ms, 30LL * 86400000);
    cr_expect_eq(s.keep_acked_ms, 400LL * 86400000, "the example says the default");
    col_settings_defaults(&s);
    cr_expect_eq(s.keep_acked_ms, 400LL * 86400000, "CONTRACT section 7's default");
}

static void redirect(void)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
}

static enum ct_cli_result parse(const char *command, int argc, char **argv)
{
    static struct agg_settings s;
    struct ct_cli cli = {"citytally-aggregator",
                         command,
                         "[options]",
                         "test",
                         agg_settings_table,
                         agg_settings_count,
                         &s,
                         NULL,
                         0,
                         NULL,
                         NULL};
    int first = 0;

    agg_settings_defaults(&s);
    return ct_cli_parse(&cli, argc, argv, &first, NULL, 0);
}

Test(check_config, a_good_file_prints_configuration_ok_and_is_done, .init = redirect)
{
    char path[4096], want[4200];
    char *argv[] = {"citytally-aggregator", "--check-config", "-c", path, NULL};

    example_path("aggregator.conf", path, sizeof(path));
    cr_assert_eq(parse(NULL, 4, argv), CT_CLI_DONE);
    fflush(stdout);
    snprintf(want, sizeof(want), "citytally-aggregator: configuration ok (%s)\n", path);
    cr_assert_stdout_eq_str(want);
}

Test(check_config, short_t_checks_flags_without_a_file, .init = redirect)
{
    char *argv[] = {"citytally-aggregator", "-t", "--http", "[::1]:9000", NULL};

    cr_assert_eq(parse(NULL, 4, argv), CT_CLI_DONE);
    fflush(stdout);
    cr_assert_stdout_eq_str("citytally-aggregator: configuration ok (no config file)\n");
}

Test(check_config, a_bad_http_address_in_the_file_is_named, .init = redirect)
{
    char path[] = "/tmp/ct-check-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "[aggregator]\nhttp = localhost:9560\n";
    char *argv[] = {"citytally-aggregator", "--check-config", "-c", path, NULL};
    char want[512];

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    cr_assert_eq(parse(NULL, 4, argv), CT_CLI_ERROR);
    unlink(path);
    fflush(stderr);
    snprintf(want, sizeof(want),
             "citytally-aggregator: %s:2: http address 'localhost:9560': not a literal IPv4 "
             "address (IPv6 goes in brackets, e.g. [::1]:9560)\n",
             path);
    cr_assert_stderr_eq_str(want);
}

Test(check_config, a_bad_flag_fails_the_check, .init = redirect)
{
    char *argv[] = {"citytally-aggregator", "-t", "--group-max-updates", "0", NULL};

    cr_assert_eq(parse(NULL, 4, argv), CT_CLI_ERROR);
}

Test(check_config, a_stray_argument_fails_the_check, .init = redirect)
{
    char *argv[] = {"citytally-aggregator", "-t", "extra", NULL};

    cr_assert_eq(parse(NULL, 3, argv), CT_CLI_ERROR);
    fflush(stderr);
    cr_assert_stderr_eq_str("citytally-aggregator: unexpected argument 'extra' (see --help)\n");
}

Test(check_config, subcommands_do_not_take_it, .init = redirect)
{
    char *argv[] = {"report", "--check-config", NULL};

    cr_assert_eq(parse("report", 2, argv), CT_CLI_ERROR);
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "citytally-aggregator report: unknown option '--check-config' (try --help)\n");
}

Test(check_config, without_it_the_daemon_runs, .init = redirect)
{
    char *argv[] = {"citytally-aggregator", "--http", "off", NULL};

    cr_assert_eq(parse(NULL, 3, argv), CT_CLI_RUN);
}
