#include "csv_import.h"

#include "csv.h"
#include "text.h"
#include "timefmt.h"
#include "value.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum column { COL_INDICATOR, COL_VALUE, COL_PERIOD, COL_OP, COL_OBSERVED_AT, COL_NOTE, N_COLUMNS };

static const char *const column_names[N_COLUMNS] = {"indicator", "value",       "period",
                                                    "op",        "observed_at", "note"};

#define MAX_FIELDS 256
#define SHOWN_TEXT 60 /* bytes of a bad field echoed in an error line */

/* Where each update's strings are in the arena, until the arena stops growing. */
struct pending_text {
    size_t ind, note; /* offsets; note is SIZE_MAX when there is none */
};

struct parse {
    struct col_import *imp;
    struct pending_text *text;
    size_t cap_text;
    const struct ct_catalog_entry *catalog;
    size_t n_catalog;
    const char *district;
    int64_t default_at_ms;
    int where[N_COLUMNS]; /* field index of each column, -1 when absent */
    /* The last indicator resolved: rows of a file usually repeat a few indicators. */
    char last_text[CT_WIRE_MAX_NAME + 1];
    char last_code[CT_ID_MAX + 1];
};

struct col_import *col_import_new(void)
{
    struct col_import *imp = calloc(1, sizeof(*imp));
    if (imp != NULL && (imp->conv = ct_text_converter_new()) == NULL) {
        free(imp);
        imp = NULL;
    }
    return imp;
}

void col_import_free(struct col_import *imp)
{
    if (imp == NULL)
        return;
    free(imp->updates);
    ct_text_converter_free(imp->conv);
    ct_buf_free(&imp->text);
    ct_buf_free(&imp->errors);
    free(imp);
}

static void reset(struct col_import *imp)
{
    imp->n_updates = 0;
    imp->n_errors = 0;
    imp->n_lines = 0;
    imp->needs_catalog = false;
    imp->encoding = CT_ENCODING_UTF8;
    ct_buf_reset(&imp->text);
    ct_buf_reset(&imp->errors);
}

__attribute__((format(printf, 3, 4))) static void bad_line(struct col_import *imp, size_t line,
                                                           const char *fmt, ...)
{
    va_list ap;
    char msg[1024];

    imp->n_errors++;
    if (imp->n_errors > COL_IMPORT_MAX_LISTED_ERRORS)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        ct_buf_printf(&imp->errors, "line %zu: %s\n", line, msg);
    else
        ct_buf_printf(&imp->errors, "%s\n", msg);
}

/* Trims ASCII spaces and tabs, which spreadsheets leave around cells. */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

static void shown(const char *s, size_t len, char *out, size_t out_size)
{
    ct_text_escape(s, len, out, out_size < SHOWN_TEXT + 4 ? out_size : SHOWN_TEXT + 4);
}

int col_resolve_indicator(const char *text, const struct ct_catalog_entry *catalog,
                          size_t n_catalog, const char *district, char *code, size_t code_size,
                          char *err, size_t err_size)
{
    char lower[CT_ID_MAX + 1], show[SHOWN_TEXT + 4];
    size_t len = strlen(text);
    const struct ct_catalog_entry *found = NULL;

    shown(text, len, show, sizeof(show));
    if (len == 0) {
        snprintf(err, err_size, "no indicator");
        return -1;
    }
    lower[0] = '\0';
    if (len <= CT_ID_MAX) {
        for (size_t i = 0; i <= len; i++)
            lower[i] = (char)tolower((unsigned char)text[i]);
        if (!ct_id_valid(lower, len))
            lower[0] = '\0';
    }
    for (size_t i = 0; i < n_catalog && found == NULL; i++) {
        if ((lower[0] != '\0' && strcmp(catalog[i].code, lower) == 0) ||
            strcmp(catalog[i].name_zh, text) == 0)
            found = &catalog[i];
    }
    if (found == NULL) {
        if (n_catalog > 0) {
            snprintf(err, err_size,
                     "unknown indicator '%s' (neither a code nor a Chinese name "
                     "in the aggregator's catalog)",
                     show);
            return -1;
        }
        if (lower[0] == '\0') {
            snprintf(err, err_size,
                     "indicator '%s' is not a code, and no catalog has been received yet to "
                     "look up Chinese names (start the collector once while the aggregator is "
                     "reachable, or use the code)",
                     show);
            return -2;
        }
        ct_strlcpy(code, lower, code_size);
        return 0;
    }
    if (strcmp(found->reported_by, "city") == 0 && strcmp(district, "city") != 0) {
        snprintf(err, err_size,
                 "indicator %s is reported by the municipal unit (city) only, not "
                 "by %s",
                 found->code, district[0] ? district : "a district");
        return -1;
    }
    ct_strlcpy(code, found->code, code_size);
    return 0;
}

static int read_header(struct parse *p, const struct ct_csv_field *f, size_t n, size_t line)
{
    int status = 0;

    for (int c = 0; c < N_COLUMNS; c++)
        p->where[c] = -1;
    for (size_t i = 0; i < n; i++) {
        const char *s = f[i].ptr;
        size_t len = f[i].len;
        int c;
        trim(&s, &len);
        for (c = 0; c < N_COLUMNS; c++) {
            if (strlen(column_names[c]) == len && strncasecmp(s, column_names[c], len) == 0)
                break;
        }
        if (c == N_COLUMNS) {
            char show[SHOWN_TEXT + 4];
            shown(s, len, show, sizeof(show));
            bad_line(p->imp, line,
                     "unknown column '%s' in the header (columns are indicator, value, period, "
                     "op, observed_at, note)",
                     show);
            status = -1;
        } else if (p->where[c] >= 0) {
            bad_line(p->imp, line, "column '%s' appears twice in the header", column_names[c]);
            status = -1;
        } else {
            p->where[c] = (int)i;
        }
    }
    for (int c = COL_INDICATOR; c <= COL_VALUE; c++) {
        if (p->where[c] < 0) {
            bad_line(p->imp, line, "the header has no '%s' column (it needs indicator and value)",
                     column_names[c]);
            status = -1;
        }
    }
    return status;
}

/* Makes room for one more update; the arena offsets grow alongside (the updates array
 * outlives one parse, the offsets do not). */
static int grow_updates(struct parse *p)
{
    struct col_import *imp = p->imp;
    if (imp->n_updates == imp->cap_updates) {
        size_t want = imp->cap_updates ? imp->cap_updates * 2 : 1024;
        struct col_new_update *u = realloc(imp->updates, want * sizeof(*u));
        if (u == NULL)
            return -1;
        imp->updates = u;
        imp->cap_updates = want;
    }
    if (imp->n_updates == p->cap_text) {
        size_t want = imp->cap_updates;
        struct pending_text *t = realloc(p->text, want * sizeof(*t));
        if (t == NULL)
            return -1;
        p->text = t;
        p->cap_text = want;
    }
    return 0;
}

/* A field of the record by column, trimmed; "" when the column or field is absent. */
static void field(const struct parse *p, const struct ct_csv_field *f, size_t n, enum column c,
                  const char **s, size_t *len)
{
    *s = "";
    *len = 0;
    if (p->where[c] >= 0 && (size_t)p->where[c] < n) {
        *s = f[p->where[c]].ptr;
        *len = f[p->where[c]].len;
        trim(s, len);
    }
}

static bool parse_period(const char *s, size_t len, int64_t *out)
{
    int64_t v = 0;
    if (len == 0 || len > 4)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* `s` as a C string in `out`; false when it does not fit. */
static bool copy_text(const char *s, size_t len, char *out, size_t out_size)
{
    if (len >= out_size)
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

/* One data record while it is read: the update, and the text it will point to once it is
 * appended (the note borrows the record's field). */
struct row {
    struct col_new_update u;
    char code[CT_ID_MAX + 1];
    const char *note;
    size_t note_len;
};

/* A column reader checks one trimmed field ("" when absent) into `r`. It returns true, or
 * false after reporting the line, so that every bad field of a line is reported. */
typedef bool column_reader(struct parse *p, const char *s, size_t len, size_t line, struct row *r);

static bool read_indicator(struct parse *p, const char *s, size_t len, size_t line, struct row *r)
{
    char text[CT_WIRE_MAX_NAME + 1], show[SHOWN_TEXT + 4], why[512];
    int rc;

    if (len == 0) {
        bad_line(p->imp, line, "no indicator");
        return false;
    }
    if (len <= CT_WIRE_MAX_NAME && strlen(p->last_text) == len &&
        memcmp(p->last_text, s, len) == 0) {
        ct_strlcpy(r->code, p->last_code, sizeof(r->code));
        return true;
    }
    if (!copy_text(s, len, text, sizeof(text))) {
        shown(s, len, show, sizeof(show));
        bad_line(p->imp, line, "unknown indicator '%s' (too long)", show);
        return false;
    }
    rc = col_resolve_indicator(text, p->catalog, p->n_catalog, p->district, r->code,
                               sizeof(r->code), why, sizeof(why));
    if (rc != 0) {
        if (rc == -2)
            p->imp->needs_catalog = true;
        bad_line(p->imp, line, "%s", why);
        return false;
    }
    memcpy(p->last_text, text, len + 1);
    ct_strlcpy(p->last_code, r->code, sizeof(p->last_code));
    return true;
}

static bool read_value(struct parse *p, const char *s, size_t len, size_t line, struct row *r)
{
    char text[128], show[SHOWN_TEXT + 4], why[512];

    if (len == 0) {
        bad_line(p->imp, line, "no value");
        return false;
    }
    shown(s, len, show, sizeof(show));
    if (!copy_text(s, len, text, sizeof(text))) {
        bad_line(p->imp, line, "value '%s': too long for a number", show);
        return false;
    }
    if (ct_value_parse(text, &r->u.value, why, sizeof(why)) != 0) {
        bad_line(p->imp, line, "value '%s': %s", show, why);
        return false;
    }
    return true;
}

static bool read_op(struct parse *p, const char *s, size_t len, size_t line, struct row *r)
{
    char text[8] = "", show[SHOWN_TEXT + 4];

    if (len == 0) {
        r->u.op = CT_OP_SET;
        return true;
    }
    if (len < sizeof(text)) {
        for (size_t i = 0; i < len; i++)
            text[i] = (char)tolower((unsigned char)s[i]);
        text[len] = '\0';
    }
    r->u.op = ct_op_parse(text);
    if (r->u.op == CT_OP_INVALID) {
        shown(s, len, show, sizeof(show));
        bad_line(p->imp, line, "op '%s': must be set or add", show);
        return false;
    }
    return true;
}

static bool read_observed_at(struct parse *p, const char *s, size_t len, size_t line, struct row *r)
{
    char text[CT_TIME_TEXT_MAX * 2], show[SHOWN_TEXT + 4], why[512];

    if (len == 0) {
        r->u.at_ms = p->default_at_ms;
        return true;
    }
    shown(s, len, show, sizeof(show));
    if (!copy_text(s, len, text, sizeof(text))) {
        bad_line(p->imp, line, "observed_at '%s': not a time", show);
        return false;
    }
    if (ct_time_parse(text, &r->u.at_ms, why, sizeof(why)) != 0) {
        bad_line(p->imp, line, "observed_at '%s': %s", show, why);
        return false;
    }
    if (r->u.at_ms < CT_WIRE_AT_MIN_MS || r->u.at_ms >= CT_WIRE_AT_MAX_MS) {
        bad_line(p->imp, line, "observed_at '%s': outside the years 2000 to 2099", show);
        return false;
    }
    return true;
}

/* Runs after read_observed_at: a row without a period belongs to the year it was observed. */
static bool read_period(struct parse *p, const char *s, size_t len, size_t line, struct row *r)
{
    char show[SHOWN_TEXT + 4];

    if (len == 0) {
        r->u.period = ct_time_year_of(r->u.at_ms);
        return true;
    }
    if (!parse_period(s, len, &r->u.period) || r->u.period < CT_WIRE_PERIOD_MIN ||
        r->u.period > CT_WIRE_PERIOD_MAX) {
        shown(s, len, show, sizeof(show));
        bad_line(p->imp, line, "period '%s': must be a year from %d to %d", show,
                 CT_WIRE_PERIOD_MIN, CT_WIRE_PERIOD_MAX);
        return false;
    }
    return true;
}

static bool read_note(struct parse *p, const char *s, size_t len, size_t line, struct row *r)
{
    if (len > CT_WIRE_MAX_NOTE) {
        bad_line(p->imp, line, "note is %zu bytes long; at most %d are allowed", len,
                 CT_WIRE_MAX_NOTE);
        return false;
    }
    r->note = s;
    r->note_len = len;
    return true;
}

/* The columns in the order a row is checked, which is the order of its error lines. */
static const struct {
    enum column column;
    column_reader *read;
} column_readers[] = {
    {COL_INDICATOR, read_indicator},     {COL_VALUE, read_value},   {COL_OP, read_op},
    {COL_OBSERVED_AT, read_observed_at}, {COL_PERIOD, read_period}, {COL_NOTE, read_note},
};

/* True when every field of the record is empty after trimming. */
static bool record_blank(const struct ct_csv_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = f[i].ptr;
        size_t len = f[i].len;
        trim(&s, &len);
        if (len > 0)
            return false;
    }
    return true;
}

/* True when a field the header does not name holds something. */
static bool record_overflows_header(const struct parse *p, const struct ct_csv_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (int c = 0; c < N_COLUMNS; c++)
            known = known || p->where[c] == (int)i;
        const char *s = f[i].ptr;
        size_t len = f[i].len;
        trim(&s, &len);
        if (!known && len > 0)
            return true;
    }
    return false;
}

/* Copies the row's text into the arena and appends its update. Returns 0, or -1 when out
 * of memory. */
static int append_row(struct parse *p, const struct row *r, size_t line)
{
    struct col_import *imp = p->imp;
    size_t ind_off, note_off = SIZE_MAX;

    if (grow_updates(p) != 0)
        return -1;
    ind_off = imp->text.len;
    ct_buf_append(&imp->text, r->code, strlen(r->code) + 1);
    if (r->note_len > 0) {
        note_off = imp->text.len;
        ct_buf_append(&imp->text, r->note, r->note_len);
        ct_buf_append(&imp->text, "", 1);
    }
    if (imp->text.failed)
        return -1;
    imp->updates[imp->n_updates] = r->u;
    imp->updates[imp->n_updates].line = (int64_t)line;
    p->text[imp->n_updates++] = (struct pending_text){ind_off, note_off};
    return 0;
}

/* What read_row made of one data record. */
enum row_result {
    ROW_OK,        /* valid: appended, or only checked once the file has failed anyway */
    ROW_BLANK,     /* every field empty, skipped: Excel writes ",,,," for formatted rows */
    ROW_BAD,       /* every problem of the line was reported in imp->errors */
    ROW_NO_MEMORY, /* nothing reported; the caller stops reading */
};

static enum row_result read_row(struct parse *p, const struct ct_csv_field *f, size_t n,
                                size_t line)
{
    struct row r = {0};
    bool bad = false;

    if (record_blank(f, n))
        return ROW_BLANK;
    if (record_overflows_header(p, f, n)) {
        bad_line(p->imp, line, "%zu fields, but the header names fewer columns", n);
        return ROW_BAD;
    }
    for (size_t i = 0; i < sizeof(column_readers) / sizeof(column_readers[0]); i++) {
        const char *s;
        size_t len;
        field(p, f, n, column_readers[i].column, &s, &len);
        if (!column_readers[i].read(p, s, len, line, &r))
            bad = true;
    }
    if (bad)
        return ROW_BAD;
    if (p->imp->n_errors > 0)
        return ROW_OK; /* the file fails anyway: only keep checking */
    return append_row(p, &r, line) == 0 ? ROW_OK : ROW_NO_MEMORY;
}

int col_csv_import(struct col_import *imp, const char *bytes, size_t len, int64_t default_at_ms,
                   const struct ct_catalog_entry *catalog, size_t n_catalog, const char *district)
{
    struct parse p = {0};
    struct ct_csv_reader r;
    struct ct_csv_field fields[MAX_FIELDS];
    char *text = NULL, *scratch = NULL, err[512];
    size_t text_len = 0, n;
    bool header = false;
    int rc, result = -1;

    reset(imp);
    p.imp = imp;
    p.catalog = catalog;
    p.n_catalog = n_catalog;
    p.district = district ? district : "";
    p.default_at_ms = default_at_ms;

    if (ct_text_to_utf8(imp->conv, bytes, len, &text, &text_len, &imp->encoding, err,
                        sizeof(err)) != 0) {
        bad_line(imp, 0, "%s", err);
        goto out;
    }
    scratch = malloc(COL_IMPORT_MAX_RECORD);
    if (scratch == NULL) {
        bad_line(imp, 0, "out of memory");
        goto out;
    }
    ct_csv_init(&r, text, text_len);
    while ((rc = ct_csv_next(&r, fields, MAX_FIELDS, &n, scratch, COL_IMPORT_MAX_RECORD, err,
                             sizeof(err))) != 0) {
        if (rc < 0) {
            bad_line(imp, r.record_line, "%s", err);
            if (!header)
                break; /* without a header no later line can be read */
            continue;
        }
        if (!header) {
            header = true;
            if (read_header(&p, fields, n, r.record_line) != 0)
                break;
            continue;
        }
        if (read_row(&p, fields, n, r.record_line) == ROW_NO_MEMORY) {
            bad_line(imp, 0, "out of memory after %zu rows", imp->n_updates);
            break;
        }
    }
    imp->n_lines = r.line > 0 ? r.line - 1 : 0;
    if (imp->n_errors == 0) {
        if (!header)
            bad_line(imp, 0,
                     "the file is empty: it needs a header row (indicator,value,...) and "
                     "at least one data row");
        else if (imp->n_updates == 0)
            bad_line(imp, 0, "the file has a header but no data rows");
    }
    if (imp->n_errors > COL_IMPORT_MAX_LISTED_ERRORS)
        ct_buf_printf(&imp->errors, "... and %zu more bad lines\n",
                      imp->n_errors - COL_IMPORT_MAX_LISTED_ERRORS);
    if (imp->n_errors > 0)
        goto out;
    for (size_t i = 0; i < imp->n_updates; i++) {
        imp->updates[i].ind = imp->text.data + p.text[i].ind;
        imp->updates[i].note = p.text[i].note == SIZE_MAX ? NULL : imp->text.data + p.text[i].note;
    }
    result = 0;
out:
    if (result != 0)
        imp->n_updates = 0;
    free(p.text);
    free(scratch);
    free(text);
    return result;
}
