#include "dashboard.h"
#include "page_form.h"

#include "dashboard_warnings.h"
#include "embedded.h"
#include "status_words.h"
#include "svg_chart.h"
#include "timefmt.h"
#include "value.h"
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated from aggregator/dashboard/ by ct_embed_files (aggregator/CMakeLists.txt). */
extern const struct ct_embedded_file agg_dashboard_files[];

#define FIGURE_MAX 64

/* A JSON string that is also safe inside <script>: '<' never appears literally. */
static void json_in_script(struct ct_buf *out, const char *s)
{
    struct ct_buf tmp = CT_BUF_INIT;

    ct_buf_json_string(&tmp, s);
    if (tmp.failed) {
        out->failed = true;
        goto out;
    }
    for (size_t i = 0; i < tmp.len; i++) {
        if (tmp.data[i] == '<')
            ct_buf_puts(out, "\\u003c");
        else
            ct_buf_append(out, &tmp.data[i], 1);
    }
out:
    ct_buf_free(&tmp);
}

void agg_dashboard_format_figure(const char *decimal, int decimals, struct ct_buf *out)
{
    char digits[FIGURE_MAX + 2], expanded[FIGURE_MAX];
    char plain[FIGURE_MAX + 4], grouped[2 * FIGURE_MAX]; /* sign, digits, '.'; then commas */
    const char *s = decimal, *dot;
    size_t ip_len, fp_len, n_digits, start, k = 0;
    bool negative, carry, nonzero = false;

    if (decimal == NULL) {
        ct_buf_puts(out, "—");
        return;
    }
    if (strspn(s, "0123456789.+-eE") != strlen(s)) {
        ct_buf_html(out, decimal); /* not a number: show it as it is */
        return;
    }
    if (strpbrk(s, "eE") != NULL) { /* only doubles print so; PostgreSQL never does */
        snprintf(expanded, sizeof(expanded), "%.*f", decimals, strtod(s, NULL));
        s = expanded;
    }
    negative = s[0] == '-';
    if (negative || s[0] == '+')
        s++;
    dot = strchr(s, '.');
    ip_len = dot != NULL ? (size_t)(dot - s) : strlen(s);
    fp_len = dot != NULL ? strlen(dot + 1) : 0;
    if (ip_len + (size_t)decimals >= FIGURE_MAX || strspn(s, "0123456789.") != strlen(s)) {
        ct_buf_html(out, decimal); /* not a plain decimal: show it as it is */
        return;
    }
    /* digits = integer part, then exactly `decimals` fraction digits, with a leading '0'
     * so a carry out of the top has somewhere to go. */
    digits[0] = '0';
    memcpy(digits + 1, s, ip_len);
    n_digits = 1 + ip_len;
    for (int i = 0; i < decimals; i++)
        digits[n_digits++] = (size_t)i < fp_len ? dot[1 + i] : '0';
    carry = fp_len > (size_t)decimals && dot[1 + decimals] >= '5';
    for (size_t i = n_digits; carry && i-- > 0;) {
        if (digits[i] == '9') {
            digits[i] = '0';
        } else {
            digits[i]++;
            carry = false;
        }
    }
    /* Drop trailing zeros of the fraction, and leading zeros of the integer part. */
    size_t frac = (size_t)decimals, int_end = n_digits - frac;
    while (frac > 0 && digits[int_end + frac - 1] == '0')
        frac--;
    start = 0;
    while (start + 1 < int_end && digits[start] == '0')
        start++;
    for (size_t i = start; i < int_end + frac; i++)
        nonzero = nonzero || digits[i] != '0';
    if (negative && nonzero)
        plain[k++] = '-';
    memcpy(plain + k, digits + start, int_end - start);
    k += int_end - start;
    if (frac > 0) {
        plain[k++] = '.';
        memcpy(plain + k, digits + int_end, frac);
        k += frac;
    }
    plain[k] = '\0';
    ct_buf_puts(out,
                ct_value_group_thousands(plain, grouped, sizeof(grouped)) == 0 ? grouped : plain);
}

static void figure_from_double(double v, int decimals, struct ct_buf *out)
{
    char text[CT_VALUE_TEXT_MAX];

    if (ct_value_format_double(v, text, sizeof(text)) != 0)
        ct_buf_puts(out, "—");
    else
        agg_dashboard_format_figure(text, decimals, out);
}

/* A figure as a double, for ordering and bar lengths only: NAN when there is none or when
 * it does not fit a double (numeric holds far more). The text stays what is printed. */
static double figure_double(const char *decimal)
{
    double v = decimal != NULL ? strtod(decimal, NULL) : NAN;
    return isfinite(v) ? v : NAN;
}

static double bar_width(const char *pct)
{
    double w = figure_double(pct);
    return isnan(w) ? 0 : fmin(100, fmax(0, w));
}

static const struct agg_dashboard_unit *find_unit(const struct agg_dashboard_view *v,
                                                  const char *id)
{
    for (size_t i = 0; i < v->n_units; i++) {
        if (strcmp(v->units[i].id, id) == 0)
            return &v->units[i];
    }
    return NULL;
}

static void unit_name(struct ct_buf *out, const struct agg_dashboard_view *v, const char *id)
{
    const struct agg_dashboard_unit *u = find_unit(v, id);
    ct_buf_html(out, u != NULL ? u->name_zh : id);
}

struct ranked {
    const struct agg_progress_unit *unit;
    size_t index;
    double value;
};

/* Largest first, as the script sorts; units without a value last; equal values keep the
 * file's order. */
static int by_value_desc(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    bool x_none = isnan(x->value), y_none = isnan(y->value);

    if (x_none != y_none)
        return x_none ? 1 : -1;
    if (!x_none && x->value != y->value)
        return x->value < y->value ? 1 : -1;
    return x->index < y->index ? -1 : 1;
}

static void render_units(struct ct_buf *out, const struct agg_dashboard_view *v,
                         const struct agg_progress_target *t)
{
    double actual = figure_double(t->actual), max = 0;
    bool share = strcmp(t->kind, "sum") == 0 && !isnan(actual) && actual != 0;
    struct ranked *rows = NULL;

    ct_buf_printf(out, "<div class=\"units\"><h3>各单位贡献 Contribution by unit%s</h3>",
                  share ? "（占比 share of total）" : "");
    if (t->n_units == 0) {
        ct_buf_puts(out, "<p class=\"none\">尚无单位报送 No unit has reported yet.</p>");
    } else {
        rows = calloc(t->n_units, sizeof(*rows));
        if (rows == NULL) {
            out->failed = true;
            return;
        }
        for (size_t i = 0; i < t->n_units; i++) {
            rows[i] = (struct ranked){&t->units[i], i, figure_double(t->units[i].value)};
            if (!isnan(rows[i].value))
                max = fmax(max, fabs(rows[i].value));
        }
        qsort(rows, t->n_units, sizeof(*rows), by_value_desc);
        ct_buf_puts(out, "<table class=\"chart\"><tbody>");
        for (size_t i = 0; i < t->n_units; i++) {
            ct_buf_puts(out, "<tr data-district=\"");
            ct_buf_html(out, rows[i].unit->district);
            ct_buf_puts(out, "\" data-value=\"");
            ct_buf_html(out, rows[i].unit->value);
            ct_buf_puts(out, "\"><th>");
            unit_name(out, v, rows[i].unit->district);
            ct_buf_printf(out, "</th><td><span class=\"%s\" style=\"width: %.1f%%;\"></span></td>",
                          rows[i].value < 0 ? "ubar neg" : "ubar",
                          max > 0 && !isnan(rows[i].value) ? fabs(rows[i].value) / max * 100 : 0);
            ct_buf_puts(out, "<td class=\"v\">");
            agg_dashboard_format_figure(rows[i].unit->value, 2, out);
            if (share && !isnan(rows[i].value)) {
                ct_buf_puts(out, " (");
                figure_from_double(rows[i].value / actual * 100, 1, out);
                ct_buf_puts(out, "%)");
            }
            agg_dashboard_render_warnings(out, v, t->code, rows[i].unit->district);
            ct_buf_puts(out, "</td></tr>");
        }
        ct_buf_puts(out, "</tbody></table>");
    }
    if (strcmp(t->kind, "city") != 0) {
        bool any = false;
        for (size_t i = 0; i < v->n_units; i++) {
            bool have = false;
            for (size_t j = 0; j < t->n_units && !have; j++)
                have = strcmp(t->units[j].district, v->units[i].id) == 0;
            if (have)
                continue;
            ct_buf_puts(out, any ? "、" : "<p class=\"missing\">未报送 No figure yet: ");
            ct_buf_html(out, v->units[i].name_zh);
            any = true;
        }
        if (any)
            ct_buf_puts(out, "</p>");
    }
    ct_buf_puts(out, "</div>");
    free(rows);
}

/* As the script's CMP table: the plan's "达到" reads as "at least". */
static const char *comparator_symbol(const char *comparator)
{
    if (strcmp(comparator, ">=") == 0)
        return "≥";
    if (strcmp(comparator, "<=") == 0)
        return "≤";
    return comparator;
}

/* How far behind a `behind` target is: amber while it is at 90% of pace or more (CONTRACT
 * section 8), red below. A target without a pro rata (a level, a ratio, a growth rate)
 * should be at its target all year, so its pace is its pct; no value at all is red. ""
 * for any other status. */
static const char *lag_class(const struct agg_progress_target *t)
{
    const char *pace = t->expected_to_date != NULL ? t->pace_pct : t->pct;

    if (t->status == NULL || strcmp(t->status, "behind") != 0)
        return "";
    return pace != NULL && strtod(pace, NULL) >= 90 ? " lag-amber" : " lag-red";
}

/* The pro-rata mark: where the bar should have reached by now. */
static void render_pace_mark(struct ct_buf *out, const struct agg_progress_target *t)
{
    double e = t->expected_to_date != NULL ? strtod(t->expected_to_date, NULL) : NAN;
    double target = t->target != NULL ? strtod(t->target, NULL) : NAN;

    if (!isfinite(e) || !isfinite(target) || target <= 0)
        return;
    ct_buf_printf(out, "<span class=\"pace\" style=\"left: %.1f%%;\" title=\"按时间进度 pro rata ",
                  fmin(100, fmax(0, e / target * 100)));
    agg_dashboard_format_figure(t->expected_to_date, 2, out);
    ct_buf_puts(out, "\"></span>");
}

/* Section 11's marks on a row: the sparkline (empty when there is no curve), the chart. */
static struct agg_svg_chart chart_of(const struct agg_dashboard_view *v,
                                     const struct agg_progress_target *t)
{
    const struct agg_trend *tr = agg_trends_find(v->trends, t->code);
    return (struct agg_svg_chart){.year = v->year,
                                  .label = t->name_zh,
                                  .unit = t->unit,
                                  .target = t->target,
                                  .points = tr != NULL ? tr->points : NULL,
                                  .n_points = tr != NULL ? tr->n_points : 0,
                                  .previous = tr != NULL ? tr->previous : NULL,
                                  .n_previous = tr != NULL ? tr->n_previous : 0};
}

static void render_revised(struct ct_buf *out, const struct agg_dashboard_view *v,
                           const struct agg_progress_target *t)
{
    const struct agg_revision *r = agg_revisions_find(v->revisions, t->code);

    if (r == NULL)
        return;
    ct_buf_puts(out, " <span class=\"revised\" data-keep=\"revised\" title=\"");
    ct_buf_html(out, v->revised_since);
    ct_buf_puts(out, " 时为 was ");
    agg_dashboard_format_figure(r->before, 2, out);
    ct_buf_puts(out, "\">修订 revised</span>");
}

static void render_target(struct ct_buf *out, const struct agg_dashboard_view *v,
                          const struct agg_progress_target *t)
{
    size_t st = agg_status_index(t->status);
    double w = bar_width(t->pct);
    struct agg_svg_chart chart = chart_of(v, t);

    ct_buf_printf(out, "<details class=\"target st-%s%s\" role=\"listitem\" data-code=\"",
                  agg_statuses[st].code, lag_class(t));
    ct_buf_html(out, t->code);
    ct_buf_printf(out, "\" data-status=\"%s\" data-actual=\"", agg_statuses[st].code);
    ct_buf_html(out, t->actual != NULL ? t->actual : "");
    ct_buf_puts(out, "\" data-target=\"");
    ct_buf_html(out, t->target);
    ct_buf_puts(out, "\" data-pct=\"");
    ct_buf_html(out, t->pct != NULL ? t->pct : "");
    ct_buf_puts(out, "\"><summary class=\"row\"><span class=\"name\"><span class=\"zh\">");
    ct_buf_html(out, t->name_zh);
    ct_buf_puts(out, "</span><span class=\"en\">");
    ct_buf_html(out, t->name_en);
    ct_buf_puts(out, "</span></span><span class=\"fig\"><span class=\"actual\">");
    agg_dashboard_format_figure(t->actual, 2, out);
    ct_buf_puts(out, "</span> / <span class=\"goal\">");
    ct_buf_html(out, comparator_symbol(t->comparator));
    ct_buf_puts(out, " ");
    agg_dashboard_format_figure(t->target, 2, out);
    ct_buf_puts(out, "</span> <span class=\"unit\">");
    ct_buf_html(out, t->unit);
    ct_buf_puts(out, "</span>");
    render_revised(out, v, t);
    ct_buf_printf(out,
                  "</span><span class=\"bar\" role=\"progressbar\" aria-valuemin=\"0\" "
                  "aria-valuemax=\"100\" aria-valuenow=\"%.1f\"><span class=\"fill\" "
                  "style=\"width: %.1f%%;\"></span>",
                  w, w);
    render_pace_mark(out, t);
    ct_buf_puts(out, "</span><span class=\"pct\">");
    if (t->pct != NULL) {
        agg_dashboard_format_figure(t->pct, 1, out);
        ct_buf_puts(out, "%");
    } else {
        ct_buf_puts(out, "—");
    }
    ct_buf_puts(out, "</span><span class=\"sparkline\" data-keep=\"spark\">");
    agg_svg_sparkline_render(&chart, out);
    ct_buf_printf(out,
                  "</span><span class=\"status\"><span class=\"sym\">%s</span>%s<span "
                  "class=\"en\">%s · %d 单位 units</span></span></summary>",
                  agg_statuses[st].symbol, agg_statuses[st].zh, agg_statuses[st].en,
                  t->units_reporting);
    ct_buf_puts(out, "<div class=\"trend\" data-keep=\"trend\">");
    agg_svg_chart_render(&chart, out);
    ct_buf_puts(out, "</div>");
    render_units(out, v, t);
    ct_buf_puts(out, "</details>");
}

static void render_summary(struct ct_buf *out, const struct agg_progress *p)
{
    size_t counts[AGG_N_STATUSES] = {0};

    for (size_t i = 0; i < p->n_targets; i++)
        counts[agg_status_index(p->targets[i].status)]++;
    for (size_t i = 0; i < AGG_N_STATUSES; i++) {
        ct_buf_printf(out,
                      "<span class=\"chip st-%s\" data-status=\"%s\"><span class=\"swatch "
                      "bar\"><span class=\"fill\" style=\"width: 100%%;\"></span></span><b>%zu</b>"
                      "%s %s</span>",
                      agg_statuses[i].code, agg_statuses[i].code, counts[i], agg_statuses[i].zh,
                      agg_statuses[i].en);
    }
    ct_buf_printf(out, "<span class=\"legend-note\">共 %zu 项目标 targets</span>", p->n_targets);
}

static void render_as_of_text(struct ct_buf *out, const struct agg_progress *p)
{
    char text[CT_TIME_TEXT_MAX];

    if (p == NULL) {
        ct_buf_puts(out, "—");
        return;
    }
    ct_time_format(p->as_of_ms, text, sizeof(text));
    text[10] = ' '; /* "2015-06-30T17:00:00+08:00" -> "2015-06-30 17:00" */
    text[16] = '\0';
    ct_buf_puts(out, text);
}

static void render_state(struct ct_buf *out, const struct agg_dashboard_view *v)
{
    ct_buf_printf(out, "{\"year\":%d,\"as_of\":", v->year);
    json_in_script(out, v->as_of != NULL ? v->as_of : "");
    ct_buf_printf(out, ",\"refresh_s\":%u,\"units\":{", v->refresh_s);
    for (size_t i = 0; i < v->n_units; i++) {
        ct_buf_puts(out, i ? "," : "");
        json_in_script(out, v->units[i].id);
        ct_buf_puts(out, ":[");
        json_in_script(out, v->units[i].name_zh);
        ct_buf_puts(out, ",");
        json_in_script(out, v->units[i].name_en);
        ct_buf_puts(out, "]");
    }
    ct_buf_puts(out, "},\"unit_order\":[");
    for (size_t i = 0; i < v->n_units; i++) {
        ct_buf_puts(out, i ? "," : "");
        json_in_script(out, v->units[i].id);
    }
    ct_buf_puts(out, "]}");
}

/* Renders marker `name`; returns -1 for a name the page does not define. */
static int render_marker(struct ct_buf *out, const struct agg_dashboard_view *v, const char *name,
                         size_t len)
{
#define IS(s) (len == strlen(s) && memcmp(name, s, len) == 0)
    if (IS("year")) {
        ct_buf_printf(out, "%d", v->year);
    } else if (IS("year_options")) {
        agg_page_year_options(out, v->years, v->n_years, v->year);
    } else if (IS("as_of_value")) {
        agg_page_date_value(out, v->as_of);
    } else if (IS("as_of_text")) {
        render_as_of_text(out, v->progress);
    } else if (IS("summary")) {
        if (v->progress != NULL)
            render_summary(out, v->progress);
    } else if (IS("targets")) {
        for (size_t i = 0; v->progress != NULL && i < v->progress->n_targets; i++)
            render_target(out, v, &v->progress->targets[i]);
    } else if (IS("revised_since_value")) {
        ct_buf_html(out, v->revised_since);
    } else if (IS("revised_note")) {
        if (v->revisions != NULL)
            ct_buf_printf(out, "%zu 项数字在此后修订 figures revised since then · ",
                          v->revisions->n);
    } else if (IS("changes_query")) {
        ct_buf_printf(out, "year=%d", v->year);
        if (v->as_of != NULL && v->as_of[0] != '\0') {
            ct_buf_puts(out, "&amp;as_of=");
            for (const char *c = v->as_of; *c; c++) {
                if (strchr("0123456789-:T", *c) != NULL)
                    ct_buf_append(out, c, 1);
                else
                    ct_buf_printf(out, "%%%02X", (unsigned char)*c);
            }
        }
    } else if (IS("problem")) {
        ct_buf_html(out, v->problem);
    } else if (IS("state")) {
        render_state(out, v);
    } else {
        return -1;
    }
    return 0;
#undef IS
}

int agg_dashboard_render(const struct agg_dashboard_view *view, struct ct_buf *out)
{
    const struct ct_embedded_file *page = ct_embedded_find(agg_dashboard_files, "index.html");
    const char *p, *end;

    if (page == NULL)
        return -1;
    p = (const char *)page->data;
    end = p + page->size;
    while (p < end) {
        const char *mark = strstr(p, "<!--@"), *close;
        if (mark == NULL) {
            ct_buf_append(out, p, (size_t)(end - p));
            break;
        }
        ct_buf_append(out, p, (size_t)(mark - p));
        close = strstr(mark, "-->");
        if (close == NULL || render_marker(out, view, mark + 5, (size_t)(close - mark - 5)) != 0)
            return -1;
        p = close + 3;
    }
    return out->failed ? -1 : 0;
}
