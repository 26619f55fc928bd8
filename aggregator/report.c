#include "report.h"

#include "timefmt.h"
#include "value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAR_CELLS 20

int agg_report_format_parse(const char *text, enum agg_report_format *out)
{
    if (strcmp(text, "table") == 0)
        *out = AGG_REPORT_TABLE;
    else if (strcmp(text, "csv") == 0)
        *out = AGG_REPORT_CSV;
    else if (strcmp(text, "json") == 0)
        *out = AGG_REPORT_JSON;
    else
        return -1;
    return 0;
}

/* Decodes one UTF-8 sequence (already validated upstream; bad bytes count as one cell). */
static unsigned next_codepoint(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned cp;
    int extra;

    if (s[0] < 0x80) {
        *p += 1;
        return s[0];
    }
    if ((s[0] & 0xE0) == 0xC0) {
        cp = s[0] & 0x1F;
        extra = 1;
    } else if ((s[0] & 0xF0) == 0xE0) {
        cp = s[0] & 0x0F;
        extra = 2;
    } else if ((s[0] & 0xF8) == 0xF0) {
        cp = s[0] & 0x07;
        extra = 3;
    } else {
        *p += 1;
        return 0xFFFD;
    }
    for (int i = 1; i <= extra; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *p += 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *p += 1 + extra;
    return cp;
}

/* wcwidth() would depend on the process locale (tests and services run in C or C.UTF-8);
 * the ranges that matter for this data are the East Asian Wide/Fullwidth blocks. */
static size_t codepoint_width(unsigned cp)
{
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) ||
        (cp >= 0xFE00 && cp <= 0xFE0F))
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
        (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

size_t agg_report_text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;

    while (*p)
        w += codepoint_width(next_codepoint(&p));
    return w;
}

static void pad(struct ct_buf *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ct_buf_append(out, " ", 1);
}

static void left(struct ct_buf *out, const char *s, size_t width)
{
    size_t w = agg_report_text_width(s);
    ct_buf_puts(out, s);
    pad(out, w < width ? width - w : 0);
}

static void right(struct ct_buf *out, const char *s, size_t width)
{
    size_t w = agg_report_text_width(s);
    pad(out, w < width ? width - w : 0);
    ct_buf_puts(out, s);
}

/* "1234567.5" -> "1,234,567.5" (ct_value_group_thousands); NULL -> "-". */
static void grouped(const char *value, char *out, size_t size)
{
    if (value == NULL)
        snprintf(out, size, "-");
    else if (ct_value_group_thousands(value, out, size) != 0)
        snprintf(out, size, "%s", value); /* too long to group: cut, as the column would */
}

static const char *status_words(const char *status)
{
    if (strcmp(status, "on_track") == 0)
        return "on track";
    if (strcmp(status, "no_data") == 0)
        return "no data";
    return status;
}

static const char *status_colour(const char *status)
{
    if (strcmp(status, "met") == 0)
        return "\033[32m"; /* green */
    if (strcmp(status, "on_track") == 0)
        return "\033[36m"; /* cyan */
    if (strcmp(status, "behind") == 0)
        return "\033[31m"; /* red */
    return "\033[2m";      /* dim */
}

/* BAR_CELLS cells of full blocks and one partial block (eighths) for min(pct, 100)%. */
static void bar(struct ct_buf *out, const char *pct)
{
    static const char *const eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    double f = pct != NULL ? strtod(pct, NULL) / 100.0 : 0.0;
    long units;
    size_t cells = 0;

    if (!(f > 0))
        f = 0;
    if (f > 1)
        f = 1;
    units = lround(f * BAR_CELLS * 8);
    for (long i = 0; i < units / 8; i++, cells++)
        ct_buf_puts(out, "█");
    if (units % 8 != 0) {
        ct_buf_puts(out, eighths[units % 8]);
        cells++;
    }
    pad(out, BAR_CELLS - cells);
}

/* With --district, which target a figure is measured against (CONTRACT section 8). */
static const char *scope_tag(const struct agg_progress_target *t)
{
    if (t->target_scope == NULL)
        return "";
    return strcmp(t->target_scope, "unit") == 0 ? " (unit)" : " (city)";
}

static size_t scope_width(const struct agg_progress_target *t)
{
    return strlen(scope_tag(t));
}

static int render_table(const struct agg_progress *p, bool colour, struct ct_buf *out)
{
    char as_of[CT_TIME_TEXT_MAX], buf[96];
    size_t w_actual = strlen("Actual"), w_target = strlen("Target"), w_pct = 1,
           w_unit = strlen("Unit");
    size_t counts[4] = {0};
    static const char *const statuses[4] = {"met", "on_track", "behind", "no_data"};

    for (size_t i = 0; i < p->n_targets; i++) {
        const struct agg_progress_target *t = &p->targets[i];
        size_t w;
        grouped(t->actual, buf, sizeof(buf));
        if ((w = strlen(buf)) > w_actual)
            w_actual = w;
        grouped(t->target, buf, sizeof(buf));
        if ((w = strlen(buf) + strlen(t->comparator) + 1 + scope_width(t)) > w_target)
            w_target = w;
        if (t->pct != NULL && (w = strlen(t->pct)) > w_pct)
            w_pct = w;
        if ((w = agg_report_text_width(t->unit)) > w_unit)
            w_unit = w;
        for (int s = 0; s < 4; s++) {
            if (strcmp(t->status, statuses[s]) == 0)
                counts[s]++;
        }
    }

    ct_time_format(p->as_of_ms, as_of, sizeof(as_of));
    ct_buf_printf(out, "郑州市 %d 年科技工作目标进展 · Zhengzhou, progress on the %d S&T targets\n",
                  p->year, p->year);
    if (p->district != NULL)
        ct_buf_printf(out,
                      "Unit %s, its own figures against its own targets (unit) where it has "
                      "them, else the city's (city), as of %s\n\n",
                      p->district, as_of);
    else
        ct_buf_printf(out, "City-wide (全市), as of %s\n\n", as_of);

    ct_buf_puts(out, " #  ");
    left(out, "Status", 10);
    right(out, "Actual", w_actual);
    ct_buf_puts(out, "  ");
    right(out, "Target", w_target);
    ct_buf_puts(out, "  ");
    right(out, "%", w_pct);
    ct_buf_puts(out, "  ");
    left(out, "Progress", BAR_CELLS);
    ct_buf_puts(out, "  ");
    left(out, "Unit", w_unit);
    ct_buf_puts(out, "  目标 / Target\n");

    size_t indent = 4 + 10 + w_actual + 2 + w_target + 2 + w_pct + 2 + BAR_CELLS + 2 + w_unit + 2;
    for (size_t i = 0; i < p->n_targets; i++) {
        const struct agg_progress_target *t = &p->targets[i];
        char target[128];

        ct_buf_printf(out, "%2zu  ", i + 1);
        if (colour)
            ct_buf_puts(out, status_colour(t->status));
        left(out, status_words(t->status), 10);
        if (colour)
            ct_buf_puts(out, "\033[0m");
        grouped(t->actual, buf, sizeof(buf));
        right(out, buf, w_actual);
        ct_buf_puts(out, "  ");
        grouped(t->target, buf, sizeof(buf));
        snprintf(target, sizeof(target), "%s %s%s", t->comparator, buf, scope_tag(t));
        right(out, target, w_target);
        ct_buf_puts(out, "  ");
        right(out, t->pct != NULL ? t->pct : "-", w_pct);
        ct_buf_puts(out, "  ");
        bar(out, t->pct);
        ct_buf_puts(out, "  ");
        left(out, t->unit, w_unit);
        ct_buf_printf(out, "  %s\n", t->name_zh);
        pad(out, indent);
        ct_buf_printf(out, "%s\n", t->name_en);
    }
    ct_buf_printf(out, "\n%zu targets: %zu met, %zu on track, %zu behind, %zu no data\n",
                  p->n_targets, counts[0], counts[1], counts[2], counts[3]);
    return out->failed ? -1 : 0;
}

/* A plain decimal number, as the numeric columns always hold: -?D+(.D+)? */
static bool csv_is_number(const char *s)
{
    size_t i = s[0] == '-', digits = strspn(s + i, "0123456789");

    if (digits == 0)
        return false;
    i += digits;
    if (s[i] == '.') {
        digits = strspn(s + i + 1, "0123456789");
        if (digits == 0)
            return false;
        i += 1 + digits;
    }
    return s[i] == '\0';
}

/* One RFC 4180 cell. A cell that a spreadsheet would run as a formula (it starts with =,
 * +, -, @, a tab or a CR; names and units come from imported files) gets a leading single
 * quote and double quotes, as OWASP advises against CSV injection. Numbers are left
 * alone, so a negative actual or pct stays a number. */
static void csv_field(struct ct_buf *out, const char *s)
{
    bool formula;

    if (s == NULL)
        return;
    formula = s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL && !csv_is_number(s);
    if (!formula && strpbrk(s, ",\"\r\n") == NULL) {
        ct_buf_puts(out, s);
        return;
    }
    ct_buf_append(out, formula ? "\"'" : "\"", formula ? 2 : 1);
    for (; *s; s++) {
        if (*s == '"')
            ct_buf_append(out, "\"", 1);
        ct_buf_append(out, s, 1);
    }
    ct_buf_append(out, "\"", 1);
}

static int render_csv(const struct agg_progress *p, struct ct_buf *out)
{
    char as_of[CT_TIME_TEXT_MAX];

    ct_time_format(p->as_of_ms, as_of, sizeof(as_of));
    ct_buf_puts(out, "year,as_of,district,code,name_zh,name_en,unit,kind,actual,target,"
                     "comparator,pct,status,units_reporting,expected_to_date,pace_pct,"
                     "target_scope\n");
    for (size_t i = 0; i < p->n_targets; i++) {
        const struct agg_progress_target *t = &p->targets[i];
        const char *fields[] = {t->code,   t->name_zh, t->name_en,    t->unit, t->kind,
                                t->actual, t->target,  t->comparator, t->pct,  t->status};
        ct_buf_printf(out, "%d,%s,", p->year, as_of);
        csv_field(out, p->district != NULL ? p->district : "");
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            ct_buf_puts(out, ",");
            csv_field(out, fields[f]);
        }
        ct_buf_printf(out, ",%d,", t->units_reporting);
        csv_field(out, t->expected_to_date);
        ct_buf_puts(out, ",");
        csv_field(out, t->pace_pct);
        ct_buf_puts(out, ",");
        csv_field(out, t->target_scope != NULL ? t->target_scope : "city");
        ct_buf_puts(out, "\n");
    }
    return out->failed ? -1 : 0;
}

int agg_report_render(const struct agg_progress *p, enum agg_report_format format, bool colour,
                      struct ct_buf *out)
{
    switch (format) {
    case AGG_REPORT_TABLE:
        return render_table(p, colour, out);
    case AGG_REPORT_CSV:
        return render_csv(p, out);
    case AGG_REPORT_JSON:
        if (agg_progress_json(p, out) != 0)
            return -1;
        return ct_buf_puts(out, "\n");
    }
    return -1;
}
