#include "dashboard_completeness.h"

#include "completeness_render.h"
#include "page_form.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const symbols[] = {
    [AGG_CELL_NOT_EXPECTED] = "·", [AGG_CELL_ON_TIME] = "✓", [AGG_CELL_LATE] = "!",
    [AGG_CELL_PARTIAL] = "◐",      [AGG_CELL_MISSING] = "✗",
};

static const char style[] =
    "body{margin:0;font-family:\"Noto Sans CJK SC\",\"WenQuanYi Micro Hei\",\"Microsoft "
    "YaHei\",sans-serif;color:#16181d;background:#f3f4f6;line-height:1.4}"
    "header{background:#fff;border-bottom:1px solid #d9dbe0;padding:1rem 1.5rem}"
    "h1{margin:0;font-size:1.4rem}h1 .en,th .en{display:block;font-size:.8rem;font-weight:400;"
    "color:#5a5f69}main{padding:1rem 1.5rem}form{display:inline-block;margin:.6rem 1rem 0 0}"
    "nav{display:inline-block}table{border-collapse:collapse;background:#fff}"
    "th,td{border:1px solid #d9dbe0;padding:.35rem .6rem;text-align:left;vertical-align:top}"
    "thead th{background:#eef0f3}td.cell{min-width:8.5rem}td small,th small{color:#5a5f69}"
    ".on_time{background:#e3f4ee}.late{background:#fdf0d5}.partial{background:#fbe3d6}"
    ".missing{background:#f6d5d5}.none{color:#8a8a8a}.sym{font-weight:700;margin-right:.25rem}"
    ".problem{color:#a33;font-weight:700}.legend span{display:inline-block;padding:.15rem .5rem;"
    "margin-right:.4rem;border:1px solid #d9dbe0}ul{margin:.2rem 0 .8rem}"
    "@media print{body{background:#fff}header{border:0}form,nav{display:none}}";

/* "高新技术产业产值 (hightech_output)", or the code alone when it has no name. */
static void indicator(struct ct_buf *out, const struct agg_completeness_page *p, const char *code)
{
    for (int i = 0; p->names != NULL && i < PQntuples(p->names); i++) {
        if (strcmp(PQgetvalue(p->names, i, 0), code) == 0) {
            ct_buf_html(out, PQgetvalue(p->names, i, 1));
            ct_buf_puts(out, " (");
            ct_buf_html(out, code);
            ct_buf_puts(out, ")");
            return;
        }
    }
    ct_buf_html(out, code);
}

static void code_list(struct ct_buf *out, const struct agg_completeness_page *p,
                      const char *const *codes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ct_buf_puts(out, i ? "、" : "");
        indicator(out, p, codes[i]);
    }
}

static void render_cell(struct ct_buf *out, const struct agg_completeness_page *p,
                        const struct agg_completeness_unit *u)
{
    enum agg_cell cell = agg_completeness_cell(u);

    ct_buf_printf(out, "<td class=\"cell %s\" data-state=\"%s\"", agg_cell_code(cell),
                  agg_cell_code(cell));
    if (u->n_missing > 0 || u->n_late > 0) {
        ct_buf_puts(out, " title=\"");
        if (u->n_missing > 0) {
            ct_buf_puts(out, "未报 missing: ");
            code_list(out, p, u->missing, u->n_missing);
        }
        if (u->n_late > 0) {
            ct_buf_puts(out, u->n_missing > 0 ? "&#10;迟报 late: " : "迟报 late: ");
            code_list(out, p, u->late, u->n_late);
        }
        ct_buf_puts(out, "\"");
    }
    ct_buf_printf(out, "><span class=\"sym\">%s</span>%s <span class=\"en\">%s</span>",
                  symbols[cell], agg_cell_zh(cell), agg_cell_en(cell));
    if (cell != AGG_CELL_NOT_EXPECTED)
        ct_buf_printf(out, "<br><small>已报 %d/%d · 按时 %d</small>", u->reported, u->expected,
                      u->on_time);
    ct_buf_puts(out, "</td>");
}

static void render_matrix(struct ct_buf *out, const struct agg_completeness_page *p)
{
    const struct agg_completeness *c = p->completeness;
    size_t n_units = c->n_rounds > 0 ? c->rounds[0].n_units : 0;

    ct_buf_puts(out, "<table class=\"matrix\"><thead><tr><th scope=\"col\">单位 <span "
                     "class=\"en\">Unit</span></th>");
    for (size_t i = 0; i < c->n_rounds; i++) {
        const struct agg_completeness_round *r = &c->rounds[i];
        ct_buf_printf(out, "<th scope=\"col\" data-round=\"");
        ct_buf_html(out, r->round);
        ct_buf_puts(out, "\">");
        ct_buf_html(out, r->round);
        ct_buf_puts(out, "<br><small>截至 period end ");
        ct_buf_html(out, r->period_end);
        ct_buf_puts(out, "<br>期限 due ");
        ct_buf_html(out, r->due);
        ct_buf_puts(out, "</small></th>");
    }
    ct_buf_puts(out, "</tr></thead><tbody>");
    for (size_t k = 0; k < n_units; k++) {
        const struct agg_completeness_unit *first = &c->rounds[0].units[k];
        ct_buf_puts(out, "<tr data-district=\"");
        ct_buf_html(out, first->district);
        ct_buf_puts(out, "\"><th scope=\"row\">");
        ct_buf_html(out, first->name_zh);
        ct_buf_puts(out, "<span class=\"en\">");
        ct_buf_html(out, first->name_en);
        ct_buf_puts(out, "</span></th>");
        for (size_t i = 0; i < c->n_rounds; i++)
            render_cell(out, p, &c->rounds[i].units[k]);
        ct_buf_puts(out, "</tr>");
    }
    ct_buf_puts(out, "</tbody><tfoot><tr><th scope=\"row\">合计 <span class=\"en\">Total "
                     "(indicator-unit pairs)</span></th>");
    for (size_t i = 0; i < c->n_rounds; i++) {
        const struct agg_completeness_round *r = &c->rounds[i];
        ct_buf_printf(out, "<td>应报 expected %d<br>已报 reported %d<br>按时 on time %d</td>",
                      r->expected, r->reported, r->on_time);
    }
    ct_buf_puts(out, "</tr></tfoot></table>");
}

static void render_details(struct ct_buf *out, const struct agg_completeness_page *p)
{
    const struct agg_completeness *c = p->completeness;

    ct_buf_puts(out, "<section class=\"details\"><h2>未报与迟报明细 <span class=\"en\">Missing "
                     "and late figures</span></h2>");
    for (size_t i = 0; i < c->n_rounds; i++) {
        const struct agg_completeness_round *r = &c->rounds[i];
        bool any = false;
        ct_buf_puts(out, "<h3>");
        ct_buf_html(out, r->round);
        ct_buf_puts(out, " <small>期限 due ");
        ct_buf_html(out, r->due);
        ct_buf_puts(out, "</small></h3>");
        for (size_t k = 0; k < r->n_units; k++) {
            const struct agg_completeness_unit *u = &r->units[k];
            if (u->n_missing == 0 && u->n_late == 0)
                continue;
            ct_buf_puts(out, any ? "" : "<ul>");
            any = true;
            ct_buf_puts(out, "<li data-district=\"");
            ct_buf_html(out, u->district);
            ct_buf_puts(out, "\"><b>");
            ct_buf_html(out, u->name_zh);
            ct_buf_puts(out, "</b> ");
            if (u->n_missing > 0) {
                ct_buf_printf(out, "未报 missing (%zu): ", u->n_missing);
                code_list(out, p, u->missing, u->n_missing);
            }
            if (u->n_late > 0) {
                ct_buf_printf(out, "%s迟报 late (%zu): ", u->n_missing > 0 ? "；" : "", u->n_late);
                code_list(out, p, u->late, u->n_late);
            }
            ct_buf_puts(out, "</li>");
        }
        ct_buf_puts(out,
                    any ? "</ul>" : "<p>全部按时报送 Every unit reported everything on time.</p>");
    }
    ct_buf_puts(out, "</section>");
}

int agg_dashboard_completeness_render(const struct agg_completeness_page *p, struct ct_buf *out)
{
    ct_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    ct_buf_printf(out,
                  "<title>郑州市%d年报送情况 · citytally</title><style>%s</style></head><body>",
                  p->year, style);
    ct_buf_printf(out,
                  "<header><h1>郑州市%d年报送完整性与及时性<span class=\"en\">Reporting "
                  "rounds %d: completeness and timeliness</span></h1>",
                  p->year, p->year);
    ct_buf_puts(out, "<form method=\"get\" action=\"completeness\"><label>年份 Year <select "
                     "name=\"year\">");
    agg_page_year_options(out, p->years, p->n_years, p->year);
    ct_buf_printf(out,
                  "</select></label> <button type=\"submit\">显示 Show</button></form><nav>"
                  "<a href=\"./\">目标进度 Progress</a> · <a href=\"api/completeness?year=%d\">"
                  "JSON</a></nav></header><main>",
                  p->year);
    if (p->problem != NULL) {
        ct_buf_puts(out, "<p class=\"problem\" role=\"alert\">");
        ct_buf_html(out, p->problem);
        ct_buf_puts(out, "</p>");
    }
    if (p->completeness != NULL) {
        ct_buf_puts(out, "<p class=\"legend\">");
        for (enum agg_cell cell = AGG_CELL_ON_TIME; cell <= AGG_CELL_MISSING; cell++)
            ct_buf_printf(out, "<span class=\"%s\"><span class=\"sym\">%s</span>%s %s</span>",
                          agg_cell_code(cell), symbols[cell], agg_cell_zh(cell), agg_cell_en(cell));
        ct_buf_puts(out, "</p><p>按时：在报送期限当日结束前由区县采集端入队（断网后补传不算迟报）。"
                         "On time: queued at the district's collector by the end of the due day "
                         "(UTC+8); a figure delayed by an outage is not late.</p>");
        render_matrix(out, p);
        render_details(out, p);
    }
    ct_buf_puts(out, "</main></body></html>\n");
    return out->failed ? -1 : 0;
}
