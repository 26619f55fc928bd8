/* `report` pinned byte for byte in all three formats (tests/golden/report_*), plus the
 * rules around them: colour only on a terminal without NO_COLOR, CJK-aware alignment,
 * one-line errors. Regenerate the golden files after an intended change with
 * CT_UPDATE_GOLDEN=1 (then review the diff). */
#include "report.h"
#include "store_fixture.h"

#include <sys/stat.h>

static void figures(PGconn *c)
{
    put(c, "a1", 1, "erqi", "complex_started", 2015, "set", "12", "2015-05-01T00:00:00+08");
    put(c, "a2", 1, "jinshui", "complex_started", 2015, "set", "8", "2015-05-01T00:00:00+08");
    put(c, "a1", 2, "erqi", "complex_built_area", 2015, "set", "600000", "2015-05-01T00:00:00+08");
    put(c, "a1", 3, "erqi", "hightech_output", 2015, "set", "3000.5", "2015-06-01T00:00:00+08");
    put(c, "a1", 4, "erqi", "hightech_output", 2014, "set", "2500", "2014-12-31T00:00:00+08");
    put(c, "a1", 5, "erqi", "hightech_value_added", 2015, "set", "450", "2015-06-01T00:00:00+08");
    put(c, "a1", 6, "erqi", "industrial_value_added", 2015, "set", "1000",
        "2015-06-01T00:00:00+08");
    put(c, "a2", 2, "jinshui", "hightech_value_added", 2015, "set", "100",
        "2015-06-01T00:00:00+08");
    put(c, "a2", 3, "jinshui", "industrial_value_added", 2015, "set", "0",
        "2015-06-01T00:00:00+08");
    put(c, "a1", 7, "erqi", "invention_patents_held", 2015, "set", "68", "2015-06-01T00:00:00+08");
    put(c, "a1", 8, "erqi", "resident_population", 2015, "set", "10", "2015-06-01T00:00:00+08");
    put(c, "c1", 1, "city", "st_contribution_rate", 2015, "set", "61.25", "2015-06-01T00:00:00+08");
    put(c, "a3", 1, "gaoxin", "rd_centers_municipal", 2015, "add", "0.1", "2015-06-30T12:00:00+08");
    put(c, "a3", 2, "gaoxin", "rd_centers_municipal", 2015, "add", "0.2", "2015-06-30T12:00:00+08");
    put(c, "a2", 4, "jinshui", "rd_centers_municipal", 2015, "set", "49", "2015-06-30T12:00:00+08");
    put(c, "a3", 3, "gaoxin", "st_enterprises", 2015, "set", "1000", "2015-07-01T00:00:00+08");
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;

    if (f == NULL)
        return NULL;
    data = malloc(1 << 20);
    cr_assert(data != NULL);
    *len = fread(data, 1, (1 << 20) - 1, f);
    data[*len] = '\0';
    fclose(f);
    return data;
}

static void check_golden(const char *args, const char *golden)
{
    static char out[1 << 20];
    char err[1024], path[1024];
    const char *src = getenv("CT_SOURCE_DIR");
    size_t len = 0;
    char *want;

    cr_assert(src != NULL);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s: %s", args, err);
    snprintf(path, sizeof(path), "%s/tests/golden/%s", src, golden);
    if (getenv("CT_UPDATE_GOLDEN") != NULL) {
        FILE *f = fopen(path, "wb");
        cr_assert(f != NULL, "cannot write %s", path);
        fputs(out, f);
        fclose(f);
    }
    want = read_all(path, &len);
    cr_assert(want != NULL, "missing %s (run with CT_UPDATE_GOLDEN=1 to create it)", path);
    cr_assert_str_eq(out, want, "%s differs from %s", args, golden);
    free(want);
}

Test(report_golden, table_csv_and_json_match_the_golden_files)
{
    char ci[512], args[1024];
    PGconn *c = store_db("ct_report_golden", ci, sizeof(ci));

    figures(c);
    snprintf(args, sizeof(args), "report --db '%s' --year 2015 --as-of 2015-06-30", ci);
    check_golden(args, "report_2015-06-30_city.txt");
    snprintf(args, sizeof(args), "report --db '%s' --as-of 2015-06-30 --format csv", ci);
    check_golden(args, "report_2015-06-30_city.csv");
    snprintf(args, sizeof(args), "report --db '%s' --as-of 2015-06-30 --format json", ci);
    check_golden(args, "report_2015-06-30_city.json");
    snprintf(args, sizeof(args), "report --db '%s' --as-of 2015-06-30 --district erqi", ci);
    check_golden(args, "report_2015-06-30_erqi.txt");
    snprintf(args, sizeof(args),
             "report --db '%s' --as-of 2015-06-30 --district jinshui --format json", ci);
    check_golden(args, "report_2015-06-30_jinshui.json");
    PQfinish(c);
}

Test(report_golden, colour_only_on_a_terminal_without_no_color)
{
    char ci[512], cmd[1500], out[65536];
    PGconn *c = store_db("ct_report_colour", ci, sizeof(ci));
    const char *bin = getenv("CT_BIN_DIR");
    FILE *p;
    size_t n;

    figures(c);
    /* script(1) gives the report a pseudo-terminal for stdout */
    snprintf(cmd, sizeof(cmd),
             "env -u NO_COLOR script -qec \"%s/citytally-aggregator report --db '%s'"
             " --as-of 2015-06-30\" /dev/null",
             bin, ci);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0);
    cr_assert(strstr(out, "\033[32mmet") != NULL, "met is green on a terminal");
    cr_assert(strstr(out, "\033[31mbehind") != NULL, "behind is red on a terminal");

    snprintf(cmd, sizeof(cmd),
             "NO_COLOR=1 script -qec \"%s/citytally-aggregator report --db '%s'"
             " --as-of 2015-06-30\" /dev/null",
             bin, ci);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0);
    cr_assert(strstr(out, "on track") != NULL);
    cr_assert_null(strchr(out, '\033'), "NO_COLOR turns colour off");
    PQfinish(c);
}

Test(report_golden, cjk_characters_count_as_two_cells)
{
    cr_assert_eq(agg_report_text_width("abc"), 3);
    cr_assert_eq(agg_report_text_width("平方米"), 6);
    cr_assert_eq(agg_report_text_width("件/万人"), 7);
    cr_assert_eq(agg_report_text_width("██▍"), 3);
    cr_assert_eq(agg_report_text_width("%"), 1);
}

Test(report_golden, bad_flags_and_unknown_things_are_one_line_errors)
{
    char ci[512], args[1024], out[4096], err[1024];
    PGconn *c = store_db("ct_report_errors", ci, sizeof(ci));

    cr_assert_eq(run_aggregator("report --format xml", out, sizeof(out), err, sizeof(err)), 2);
    cr_assert(strstr(err, "'xml' is not one of table, csv, json") != NULL, "%s", err);
    cr_assert_eq(run_aggregator("report --as-of yesterday", out, sizeof(out), err, sizeof(err)), 2);
    cr_assert_eq(run_aggregator("report --year 15", out, sizeof(out), err, sizeof(err)), 2);
    snprintf(args, sizeof(args), "report --db '%s' --district atlantis", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert_str_eq(err, "citytally-aggregator report: unknown district 'atlantis'\n");
    snprintf(args, sizeof(args), "report --db '%s' --year 2016", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 1);
    cr_assert(strstr(err, "no targets for year 2016") != NULL, "%s", err);
    cr_assert_str_empty(out);
    PQfinish(c);
}

Test(report_golden, default_year_is_the_latest_with_targets)
{
    char ci[512], args[1024], out[1 << 16], err[1024];
    PGconn *c = store_db("ct_report_default", ci, sizeof(ci));

    snprintf(args, sizeof(args), "report --db '%s' --format json", ci);
    cr_assert_eq(run_aggregator(args, out, sizeof(out), err, sizeof(err)), 0, "%s", err);
    cr_assert(strncmp(out, "{\"year\":2015,\"as_of\":\"", 22) == 0, "%.60s", out);
    PQfinish(c);
}
