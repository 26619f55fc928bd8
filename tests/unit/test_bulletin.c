/* aggregator/bulletin.c: the 通报 page from a hand-made briefing. The sections fed by other
 * parts (pace, assessment, completeness, changes) appear exactly when the briefing has
 * them, numbered in order; everything from the database is escaped. Also briefing.c's
 * month-end and as-of helpers that the page uses. */
#include "briefing.h"
#include "bulletin.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct agg_progress_unit rd_units[] = {{"gaoxin", "40", NULL, NULL},
                                              {"jinshui", "47", NULL, NULL}};
static struct agg_progress_target targets[] = {
    {"rd_centers_municipal", "新建市级研发中心100家", "Build 100 municipal R&D centres", "家",
     "sum", "87", "100", ">=", "87", "on_track", 2, rd_units, 2, "49.5890", "175.44", NULL},
    {"patents_per_10k", "每万人发明专利拥有量达到6.8件", "Patents <b>per</b> 10 000", "件/万人",
     "ratio", "7.0312345", "6.8", ">=", "103.4", "met", 1, NULL, 0, NULL, NULL, NULL},
    {"st_contribution_rate", "科技进步对经济增长的贡献率达到60%", "S&T contributes 60%", "%",
     "city", NULL, "60", ">=", NULL, "no_data", 0, NULL, 0, NULL, NULL, NULL},
};
static const struct agg_briefing_unit units[] = {
    {"jinshui", "金水区", "Jinshui District"},
    {"gaoxin", "郑州高新技术产业开发区", "High-tech zone"},
};
static struct agg_assessment_item items[] = {
    {"rd_centers_municipal", "47", "50", "94", "on_track"}};
static struct agg_assessment_unit ranked[] = {
    {"1", "jinshui", "金水区", "Jinshui District", "94", 1, 0, 1, 0, 0, items, 1},
    {NULL, "gaoxin", "郑州高新技术产业开发区", "High-tech zone", NULL, 0, 0, 0, 0, 0, NULL, 0},
};
static const struct agg_assessment assessment = {.year = 2015, .units = ranked, .n_units = 2};
static const char *const missing[] = {"rd_center_new", "patents_granted"};
static const struct agg_briefing_completeness_unit round_units[] = {
    {"jinshui", 20, 20, 19, NULL, 0},
    {"gaoxin", 20, 18, 18, missing, 2},
};
static const struct agg_briefing_completeness completeness = {"H1", "2015-06-30", "2015-07-10", 40,
                                                              38,   37,           round_units,  2};
static const struct agg_briefing_change_update updates[] = {
    {"gaoxin", "rd_center_new", "add", "5", "2015-06-12T10:00:00+08:00", "补报 <late>"},
    {"jinshui", "rd_center_new", "set", "47", "2015-06-20T10:00:00+08:00", NULL},
};
static const struct agg_briefing_change change_list[] = {
    {"rd_centers_municipal", "80", "87", "7", updates, 2}};
static struct agg_briefing_changes changes = {0, 0, change_list, 1};

static struct agg_progress progress = {2015, 0, NULL, targets, 3, NULL, NULL, NULL, NULL};

static int64_t at(const char *text)
{
    char err[128];
    int64_t ms;
    cr_assert_eq(ct_time_parse(text, &ms, err, sizeof(err)), 0, "%s: %s", text, err);
    return ms;
}

static char *render(const struct agg_briefing *b)
{
    struct ct_buf out = CT_BUF_INIT;
    char *page;

    cr_assert_eq(agg_bulletin_render(b, 1435680000000LL /* 2015-07-01T00:00+08 */, &out), 0);
    cr_assert(!out.failed);
    page = strdup(out.data);
    ct_buf_free(&out);
    return page;
}

static struct agg_briefing base(void)
{
    struct agg_briefing b = {0};
    progress.as_of_ms = at("2015-06-30");
    b.progress = &progress;
    b.units = units;
    b.n_units = 2;
    return b;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

Test(bulletin, without_the_optional_sections_only_overview_and_targets_are_printed)
{
    struct agg_briefing b = base();
    char *page = render(&b);

    cr_expect(strstr(page, "<h2>一、总体情况") != NULL);
    cr_expect(strstr(page, "<h2>二、各项目标进展") != NULL);
    cr_expect_eq(count(page, "<h2>"), 2, "%s", page);
    cr_expect_null(strstr(page, "<th class=\"num\">序时进度"));
    cr_expect_null(strstr(page, "考核排名"));
    cr_expect_null(strstr(page, "报送完整性"));
    cr_expect_null(strstr(page, "上月末以来变化"));
    cr_expect_null(strstr(page, "<script"));
    free(page);
}

Test(bulletin, headline_counts_rows_and_statuses_follow_the_progress)
{
    struct agg_briefing b = base();
    char *page = render(&b);

    cr_expect(strstr(page, "已完成 <b>1</b> 项，进度正常 <b>1</b> 项，滞后 <b>0</b> 项，"
                           "暂无数据 <b>1</b> 项") != NULL,
              "%s", page);
    cr_expect(strstr(page, "截至2015年6月30日，") != NULL);
    cr_expect(strstr(page, "数据截至 As of 2015-06-30<") != NULL);
    cr_expect(strstr(page, "印发日期 Issued 2015年7月1日") != NULL);
    cr_expect_eq(count(page, "<tr class="), 3);
    cr_expect(strstr(page, "<tr class=\"on_track\" data-code=\"rd_centers_municipal\"><td "
                           "class=\"no\">1</td>") != NULL);
    cr_expect(strstr(page,
                     "<td class=\"num\">87 <span class=\"u\">家</span></td><td "
                     "class=\"num\">≥ 100 <span class=\"u\">家</span></td><td "
                     "class=\"num\">87%<div class=\"bar\"><i style=\"width:87.0%\">") != NULL);
    /* met: a bar capped at 100%; no data: dashes, no unit after the missing figure */
    cr_expect(strstr(page, "103.4%<div class=\"bar\"><i style=\"width:100.0%\">") != NULL);
    cr_expect(strstr(page, "<td class=\"num\">—</td><td class=\"num\">≥ 60") != NULL);
    cr_expect(strstr(page, "✓ 已完成<span class=\"en\">met</span>") != NULL);
    cr_expect(strstr(page, "Patents &lt;b&gt;per&lt;/b&gt; 10 000") != NULL);
    cr_expect(strstr(page, "Build 100 municipal R&amp;D centres") != NULL);
    cr_expect_null(strstr(page, "<b>per</b>"));
    /* print rules */
    cr_expect(strstr(page, "@page{size:A4;") != NULL);
    cr_expect(strstr(page, "thead{display:table-header-group}") != NULL);
    cr_expect(strstr(page, "tr{break-inside:avoid;page-break-inside:avoid}") != NULL);
    free(page);
}

Test(bulletin, every_section_is_numbered_in_order_when_the_briefing_has_it)
{
    struct agg_briefing b = base();
    char *page;

    changes.from_ms = at("2015-05-31");
    changes.to_ms = progress.as_of_ms;
    b.paced = true;
    b.assessment = &assessment;
    b.completeness = &completeness;
    b.changes = &changes;
    page = render(&b);
    cr_expect(strstr(page, "<h2>三、考核排名") != NULL, "%s", page);
    cr_expect(strstr(page, "<h2>四、报送完整性") != NULL);
    cr_expect(strstr(page, "<h2>五、上月末以来变化") != NULL);
    cr_expect(strstr(page, "三、考核排名") < strstr(page, "四、报送完整性"));
    /* pace: a column of its own, dashes where section 8 says null */
    cr_expect(strstr(page, "<th class=\"num\">序时进度") != NULL);
    cr_expect(strstr(page, "175.4%<span class=\"en\">序时 expected 49.59</span>") != NULL);
    cr_expect_eq(count(page, "<td class=\"num\">—</td><td class=\"status\">"), 2);
    /* ranking: an unranked unit shows a dash and no score */
    cr_expect(strstr(page, "<tr data-district=\"jinshui\"><td class=\"no\">1</td><td>金水区") !=
              NULL);
    cr_expect(strstr(page, "<td class=\"no\">—</td><td>郑州高新技术产业开发区") != NULL);
    cr_expect(strstr(page, "应报 <b>40</b> 项，已报 <b>38</b> 项，其中按时 <b>37</b> 项") != NULL);
    cr_expect(strstr(page, "rd_center_new、patents_granted") != NULL);
    cr_expect(strstr(page, "自2015年5月31日至2015年6月30日，1 项目标完成值发生变化") != NULL);
    cr_expect(strstr(page, "<td class=\"num\">+7</td>") != NULL);
    cr_expect(strstr(page, "郑州高新技术产业开发区 增减 5（补报 &lt;late&gt;）；金水区 报 47") !=
              NULL);
    free(page);
}

Test(bulletin, a_missing_section_closes_up_the_numbering)
{
    struct agg_briefing b = base();
    char *page;

    changes.from_ms = at("2015-05-31");
    changes.to_ms = progress.as_of_ms;
    b.changes = &changes;
    page = render(&b);
    cr_expect(strstr(page, "<h2>三、上月末以来变化") != NULL, "%s", page);
    cr_expect_eq(count(page, "<h2>"), 3);
    free(page);
}

Test(briefing, the_previous_month_end_is_the_last_one_strictly_before_as_of)
{
    cr_expect_eq(agg_briefing_previous_month_end(at("2015-07-15T12:00:00+08:00")),
                 at("2015-06-30"));
    cr_expect_eq(agg_briefing_previous_month_end(at("2015-06-30")), at("2015-05-31"));
    cr_expect_eq(agg_briefing_previous_month_end(at("2015-07-01T00:00:00+08:00")),
                 at("2015-06-30"));
    cr_expect_eq(agg_briefing_previous_month_end(at("2015-03-10")), at("2015-02-28"));
    cr_expect_eq(agg_briefing_previous_month_end(at("2016-03-01T08:00:00+08:00")),
                 at("2016-02-29"));
    cr_expect_eq(agg_briefing_previous_month_end(at("2015-01-05")), at("2014-12-31"));
    /* 2015-07-31T20:00Z is already August the 1st in UTC+8 */
    cr_expect_eq(agg_briefing_previous_month_end(at("2015-07-31T20:00:00Z")), at("2015-07-31"));
}

Test(briefing, as_of_reads_as_a_date_when_it_is_a_days_end)
{
    char buf[CT_TIME_TEXT_MAX];

    agg_briefing_as_of_text(at("2015-06-30"), buf, sizeof(buf));
    cr_expect_str_eq(buf, "2015-06-30");
    agg_briefing_as_of_text(at("2015-06-30T17:00:00+08:00"), buf, sizeof(buf));
    cr_expect_str_eq(buf, "2015-06-30T17:00:00+08:00");
}
