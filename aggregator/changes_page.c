#include "changes_page.h"

#include "api_briefings.h"
#include "dashboard.h"
#include "db.h"
#include "diff.h"
#include "known_at.h"
#include "timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY (86400 * 1000LL)

static const char *page_head =
    "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>上月末以来的变化 Changes since the last month end · citytally</title><style>"
    "body{margin:0;padding:1rem 1.5rem 2rem;font-family:\"Noto Sans CJK SC\",\"Source Han Sans "
    "SC\",\"WenQuanYi Micro Hei\",\"Microsoft YaHei\",sans-serif;color:#16181d;background:#f3f4f6;"
    "line-height:1.35}"
    "h1{margin:0 0 .2rem;font-size:1.4rem}h1 .en,h2 .en{font-weight:400;color:#5a5f69;"
    "font-size:.85em;margin-left:.4rem}"
    ".range{color:#5a5f69;margin:0 0 1rem}section.change{background:#fff;border:1px solid "
    "#d9dbe0;border-radius:6px;padding:.6rem .9rem;margin:0 0 .8rem;break-inside:avoid}"
    "h2{margin:0 0 .3rem;font-size:1.05rem}.delta{font-variant-numeric:tabular-nums;margin:0 0 "
    ".4rem}.delta b{font-size:1.1rem}table{border-collapse:collapse;width:100%;font-size:.85rem}"
    "th,td{text-align:left;padding:.15rem .6rem .15rem 0;border-bottom:1px solid #eceef1;"
    "vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:"
    "nowrap}td.t{white-space:nowrap}.none{color:#5a5f69}"
    "@media print{body{background:#fff}}</style></head><body>";

int64_t agg_changes_previous_month_end(int64_t ms)
{
    time_t secs = (time_t)((ms + CT_TZ_OFFSET_MS) / 1000 - ((ms + CT_TZ_OFFSET_MS) % 1000 < 0));
    struct tm tm;
    int64_t days;

    gmtime_r(&secs, &tm);
    /* Days from 1970-01-01 to the first of the month (the civil-from-days inverse). */
    {
        int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        days = era * 146097 + doe - 719468;
    }
    return days * MS_PER_DAY - CT_TZ_OFFSET_MS - 1;
}

static void time_cell(struct ct_buf *out, int64_t ms)
{
    char text[CT_TIME_TEXT_MAX];

    ct_time_format(ms, text, sizeof(text));
    text[10] = ' '; /* "2015-06-30T21:00:00+08:00" -> "2015-06-30 21:00:00" */
    text[19] = '\0';
    ct_buf_puts(out, text);
}

static const char *unit_name(PGresult *units, const char *id)
{
    for (int i = 0; units != NULL && i < PQntuples(units); i++) {
        if (strcmp(PQgetvalue(units, i, 0), id) == 0)
            return PQgetvalue(units, i, 1);
    }
    return id;
}

static void render_target(struct ct_buf *out, const struct agg_diff_target *t, PGresult *units)
{
    ct_buf_puts(out, "<section class=\"change\" data-code=\"");
    ct_buf_html(out, t->code);
    ct_buf_puts(out, "\"><h2>");
    ct_buf_html(out, t->name_zh);
    ct_buf_puts(out, "<span class=\"en\">");
    ct_buf_html(out, t->name_en);
    ct_buf_puts(out, "</span></h2><p class=\"delta\">");
    agg_dashboard_format_figure(t->before, 2, out);
    ct_buf_puts(out, " → <b>");
    agg_dashboard_format_figure(t->after, 2, out);
    ct_buf_puts(out, "</b> ");
    ct_buf_html(out, t->unit);
    ct_buf_puts(out, "（变化 change ");
    if (t->delta != NULL && t->delta[0] != '-')
        ct_buf_puts(out, "+");
    agg_dashboard_format_figure(t->delta, 2, out);
    ct_buf_puts(out, "）</p>");
    if (t->n_updates == 0) {
        ct_buf_puts(out, "<p class=\"none\">无期间更新 No update in the period (a change in the "
                         "units reporting).</p></section>");
        return;
    }
    ct_buf_puts(out,
                "<table><thead><tr><th>单位 Unit</th><th>指标 Indicator</th><th>操作 "
                "Op</th><th>数值 Value</th><th>贡献 Contribution</th><th>观测 Observed (UTC+8)</th>"
                "<th>接收 Received (UTC+8)</th><th>备注 Note</th></tr></thead><tbody>");
    for (size_t i = 0; i < t->n_updates; i++) {
        const struct agg_diff_update *u = &t->updates[i];
        ct_buf_puts(out, "<tr class=\"update\" data-district=\"");
        ct_buf_html(out, u->district);
        ct_buf_puts(out, "\"><td>");
        ct_buf_html(out, unit_name(units, u->district));
        ct_buf_puts(out, "</td><td>");
        ct_buf_html(out, u->indicator);
        ct_buf_puts(out, "</td><td>");
        ct_buf_html(out, u->op);
        ct_buf_puts(out, "</td><td class=\"n\">");
        agg_dashboard_format_figure(u->value, 4, out);
        ct_buf_puts(out, "</td><td class=\"n\">");
        agg_dashboard_format_figure(u->contribution, 4, out);
        ct_buf_puts(out, "</td><td class=\"t\">");
        time_cell(out, u->observed_ms);
        ct_buf_puts(out, "</td><td class=\"t received\">");
        time_cell(out, u->received_ms);
        ct_buf_puts(out, "</td><td>");
        ct_buf_html(out, u->note);
        ct_buf_puts(out, "</td></tr>");
    }
    ct_buf_puts(out, "</tbody></table></section>");
}

void agg_changes_page(PGconn *conn, PGconn *helper, const struct ct_http_request *req,
                      struct ct_http_response *resp)
{
    static const char *const known[] = {"year", "as_of", "from", NULL};
    const char *as_of = ct_http_query(req, "as_of"), *from = ct_http_query(req, "from");
    char err[AGG_DB_ERR_MAX], from_text[CT_TIME_TEXT_MAX], to_text[CT_TIME_TEXT_MAX];
    struct agg_diff *d = NULL;
    PGresult *units = NULL;
    int64_t from_ms, to_ms = ct_time_now_ms();
    unsigned status;
    int year = 0, rc;

    if (ct_http_query_check(req, known, err, sizeof(err)) != 0 ||
        (as_of != NULL && as_of[0] != '\0' &&
         agg_known_at_parse("as_of", as_of, &to_ms, err, sizeof(err)) != 0)) {
        ct_http_text(resp, 400, err);
        goto out;
    }
    from_ms = agg_changes_previous_month_end(to_ms);
    if (from != NULL && from[0] != '\0' &&
        agg_known_at_parse("from", from, &from_ms, err, sizeof(err)) != 0) {
        ct_http_text(resp, 400, err);
        goto out;
    }
    if (from_ms >= to_ms) {
        ct_http_text(resp, 400, "from: must be before as_of");
        goto out;
    }
    if ((status = agg_api_year_param(conn, req, &year, err, sizeof(err))) != 0) {
        ct_http_text(resp, status, err);
        goto out;
    }
    if ((rc = agg_diff_load(conn, helper, year, from_ms, to_ms, &d, err, sizeof(err))) != 0) {
        ct_http_text(resp, rc > 0 ? 404 : 503, err);
        goto out;
    }
    units = agg_db_query(conn, "reading units", "SELECT id, name_zh FROM units", 0, NULL,
                         PGRES_TUPLES_OK, err, sizeof(err));
    if (units == NULL) {
        ct_http_text(resp, 503, err);
        goto out;
    }
    resp->content_type = "text/html; charset=utf-8";
    resp->headers[0].name = "Content-Security-Policy";
    resp->headers[0].value = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                             "base-uri 'none'; frame-ancestors 'none'";
    ct_time_format(from_ms, from_text, sizeof(from_text));
    ct_time_format(to_ms, to_text, sizeof(to_text));
    ct_buf_puts(&resp->body, page_head);
    ct_buf_printf(&resp->body,
                  "<h1>郑州市%d年目标：上月末以来的变化<span class=\"en\">Changes since the last "
                  "month end</span></h1><p class=\"range\">截至 as of %s 与 against %s · "
                  "<a href=\"./?year=%d\">返回 Back to the dashboard</a></p>",
                  year, to_text, from_text, year);
    if (d->n_targets == 0)
        ct_buf_puts(&resp->body, "<p class=\"none\">期间无变化 Nothing changed in the period.</p>");
    for (size_t i = 0; i < d->n_targets; i++)
        render_target(&resp->body, &d->targets[i], units);
    ct_buf_puts(&resp->body, "</body></html>\n");
out:
    agg_diff_free(d);
    PQclear(units);
}
