#include "dashboard_assessment.h"

#include "dashboard.h"
#include "page_form.h"
#include "status_words.h"
#include "timefmt.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char style[] =
    ":root{--met:#009e73;--on-track:#0072b2;--behind:#d55e00;--no-data:#8a8a8a;--ink:#16181d;"
    "--muted:#5a5f69;--line:#d9dbe0;--paper:#fff;--ground:#f3f4f6}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"WenQuanYi Micro "
    "Hei\",\"Microsoft YaHei\",sans-serif;color:var(--ink);background:var(--ground);"
    "line-height:1.35}\n"
    "header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:flex-end;"
    "gap:.6rem 1.5rem;padding:1rem 1.5rem .8rem;background:var(--paper);"
    "border-bottom:1px solid var(--line)}\n"
    "h1{margin:0;font-size:1.5rem}h1 .en{display:block;font-size:.9rem;font-weight:400;"
    "color:var(--muted)}\n"
    "h2{font-size:1.1rem;margin:1.2rem 0 .5rem}h2 .en{font-weight:400;color:var(--muted);"
    "font-size:.85rem;margin-left:.5rem}\n"
    ".asof,.rule{color:var(--muted);font-size:.9rem}\n"
    "form{display:flex;gap:.6rem;align-items:flex-end}form label{display:flex;"
    "flex-direction:column;font-size:.8rem;color:var(--muted)}\n"
    "form select,form input,form button{font:inherit;padding:.2rem .4rem}\n"
    "main{padding:.5rem 1.5rem 2rem}\n"
    "table{border-collapse:collapse;background:var(--paper);font-variant-numeric:tabular-nums}\n"
    "th,td{border:1px solid var(--line);padding:.25rem .5rem}\n"
    "th{font-weight:600;font-size:.85rem;text-align:left}\n"
    "td.n{text-align:right}\n"
    "table.ranking .score{width:14rem}\n"
    ".sbar{display:inline-block;vertical-align:middle;height:.8rem;background:var(--on-track);"
    "margin-right:.4rem;border-radius:2px}\n"
    ".scorecard-wrap{overflow-x:auto}\n"
    "table.scorecard th.t{writing-mode:vertical-rl;white-space:nowrap;font-weight:400;"
    "font-size:.8rem;vertical-align:bottom}\n"
    "table.scorecard td.cell{text-align:right;font-size:.85rem;white-space:nowrap}\n"
    "table.scorecard tbody th{white-space:nowrap;font-weight:400}\n"
    ".st-met{background:#d3f1e6;color:#00573e}.st-on_track{background:#d6e9f7;color:#004f7c}\n"
    ".st-behind{background:#fbe0cf;color:#8f3b00}.st-no_data{background:#ececee;"
    "color:var(--muted)}\n"
    "td.na{background:repeating-linear-gradient(135deg,#fff 0 5px,#f4f4f6 5px 9px);"
    "color:#b0b3ba;text-align:center}\n"
    ".legend span{display:inline-block;padding:.1rem .5rem;margin-right:.5rem;"
    "border:1px solid var(--line)}\n"
    "footer{padding:0 1.5rem 1.5rem;color:var(--muted);font-size:.75rem}\n"
    "@media print{form{display:none}body{background:#fff}.st-met,.st-on_track,.st-behind,"
    ".st-no_data,td.na,.sbar{print-color-adjust:exact;-webkit-print-color-adjust:exact}}\n";

static void render_ranking(struct ct_buf *out, const struct agg_assessment *a)
{
    ct_buf_puts(out, "<h2>排名 Ranking<span class=\"en\">score = mean of min(pct, 100) over the "
                     "unit's own targets</span></h2><table class=\"ranking\"><thead><tr>"
                     "<th>名次 Rank</th><th>单位 Unit</th><th class=\"score\">得分 Score</th>"
                     "<th>目标 Targets</th><th>已完成 Met</th><th>进度正常 On track</th>"
                     "<th>滞后 Behind</th><th>暂无数据 No data</th></tr></thead><tbody>");
    for (size_t i = 0; i < a->n_units; i++) {
        const struct agg_assessment_unit *u = &a->units[i];
        double w = u->score != NULL ? strtod(u->score, NULL) : 0;

        w = isfinite(w) ? fmin(100, fmax(0, w)) : 0;
        ct_buf_puts(out, "<tr data-district=\"");
        ct_buf_html(out, u->district);
        ct_buf_puts(out, "\" data-rank=\"");
        ct_buf_html(out, u->rank);
        ct_buf_puts(out, "\" data-score=\"");
        ct_buf_html(out, u->score);
        ct_buf_puts(out, "\"><td class=\"n\">");
        ct_buf_html(out, u->rank != NULL ? u->rank : "—");
        ct_buf_puts(out, "</td><td>");
        ct_buf_html(out, u->name_zh);
        ct_buf_puts(out, " <small>");
        ct_buf_html(out, u->name_en);
        ct_buf_printf(out,
                      "</small></td><td class=\"score\"><span class=\"sbar\" "
                      "style=\"width: %.1f%%;\"></span>",
                      w * 0.6);
        agg_dashboard_format_figure(u->score, 2, out);
        ct_buf_printf(out,
                      "</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td>"
                      "<td class=\"n\">%d</td><td class=\"n\">%d</td></tr>",
                      u->assigned, u->met, u->on_track, u->behind, u->no_data);
    }
    ct_buf_puts(out, "</tbody></table>");
}

static void render_cell(struct ct_buf *out, const struct agg_assessment_unit *u,
                        const struct agg_assessment_column *c)
{
    const struct agg_assessment_item *it = agg_assessment_item(u, c->code);
    size_t st;

    ct_buf_puts(out, it != NULL ? "<td class=\"cell st-" : "<td class=\"cell na");
    if (it == NULL) {
        ct_buf_puts(out, "\" data-district=\"");
        ct_buf_html(out, u->district);
        ct_buf_puts(out, "\" data-code=\"");
        ct_buf_html(out, c->code);
        ct_buf_puts(out, "\" title=\"无分解目标 no target of its own\">·</td>");
        return;
    }
    st = agg_status_index(it->status);
    ct_buf_printf(out, "%s\" data-district=\"", agg_statuses[st].code);
    ct_buf_html(out, u->district);
    ct_buf_puts(out, "\" data-code=\"");
    ct_buf_html(out, c->code);
    ct_buf_puts(out, "\" data-pct=\"");
    ct_buf_html(out, it->pct);
    ct_buf_printf(out, "\" data-status=\"%s\" title=\"", agg_statuses[st].code);
    agg_dashboard_format_figure(it->actual, 2, out);
    ct_buf_puts(out, " / ");
    agg_dashboard_format_figure(it->target, 2, out);
    ct_buf_puts(out, " ");
    ct_buf_html(out, c->unit);
    ct_buf_printf(out, " · %s %s\">", agg_statuses[st].zh, agg_statuses[st].en);
    if (it->pct != NULL) {
        agg_dashboard_format_figure(it->pct, 1, out);
        ct_buf_puts(out, "%");
    } else {
        ct_buf_puts(out, "—");
    }
    ct_buf_printf(out, " %s</td>", agg_statuses[st].symbol);
}

static void render_scorecard(struct ct_buf *out, const struct agg_assessment *a)
{
    ct_buf_puts(out, "<h2>考核计分卡 Scorecard<span class=\"en\">each unit's % of its own "
                     "target</span></h2><p class=\"legend\">");
    for (size_t i = 0; i < AGG_N_STATUSES; i++)
        ct_buf_printf(out, "<span class=\"st-%s\">%s %s %s</span>", agg_statuses[i].code,
                      agg_statuses[i].symbol, agg_statuses[i].zh, agg_statuses[i].en);
    ct_buf_puts(out, "<span class=\"na\">· 无分解目标 no target of its own</span></p>");
    if (a->n_columns == 0) {
        ct_buf_puts(out, "<p>尚未分解目标 No target has been split among the units yet "
                         "(targets import with a district column).</p>");
        return;
    }
    ct_buf_puts(out, "<div class=\"scorecard-wrap\"><table class=\"scorecard\"><thead><tr>"
                     "<th>单位 Unit</th>");
    for (size_t c = 0; c < a->n_columns; c++) {
        ct_buf_puts(out, "<th class=\"t\" data-code=\"");
        ct_buf_html(out, a->columns[c].code);
        ct_buf_puts(out, "\" title=\"");
        ct_buf_html(out, a->columns[c].name_en);
        ct_buf_puts(out, "\">");
        ct_buf_html(out, a->columns[c].name_zh);
        ct_buf_puts(out, "</th>");
    }
    ct_buf_puts(out, "</tr></thead><tbody>");
    for (size_t i = 0; i < a->n_units; i++) {
        const struct agg_assessment_unit *u = &a->units[i];
        ct_buf_puts(out, "<tr data-district=\"");
        ct_buf_html(out, u->district);
        ct_buf_puts(out, "\"><th>");
        ct_buf_html(out, u->name_zh);
        ct_buf_puts(out, "</th>");
        for (size_t c = 0; c < a->n_columns; c++)
            render_cell(out, u, &a->columns[c]);
        ct_buf_puts(out, "</tr>");
    }
    ct_buf_puts(out, "</tbody></table></div>");
}

int agg_dashboard_assessment_render(const struct agg_dashboard_assessment_view *v,
                                    struct ct_buf *out)
{
    const struct agg_assessment *a = v->assessment;
    char as_of[CT_TIME_TEXT_MAX];

    ct_time_format(a->as_of_ms, as_of, sizeof(as_of));
    as_of[10] = ' '; /* "2015-06-30T17:00:00+08:00" -> "2015-06-30 17:00" */
    as_of[16] = '\0';
    ct_buf_printf(out,
                  "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>郑州市%d年科技创新考核 · citytally</title><style>%s</style></head>"
                  "<body><header><div><h1>郑州市%d年科技创新考核<span class=\"en\">Zhengzhou "
                  "%d: assessment of the units on their own targets</span></h1>"
                  "<div class=\"asof\">截至 As of <strong>%s</strong> (UTC+8)</div></div>"
                  "<form method=\"get\" action=\"assessment\"><label>年份 Year<select "
                  "name=\"year\">",
                  a->year, style, a->year, a->year, as_of);
    agg_page_year_options(out, v->years, v->n_years, a->year);
    ct_buf_puts(out, "</select></label><label>截至日期 As of date<input type=\"date\" "
                     "name=\"as_of\" value=\"");
    agg_page_date_value(out, v->as_of);
    ct_buf_puts(out, "\"></label><button type=\"submit\">显示 Show</button></form></header><main>");
    render_ranking(out, a);
    render_scorecard(out, a);
    ct_buf_puts(out, "</main><footer><a href=\"./\">目标进度 Progress</a> · 数据 Data: <a "
                     "href=\"api/assessment\">/api/assessment</a> · citytally</footer></body>"
                     "</html>\n");
    return out->failed ? -1 : 0;
}
