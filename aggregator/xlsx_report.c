#include "xlsx_report.h"

#include "report.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define MAX_DECIMALS 10
#define MAX_COL_WIDTH 60    /* in characters; longer text wraps in the cell */
#define HEADER_CAP 16       /* headers wrap beyond this, unless their column is wider */
#define HEADER_CAP_UNITS 24 /* the Units sheet's target names wrap beyond this */
#define PAPER_A4 9

static const char *const status_codes[4] = {"met", "on_track", "behind", "no_data"};
static const uint32_t status_fills[4] = {0xE2EFDA, 0xDDEBF7, 0xFCE4D6, 0xEDEDED};

struct formats {
    lxw_format *header, *text, *integer, *number[MAX_DECIMALS + 1], *status[4];
};

/* One worksheet being written: the first error of its calls, and each column's widest
 * text in terminal cells (CJK counts two). */
struct sheet {
    lxw_worksheet *ws;
    const struct formats *fm;
    double *widths;
    double *header_widths; /* the header's own text, wrapped into `widths` */
    size_t n_cols;
    size_t header_cap; /* a header wider than this wraps instead of widening its column */
    lxw_error err;
};

static void note(struct sheet *s, lxw_error e)
{
    if (s->err == LXW_NO_ERROR)
        s->err = e;
}

static void widen(struct sheet *s, lxw_col_t col, size_t cells)
{
    if (col < s->n_cols && (double)cells > s->widths[col])
        s->widths[col] = (double)cells;
}

static void put_text(struct sheet *s, lxw_row_t row, lxw_col_t col, const char *text, lxw_format *f)
{
    if (text == NULL || text[0] == '\0')
        return; /* an empty cell */
    note(s, worksheet_write_string(s->ws, row, col, text, f));
    widen(s, col, agg_report_text_width(text));
}

static void put_header(struct sheet *s, lxw_col_t col, const char *text)
{
    size_t w = agg_report_text_width(text);

    note(s, worksheet_write_string(s->ws, 0, col, text, s->fm->header));
    widen(s, col, w < s->header_cap ? w : s->header_cap);
    if (col < s->n_cols)
        s->header_widths[col] = (double)w;
}

static void put_int(struct sheet *s, lxw_row_t row, lxw_col_t col, int value)
{
    char text[16];

    note(s, worksheet_write_number(s->ws, row, col, value, s->fm->integer));
    widen(s, col, (size_t)snprintf(text, sizeof(text), "%d", value));
}

/* A decimal as PostgreSQL prints it ("-1234.5"), as a number cell shown with as many
 * decimals as the text has; NULL is an empty cell. */
static void put_decimal(struct sheet *s, lxw_row_t row, lxw_col_t col, const char *decimal)
{
    const char *dot, *digits;
    char *end;
    double v;
    size_t int_digits, decimals = 0;

    if (decimal == NULL)
        return;
    errno = 0;
    v = strtod(decimal, &end);
    if (end == decimal || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        put_text(s, row, col, decimal, s->fm->text); /* never expected from numeric */
        return;
    }
    digits = decimal + (decimal[0] == '-');
    dot = strchr(digits, '.');
    int_digits = dot != NULL ? (size_t)(dot - digits) : strlen(digits);
    if (dot != NULL)
        decimals = strlen(dot + 1);
    if (decimals > MAX_DECIMALS)
        decimals = MAX_DECIMALS;
    note(s, worksheet_write_number(s->ws, row, col, v, s->fm->number[decimals]));
    /* as shown: sign, grouped integer digits, point and decimals */
    widen(s, col,
          (decimal[0] == '-') + int_digits + (int_digits > 0 ? (int_digits - 1) / 3 : 0) +
              (decimals > 0 ? decimals + 1 : 0));
}

static lxw_format *status_format(const struct formats *fm, const char *status)
{
    for (size_t k = 0; k < 4; k++) {
        if (strcmp(status, status_codes[k]) == 0)
            return fm->status[k];
    }
    return fm->text;
}

static int sheet_open(struct sheet *s, lxw_workbook *wb, const char *name, size_t n_cols,
                      const struct formats *fm)
{
    *s = (struct sheet){.fm = fm, .n_cols = n_cols, .header_cap = HEADER_CAP};
    s->ws = workbook_add_worksheet(wb, name);
    s->widths = calloc(n_cols + 1, sizeof(*s->widths));
    s->header_widths = calloc(n_cols + 1, sizeof(*s->header_widths));
    return s->ws != NULL && s->widths != NULL && s->header_widths != NULL ? 0 : -1;
}

/* Widths, the frozen and repeated header row (tall enough for its wrapped lines), and A4
 * landscape one page wide. Returns the sheet's first error and frees what sheet_open()
 * took. */
static lxw_error sheet_close(struct sheet *s, lxw_col_t frozen_cols, const char *print_header)
{
    if (s->ws != NULL && s->widths != NULL && s->header_widths != NULL) {
        double lines = 1;
        for (size_t c = 0; c < s->n_cols; c++) {
            double w = s->widths[c] > MAX_COL_WIDTH ? MAX_COL_WIDTH : s->widths[c];
            if (w > 0 && ceil(s->header_widths[c] / w) > lines)
                lines = ceil(s->header_widths[c] / w);
            note(s, worksheet_set_column(s->ws, (lxw_col_t)c, (lxw_col_t)c, w + 2, NULL));
        }
        if (lines > 1)
            note(s, worksheet_set_row(s->ws, 0, 15 * lines + 2, NULL));
        worksheet_freeze_panes(s->ws, 1, frozen_cols);
        note(s, worksheet_repeat_rows(s->ws, 0, 0));
        worksheet_set_paper(s->ws, PAPER_A4);
        worksheet_set_landscape(s->ws);
        worksheet_fit_to_pages(s->ws, 1, 0);
        note(s, worksheet_set_header(s->ws, print_header));
        note(s, worksheet_set_footer(s->ws, "&C第 &P 页，共 &N 页 · Page &P of &N"));
    }
    if (s->ws == NULL || s->widths == NULL || s->header_widths == NULL)
        note(s, LXW_ERROR_MEMORY_MALLOC_FAILED);
    free(s->widths);
    free(s->header_widths);
    s->widths = s->header_widths = NULL;
    return s->err;
}

/* ---- the sheets ------------------------------------------------------------------- */

static lxw_error sheet_progress(lxw_workbook *wb, const struct agg_briefing *b,
                                const struct formats *fm, const char *print_header)
{
    static const char *const headers[] = {"代码 Code",       "名称 Name (中文)",
                                          "Name (English)",  "计量单位 Unit",
                                          "完成值 Actual",   "目标值 Target",
                                          "比较 Comparator", "完成率 % Pct",
                                          "状态 Status",     "报送单位数 Units reporting"};
    static const char *const pace_headers[] = {"序时目标 Expected to date", "序时进度 % Pace"};
    const size_t n_base = sizeof(headers) / sizeof(headers[0]);
    const struct agg_progress *p = b->progress;
    struct sheet s;

    if (sheet_open(&s, wb, "进度 Progress", n_base + 2, fm) != 0)
        return sheet_close(&s, 0, print_header);
    for (size_t c = 0; c < n_base; c++)
        put_header(&s, (lxw_col_t)c, headers[c]);
    for (size_t c = 0; b->paced && c < 2; c++)
        put_header(&s, (lxw_col_t)(n_base + c), pace_headers[c]);
    for (size_t i = 0; i < p->n_targets; i++) {
        const struct agg_progress_target *t = &p->targets[i];
        lxw_row_t r = (lxw_row_t)(i + 1);
        put_text(&s, r, 0, t->code, fm->text);
        put_text(&s, r, 1, t->name_zh, fm->text);
        put_text(&s, r, 2, t->name_en, fm->text);
        put_text(&s, r, 3, t->unit, fm->text);
        put_decimal(&s, r, 4, t->actual);
        put_decimal(&s, r, 5, t->target);
        put_text(&s, r, 6, t->comparator, fm->text);
        put_decimal(&s, r, 7, t->pct);
        put_text(&s, r, 8, t->status, status_format(fm, t->status));
        put_int(&s, r, 9, t->units_reporting);
        if (b->paced) {
            put_decimal(&s, r, (lxw_col_t)n_base, t->expected_to_date);
            put_decimal(&s, r, (lxw_col_t)(n_base + 1), t->pace_pct);
        }
    }
    if (!b->paced)
        s.n_cols = n_base;
    return sheet_close(&s, 2, print_header);
}

static const char *unit_value(const struct agg_progress_target *t, const char *district)
{
    for (size_t k = 0; k < t->n_units; k++) {
        if (strcmp(t->units[k].district, district) == 0)
            return t->units[k].value;
    }
    return NULL;
}

static lxw_error sheet_units(lxw_workbook *wb, const struct agg_briefing *b,
                             const struct formats *fm, const char *print_header)
{
    const struct agg_progress *p = b->progress;
    struct ct_buf header = CT_BUF_INIT;
    struct sheet s;
    lxw_error e;

    if (sheet_open(&s, wb, "各单位 Units", 3 + p->n_targets, fm) != 0)
        return sheet_close(&s, 0, print_header);
    put_header(&s, 0, "单位代码 Unit ID");
    put_header(&s, 1, "单位 Unit (中文)");
    put_header(&s, 2, "Unit (English)");
    s.header_cap = HEADER_CAP_UNITS;
    for (size_t i = 0; i < p->n_targets; i++) {
        const struct agg_progress_target *t = &p->targets[i];
        ct_buf_reset(&header);
        if (t->unit[0] != '\0')
            ct_buf_printf(&header, "%s（%s）", t->name_zh, t->unit);
        else
            ct_buf_puts(&header, t->name_zh);
        if (header.failed) {
            note(&s, LXW_ERROR_MEMORY_MALLOC_FAILED);
            break;
        }
        put_header(&s, (lxw_col_t)(3 + i), header.data);
    }
    for (size_t u = 0; u < b->n_units; u++) {
        lxw_row_t r = (lxw_row_t)(u + 1);
        put_text(&s, r, 0, b->units[u].id, fm->text);
        put_text(&s, r, 1, b->units[u].name_zh, fm->text);
        put_text(&s, r, 2, b->units[u].name_en, fm->text);
        for (size_t i = 0; i < p->n_targets; i++)
            put_decimal(&s, r, (lxw_col_t)(3 + i), unit_value(&p->targets[i], b->units[u].id));
    }
    e = sheet_close(&s, 2, print_header);
    ct_buf_free(&header);
    return e;
}

static const struct agg_assessment_item *item_of(const struct agg_assessment_unit *u,
                                                 const char *code)
{
    for (size_t k = 0; k < u->n_items; k++) {
        if (strcmp(u->items[k].code, code) == 0)
            return &u->items[k];
    }
    return NULL;
}

/* Section 8's ranking, a row per unit, then a column per target assigned to any unit with
 * the unit's pct of its own target. */
static lxw_error sheet_assessment(lxw_workbook *wb, const struct agg_briefing *b,
                                  const struct formats *fm, const char *print_header)
{
    static const char *const headers[] = {
        "名次 Rank",   "单位代码 Unit ID",    "单位 Unit (中文)", "Unit (English)",
        "得分 Score",  "考核目标数 Assigned", "已完成 Met",       "进度正常 On track",
        "滞后 Behind", "暂无数据 No data"};
    const size_t n_base = sizeof(headers) / sizeof(headers[0]);
    const struct agg_assessment *a = b->assessment;
    const struct agg_progress *p = b->progress;
    bool *assigned = calloc(p->n_targets + 1, sizeof(*assigned));
    struct ct_buf header = CT_BUF_INIT;
    size_t col;
    struct sheet s;
    lxw_error e;

    if (sheet_open(&s, wb, "考核 Assessment", n_base + p->n_targets, fm) != 0 || assigned == NULL) {
        note(&s, LXW_ERROR_MEMORY_MALLOC_FAILED);
        free(assigned);
        return sheet_close(&s, 0, print_header);
    }
    for (size_t c = 0; c < n_base; c++)
        put_header(&s, (lxw_col_t)c, headers[c]);
    s.header_cap = HEADER_CAP_UNITS;
    col = n_base;
    for (size_t i = 0; i < p->n_targets; i++) {
        for (size_t u = 0; u < a->n_units && !assigned[i]; u++)
            assigned[i] = item_of(&a->units[u], p->targets[i].code) != NULL;
        if (!assigned[i])
            continue;
        ct_buf_reset(&header);
        ct_buf_printf(&header, "%s（完成率 %%）", p->targets[i].name_zh);
        if (header.failed) {
            note(&s, LXW_ERROR_MEMORY_MALLOC_FAILED);
            break;
        }
        put_header(&s, (lxw_col_t)col++, header.data);
    }
    for (size_t i = 0; i < a->n_units; i++) {
        const struct agg_assessment_unit *u = &a->units[i];
        lxw_row_t r = (lxw_row_t)(i + 1);
        if (u->rank != NULL)
            put_decimal(&s, r, 0, u->rank);
        put_text(&s, r, 1, u->district, fm->text);
        put_text(&s, r, 2, u->name_zh, fm->text);
        put_text(&s, r, 3, u->name_en, fm->text);
        put_decimal(&s, r, 4, u->score);
        put_int(&s, r, 5, u->assigned);
        put_int(&s, r, 6, u->met);
        put_int(&s, r, 7, u->on_track);
        put_int(&s, r, 8, u->behind);
        put_int(&s, r, 9, u->no_data);
        col = n_base;
        for (size_t t = 0; t < p->n_targets; t++) {
            const struct agg_assessment_item *item;
            if (!assigned[t])
                continue;
            if ((item = item_of(u, p->targets[t].code)) != NULL)
                put_decimal(&s, r, (lxw_col_t)col, item->pct);
            col++;
        }
    }
    s.n_cols = col;
    e = sheet_close(&s, 3, print_header);
    free(assigned);
    ct_buf_free(&header);
    return e;
}

/* ---- the workbook ----------------------------------------------------------------- */

static int formats_init(lxw_workbook *wb, struct formats *fm)
{
    char num_format[32] = "#,##0.";

    fm->header = workbook_add_format(wb);
    fm->text = workbook_add_format(wb);
    fm->integer = workbook_add_format(wb);
    if (fm->header == NULL || fm->text == NULL || fm->integer == NULL)
        return -1;
    format_set_bold(fm->header);
    format_set_text_wrap(fm->header);
    format_set_align(fm->header, LXW_ALIGN_VERTICAL_CENTER);
    format_set_bg_color(fm->header, 0xD9E1F2);
    format_set_bottom(fm->header, LXW_BORDER_THIN);
    format_set_align(fm->text, LXW_ALIGN_VERTICAL_TOP);
    format_set_num_format(fm->integer, "0");
    for (size_t d = 0; d <= MAX_DECIMALS; d++) {
        if ((fm->number[d] = workbook_add_format(wb)) == NULL)
            return -1;
        if (d > 0)
            num_format[6 + d - 1] = '0', num_format[6 + d] = '\0';
        format_set_num_format(fm->number[d], d == 0 ? "#,##0" : num_format);
    }
    for (size_t k = 0; k < 4; k++) {
        if ((fm->status[k] = workbook_add_format(wb)) == NULL)
            return -1;
        format_set_bg_color(fm->status[k], status_fills[k]);
    }
    return 0;
}

/* Writes the whole workbook to `path`; libxlsxwriter's own scratch files go to `tmpdir`
 * (NULL: the system's). Returns 0, or -1 with `err`. */
static int write_workbook(const struct agg_briefing *b, const char *path, const char *tmpdir,
                          const char *shown_path, char *err, size_t err_size)
{
    lxw_workbook_options options = {.constant_memory = 0, .tmpdir = (char *)tmpdir};
    char as_of[CT_TIME_TEXT_MAX], title[160], subject[160], print_header[240];
    lxw_doc_properties props = {0};
    struct formats fm = {0};
    lxw_error first = LXW_NO_ERROR, closed;
    lxw_workbook *wb;

    snprintf(title, sizeof(title), "郑州市 %d 年科技工作目标进展 Zhengzhou %d S&T targets",
             b->progress->year, b->progress->year);
    agg_briefing_as_of_text(b->progress->as_of_ms, as_of, sizeof(as_of));
    snprintf(subject, sizeof(subject), "截至 As of %s", as_of);
    /* '&' starts a code in a print header; "&&" is a literal one */
    snprintf(print_header, sizeof(print_header), "&C郑州市 %d 年科技工作目标进展 · 截至 %s",
             b->progress->year, as_of);
    if ((wb = workbook_new_opt(path, &options)) == NULL) {
        snprintf(err, err_size, "out of memory starting the workbook");
        return -1;
    }
    props.title = title;
    props.subject = subject;
    props.author = "citytally";
    if (formats_init(wb, &fm) != 0)
        first = LXW_ERROR_MEMORY_MALLOC_FAILED;
    if (first == LXW_NO_ERROR)
        first = workbook_set_properties(wb, &props);
    if (first == LXW_NO_ERROR)
        first = sheet_progress(wb, b, &fm, print_header);
    if (first == LXW_NO_ERROR)
        first = sheet_units(wb, b, &fm, print_header);
    if (first == LXW_NO_ERROR && b->assessment != NULL)
        first = sheet_assessment(wb, b, &fm, print_header);
    closed = workbook_close(wb); /* frees wb whatever happened */
    if (first != LXW_NO_ERROR || closed != LXW_NO_ERROR) {
        snprintf(err, err_size, "cannot write the workbook '%s': %s", shown_path,
                 lxw_strerror(first != LXW_NO_ERROR ? first : closed));
        return -1;
    }
    return 0;
}

int agg_xlsx_write_file(const struct agg_briefing *b, const char *path, char *err, size_t err_size)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    char *tmp = malloc(dir_len + strlen(path) + 16);
    bool created = false;
    mode_t mask;
    int fd = -1, rc = -1;

    if (tmp == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (path[0] == '\0' || (slash != NULL && slash[1] == '\0')) {
        snprintf(err, err_size, "cannot write '%s': not a file name", path);
        goto out;
    }
    /* beside the destination, so the rename is atomic */
    sprintf(tmp, "%.*s.%s.XXXXXX", (int)dir_len, path, path + dir_len);
    if ((fd = mkstemp(tmp)) < 0) {
        snprintf(err, err_size, "cannot write '%s': %s", path, strerror(errno));
        goto out;
    }
    created = true;
    /* mkstemp makes it 0600; a report is as readable as anything else the user writes */
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || close(fd) != 0) {
        fd = -1;
        snprintf(err, err_size, "cannot write '%s': %s", path, strerror(errno));
        goto out;
    }
    fd = -1;
    if (write_workbook(b, tmp, NULL, path, err, err_size) != 0)
        goto out;
    if (rename(tmp, path) != 0) {
        snprintf(err, err_size, "cannot write '%s': %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && created)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* Appends the file `path` (at most `max` bytes) to `out`. */
static int slurp(const char *path, size_t max, struct ct_buf *out, char *err, size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char chunk[16384];
    size_t total = 0;
    int rc = -1;

    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, err_size, "cannot read the workbook back: %s", strerror(errno));
        goto out;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
        snprintf(err, err_size, "the workbook is larger than %zu bytes", max);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "cannot read the workbook back: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if ((total += (size_t)n) > max) {
            snprintf(err, err_size, "the workbook is larger than %zu bytes", max);
            goto out;
        }
        if (ct_buf_append(out, chunk, (size_t)n) != 0) {
            snprintf(err, err_size, "out of memory reading the workbook");
            goto out;
        }
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int agg_xlsx_render(const struct agg_briefing *b, struct ct_buf *out, char *err, size_t err_size)
{
    const char *base = getenv("TMPDIR");
    char dir[256], file[300];
    bool made = false;
    int rc = -1;

    if (base == NULL || base[0] != '/' || strlen(base) > 200)
        base = "/tmp";
    snprintf(dir, sizeof(dir), "%s/citytally-xlsx-XXXXXX", base);
    if (mkdtemp(dir) == NULL) { /* mode 0700: nobody else sees the figures */
        snprintf(err, err_size, "cannot make a private directory in %s: %s", base, strerror(errno));
        return -1;
    }
    made = true;
    snprintf(file, sizeof(file), "%s/progress.xlsx", dir);
    if (write_workbook(b, file, dir, "progress.xlsx", err, err_size) != 0)
        goto out;
    if (slurp(file, AGG_XLSX_MAX_BYTES, out, err, err_size) != 0)
        goto out;
    rc = 0;
out:
    if (made) {
        if (unlink(file) != 0 && errno != ENOENT && rc == 0) {
            snprintf(err, err_size, "cannot remove %s: %s", file, strerror(errno));
            rc = -1;
        }
        if (rmdir(dir) != 0 && rc == 0) {
            snprintf(err, err_size, "cannot remove %s: %s", dir, strerror(errno));
            rc = -1;
        }
    }
    return rc;
}
