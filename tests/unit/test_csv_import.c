/* test_csv_import.c - collector/csv_import.c: the CSV edge cases of CONTRACT section 5. */
#include "csv_import.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const struct ct_catalog_entry catalog[] = {
    {"rd_centers_municipal", "市级研发中心", "district"},
    {"hightech_output", "高新技术产业产值", "district"},
    {"resident_population", "常住人口", "district"},
    {"st_contribution_rate", "科技进步对经济增长的贡献率", "city"},
};
#define N_CATALOG (sizeof(catalog) / sizeof(catalog[0]))

/* 2015-06-30T12:00:00+08:00 */
#define MTIME_MS 1435636800000LL

static struct col_import *imp;

static void setup(void)
{
    imp = col_import_new();
    cr_assert_not_null(imp);
}

static void teardown(void)
{
    col_import_free(imp);
}

static void import_ok(const char *bytes, size_t len, size_t want_rows)
{
    int rc = col_csv_import(imp, bytes, len, MTIME_MS, catalog, N_CATALOG, "erqi");
    cr_assert_eq(rc, 0, "import failed:\n%.*s", (int)imp->errors.len,
                 imp->errors.data ? imp->errors.data : "");
    cr_assert_eq(imp->n_updates, want_rows);
    cr_assert_eq(imp->n_errors, 0);
}

static void import_fails(const char *bytes, size_t len, const char *want_errors)
{
    int rc = col_csv_import(imp, bytes, len, MTIME_MS, catalog, N_CATALOG, "erqi");
    cr_assert_eq(rc, -1);
    cr_assert_eq(imp->n_updates, 0, "a failed file must yield no updates");
    cr_assert_str_eq(imp->errors.data, want_errors);
}

#define TEXT(s) s, sizeof(s) - 1

TestSuite(csv_import, .init = setup, .fini = teardown);

Test(csv_import, plain_file_with_all_columns)
{
    import_ok(TEXT("indicator,value,period,op,observed_at,note\n"
                   "rd_centers_municipal,12,2015,add,2015-03-31,Q1\n"
                   "hightech_output,123.45,2015,set,2015-06-30T17:00:00+08:00,\n"),
              2);
    const struct col_new_update *u = imp->updates;
    cr_assert_str_eq(u[0].ind, "rd_centers_municipal");
    cr_assert_eq(u[0].value.kind, CT_VALUE_INT);
    cr_assert_eq(u[0].value.as.i, 12);
    cr_assert_eq(u[0].op, CT_OP_ADD);
    cr_assert_eq(u[0].period, 2015);
    cr_assert_eq(u[0].at_ms, 1427817599999LL); /* end of 2015-03-31 in UTC+8 */
    cr_assert_str_eq(u[0].note, "Q1");
    cr_assert_eq(u[0].line, 2);
    cr_assert_eq(u[1].value.kind, CT_VALUE_FLOAT);
    cr_assert_eq(u[1].value.as.f, 123.45);
    cr_assert_eq(u[1].op, CT_OP_SET);
    cr_assert_eq(u[1].at_ms, 1435654800000LL);
    cr_assert_null(u[1].note);
    cr_assert_eq(u[1].line, 3);
}

Test(csv_import, defaults_are_set_file_mtime_and_its_year_in_utc8)
{
    /* 2015-12-31T20:00:00Z is already 2016 in Zhengzhou. */
    import_ok(TEXT("value,indicator\n5,rd_centers_municipal\n"), 1);
    cr_assert_eq(imp->updates[0].op, CT_OP_SET);
    cr_assert_eq(imp->updates[0].at_ms, MTIME_MS);
    cr_assert_eq(imp->updates[0].period, 2015);
    import_ok(TEXT("indicator,value,observed_at\nrd_centers_municipal,5,2015-12-31T20:00:00Z\n"),
              1);
    cr_assert_eq(imp->updates[0].period, 2016);
}

Test(csv_import, gbk_file_with_chinese_names_resolves_codes)
{
    /* "indicator,value\n市级研发中心,3\n高新技术产业产值,\"1,234.5\"\n" saved as GBK. */
    const char gbk[] = "indicator,value\r\n"
                       "\xca\xd0\xbc\xb6\xd1\xd0\xb7\xa2\xd6\xd0\xd0\xc4,3\r\n"
                       "\xb8\xdf\xd0\xc2\xbc\xbc\xca\xf5\xb2\xfa\xd2\xb5\xb2\xfa\xd6\xb5,"
                       "\"1,234.5\"\r\n";
    import_ok(gbk, sizeof(gbk) - 1, 2);
    cr_assert_eq(imp->encoding, CT_ENCODING_GB18030);
    cr_assert_str_eq(imp->updates[0].ind, "rd_centers_municipal");
    cr_assert_eq(imp->updates[0].value.as.i, 3);
    cr_assert_str_eq(imp->updates[1].ind, "hightech_output");
    cr_assert_eq(imp->updates[1].value.as.f, 1234.5);
}

Test(csv_import, utf8_bom_file_is_read_and_header_matched)
{
    import_ok(TEXT("\xef\xbb\xbfindicator,value\n常住人口,1000000\n"), 1);
    cr_assert_eq(imp->encoding, CT_ENCODING_UTF8_BOM);
    cr_assert_str_eq(imp->updates[0].ind, "resident_population");
    cr_assert_eq(imp->updates[0].value.as.i, 1000000);
}

Test(csv_import, crlf_line_ends_and_line_numbers)
{
    import_ok(TEXT("indicator,value\r\nrd_centers_municipal,1\r\n\r\nhightech_output,2\r\n"), 2);
    cr_assert_eq(imp->updates[0].line, 2);
    cr_assert_eq(imp->updates[1].line, 4);
}

Test(csv_import, quoted_commas_quotes_and_newlines)
{
    import_ok(
        TEXT("indicator,value,note\n"
             "rd_centers_municipal,\"12,000\",\"two, three \"\"quoted\"\"\r\nand a new line\"\n"
             "hightech_output,7,\"x\"\n"),
        2);
    cr_assert_eq(imp->updates[0].value.as.i, 12000);
    cr_assert_str_eq(imp->updates[0].note, "two, three \"quoted\"\nand a new line");
    cr_assert_eq(imp->updates[1].line, 4, "the quoted newline moved the next record to line 4");
}

Test(csv_import, empty_file_is_refused)
{
    import_fails("", 0,
                 "the file is empty: it needs a header row (indicator,value,...) and at least "
                 "one data row\n");
}

Test(csv_import, header_only_file_is_refused)
{
    import_fails(TEXT("indicator,value,period\r\n"), "the file has a header but no data rows\n");
}

Test(csv_import, missing_value_column_is_refused)
{
    import_fails(TEXT("indicator,period\nrd_centers_municipal,2015\n"),
                 "line 1: the header has no 'value' column (it needs indicator and value)\n");
}

Test(csv_import, unknown_column_is_refused)
{
    import_fails(TEXT("indicator,value,obseved_at\nrd_centers_municipal,1,2015-01-01\n"),
                 "line 1: unknown column 'obseved_at' in the header (columns are indicator, "
                 "value, period, op, observed_at, note)\n");
}

Test(csv_import, bad_number_on_line_7_is_named)
{
    import_fails(TEXT("indicator,value\n"
                      "rd_centers_municipal,1\n"
                      "rd_centers_municipal,2\n"
                      "rd_centers_municipal,3\n"
                      "rd_centers_municipal,4\n"
                      "rd_centers_municipal,5\n"
                      "rd_centers_municipal,12x\n"
                      "rd_centers_municipal,7\n"),
                 "line 7: value '12x': not a number\n");
}

Test(csv_import, every_bad_line_is_listed_with_its_reason)
{
    import_fails(TEXT("indicator,value,op,period,observed_at\n"
                      "nope,1,,,\n"
                      "rd_centers_municipal,,,,\n"
                      "rd_centers_municipal,1,replace,,\n"
                      "rd_centers_municipal,1,,1999,\n"
                      "rd_centers_municipal,1,,,yesterday\n"
                      "st_contribution_rate,55,,,\n"
                      "rd_centers_municipal,1,,,,extra\n"
                      "rd_centers_municipal,1,set,2015,2015-01-01\n"),
                 "line 2: unknown indicator 'nope' (neither a code nor a Chinese name in the "
                 "aggregator's catalog)\n"
                 "line 3: no value\n"
                 "line 4: op 'replace': must be set or add\n"
                 "line 5: period '1999': must be a year from 2000 to 2100\n"
                 "line 6: observed_at 'yesterday': expected a date like 2015-06-30\n"
                 "line 7: indicator st_contribution_rate is reported by the municipal unit "
                 "(city) only, not by erqi\n"
                 "line 8: 6 fields, but the header names fewer columns\n");
}

Test(csv_import, blank_and_empty_rows_are_skipped)
{
    import_ok(TEXT("indicator,value\n,\n\n  , \nrd_centers_municipal,1\n"), 1);
}

Test(csv_import, codes_in_any_case_and_padded_cells)
{
    import_ok(TEXT("Indicator , VALUE\n RD_Centers_Municipal , 1 \n"), 1);
    cr_assert_str_eq(imp->updates[0].ind, "rd_centers_municipal");
}

Test(csv_import, without_catalog_codes_pass_and_chinese_names_are_explained)
{
    cr_assert_eq(
        col_csv_import(imp, TEXT("indicator,value\nanything_goes,1\n"), MTIME_MS, NULL, 0, "erqi"),
        0);
    cr_assert_str_eq(imp->updates[0].ind, "anything_goes");
    cr_assert_eq(
        col_csv_import(imp, TEXT("indicator,value\n市级研发中心,1\n"), MTIME_MS, NULL, 0, "erqi"),
        -1);
    cr_assert(strstr(imp->errors.data, "line 2: indicator '市级研发中心' is not a code, and no "
                                       "catalog has been received yet") != NULL,
              "%s", imp->errors.data);
}

Test(csv_import, long_note_is_refused)
{
    char file[600];
    int n =
        snprintf(file, sizeof(file), "indicator,value,note\nrd_centers_municipal,1,%0257d\n", 0);
    import_fails(file, (size_t)n, "line 2: note is 257 bytes long; at most 256 are allowed\n");
}

Test(csv_import, unterminated_quote_is_refused)
{
    import_fails(TEXT("indicator,value\nrd_centers_municipal,\"1\n"),
                 "line 2: quoted field opened on line 2 is never closed\n");
}

Test(csv_import, neither_utf8_nor_gbk_is_refused)
{
    import_fails(TEXT("indicator,value\nrd_centers_municipal,\xff\n"),
                 "neither UTF-8 nor GB18030/GBK text: byte 0xFF on line 2 is invalid in both "
                 "(save the file as CSV UTF-8)\n");
}

Test(csv_import, many_bad_lines_are_capped)
{
    size_t rows = COL_IMPORT_MAX_LISTED_ERRORS + 5;
    struct ct_buf b = CT_BUF_INIT;
    ct_buf_puts(&b, "indicator,value\n");
    for (size_t i = 0; i < rows; i++)
        ct_buf_puts(&b, "rd_centers_municipal,x\n");
    cr_assert_eq(col_csv_import(imp, b.data, b.len, MTIME_MS, catalog, N_CATALOG, "erqi"), -1);
    cr_assert_eq(imp->n_errors, rows);
    cr_assert(strstr(imp->errors.data, "... and 5 more bad lines\n") != NULL);
    ct_buf_free(&b);
}

Test(csv_import, reusing_one_import_for_many_files_keeps_its_memory_bounded)
{
    for (int i = 0; i < 40; i++)
        import_ok(TEXT("indicator,value\nrd_centers_municipal,1\nhightech_output,2\n"), 2);
    cr_assert_eq(imp->cap_updates, 1024, "capacity grew to %zu", imp->cap_updates);
}
