/* aggregator/dashboard.c: the server-rendered page, from progress shaped like CONTRACT
 * section 4's document, and the number rule it shares with the page's script. */
#include "dashboard.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char *figure(const char *decimal, int decimals)
{
    struct ct_buf b = CT_BUF_INIT;

    agg_dashboard_format_figure(decimal, decimals, &b);
    cr_assert(!b.failed);
    return b.data != NULL ? b.data : strdup("");
}

#define FIGURE_IS(dec, places, want)                                                               \
    do {                                                                                           \
        char *got_ = figure(dec, places);                                                          \
        cr_expect_str_eq(got_, want, "%s to %d places", dec ? dec : "NULL", places);               \
        free(got_);                                                                                \
    } while (0)

Test(dashboard, figures_round_half_away_from_zero_and_group_thousands)
{
    FIGURE_IS("1234567.125", 2, "1,234,567.13");
    FIGURE_IS("1000000", 2, "1,000,000");
    FIGURE_IS("6500", 2, "6,500");
    FIGURE_IS("999.995", 2, "1,000");
    FIGURE_IS("6.8", 2, "6.8");
    FIGURE_IS("6.80", 2, "6.8");
    FIGURE_IS("0.5", 2, "0.5");
    FIGURE_IS("0.004", 2, "0");
    FIGURE_IS("-0.004", 2, "0");
    FIGURE_IS("-12.345", 2, "-12.35");
    FIGURE_IS("87.04999", 1, "87");
    FIGURE_IS("87.05", 1, "87.1");
    FIGURE_IS("100", 1, "100");
    FIGURE_IS("123", 2, "123");
    FIGURE_IS("1e+21", 2, "1,000,000,000,000,000,000,000");
    FIGURE_IS(NULL, 2, "—");
    FIGURE_IS("not<a>number", 2, "not&lt;a&gt;number");
}

/* Three targets like the 2015 plan's, one with a hostile name to prove escaping. */
static struct agg_progress_unit rd_units[] = {{"gaoxin", "40", NULL, NULL},
                                              {"jinshui", "47", NULL, NULL}};
static struct agg_progress_unit ratio_units[] = {{"zhengdong", "9.25", NULL, NULL}};
static struct agg_progress_target targets[] = {
    {"rd_centers_municipal", "新建市级研发中心100家", "Build 100 municipal R&D centres", "家",
     "sum", "87", "100", ">=", "87", "on_track", 2, rd_units, 2, NULL, NULL, NULL},
    {"patents_per_10k", "每万人发明专利拥有量达到6.8件", "Patents <b>per</b> 10 000", "件/万人",
     "ratio", "7.0312345", "6.8", ">=", "103.4005073529411765", "met", 1, ratio_units, 1, NULL,
     NULL, NULL},
    {"st_contribution_rate", "科技进步对经济增长的贡献率达到60%", "S&T contributes 60%", "%",
     "city", NULL, "60", ">=", NULL, "no_data", 0, NULL, 0, NULL, NULL, NULL},
};
static const struct agg_dashboard_unit units[] = {
    {"jinshui", "金水区", "Jinshui District"},
    {"gaoxin", "郑州高新技术产业开发区", "High-tech zone"},
    {"zhengdong", "郑东新区", "Zhengdong New District"},
    {"city", "郑州市本级", "Municipal level"},
};
static const int years[] = {2014, 2015};

static char *render_sample(const char *problem, bool with_progress)
{
    struct agg_progress p = {0};
    struct agg_dashboard_view v = {0};
    struct ct_buf out = CT_BUF_INIT;

    p.year = 2015;
    p.as_of_ms = 1435654800000LL; /* 2015-06-30T17:00:00+08:00 */
    p.targets = targets;
    p.n_targets = 3;
    v.progress = with_progress ? &p : NULL;
    v.problem = problem;
    v.year = 2015;
    v.as_of = "2015-06-30T17:00:00+08:00";
    v.years = years;
    v.n_years = 2;
    v.units = units;
    v.n_units = 4;
    v.refresh_s = 10;
    cr_assert_eq(agg_dashboard_render(&v, &out), 0);
    return out.data;
}

static void expect_in(const char *page, const char *needle)
{
    cr_expect_not_null(strstr(page, needle), "page lacks: %s", needle);
}

Test(dashboard, every_target_is_rendered_with_figures_bar_and_status)
{
    char *page = render_sample(NULL, true);

    expect_in(page, "<details class=\"target st-on_track\" role=\"listitem\" "
                    "data-code=\"rd_centers_municipal\" data-status=\"on_track\" "
                    "data-actual=\"87\" data-target=\"100\" data-pct=\"87\">");
    expect_in(page, "<span class=\"zh\">新建市级研发中心100家</span><span class=\"en\">Build 100 "
                    "municipal R&amp;D centres</span>");
    expect_in(page, "<span class=\"actual\">87</span> / <span class=\"goal\">≥ 100</span> "
                    "<span class=\"unit\">家</span>");
    expect_in(page, "aria-valuenow=\"87.0\"><span class=\"fill\" style=\"width: 87.0%;\">");
    expect_in(page, "<span class=\"pct\">87%</span>");
    expect_in(page, "<span class=\"sym\">→</span>进度正常<span class=\"en\">on track · 2 单位 "
                    "units</span>");
    /* ratio: exact value in data-, rounded on screen, bar capped at 100% */
    expect_in(page,
              "data-actual=\"7.0312345\" data-target=\"6.8\" data-pct=\"103.4005073529411765\"");
    expect_in(page, "<span class=\"actual\">7.03</span>");
    expect_in(page, "style=\"width: 100.0%;\"></span></span><span class=\"pct\">103.4%</span>");
    /* no data: dashes, not zeros */
    expect_in(page, "data-code=\"st_contribution_rate\" data-status=\"no_data\" data-actual=\"\"");
    expect_in(page, "<span class=\"actual\">—</span> / <span class=\"goal\">≥ 60</span>");
    expect_in(page, "<span class=\"sym\">–</span>暂无数据");
    free(page);
}

Test(dashboard, units_chart_is_sorted_with_shares_and_names_missing_units)
{
    char *page = render_sample(NULL, true);
    const char *jinshui = strstr(page, "data-district=\"jinshui\""),
               *gaoxin = strstr(page, "data-district=\"gaoxin\"");

    cr_assert(jinshui != NULL && gaoxin != NULL);
    cr_expect_lt(jinshui, gaoxin, "largest contribution first");
    expect_in(page, "<tr data-district=\"jinshui\" data-value=\"47\"><th>金水区</th><td><span "
                    "class=\"ubar\" style=\"width: 100.0%;\"></span></td><td class=\"v\">47 "
                    "(54%)</td></tr>");
    expect_in(page, "<th>郑州高新技术产业开发区</th><td><span class=\"ubar\" style=\"width: "
                    "85.1%;\"></span></td><td class=\"v\">40 (46%)</td>");
    expect_in(page, "<p class=\"missing\">未报送 No figure yet: 郑东新区、郑州市本级</p>");
    /* a ratio has no shares; a city target lists no missing districts */
    expect_in(page, "<th>郑东新区</th><td><span class=\"ubar\" style=\"width: 100.0%;\"></span>"
                    "</td><td class=\"v\">9.25</td>");
    expect_in(page, "<p class=\"none\">尚无单位报送 No unit has reported yet.</p></div></details>");
    free(page);
}

Test(dashboard, controls_summary_and_state_are_filled_in)
{
    char *page = render_sample(NULL, true);

    expect_in(page, "<title>郑州市2015年科技工作目标进度 · citytally</title>");
    expect_in(page, "<option value=\"2014\">2014</option><option value=\"2015\" "
                    "selected>2015</option>");
    expect_in(page, "value=\"2015-06-30\"");
    expect_in(page, "<strong id=\"as-of-text\">2015-06-30 17:00</strong>");
    expect_in(page, "<b>1</b>已完成 met</span>");
    expect_in(page, "<b>1</b>进度正常 on track</span>");
    expect_in(page, "<b>0</b>滞后 behind</span>");
    expect_in(page, "<b>1</b>暂无数据 no data</span>");
    expect_in(page, "<script type=\"application/json\" id=\"ct-state\">{\"year\":2015,\"as_of\":"
                    "\"2015-06-30T17:00:00+08:00\",\"refresh_s\":10,\"units\":{\"jinshui\":["
                    "\"金水区\",\"Jinshui District\"],");
    expect_in(page, "\"unit_order\":[\"jinshui\",\"gaoxin\",\"zhengdong\",\"city\"]}</script>");
    free(page);
}

Test(dashboard, text_from_the_database_is_escaped)
{
    char *page = render_sample(NULL, true);

    expect_in(page, "Patents &lt;b&gt;per&lt;/b&gt; 10 000");
    cr_expect_null(strstr(page, "<b>per</b>"));
    free(page);
}

Test(dashboard, page_is_self_contained_and_fully_rendered)
{
    char *page = render_sample(NULL, true);

    cr_expect_null(strstr(page, "<!--@"), "a marker was left unrendered");
    cr_expect_null(strstr(page, "http://"), "external reference");
    cr_expect_null(strstr(page, "https://"), "external reference");
    cr_expect_null(strstr(page, "src="), "no external scripts or images");
    cr_expect_null(strstr(page, "<link"), "no external stylesheets");
    expect_in(page, "@media print");
    free(page);
}

Test(dashboard, problem_is_shown_when_progress_could_not_be_read)
{
    char *page = render_sample("database unavailable: connection refused <x>", false);

    expect_in(page, "<div class=\"problem\" id=\"problem\" role=\"alert\">database unavailable: "
                    "connection refused &lt;x&gt;</div>");
    expect_in(page, "<div id=\"targets\"></div>");
    expect_in(page, "<strong id=\"as-of-text\">—</strong>");
    expect_in(page, "\"year\":2015");
    free(page);
}

Test(dashboard, script_state_cannot_close_its_script_element)
{
    struct agg_dashboard_unit evil[] = {{"x", "</script><script>alert(1)</script>", "e"}};
    struct agg_dashboard_view v = {0};
    struct ct_buf out = CT_BUF_INIT;

    v.year = 2016;
    v.as_of = "";
    v.units = evil;
    v.n_units = 1;
    cr_assert_eq(agg_dashboard_render(&v, &out), 0);
    expect_in(out.data, "\"x\":[\"\\u003c/script>\\u003cscript>alert(1)\\u003c/script>\",\"e\"]");
    cr_expect_null(strstr(out.data, "alert(1)</script>"));
    /* a year without targets still gets its option, selected */
    expect_in(out.data, "<option value=\"2016\" selected>2016</option>");
    ct_buf_free(&out);
}

/* A unit can stand behind a ratio without a figure of its own (its denominator is 0, as
 * after a nil return): the page shows it as "—" instead of crashing the server. */
Test(dashboard, unit_without_a_figure_of_its_own_shows_a_dash)
{
    static struct agg_progress_unit some[] = {{"zhengdong", "9.25", NULL, NULL},
                                              {"jinshui", NULL, NULL, NULL}};
    static struct agg_progress_target ratio[] = {
        {"patents_per_10k", "每万人发明专利拥有量", "Patents per 10 000", "件/万人", "ratio",
         "9.25", "6.8", ">=", "136.03", "met", 2, some, 2, NULL, NULL, NULL},
    };
    struct agg_progress p = {
        .year = 2015, .as_of_ms = 1435654800000LL, .targets = ratio, .n_targets = 1};
    struct agg_dashboard_view v = {.progress = &p,
                                   .year = 2015,
                                   .as_of = "",
                                   .years = years,
                                   .n_years = 2,
                                   .units = units,
                                   .n_units = 4,
                                   .refresh_s = 10};
    struct ct_buf out = CT_BUF_INIT;

    cr_assert_eq(agg_dashboard_render(&v, &out), 0);
    expect_in(out.data, "<tr data-district=\"jinshui\" data-value=\"\"><th>金水区</th>");
    expect_in(out.data, "<td class=\"v\">—</td></tr>");
    ct_buf_free(&out);
}

/* Section 11 on the page: a sparkline in every row, a chart in every body (a target with
 * no curve still gets both, saying there is no figure), and the revised mark only on the
 * revised target, with the figure known then and the time it was given, escaped. */
Test(dashboard, rows_carry_sparklines_charts_and_revised_marks)
{
    struct agg_progress p = {0};
    struct agg_dashboard_view v = {0};
    struct ct_buf out = CT_BUF_INIT;
    struct agg_series_point pts[] = {{1422719999999LL, NULL, NULL}, {1425139199999LL, "40", "8"}};
    struct agg_trend trend[] = {{"rd_centers_municipal", pts, NULL, 2, 0}};
    struct agg_trends trends = {.targets = trend, .n_targets = 1};
    struct agg_revision rev[] = {{"rd_centers_municipal", NULL}};
    struct agg_revisions revisions = {.items = rev, .n = 1};
    const char *page, *rd, *ratio;

    p.year = 2015;
    p.as_of_ms = 1435654800000LL;
    p.targets = targets;
    p.n_targets = 3;
    v.progress = &p;
    v.year = 2015;
    v.as_of = "2015-06-30";
    v.years = years;
    v.n_years = 2;
    v.units = units;
    v.n_units = 4;
    v.trends = &trends;
    v.revisions = &revisions;
    v.revised_since = "2015-07-05<x>";
    cr_assert_eq(agg_dashboard_render(&v, &out), 0);
    page = out.data;
    rd = strstr(page, "data-code=\"rd_centers_municipal\"");
    ratio = strstr(page, "data-code=\"patents_per_10k\"");
    cr_assert(rd != NULL && ratio != NULL && rd < ratio);
    expect_in(rd, "<span class=\"revised\" data-keep=\"revised\" title=\"2015-07-05&lt;x&gt; 时为 "
                  "was —\">修订 revised</span>");
    cr_expect_null(strstr(ratio, "修订 revised</span>"), "only the revised target is marked");
    expect_in(page, "1 项数字在此后修订 figures revised since then · <a href");
    expect_in(page, "<a href=\"changes?year=2015&amp;as_of=2015-06-30\">");
    size_t sparks = 0, charts = 0;
    for (const char *s = page; (s = strstr(s, "<svg class=\"spark\"")) != NULL; s++)
        sparks++;
    for (const char *s = page; (s = strstr(s, "<svg class=\"trend-chart\"")) != NULL; s++)
        charts++;
    cr_expect_eq(sparks, 3);
    cr_expect_eq(charts, 3);
    expect_in(ratio, "No figure this year yet");
    free(out.data);
}
