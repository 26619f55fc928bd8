/*
 * test_text.c - common/text.c: UTF-8 and id checks, bounded copies, escaping for logs.
 */
#include "text.h"

#include <criterion/criterion.h>
#include <string.h>

#define VALID(literal) ct_utf8_valid(literal, sizeof(literal) - 1)

Test(text, utf8_accepts_every_well_formed_sequence_length)
{
    cr_assert(VALID(""));
    cr_assert(VALID("plain ASCII, with punctuation!"));
    cr_assert(VALID("\x7f"));             /* U+007F, the last one-byte character */
    cr_assert(VALID("\xc2\x80"));         /* U+0080 */
    cr_assert(VALID("\xdf\xbf"));         /* U+07FF */
    cr_assert(VALID("\xe0\xa0\x80"));     /* U+0800 */
    cr_assert(VALID("\xed\x9f\xbf"));     /* U+D7FF, just below the surrogates */
    cr_assert(VALID("\xee\x80\x80"));     /* U+E000, just above them */
    cr_assert(VALID("\xef\xbf\xbf"));     /* U+FFFF */
    cr_assert(VALID("\xf0\x90\x80\x80")); /* U+10000 */
    cr_assert(VALID("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last code point */
    cr_assert(VALID("郑州市科技局 2015 年"));
    cr_assert(VALID("\xef\xbb\xbf")); /* a BOM is a character like any other */
}

Test(text, utf8_refuses_malformed_sequences)
{
    cr_assert_not(VALID("\x80")); /* lone continuation byte */
    cr_assert_not(VALID("a\xbf"));
    cr_assert_not(VALID("\xc0\x80"));         /* overlong NUL */
    cr_assert_not(VALID("\xc1\xbf"));         /* overlong U+007F */
    cr_assert_not(VALID("\xe0\x9f\xbf"));     /* overlong U+07FF */
    cr_assert_not(VALID("\xf0\x8f\xbf\xbf")); /* overlong U+FFFF */
    cr_assert_not(VALID("\xed\xa0\x80"));     /* U+D800, a surrogate */
    cr_assert_not(VALID("\xed\xbf\xbf"));     /* U+DFFF */
    cr_assert_not(VALID("\xf4\x90\x80\x80")); /* U+110000 */
    cr_assert_not(VALID("\xf5\x80\x80\x80"));
    cr_assert_not(VALID("\xff"));
    cr_assert_not(VALID("\xfe\xff"));
    cr_assert_not(VALID("\xe9\xab")); /* 高 cut short */
    cr_assert_not(VALID("\xe9\xab"
                        "a"));
    cr_assert_not(VALID("\xc3"
                        "("));                /* lead byte then ASCII */
    cr_assert_not(VALID("\xd6\xd0\xb9\xfa")); /* 中国 in GBK */
    cr_assert_not(VALID("a\0b"));             /* NUL would cut a C string short */
}

Test(text, utf8_length_is_respected)
{
    /* the first two bytes of 高 alone are invalid; the whole is fine */
    cr_assert_not(ct_utf8_valid("高", 2));
    cr_assert(ct_utf8_valid("高", 3));
    cr_assert(ct_utf8_valid("高\xff", 3));
}

Test(text, ids_are_short_words_of_a_z_0_9_dash_underscore)
{
    char id[CT_ID_MAX + 2];

    cr_assert(ct_id_valid("erqi", 4));
    cr_assert(ct_id_valid("a", 1));
    cr_assert(ct_id_valid("-", 1));
    cr_assert(ct_id_valid("zhengdong_new-district-01", 25));
    memset(id, 'z', sizeof(id));
    cr_assert(ct_id_valid(id, CT_ID_MAX));
    cr_assert_not(ct_id_valid(id, CT_ID_MAX + 1));
    cr_assert_not(ct_id_valid("", 0));
    cr_assert_not(ct_id_valid("Erqi", 4));
    cr_assert_not(ct_id_valid("er qi", 5));
    cr_assert_not(ct_id_valid("er.qi", 5));
    cr_assert_not(ct_id_valid("a/b", 3));
    cr_assert_not(ct_id_valid("二七", 6));
    cr_assert_not(ct_id_valid("ab\0c", 4));
    cr_assert(ct_id_valid("ab\0c", 2)); /* only `len` bytes are looked at */
}

Test(text, strlcpy_always_terminates_and_reports_the_source_length)
{
    char dst[8];

    cr_assert_eq(ct_strlcpy(dst, "short", sizeof(dst)), 5);
    cr_assert_str_eq(dst, "short");
    cr_assert_eq(ct_strlcpy(dst, "exactly", sizeof(dst)), 7);
    cr_assert_str_eq(dst, "exactly");
    cr_assert_eq(ct_strlcpy(dst, "much too long", sizeof(dst)), 13);
    cr_assert_str_eq(dst, "much to");
    cr_assert_eq(ct_strlcpy(dst, "x", 1), 1);
    cr_assert_str_eq(dst, "");
    dst[0] = '!';
    cr_assert_eq(ct_strlcpy(dst, "abc", 0), 3);
    cr_assert_eq(dst[0], '!', "size 0 writes nothing");
}

static const char *escape(const char *in, size_t len, size_t out_size)
{
    static char out[256];
    memset(out, '#', sizeof(out));
    ct_text_escape(in, len, out, out_size);
    cr_assert_lt(strlen(out), out_size, "wrote past out_size");
    return out;
}

#define ESC(literal, size) escape(literal, sizeof(literal) - 1, size)

Test(text, escape_keeps_printable_text_and_utf8)
{
    cr_assert_str_eq(ESC("hello, world", 64), "hello, world");
    cr_assert_str_eq(ESC("郑州 2015", 64), "郑州 2015");
    cr_assert_str_eq(ESC("", 64), "");
}

Test(text, escape_renders_control_bytes_backslashes_and_bad_utf8_as_hex)
{
    cr_assert_str_eq(ESC("a\nb", 64), "a\\x0ab");
    cr_assert_str_eq(ESC("tab\there", 64), "tab\\x09here");
    cr_assert_str_eq(ESC("\x1b[31m", 64), "\\x1b[31m");
    cr_assert_str_eq(ESC("\x7f", 64), "\\x7f");
    cr_assert_str_eq(ESC("back\\slash", 64), "back\\x5cslash"); /* so \x.. is unambiguous */
    cr_assert_str_eq(ESC("bad \xff\xfe", 64), "bad \\xff\\xfe");
    cr_assert_str_eq(ESC("\xe9\xab", 64), "\\xe9\\xab"); /* a cut-short character */
    cr_assert_str_eq(ESC("a\0b", 64), "a\\x00b");
}

Test(text, escape_renders_c1_controls_as_hex_and_keeps_the_rest_of_latin1)
{
    /* U+009B is CSI: "\xc2\x9b" "2J" clears a terminal that honours C1 controls. */
    cr_assert_str_eq(ESC("a\xc2\x9b"
                         "2J",
                         64),
                     "a\\xc2\\x9b2J");
    cr_assert_str_eq(ESC("\xc2\x85", 64), "\\xc2\\x85");               /* NEL: a new line */
    cr_assert_str_eq(ESC("\xc2\xa0\xc3\xa9", 64), "\xc2\xa0\xc3\xa9"); /* NBSP, e-acute */
}

Test(text, escape_copies_text_that_fits_exactly)
{
    cr_assert_str_eq(ESC("abc", 4), "abc");
    cr_assert_str_eq(ESC("\n", 5), "\\x0a");
    cr_assert_str_eq(ESC("高", 4), "高");
}

Test(text, escape_cuts_with_an_ellipsis_and_never_splits_a_character)
{
    cr_assert_str_eq(ESC("abcdef", 6), "ab...");
    cr_assert_str_eq(ESC("abcd", 4), "...");
    cr_assert_str_eq(ESC("高新技术", 8), "高..."); /* 3 + 3 + NUL, never 高 + half */
    cr_assert_str_eq(ESC("a\n\n\n", 8), "a...");   /* never half of \x0a */
    cr_assert_str_eq(ESC("abcdef", 3), "");        /* no room even for the dots */
    cr_assert_str_eq(ESC("abcdef", 1), "");
}

Test(text, escape_into_nothing_writes_nothing)
{
    char out[4] = "xyz";

    ct_text_escape("abc", 3, out, 0);
    cr_assert_str_eq(out, "xyz");
}
