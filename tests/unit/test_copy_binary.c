/* aggregator/copy_binary.c: messages of COPY's binary format, well-formed and not. The
 * integration tests read real ones (test_diff_listing.c); these are built by hand. */
#include "copy_binary.h"

#include <criterion/criterion.h>
#include <string.h>

static const unsigned char header[] = {'P',  'G',  'C', 'O', 'P', 'Y', '\n', 0xff,
                                       '\r', '\n', 0,   0,   0,   0,   0, /* flags */
                                       0,    0,    0,   0 /* no extension */};

/* A row of an int4 42, a NULL and the text "ab". */
static const unsigned char row[] = {0,    3,    0,    0,    0, 4, 0, 0, 0,   42,
                                    0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 'a', 'b'};

static size_t message(unsigned char *out, bool with_header, const unsigned char *body, size_t n)
{
    size_t at = 0;

    if (with_header) {
        memcpy(out, header, sizeof(header));
        at = sizeof(header);
    }
    memcpy(out + at, body, n);
    return at + n;
}

static enum agg_copy_read read(struct agg_copy_reader *r, const unsigned char *m, size_t n,
                               const unsigned char **v, long *len)
{
    return agg_copy_read(r, m, n, 3, v, len);
}

Test(copy_binary, a_header_with_the_first_row_then_rows_then_the_trailer)
{
    struct agg_copy_reader r = {0};
    unsigned char m[128];
    const unsigned char *v[3];
    long len[3];
    size_t n = message(m, true, row, sizeof(row));

    cr_assert_eq(read(&r, m, n, v, len), AGG_COPY_ROW);
    cr_assert_eq(len[0], 4);
    cr_assert_eq(agg_copy_int32(v[0]), 42);
    cr_assert_eq(len[1], -1);
    cr_assert_null(v[1]);
    cr_assert_eq(len[2], 2);
    cr_assert_eq(memcmp(v[2], "ab", 2), 0);
    cr_assert_eq(read(&r, row, sizeof(row), v, len), AGG_COPY_ROW, "the header comes once");
    cr_assert_eq(read(&r, (const unsigned char[]){0xff, 0xff}, 2, v, len), AGG_COPY_END);
}

Test(copy_binary, a_header_alone_in_its_message)
{
    struct agg_copy_reader r = {0};
    const unsigned char *v[3];
    long len[3];

    cr_assert_eq(read(&r, header, sizeof(header), v, len), AGG_COPY_HEADER);
    cr_assert_eq(read(&r, row, sizeof(row), v, len), AGG_COPY_ROW);
}

static void expect_bad(bool with_header, const unsigned char *body, size_t n, const char *why)
{
    struct agg_copy_reader r = {.header_seen = !with_header};
    unsigned char m[128];
    const unsigned char *v[3];
    long len[3];
    size_t size = message(m, with_header, body, n);

    cr_assert_eq(read(&r, m, size, v, len), AGG_COPY_BAD, "%s", why);
    cr_assert_str_eq(r.why, why);
}

Test(copy_binary, malformed_messages_are_named)
{
    unsigned char long_row[sizeof(row) + 1];
    unsigned char huge[] = {0, 3, 0x80, 0, 0, 0};

    {
        struct agg_copy_reader r = {0};
        const unsigned char *v[3];
        long len[3];
        cr_assert_eq(read(&r, (const unsigned char *)"COPY", 4, v, len), AGG_COPY_BAD);
        cr_assert_str_eq(r.why, "not COPY's binary format");
        cr_assert_eq(read(&r, header, sizeof(header) - 1, v, len), AGG_COPY_BAD,
                     "the header cut short");
    }
    expect_bad(true, row, sizeof(row) - 1, "a row is cut short");
    expect_bad(true, row, 1, "a row is cut short");
    expect_bad(true, (const unsigned char[]){0, 2}, 2, "a row has the wrong number of fields");
    memcpy(long_row, row, sizeof(row));
    long_row[sizeof(row)] = 'x';
    expect_bad(true, long_row, sizeof(long_row), "a row is followed by stray bytes");
    expect_bad(true, (const unsigned char[]){0xff, 0xff, 0}, 3,
               "the trailer is followed by stray bytes");
    expect_bad(true, huge, sizeof(huge), "a row is cut short"); /* a length over 2^31 */
}

Test(copy_binary, integers_and_times_in_their_send_formats)
{
    const unsigned char minus_one[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const unsigned char big[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

    cr_assert_eq(agg_copy_int32(minus_one), -1);
    cr_assert_eq(agg_copy_int64(minus_one), -1);
    cr_assert_eq(agg_copy_int64(big), 0x0102030405060708LL);
    /* 2000-01-01 UTC is Unix 946684800000 ms; halves round away from zero */
    cr_assert_eq(agg_copy_timestamptz_ms(0), 946684800000LL);
    cr_assert_eq(agg_copy_timestamptz_ms(499), 946684800000LL);
    cr_assert_eq(agg_copy_timestamptz_ms(500), 946684800001LL);
    cr_assert_eq(agg_copy_timestamptz_ms(-946684800000000LL - 500), -1);
    cr_assert_eq(agg_copy_timestamptz_ms(-946684800000000LL - 499), 0);
}
