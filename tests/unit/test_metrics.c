/* common/metrics.c: exact exposition text, concurrency of updates against renders, and the
 * rendered text checked by a real parser (Debian's python3-prometheus-client, through
 * tests/support/check_prom.py). */
#include "metrics.h"

#include <criterion/criterion.h>
#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *render(struct ct_metrics *m)
{
    struct ct_buf b = CT_BUF_INIT;

    cr_assert_eq(ct_metrics_render(m, &b), 0);
    return b.data != NULL ? b.data : strdup("");
}

Test(metrics, counter_renders_help_type_and_value)
{
    struct ct_metrics *m = ct_metrics_new();
    struct ct_counter *c =
        ct_metrics_counter(m, "citytally_batches_total", NULL, "Batches received from collectors.");
    char *text;

    cr_assert_not_null(c);
    ct_counter_inc(c);
    ct_counter_add(c, 41);
    cr_assert_eq(ct_counter_value(c), 42);
    text = render(m);
    cr_assert_str_eq(text, "# HELP citytally_batches_total Batches received from collectors.\n"
                           "# TYPE citytally_batches_total counter\n"
                           "citytally_batches_total 42\n");
    free(text);
    ct_metrics_free(m);
}

Test(metrics, series_with_labels_share_one_family_in_registration_order)
{
    struct ct_metrics *m = ct_metrics_new();
    struct ct_counter *a =
        ct_metrics_counter(m, "rejected_total", "code=bad_value", "Rejected updates.");
    struct ct_gauge *g = ct_metrics_gauge(m, "up", NULL, "Database answers.");
    struct ct_counter *b =
        ct_metrics_counter(m, "rejected_total", "code=bad_op,side=x", "Rejected updates.");
    char *text;

    cr_assert(a != NULL && b != NULL && g != NULL);
    ct_counter_add(a, 3);
    ct_counter_add(b, 1);
    ct_gauge_set(g, 1);
    text = render(m);
    cr_assert_str_eq(text, "# HELP rejected_total Rejected updates.\n"
                           "# TYPE rejected_total counter\n"
                           "rejected_total{code=\"bad_value\"} 3\n"
                           "rejected_total{code=\"bad_op\",side=\"x\"} 1\n"
                           "# HELP up Database answers.\n"
                           "# TYPE up gauge\n"
                           "up 1\n");
    free(text);
    ct_metrics_free(m);
}

Test(metrics, gauges_print_shortest_decimals_and_special_values)
{
    struct ct_metrics *m = ct_metrics_new();
    struct ct_gauge *a = ct_metrics_gauge(m, "a", NULL, "h");
    struct ct_gauge *b = ct_metrics_gauge(m, "b", NULL, "h");
    struct ct_gauge *c = ct_metrics_gauge(m, "c", NULL, "h");
    struct ct_gauge *d = ct_metrics_gauge(m, "d", NULL, "h");
    char *text;

    ct_gauge_set(a, 0.1);
    ct_gauge_add(a, 0.2);
    ct_gauge_set(b, 1436457600.5);
    ct_gauge_set(c, -INFINITY);
    ct_gauge_set(d, NAN);
    text = render(m);
    cr_assert_str_eq(text, "# HELP a h\n# TYPE a gauge\na 0.30000000000000004\n"
                           "# HELP b h\n# TYPE b gauge\nb 1436457600.5\n"
                           "# HELP c h\n# TYPE c gauge\nc -Inf\n"
                           "# HELP d h\n# TYPE d gauge\nd NaN\n");
    free(text);
    ct_metrics_free(m);
}

static double forty_two_and_a_half(void *ctx)
{
    return *(double *)ctx + 0.5;
}

Test(metrics, callback_gauge_is_read_at_render_time)
{
    struct ct_metrics *m = ct_metrics_new();
    double base = 1;
    char *text;

    cr_assert_not_null(
        ct_metrics_gauge_fn(m, "age_seconds", NULL, "Age.", forty_two_and_a_half, &base));
    base = 42;
    text = render(m);
    cr_assert_str_eq(text, "# HELP age_seconds Age.\n# TYPE age_seconds gauge\nage_seconds 42.5\n");
    free(text);
    ct_metrics_free(m);
}

Test(metrics, histogram_buckets_are_cumulative_and_count_matches)
{
    static const double bounds[] = {0.001, 0.01, 0.1, 1};
    struct ct_metrics *m = ct_metrics_new();
    struct ct_histogram *h =
        ct_metrics_histogram(m, "commit_seconds", NULL, "Commit latency.", bounds, 4);
    char *text;

    cr_assert_not_null(h);
    ct_histogram_observe(h, 0.0005);
    ct_histogram_observe(h, 0.001); /* a bound is inclusive: le means <= */
    ct_histogram_observe(h, 0.05);
    ct_histogram_observe(h, 0.25);
    ct_histogram_observe(h, 7);
    cr_assert_eq(ct_histogram_count(h), 5);
    text = render(m);
    cr_assert_str_eq(text, "# HELP commit_seconds Commit latency.\n"
                           "# TYPE commit_seconds histogram\n"
                           "commit_seconds_bucket{le=\"0.001\"} 2\n"
                           "commit_seconds_bucket{le=\"0.01\"} 2\n"
                           "commit_seconds_bucket{le=\"0.1\"} 3\n"
                           "commit_seconds_bucket{le=\"1\"} 4\n"
                           "commit_seconds_bucket{le=\"+Inf\"} 5\n"
                           "commit_seconds_sum 7.3015\n"
                           "commit_seconds_count 5\n");
    free(text);
    ct_metrics_free(m);
}

Test(metrics, labelled_histogram_puts_le_last)
{
    static const double bounds[] = {1};
    struct ct_metrics *m = ct_metrics_new();
    struct ct_histogram *h = ct_metrics_histogram(m, "x_seconds", "stage=copy", "X.", bounds, 1);
    char *text;

    ct_histogram_observe(h, 0.5);
    text = render(m);
    cr_assert_str_eq(text, "# HELP x_seconds X.\n# TYPE x_seconds histogram\n"
                           "x_seconds_bucket{stage=\"copy\",le=\"1\"} 1\n"
                           "x_seconds_bucket{stage=\"copy\",le=\"+Inf\"} 1\n"
                           "x_seconds_sum{stage=\"copy\"} 0.5\n"
                           "x_seconds_count{stage=\"copy\"} 1\n");
    free(text);
    ct_metrics_free(m);
}

Test(metrics, help_text_is_escaped)
{
    struct ct_metrics *m = ct_metrics_new();
    char *text;

    ct_metrics_gauge(m, "g", NULL, "a \\ b\nc");
    text = render(m);
    cr_assert_str_eq(text, "# HELP g a \\\\ b\\nc\n# TYPE g gauge\ng 0\n");
    free(text);
    ct_metrics_free(m);
}

Test(metrics, registration_rules_are_enforced)
{
    static const double good[] = {1, 2}, unsorted[] = {2, 1}, inf[] = {1, INFINITY};
    struct ct_metrics *m = ct_metrics_new();

    cr_assert_null(ct_metrics_counter(m, "9lives", NULL, "h"));
    cr_assert_null(ct_metrics_counter(m, "has-dash", NULL, "h"));
    cr_assert_null(ct_metrics_counter(m, "", NULL, "h"));
    cr_assert_null(ct_metrics_counter(m, "x", "code", "h"), "label without value");
    cr_assert_null(ct_metrics_counter(m, "x", "code=a b", "h"), "space in value");
    cr_assert_null(ct_metrics_counter(m, "x", "code=\"a\"", "h"), "quotes in value");
    cr_assert_null(ct_metrics_counter(m, "x", "__name__=a", "h"), "reserved label");
    cr_assert_null(ct_metrics_counter(m, "x", "a=b,", "h"), "trailing comma");
    cr_assert_null(ct_metrics_histogram(m, "hh", "le=1", "h", good, 2), "le is the bucket's");
    cr_assert_null(ct_metrics_histogram(m, "h1", NULL, "h", unsorted, 2));
    cr_assert_null(ct_metrics_histogram(m, "h2", NULL, "h", inf, 2));
    cr_assert_null(ct_metrics_histogram(m, "h3", NULL, "h", good, 0));

    cr_assert_not_null(ct_metrics_counter(m, "dup_total", NULL, "h"));
    cr_assert_null(ct_metrics_counter(m, "dup_total", NULL, "h"), "same name and labels");
    cr_assert_null(ct_metrics_gauge(m, "dup_total", "a=b", "h"), "same name, other type");
    cr_assert_null(ct_metrics_counter(m, "dup_total", "a=b", "other help"));
    cr_assert_not_null(ct_metrics_counter(m, "dup_total", "a=b", "h"));
    cr_assert_null(ct_metrics_counter(NULL, "n", NULL, "h"));
    ct_metrics_free(m);
    ct_metrics_free(NULL);
}

Test(metrics, updates_through_null_are_no_ops)
{
    ct_counter_inc(NULL);
    ct_gauge_set(NULL, 1);
    ct_gauge_add(NULL, 1);
    ct_histogram_observe(NULL, 1);
    cr_assert_eq(ct_counter_value(NULL), 0);
    cr_assert_eq(ct_gauge_value(NULL), 0);
    cr_assert_eq(ct_histogram_count(NULL), 0);
}

struct hammer {
    struct ct_counter *c;
    struct ct_gauge *g;
    struct ct_histogram *h;
};

#define HAMMER_ROUNDS 200000

static void *hammer(void *arg)
{
    struct hammer *t = arg;

    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        ct_counter_inc(t->c);
        ct_gauge_add(t->g, 1);
        ct_histogram_observe(t->h, (i % 3) * 0.5);
    }
    return NULL;
}

static unsigned long long sample_value(const char *text, const char *line_start)
{
    const char *p = strstr(text, line_start);

    cr_assert_not_null(p, "no '%s' in:\n%s", line_start, text);
    return strtoull(p + strlen(line_start), NULL, 10);
}

Test(metrics, concurrent_updates_and_renders_lose_nothing)
{
    static const double bounds[] = {0.25, 0.75};
    struct ct_metrics *m = ct_metrics_new();
    struct hammer t = {ct_metrics_counter(m, "n_total", NULL, "h"),
                       ct_metrics_gauge(m, "g", NULL, "h"),
                       ct_metrics_histogram(m, "h", NULL, "h", bounds, 2)};
    pthread_t threads[2];
    char *text;

    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, hammer, &t), 0);
    for (int i = 0; i < 50; i++) { /* renders while updates run stay self-consistent */
        text = render(m);
        cr_assert_eq(sample_value(text, "h_bucket{le=\"+Inf\"} "), sample_value(text, "h_count "));
        cr_assert_leq(sample_value(text, "h_bucket{le=\"0.25\"} "),
                      sample_value(text, "h_bucket{le=\"0.75\"} "));
        free(text);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    cr_assert_eq(ct_counter_value(t.c), 2 * HAMMER_ROUNDS);
    cr_assert_eq(ct_gauge_value(t.g), 2.0 * HAMMER_ROUNDS);
    cr_assert_eq(ct_histogram_count(t.h), 2 * HAMMER_ROUNDS);
    text = render(m);
    /* i % 3 == 0 -> 0 (first bucket); 1 -> 0.5 (second); 2 -> 1.0 (+Inf only) */
    cr_assert_eq(sample_value(text, "h_bucket{le=\"0.25\"} "), 2 * 66667);
    cr_assert_eq(sample_value(text, "h_bucket{le=\"0.75\"} "), 2 * (66667 + 66667));
    cr_assert_eq(sample_value(text, "h_count "), 2 * HAMMER_ROUNDS);
    free(text);
    ct_metrics_free(m);
}

/* ---- the real parser ---- */

static void checker_path(char *out, size_t size)
{
    const char *src = getenv("CT_SOURCE_DIR");
    char here[] = __FILE__;

    if (src != NULL)
        snprintf(out, size, "%s/tests/support/check_prom.py", src);
    else /* tests/unit/test_metrics.c -> tests/support/check_prom.py */
        snprintf(out, size, "%s/../support/check_prom.py", dirname(here));
}

/* Writes `text` to a file, runs the checker on it and returns its exit status; its stdout
 * and stderr go into `output`. */
static int run_checker(const char *text, char *output, size_t output_size)
{
    char input[] = "/tmp/ct-metrics-XXXXXX", script[4096], cmd[8192];
    int fd = mkstemp(input), status;
    size_t got;
    FILE *p;

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    checker_path(script, sizeof(script));
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s' 2>&1", script, input);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    got = fread(output, 1, output_size - 1, p);
    output[got] = '\0';
    status = pclose(p);
    unlink(input);
    cr_assert(WIFEXITED(status), "checker did not exit normally");
    return WEXITSTATUS(status);
}

Test(metrics, rendered_text_passes_the_prometheus_client_parser)
{
    static const double bounds[] = {0.001, 0.005, 0.025, 0.1, 0.5, 2.5};
    struct ct_metrics *m = ct_metrics_new();
    static char output[16384];
    double age = 12.25;
    char *text;

    ct_counter_add(ct_metrics_counter(m, "citytally_updates_committed_total", NULL,
                                      "Updates durably committed."),
                   1234);
    ct_counter_add(ct_metrics_counter(m, "citytally_updates_rejected_total", "code=bad_value",
                                      "Updates rejected, by reason."),
                   2);
    ct_counter_add(ct_metrics_counter(m, "citytally_updates_rejected_total",
                                      "code=unknown_indicator", "Updates rejected, by reason."),
                   1);
    ct_gauge_set(ct_metrics_gauge(m, "citytally_db_up", NULL, "1 while the database answers."), 1);
    ct_gauge_set(ct_metrics_gauge(m, "citytally_last_commit_timestamp_seconds", NULL,
                                  "Unix time of the last commit."),
                 1436457600.125);
    ct_metrics_gauge_fn(m, "citytally_outbox_oldest_age_seconds", NULL, "Age \\ of \"oldest\".",
                        forty_two_and_a_half, &age);
    struct ct_histogram *h =
        ct_metrics_histogram(m, "citytally_commit_seconds", NULL, "Commit time.", bounds, 6);
    ct_histogram_observe(h, 0.003);
    ct_histogram_observe(h, 0.2);
    ct_histogram_observe(h, 9);
    text = render(m);

    cr_assert_eq(run_checker(text, output, sizeof(output)), 0, "checker said:\n%s\non:\n%s", output,
                 text);
    cr_assert_not_null(strstr(output, "citytally_updates_committed_total 1234\n"), "%s", output);
    cr_assert_not_null(strstr(output, "citytally_updates_rejected_total{code=\"bad_value\"} 2\n"),
                       "%s", output);
    cr_assert_not_null(strstr(output, "citytally_db_up 1\n"), "%s", output);
    cr_assert_not_null(strstr(output, "citytally_last_commit_timestamp_seconds 1436457600.125\n"),
                       "%s", output);
    cr_assert_not_null(strstr(output, "citytally_outbox_oldest_age_seconds 12.75\n"), "%s", output);
    cr_assert_not_null(strstr(output, "citytally_commit_seconds_bucket{le=\"0.005\"} 1\n"), "%s",
                       output);
    cr_assert_not_null(strstr(output, "citytally_commit_seconds_bucket{le=\"+Inf\"} 3\n"), "%s",
                       output);
    cr_assert_not_null(strstr(output, "citytally_commit_seconds_count 3\n"), "%s", output);
    cr_assert_not_null(strstr(output, "ok 6 families\n"), "%s", output);
    free(text);
    ct_metrics_free(m);
}

Test(metrics, the_checker_refuses_what_prometheus_would)
{
    static char output[4096];

    cr_assert_eq(run_checker("x 1\n", output, sizeof(output)), 1);
    cr_assert_not_null(strstr(output, "error: line 1: sample x outside its family"), "%s", output);
    cr_assert_eq(run_checker("# HELP x h\n# TYPE x gauge\nx one\n", output, sizeof(output)), 1);
    cr_assert_not_null(strstr(output, "not a valid sample line"), "%s", output);
    cr_assert_eq(run_checker("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                             "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                             output, sizeof(output)),
                 1);
    cr_assert_not_null(strstr(output, "buckets not cumulative"), "%s", output);
}
