/* The dashboard's pace (the pro-rata mark, amber and red: aggregator/dashboard.c) and the
 * assessment page (aggregator/dashboard_assessment.c), from hand-made documents, including
 * missing values, which print "—" and never crash. */
#include "dashboard.h"
#include "dashboard_assessment.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void expect_in(const char *page, const char *needle)
{
    cr_expect_not_null(strstr(page, needle), "page lacks: %s", needle);
}

/* Four behind targets and one on track: at 90% of pace (amber), below (red), a ratio at
 * 95% of its target (no pro rata: its pct is its pace, amber), one with no value (red). */
static struct agg_progress_target paced[] = {
    {"a", "甲", "A", "家", "sum", "45", "100", ">=", "45", "behind", 1, NULL, 0, "49.589", "90.75",
     NULL},
    {"b", "乙", "B", "家", "sum", "30", "100", ">=", "30", "behind", 1, NULL, 0, "49.589", "60.5",
     NULL},
    {"c", "丙", "C", "%", "ratio", "47.5", "50", ">=", "95", "behind", 1, NULL, 0, NULL, NULL,
     NULL},
    {"d", "丁", "D", "家", "sum", NULL, "100", ">=", NULL, "behind", 0, NULL, 0, "49.589", NULL,
     NULL},
    {"e", "戊", "E", "家", "sum", "60", "100", ">=", "60", "on_track", 1, NULL, 0, "49.589", "121",
     NULL},
};

static char *render_paced(void)
{
    struct agg_progress p = {0};
    struct agg_dashboard_view v = {0};
    struct ct_buf out = CT_BUF_INIT;

    p.year = 2015;
    p.as_of_ms = 1435679999999LL; /* 2015-06-30T23:59:59.999+08:00 */
    p.targets = paced;
    p.n_targets = sizeof(paced) / sizeof(paced[0]);
    v.progress = &p;
    v.year = 2015;
    v.as_of = "2015-06-30";
    v.refresh_s = 10;
    cr_assert_eq(agg_dashboard_render(&v, &out), 0);
    return out.data;
}

Test(dashboard_pace, behind_targets_are_amber_at_ninety_percent_of_pace_and_red_below)
{
    char *page = render_paced();

    expect_in(page, "<details class=\"target st-behind lag-amber\" role=\"listitem\" "
                    "data-code=\"a\"");
    expect_in(page, "<details class=\"target st-behind lag-red\" role=\"listitem\" "
                    "data-code=\"b\"");
    expect_in(page, "<details class=\"target st-behind lag-amber\" role=\"listitem\" "
                    "data-code=\"c\"");
    expect_in(page, "<details class=\"target st-behind lag-red\" role=\"listitem\" "
                    "data-code=\"d\"");
    expect_in(page, "<details class=\"target st-on_track\" role=\"listitem\" data-code=\"e\"");
    free(page);
}

Test(dashboard_pace, a_paced_bar_carries_the_pro_rata_mark)
{
    char *page = render_paced();
    const char *ratio = strstr(page, "data-code=\"c\""), *after = strstr(page, "data-code=\"d\"");

    expect_in(page, "style=\"width: 45.0%;\"></span><span class=\"pace\" style=\"left: 49.6%;\" "
                    "title=\"按时间进度 pro rata 49.59\"></span></span>");
    cr_assert(ratio != NULL && after != NULL);
    cr_assert(strstr(ratio, "class=\"pace\"") > after, "a ratio has no pro-rata mark");
    free(page);
}

static struct agg_assessment_item erqi_items[] = {
    {"rd", "12", "10", "120", "met"},
    {"contracts", NULL, "10", NULL, "no_data"},
};
static struct agg_assessment_unit units[] = {
    {"1", "erqi", "二七区", "Erqi <District>", "50", 2, 1, 0, 0, 1, erqi_items, 2},
    {NULL, "city", "郑州市本级", "Municipal level", NULL, 0, 0, 0, 0, 0, NULL, 0},
};
static struct agg_assessment_column columns[] = {
    {"rd", "研发中心", "R&D", "家"},
    {"contracts", "技术合同", "Contracts", "亿元"},
};
static const int years[] = {2015};

static char *render_assessment(size_t n_columns)
{
    struct agg_assessment a = {0};
    struct agg_dashboard_assessment_view v = {&a, "2015-12-31", years, 1};
    struct ct_buf out = CT_BUF_INIT;

    a.year = 2015;
    a.as_of_ms = 1451577599999LL; /* 2015-12-31T23:59:59.999+08:00 */
    a.units = units;
    a.n_units = 2;
    a.columns = columns;
    a.n_columns = n_columns;
    cr_assert_eq(agg_dashboard_assessment_render(&v, &out), 0);
    return out.data;
}

Test(dashboard_assessment, every_cell_is_the_units_pct_of_its_own_target_or_none)
{
    char *page = render_assessment(2);

    expect_in(page, "<td class=\"cell st-met\" data-district=\"erqi\" data-code=\"rd\" "
                    "data-pct=\"120\" data-status=\"met\" title=\"12 / 10 家 · 已完成 met\">120% "
                    "✓</td>");
    expect_in(page, "<td class=\"cell st-no_data\" data-district=\"erqi\" data-code=\"contracts\" "
                    "data-pct=\"\" data-status=\"no_data\" title=\"— / 10 亿元 · 暂无数据 no "
                    "data\">— –</td>");
    expect_in(page, "<td class=\"cell na\" data-district=\"city\" data-code=\"rd\" ");
    expect_in(page, "<td class=\"cell na\" data-district=\"city\" data-code=\"contracts\" ");
    cr_assert_null(strstr(page, "<script"), "the page reads without scripts");
    free(page);
}

Test(dashboard_assessment, the_ranking_shows_no_rank_or_score_as_a_dash_and_escapes_names)
{
    char *page = render_assessment(2);

    expect_in(page, "<tr data-district=\"erqi\" data-rank=\"1\" data-score=\"50\"><td "
                    "class=\"n\">1</td><td>二七区 <small>Erqi &lt;District&gt;</small>");
    expect_in(page, "<tr data-district=\"city\" data-rank=\"\" data-score=\"\"><td "
                    "class=\"n\">—</td>");
    expect_in(page, "style=\"width: 0.0%;\"></span>—</td>");
    expect_in(page, "<option value=\"2015\" selected>2015</option>");
    expect_in(page, "name=\"as_of\" value=\"2015-12-31\"");
    free(page);
}

Test(dashboard_assessment, no_split_target_says_so_instead_of_an_empty_matrix)
{
    char *page = render_assessment(0);

    expect_in(page, "尚未分解目标 No target has been split among the units yet");
    cr_assert_null(strstr(page, "class=\"scorecard\""));
    free(page);
}
