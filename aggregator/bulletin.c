#include "bulletin.h"

#include "dashboard.h"
#include "status_words.h"
#include "timefmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY 86400000LL

static const char *const numerals[] = {"一", "二", "三", "四", "五", "六", "七", "八"};

static const char *const style =
    "@page{size:A4;margin:16mm 14mm 18mm 14mm;"
    "@bottom-center{content:\"第 \" counter(page) \" 页，共 \" counter(pages) \" 页 · Page \" "
    "counter(page) \" of \" counter(pages);"
    "font-size:8pt;color:#555}}\n"
    "*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
    "html{font-family:\"Noto Serif CJK SC\",\"Source Han Serif SC\",SimSun,\"Songti SC\","
    "\"WenQuanYi Micro Hei\",serif;color:#111;font-size:10pt;line-height:1.4}\n"
    "body{margin:0 auto;max-width:182mm}\n"
    "@media screen{html{background:#e8e8e8}body{background:#fff;padding:14mm;margin:8mm auto;"
    "max-width:210mm;box-shadow:0 1px 6px rgba(0,0,0,.25)}}\n"
    ".en{font-family:\"DejaVu Sans\",Arial,sans-serif;font-weight:normal;color:#555;"
    "font-size:.78em}\n"
    ".masthead{text-align:center;color:#c00000;margin-bottom:5mm}\n"
    ".masthead .title{font-size:25pt;font-weight:bold;letter-spacing:.12em;line-height:1.25}\n"
    ".masthead .title-en{font-size:10pt;color:#c00000;margin-top:1mm}\n"
    ".masthead .issue{color:#111;font-size:11pt;margin-top:3mm}\n"
    ".masthead .meta{display:flex;justify-content:space-between;color:#111;font-size:9pt;"
    "margin-top:3mm}\n"
    ".masthead .rule{border-top:2.2pt solid #c00000;border-bottom:.8pt solid #c00000;"
    "height:3.2pt;margin-top:1.5mm}\n"
    "h2{font-size:12.5pt;margin:5mm 0 2mm;break-after:avoid;page-break-after:avoid}\n"
    "h2 .en{font-size:.72em;margin-left:.4em}\n"
    "p{margin:1mm 0 2mm;text-align:justify}\n"
    "p.en{font-size:8.5pt}\n"
    ".counts{display:flex;gap:3mm;margin:3mm 0 1mm;break-inside:avoid}\n"
    ".count{flex:1;border:.8pt solid #999;border-top-width:3pt;padding:2mm 3mm;text-align:center}\n"
    ".count b{display:block;font-size:20pt;line-height:1.1}\n"
    ".count.met{border-top-color:#1b7f3b}.count.on_track{border-top-color:#1f5fa8}\n"
    ".count.behind{border-top-color:#b42318}.count.no_data{border-top-color:#888}\n"
    "table{width:100%;border-collapse:collapse;margin:1mm 0 2mm}\n"
    "thead{display:table-header-group}\n"
    "tr{break-inside:avoid;page-break-inside:avoid}\n"
    "th{font-size:8.5pt;font-weight:bold;text-align:left;padding:1.5mm 1.5mm;"
    "background:#f1f1f1;border-top:1.2pt solid #222;border-bottom:.8pt solid #222;"
    "vertical-align:bottom}\n"
    "th .en{display:block}\n"
    "td{font-size:9pt;padding:1.4mm 1.5mm;border-bottom:.5pt solid #c8c8c8;vertical-align:top}\n"
    "tbody tr:last-child td{border-bottom:1.2pt solid #222}\n"
    "td.no,th.no{text-align:center;width:11mm;white-space:nowrap;color:#444}\n"
    "td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n"
    "td.num .en{display:block}\n"
    "td.name .zh{display:block;font-weight:bold}\n"
    "td.name .en{display:block;line-height:1.25}\n"
    "td.name .code{display:block;font-family:\"DejaVu Sans Mono\",monospace;font-size:6.8pt;"
    "color:#888;white-space:nowrap}\n"
    ".u{color:#555;font-size:.85em}\n"
    ".bar{height:1.3mm;background:#e4e4e4;margin-top:.8mm;min-width:14mm}\n"
    ".bar i{display:block;height:100%;background:#777}\n"
    "td.status{white-space:nowrap;font-weight:bold}\n"
    "td.status .en{display:block;font-weight:normal}\n"
    "tr.met td.status{color:#1b7f3b}tr.met .bar i{background:#1b7f3b}\n"
    "tr.on_track td.status{color:#1f5fa8}tr.on_track .bar i{background:#1f5fa8}\n"
    "tr.behind td.status{color:#b42318}tr.behind .bar i{background:#b42318}\n"
    "tr.no_data td.status{color:#777}\n"
    ".notes{margin-top:5mm;border-top:.8pt solid #999;padding-top:2mm;font-size:8.5pt;"
    "color:#333;break-inside:avoid}\n"
    ".notes p{margin:.5mm 0}\n";

static const char *comparator_symbol(const char *cmp)
{
    if (strcmp(cmp, ">=") == 0)
        return "≥";
    if (strcmp(cmp, "<=") == 0)
        return "≤";
    if (strcmp(cmp, ">") == 0)
        return "&gt;";
    if (strcmp(cmp, "<") == 0)
        return "&lt;";
    return "";
}

static void figure(struct ct_buf *out, const char *decimal)
{
    agg_dashboard_format_figure(decimal, 2, out);
}

static void percent(struct ct_buf *out, const char *decimal)
{
    agg_dashboard_format_figure(decimal, 1, out);
    if (decimal != NULL)
        ct_buf_puts(out, "%");
}

static void with_unit(struct ct_buf *out, const char *unit)
{
    if (unit != NULL && unit[0] != '\0') {
        ct_buf_puts(out, " <span class=\"u\">");
        ct_buf_html(out, unit);
        ct_buf_puts(out, "</span>");
    }
}

/* "2015年6月30日" in UTC+8, with the time of day unless `ms` is a day's last millisecond
 * (what a bare date means, CONTRACT section 1). */
static void cn_date(struct ct_buf *out, int64_t ms, bool with_time)
{
    int64_t local = ms + CT_TZ_OFFSET_MS;
    int64_t day_ms = ((local % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
    time_t secs = (time_t)((local - day_ms) / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    ct_buf_printf(out, "%d年%d月%d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (with_time && day_ms != MS_PER_DAY - 1)
        ct_buf_printf(out, " %02d:%02d", (int)(day_ms / 3600000), (int)(day_ms / 60000 % 60));
}

static void heading(struct ct_buf *out, int *section, const char *zh, const char *en)
{
    const size_t n = sizeof(numerals) / sizeof(numerals[0]);
    ct_buf_printf(out, "<h2>%s、%s<span class=\"en\">%s</span></h2>\n",
                  (size_t)*section < n ? numerals[*section] : "", zh, en);
    (*section)++;
}

static const char *unit_name(const struct agg_briefing *b, const char *id)
{
    for (size_t i = 0; i < b->n_units; i++) {
        if (strcmp(b->units[i].id, id) == 0)
            return b->units[i].name_zh;
    }
    return id;
}

static const struct agg_progress_target *target_of(const struct agg_progress *p, const char *code)
{
    for (size_t i = 0; i < p->n_targets; i++) {
        if (strcmp(p->targets[i].code, code) == 0)
            return &p->targets[i];
    }
    return NULL;
}

/* ---- sections --------------------------------------------------------------------- */

static void masthead(struct ct_buf *out, const struct agg_briefing *b, int64_t issued_ms)
{
    const struct agg_progress *p = b->progress;
    char as_of[CT_TIME_TEXT_MAX];

    agg_briefing_as_of_text(p->as_of_ms, as_of, sizeof(as_of));
    ct_buf_puts(
        out, "<header class=\"masthead\">\n<div class=\"title\">郑州市科技工作目标进展通报</div>\n"
             "<div class=\"title-en\">Zhengzhou S&amp;T Work Targets · Progress Bulletin</div>\n");
    ct_buf_printf(out, "<div class=\"issue\">%d 年度 · 截至", p->year);
    cn_date(out, p->as_of_ms, true);
    ct_buf_puts(out, "</div>\n<div class=\"meta\"><span>数据截至 As of ");
    ct_buf_html(out, as_of);
    ct_buf_puts(out, "</span><span>印发日期 Issued ");
    cn_date(out, issued_ms, false);
    ct_buf_puts(out, "</span></div>\n<div class=\"rule\"></div>\n</header>\n");
}

static void section_overview(struct ct_buf *out, const struct agg_briefing *b, int *section)
{
    const struct agg_progress *p = b->progress;
    size_t counts[4];

    agg_briefing_status_counts(p, counts);
    heading(out, section, "总体情况", "Overview");
    ct_buf_puts(out, "<p>截至");
    cn_date(out, p->as_of_ms, true);
    ct_buf_printf(out,
                  "，全市 %d 年度 %zu 项科技工作目标中：已完成 <b>%zu</b> 项，进度正常 "
                  "<b>%zu</b> 项，滞后 <b>%zu</b> 项，暂无数据 <b>%zu</b> 项。</p>\n",
                  p->year, p->n_targets, counts[0], counts[1], counts[2], counts[3]);
    ct_buf_printf(out,
                  "<p class=\"en\">Of the city's %zu S&amp;T targets for %d: %zu met, %zu on "
                  "track, %zu behind, %zu with no data yet.</p>\n<div class=\"counts\">",
                  p->n_targets, p->year, counts[0], counts[1], counts[2], counts[3]);
    for (size_t k = 0; k < AGG_N_STATUSES; k++)
        ct_buf_printf(out,
                      "<div class=\"count %s\"><b>%zu</b>%s<span class=\"en\"> %s</span></div>",
                      agg_statuses[k].code, counts[k], agg_statuses[k].zh, agg_statuses[k].en);
    ct_buf_puts(out, "</div>\n");
}

static void target_row(struct ct_buf *out, const struct agg_briefing *b, size_t i)
{
    const struct agg_progress_target *t = &b->progress->targets[i];
    size_t s = agg_status_index(t->status);
    double bar = t->pct != NULL ? strtod(t->pct, NULL) : 0;

    if (!(bar > 0))
        bar = 0;
    if (bar > 100)
        bar = 100;
    ct_buf_printf(out, "<tr class=\"%s\" data-code=\"", agg_statuses[s].code);
    ct_buf_html(out, t->code);
    ct_buf_printf(out, "\"><td class=\"no\">%zu</td><td class=\"name\"><span class=\"zh\">", i + 1);
    ct_buf_html(out, t->name_zh);
    ct_buf_puts(out, "</span><span class=\"en\">");
    ct_buf_html(out, t->name_en);
    ct_buf_puts(out, "</span><span class=\"code\">");
    ct_buf_html(out, t->code);
    ct_buf_puts(out, "</span></td><td class=\"num\">");
    figure(out, t->actual);
    if (t->actual != NULL)
        with_unit(out, t->unit);
    ct_buf_puts(out, "</td><td class=\"num\">");
    ct_buf_printf(out, "%s ", comparator_symbol(t->comparator));
    figure(out, t->target);
    with_unit(out, t->unit);
    ct_buf_puts(out, "</td><td class=\"num\">");
    percent(out, t->pct);
    ct_buf_printf(out, "<div class=\"bar\"><i style=\"width:%.1f%%\"></i></div></td>", bar);
    if (b->paced) {
        ct_buf_puts(out, "<td class=\"num\">");
        percent(out, t->pace_pct);
        if (t->expected_to_date != NULL) {
            ct_buf_puts(out, "<span class=\"en\">序时 expected ");
            figure(out, t->expected_to_date);
            ct_buf_puts(out, "</span>");
        }
        ct_buf_puts(out, "</td>");
    }
    ct_buf_printf(out, "<td class=\"status\">%s %s<span class=\"en\">%s</span></td></tr>\n",
                  agg_statuses[s].symbol, agg_statuses[s].zh, agg_statuses[s].en);
}

static void section_targets(struct ct_buf *out, const struct agg_briefing *b, int *section)
{
    heading(out, section, "各项目标进展", "Progress by target");
    ct_buf_puts(out, "<table class=\"targets\"><thead><tr>"
                     "<th class=\"no\">序号<span class=\"en\">No.</span></th>"
                     "<th>目标<span class=\"en\">Target</span></th>"
                     "<th class=\"num\">完成值<span class=\"en\">Actual</span></th>"
                     "<th class=\"num\">目标值<span class=\"en\">Target</span></th>"
                     "<th class=\"num\">完成率<span class=\"en\">Done</span></th>");
    if (b->paced)
        ct_buf_puts(out, "<th class=\"num\">序时进度<span class=\"en\">Pace</span></th>");
    ct_buf_puts(out, "<th>状态<span class=\"en\">Status</span></th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < b->progress->n_targets; i++)
        target_row(out, b, i);
    ct_buf_puts(out, "</tbody></table>\n");
}

static void section_assessment(struct ct_buf *out, const struct agg_briefing *b, int *section)
{
    const struct agg_assessment *a = b->assessment;

    heading(out, section, "考核排名", "Assessment ranking");
    ct_buf_puts(out, "<table class=\"assessment\"><thead><tr>"
                     "<th class=\"no\">名次<span class=\"en\">Rank</span></th>"
                     "<th>单位<span class=\"en\">Unit</span></th>"
                     "<th class=\"num\">得分<span class=\"en\">Score</span></th>"
                     "<th class=\"num\">考核目标<span class=\"en\">Assigned</span></th>"
                     "<th class=\"num\">已完成<span class=\"en\">Met</span></th>"
                     "<th class=\"num\">进度正常<span class=\"en\">On track</span></th>"
                     "<th class=\"num\">滞后<span class=\"en\">Behind</span></th>"
                     "<th class=\"num\">暂无数据<span class=\"en\">No data</span></th>"
                     "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < a->n_units; i++) {
        const struct agg_assessment_unit *u = &a->units[i];
        ct_buf_puts(out, "<tr data-district=\"");
        ct_buf_html(out, u->district);
        ct_buf_puts(out, "\"><td class=\"no\">");
        if (u->rank != NULL)
            ct_buf_html(out, u->rank);
        else
            ct_buf_puts(out, "—");
        ct_buf_puts(out, "</td><td>");
        ct_buf_html(out, u->name_zh);
        ct_buf_puts(out, "<span class=\"en\"> ");
        ct_buf_html(out, u->name_en);
        ct_buf_puts(out, "</span></td><td class=\"num\">");
        figure(out, u->score);
        ct_buf_printf(out,
                      "</td><td class=\"num\">%d</td><td class=\"num\">%d</td>"
                      "<td class=\"num\">%d</td><td class=\"num\">%d</td>"
                      "<td class=\"num\">%d</td></tr>\n",
                      u->assigned, u->met, u->on_track, u->behind, u->no_data);
    }
    ct_buf_puts(out, "</tbody></table>\n");
}

static void section_completeness(struct ct_buf *out, const struct agg_briefing *b, int *section)
{
    const struct agg_briefing_completeness *c = b->completeness;

    heading(out, section, "报送完整性", "Completeness of the last due round");
    ct_buf_puts(out, "<p>");
    ct_buf_html(out, c->round);
    ct_buf_puts(out, "（期末 ");
    ct_buf_html(out, c->period_end);
    ct_buf_puts(out, "，报送截止 ");
    ct_buf_html(out, c->due);
    ct_buf_printf(out,
                  "）：应报 <b>%d</b> 项，已报 <b>%d</b> 项，其中按时 <b>%d</b> 项。"
                  "<span class=\"en\"> Round ",
                  c->expected, c->reported, c->on_time);
    ct_buf_html(out, c->round);
    ct_buf_printf(out, ": %d indicator reports expected, %d reported, %d on time.</span></p>\n",
                  c->expected, c->reported, c->on_time);
    ct_buf_puts(out, "<table class=\"completeness\"><thead><tr>"
                     "<th>单位<span class=\"en\">Unit</span></th>"
                     "<th class=\"num\">应报<span class=\"en\">Expected</span></th>"
                     "<th class=\"num\">已报<span class=\"en\">Reported</span></th>"
                     "<th class=\"num\">按时<span class=\"en\">On time</span></th>"
                     "<th>未报指标<span class=\"en\">Missing</span></th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < c->n_units; i++) {
        const struct agg_briefing_completeness_unit *u = &c->units[i];
        ct_buf_puts(out, "<tr data-district=\"");
        ct_buf_html(out, u->district);
        ct_buf_puts(out, "\"><td>");
        ct_buf_html(out, unit_name(b, u->district));
        ct_buf_printf(out,
                      "</td><td class=\"num\">%d</td><td class=\"num\">%d</td>"
                      "<td class=\"num\">%d</td><td>",
                      u->expected, u->reported, u->on_time);
        for (size_t k = 0; k < u->n_missing; k++) {
            if (k > 0)
                ct_buf_puts(out, "、");
            ct_buf_html(out, u->missing[k]);
        }
        if (u->n_missing == 0)
            ct_buf_puts(out, "—");
        ct_buf_puts(out, "</td></tr>\n");
    }
    ct_buf_puts(out, "</tbody></table>\n");
}

static void section_changes(struct ct_buf *out, const struct agg_briefing *b, int *section)
{
    const struct agg_briefing_changes *ch = b->changes;

    heading(out, section, "上月末以来变化", "Changes since the previous month end");
    ct_buf_puts(out, "<p>自");
    cn_date(out, ch->from_ms, true);
    ct_buf_puts(out, "至");
    cn_date(out, ch->to_ms, true);
    if (ch->n_targets == 0) {
        ct_buf_puts(out, "，各项目标完成值未发生变化。<span class=\"en\"> No target's figure "
                         "changed.</span></p>\n");
        return;
    }
    ct_buf_printf(out,
                  "，%zu 项目标完成值发生变化。<span class=\"en\"> %zu targets' figures "
                  "changed.</span></p>\n",
                  ch->n_targets, ch->n_targets);
    ct_buf_puts(out, "<table class=\"changes\"><thead><tr>"
                     "<th>目标<span class=\"en\">Target</span></th>"
                     "<th class=\"num\">上月末<span class=\"en\">Before</span></th>"
                     "<th class=\"num\">本期<span class=\"en\">Now</span></th>"
                     "<th class=\"num\">变化<span class=\"en\">Change</span></th>"
                     "<th>报送单位及说明<span class=\"en\">Updates behind it</span></th>"
                     "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < ch->n_targets; i++) {
        const struct agg_briefing_change *c = &ch->targets[i];
        const struct agg_progress_target *t = target_of(b->progress, c->code);
        ct_buf_puts(out, "<tr data-code=\"");
        ct_buf_html(out, c->code);
        ct_buf_puts(out, "\"><td class=\"name\"><span class=\"zh\">");
        ct_buf_html(out, t != NULL ? t->name_zh : c->code);
        ct_buf_puts(out, "</span></td><td class=\"num\">");
        figure(out, c->before);
        ct_buf_puts(out, "</td><td class=\"num\">");
        figure(out, c->after);
        ct_buf_puts(out, "</td><td class=\"num\">");
        if (c->delta != NULL && c->delta[0] != '-')
            ct_buf_puts(out, "+");
        figure(out, c->delta);
        ct_buf_puts(out, "</td><td>");
        for (size_t k = 0; k < c->n_updates; k++) {
            const struct agg_briefing_change_update *u = &c->updates[k];
            if (k > 0)
                ct_buf_puts(out, "；");
            ct_buf_html(out, unit_name(b, u->district));
            ct_buf_puts(out, strcmp(u->op, "add") == 0 ? " 增减 " : " 报 ");
            figure(out, u->value);
            if (u->note != NULL && u->note[0] != '\0') {
                ct_buf_puts(out, "（");
                ct_buf_html(out, u->note);
                ct_buf_puts(out, "）");
            }
        }
        ct_buf_puts(out, "</td></tr>\n");
    }
    ct_buf_puts(out, "</tbody></table>\n");
}

static void notes(struct ct_buf *out, int64_t issued_ms)
{
    ct_buf_puts(out,
                "<footer class=\"notes\">\n<p>说明：“已完成”指完成值已按目标要求达到目标值；"
                "“进度正常”指按年累计的总量目标尚未完成，但完成值不低于目标值乘以年度已过时间"
                "比例（序时进度）；“滞后”指其余尚未完成的目标；“暂无数据”指尚无单位报送相关数据。"
                "</p>\n<p class=\"en\">Met: the target is reached. On track: a year-to-date "
                "total not yet reached but at least the target times the share of the year "
                "gone. Behind: any other target not reached. No data: no unit has reported "
                "it yet.</p>\n<p>数据来源：各单位报送数据（citytally）。生成于 Generated ");
    cn_date(out, issued_ms, true);
    ct_buf_puts(out, "</p>\n</footer>\n");
}

int agg_bulletin_render(const struct agg_briefing *b, int64_t issued_ms, struct ct_buf *out)
{
    int section = 0;

    ct_buf_printf(out,
                  "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>郑州市 %d 年科技工作目标进展通报</title>\n<style>\n%s</style>\n"
                  "</head>\n<body>\n",
                  b->progress->year, style);
    masthead(out, b, issued_ms);
    section_overview(out, b, &section);
    section_targets(out, b, &section);
    if (b->assessment != NULL)
        section_assessment(out, b, &section);
    if (b->completeness != NULL)
        section_completeness(out, b, &section);
    if (b->changes != NULL)
        section_changes(out, b, &section);
    notes(out, issued_ms);
    ct_buf_puts(out, "</body>\n</html>\n");
    return out->failed ? -1 : 0;
}
