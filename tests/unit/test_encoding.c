/* test_encoding.c - common/encoding.c: which bytes are read as what, and what comes out. */
#include "encoding.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char *convert_ok(const char *in, size_t len, enum ct_encoding want_enc, size_t *out_len)
{
    char *out = NULL, err[256] = "";
    enum ct_encoding enc = CT_ENCODING_UTF8;
    int rc = ct_text_to_utf8(NULL, in, len, &out, out_len, &enc, err, sizeof(err));
    cr_assert_eq(rc, 0, "conversion failed: %s", err);
    cr_assert_eq(enc, want_enc, "detected %s", ct_encoding_name(enc));
    cr_assert_not_null(out);
    cr_assert_eq(out[*out_len], '\0');
    return out;
}

static void convert_fails(const char *in, size_t len, const char *want_in_err)
{
    char *out = (char *)1, err[256] = "";
    size_t out_len = 99;
    enum ct_encoding enc;
    cr_assert_eq(ct_text_to_utf8(NULL, in, len, &out, &out_len, &enc, err, sizeof(err)), -1);
    cr_assert_null(out);
    cr_assert_not_null(strstr(err, want_in_err), "error was: %s", err);
}

Test(encoding, plain_utf8_is_copied_unchanged)
{
    const char *in = "indicator,value\n中原区,1\n";
    size_t n;
    char *out = convert_ok(in, strlen(in), CT_ENCODING_UTF8, &n);
    cr_assert_eq(n, strlen(in));
    cr_assert_str_eq(out, in);
    free(out);
}

Test(encoding, utf8_bom_is_detected_and_stripped)
{
    const char *in = "\xef\xbb\xbfindicator,value\r\n";
    size_t n;
    char *out = convert_ok(in, strlen(in), CT_ENCODING_UTF8_BOM, &n);
    cr_assert_str_eq(out, "indicator,value\r\n");
    cr_assert_eq(n, strlen(in) - 3);
    free(out);
}

Test(encoding, gbk_chinese_names_become_utf8)
{
    /* "中原区,高新技术产业产值" as Excel on Chinese Windows saves it (code page 936). */
    const char in[] = "\xd6\xd0\xd4\xad\xc7\xf8,\xb8\xdf\xd0\xc2\xbc\xbc\xca\xf5\xb2\xfa\xd2\xb5"
                      "\xb2\xfa\xd6\xb5\r\n";
    size_t n;
    char *out = convert_ok(in, sizeof(in) - 1, CT_ENCODING_GB18030, &n);
    cr_assert_str_eq(out, "中原区,高新技术产业产值\r\n");
    cr_assert_eq(n, strlen("中原区,高新技术产业产值\r\n"));
    free(out);
}

Test(encoding, gb18030_four_byte_characters_convert)
{
    const char in[] = "a,\x95\x32\x82\x36\n"; /* U+20000 */
    size_t n;
    char *out = convert_ok(in, sizeof(in) - 1, CT_ENCODING_GB18030, &n);
    cr_assert_str_eq(out, "a,\xf0\xa0\x80\x80\n");
    free(out);
}

Test(encoding, empty_input_is_empty_utf8)
{
    size_t n = 5;
    char *out = convert_ok("", 0, CT_ENCODING_UTF8, &n);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(out, "");
    free(out);
}

Test(encoding, bom_alone_is_empty_text)
{
    size_t n = 5;
    char *out = convert_ok("\xef\xbb\xbf", 3, CT_ENCODING_UTF8_BOM, &n);
    cr_assert_eq(n, 0);
    free(out);
}

Test(encoding, invalid_in_both_names_the_line)
{
    /* 0xFF is never valid in UTF-8 nor as a GB18030 byte. */
    const char in[] = "indicator,value\nrd_centers,1\nrd_centers,\xff\n";
    convert_fails(in, sizeof(in) - 1, "byte 0xFF on line 3");
}

Test(encoding, gbk_cut_short_at_the_end_is_refused)
{
    const char in[] = "a\n\xd6";
    convert_fails(in, sizeof(in) - 1, "cut short");
}

Test(encoding, nul_byte_is_refused_with_its_line)
{
    const char in[] = "a\nb\x00\n";
    convert_fails(in, sizeof(in) - 1, "NUL byte on line 2");
}

Test(encoding, utf16_is_refused_with_advice)
{
    convert_fails("\xff\xfei\x00", 4, "UTF-16");
}

Test(encoding, bom_then_invalid_utf8_is_refused)
{
    convert_fails("\xef\xbb\xbf\xd6\xd0", 5, "byte order mark");
}

Test(encoding, one_converter_serves_many_files_and_recovers_after_bad_bytes)
{
    struct ct_text_converter *conv = ct_text_converter_new();
    const char gbk[] = "\xd6\xd0\xd4\xad\xc7\xf8\n";
    const char cut[] = "\xd6\xd0\xd4"; /* ends in the middle of a character */
    char *out, err[256];
    size_t n;
    enum ct_encoding enc;
    cr_assert_not_null(conv);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ct_text_to_utf8(conv, gbk, sizeof(gbk) - 1, &out, &n, &enc, err, sizeof(err)),
                     0, "%s", err);
        cr_assert_str_eq(out, "中原区\n");
        free(out);
        cr_assert_eq(ct_text_to_utf8(conv, cut, sizeof(cut) - 1, &out, &n, &enc, err, sizeof(err)),
                     -1);
    }
    ct_text_converter_free(conv);
    ct_text_converter_free(NULL);
}
