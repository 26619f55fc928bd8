/*
 * test_csv.c - common/csv.c: RFC 4180 records as spreadsheets write them.
 */
#include "csv.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define MAX_FIELDS 8

struct reader {
    struct ct_csv_reader r;
    struct ct_csv_field fields[MAX_FIELDS];
    size_t n;
    char scratch[256];
    char err[128];
    size_t max_fields, scratch_size;
};

static void open_text(struct reader *rd, const char *text, size_t len)
{
    memset(rd, 0, sizeof(*rd));
    rd->max_fields = MAX_FIELDS;
    rd->scratch_size = sizeof(rd->scratch);
    ct_csv_init(&rd->r, text, len);
}

#define OPEN(rd, literal) open_text(rd, literal, sizeof(literal) - 1)

static int next(struct reader *rd)
{
    rd->err[0] = '\0';
    return ct_csv_next(&rd->r, rd->fields, rd->max_fields, &rd->n, rd->scratch, rd->scratch_size,
                       rd->err, sizeof(rd->err));
}

/* Expects a record of exactly the given fields, starting on `line`. */
static void expect_record(struct reader *rd, size_t line, size_t n, const char *const *want)
{
    int rc = next(rd);

    cr_assert_eq(rc, 1, "expected a record on line %zu, got %d (%s)", line, rc, rd->err);
    cr_assert_eq(rd->r.record_line, line);
    cr_assert_eq(rd->n, n, "line %zu: %zu fields, expected %zu", line, rd->n, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(rd->fields[i].len, strlen(want[i]), "line %zu field %zu: '%s'", line, i,
                     rd->fields[i].ptr);
        cr_assert_str_eq(rd->fields[i].ptr, want[i], "line %zu field %zu", line, i);
        cr_assert_eq(rd->fields[i].ptr[rd->fields[i].len], '\0');
    }
}

#define RECORD(rd, line, ...)                                                                      \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__};                                                 \
        expect_record(rd, line, sizeof(want_) / sizeof(want_[0]), want_);                          \
    } while (0)

static void expect_error(struct reader *rd, size_t line, const char *why)
{
    int rc = next(rd);
    cr_assert_eq(rc, -1, "expected an error on line %zu, got %d", line, rc);
    cr_assert_eq(rd->r.record_line, line);
    cr_assert(strstr(rd->err, why) != NULL, "'%s' does not say '%s'", rd->err, why);
}

static void expect_end(struct reader *rd)
{
    cr_assert_eq(next(rd), 0);
    cr_assert_eq(next(rd), 0, "the end is sticky");
}

Test(csv, plain_records)
{
    struct reader rd;

    OPEN(&rd, "indicator,value,period\nhightech_output,12.5,2015\nst_enterprises,3,2015\n");
    RECORD(&rd, 1, "indicator", "value", "period");
    RECORD(&rd, 2, "hightech_output", "12.5", "2015");
    RECORD(&rd, 3, "st_enterprises", "3", "2015");
    expect_end(&rd);
}

Test(csv, last_record_without_a_line_end)
{
    struct reader rd;

    OPEN(&rd, "a,b\nc,d");
    RECORD(&rd, 1, "a", "b");
    RECORD(&rd, 2, "c", "d");
    expect_end(&rd);
}

Test(csv, empty_fields_and_a_trailing_comma)
{
    struct reader rd;

    OPEN(&rd, ",x,\n,,\n");
    RECORD(&rd, 1, "", "x", "");
    RECORD(&rd, 2, "", "", "");
    expect_end(&rd);
}

Test(csv, quoted_commas_and_escaped_quotes)
{
    struct reader rd;

    OPEN(&rd, "\"1,234,567\",\"say \"\"hi\"\"\",\"\"\n\"\"\"\",plain\n");
    RECORD(&rd, 1, "1,234,567", "say \"hi\"", "");
    RECORD(&rd, 2, "\"", "plain");
    expect_end(&rd);
}

Test(csv, line_breaks_inside_quotes_and_line_numbers_after_them)
{
    struct reader rd;

    OPEN(&rd, "a,\"two\nlines\",b\n"
              "c,\"crlf\r\ninside\",d\r\n"
              "e,\"lone\rcr\",f\n"
              "g,h\n");
    RECORD(&rd, 1, "a", "two\nlines", "b");
    RECORD(&rd, 3, "c", "crlf\ninside", "d"); /* CRLF inside quotes is read as LF */
    RECORD(&rd, 5, "e", "lone\rcr", "f");
    RECORD(&rd, 7, "g", "h");
    expect_end(&rd);
}

Test(csv, crlf_and_lone_cr_line_ends)
{
    struct reader rd;

    OPEN(&rd, "a,b\r\nc,d\re,f\n\rg\r\n");
    RECORD(&rd, 1, "a", "b");
    RECORD(&rd, 2, "c", "d");
    RECORD(&rd, 3, "e", "f");
    RECORD(&rd, 5, "g"); /* "\n\r" is two line ends, so line 4 is blank */
    expect_end(&rd);
}

Test(csv, a_bom_is_skipped)
{
    struct reader rd;

    OPEN(&rd, "\xef\xbb\xbfindicator,value\n");
    RECORD(&rd, 1, "indicator", "value");
    expect_end(&rd);
    /* only at the very start */
    OPEN(&rd, "x\n\xef\xbb\xbfy\n");
    RECORD(&rd, 1, "x");
    RECORD(&rd, 2, "\xef\xbb\xbfy");
}

Test(csv, blank_lines_are_skipped_but_counted)
{
    struct reader rd;

    OPEN(&rd, "\n\r\n\na\n\n\nb\n\n");
    RECORD(&rd, 4, "a");
    RECORD(&rd, 7, "b");
    expect_end(&rd);
}

Test(csv, empty_input_has_no_records)
{
    struct reader rd;

    OPEN(&rd, "");
    expect_end(&rd);
    OPEN(&rd, "\xef\xbb\xbf");
    expect_end(&rd);
    OPEN(&rd, "\r\n\r\n");
    expect_end(&rd);
}

Test(csv, utf8_text_passes_through)
{
    struct reader rd;

    OPEN(&rd, "高新技术产业产值,\"郑州, 2015\"\n");
    RECORD(&rd, 1, "高新技术产业产值", "郑州, 2015");
}

Test(csv, an_unterminated_quote_is_an_error_naming_where_it_opened)
{
    struct reader rd;

    OPEN(&rd, "a,b\nc,\"never\nclosed,d\n");
    RECORD(&rd, 1, "a", "b");
    expect_error(&rd, 2, "quoted field opened on line 2 is never closed");
    expect_end(&rd);
    /* a quote opened on a later line of a multi-line record names that line */
    OPEN(&rd, "\"x\ny\",\"open\n");
    expect_error(&rd, 1, "quoted field opened on line 2 is never closed");
}

Test(csv, text_after_a_closing_quote_is_an_error_and_the_line_is_skipped)
{
    struct reader rd;

    OPEN(&rd, "a,\"b\"c,d\ne,f\n");
    expect_error(&rd, 1, "unexpected text after a closing quote");
    RECORD(&rd, 2, "e", "f");
    expect_end(&rd);
}

Test(csv, too_many_fields_is_an_error_and_the_record_is_skipped)
{
    struct reader rd;

    OPEN(&rd, "1,2,3\n1,2,3,4\n5,6\n");
    rd.max_fields = 3;
    RECORD(&rd, 1, "1", "2", "3");
    expect_error(&rd, 2, "too many fields");
    RECORD(&rd, 3, "5", "6");
    expect_end(&rd);
}

Test(csv, skipping_a_bad_record_skips_its_quoted_line_breaks)
{
    struct reader rd;

    /* the extra field is a multi-line note: its second line is not a record */
    OPEN(&rd, "1,2,\"note\nstill the note, \"\"quoted\"\"\"\n3,4\n");
    rd.max_fields = 2;
    expect_error(&rd, 1, "too many fields");
    RECORD(&rd, 3, "3", "4");
    expect_end(&rd);
}

Test(csv, a_record_too_long_for_the_scratch_is_an_error)
{
    struct reader rd;

    OPEN(&rd, "short,ok\n0123456789abcdef,x\nnext\n");
    rd.scratch_size = 12;
    RECORD(&rd, 1, "short", "ok");
    expect_error(&rd, 2, "record too long");
    RECORD(&rd, 3, "next");
    expect_end(&rd);
}

Test(csv, a_quoted_record_too_long_is_skipped_whole)
{
    struct reader rd;

    OPEN(&rd, "\"a very long\nquoted field\nover lines\",z\nnext,1\n");
    rd.scratch_size = 8;
    expect_error(&rd, 1, "record too long");
    RECORD(&rd, 4, "next", "1");
    expect_end(&rd);
}

Test(csv, the_scratch_holds_fields_and_their_terminators_exactly)
{
    struct reader rd;

    /* "ab" + NUL + "cd" + NUL = 6 bytes */
    OPEN(&rd, "ab,cd\n");
    rd.scratch_size = 6;
    RECORD(&rd, 1, "ab", "cd");
    OPEN(&rd, "ab,cde\n");
    rd.scratch_size = 6;
    expect_error(&rd, 1, "record too long");
}

Test(csv, the_input_need_not_be_terminated)
{
    struct reader rd;
    char data[8];

    /* "a,b" followed by bytes the reader must not look at */
    memcpy(data, "a,bXXXXX", 8);
    open_text(&rd, data, 3);
    RECORD(&rd, 1, "a", "b");
    expect_end(&rd);
}

Test(csv, a_quote_inside_an_unquoted_field_is_kept)
{
    struct reader rd;

    OPEN(&rd, "5\" screen,x\n");
    RECORD(&rd, 1, "5\" screen", "x");
}
