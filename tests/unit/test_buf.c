/*
 * test_buf.c - common/buf.c: the growable buffer behind JSON, CSV and COPY documents.
 */
#include "buf.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

Test(buf, appends_accumulate_and_stay_terminated)
{
    struct ct_buf b = CT_BUF_INIT;

    cr_assert_eq(ct_buf_append(&b, "ab", 2), 0);
    cr_assert_eq(ct_buf_puts(&b, "cd"), 0);
    cr_assert_eq(ct_buf_printf(&b, "-%d-%s", 42, "x"), 0);
    cr_assert_eq(b.len, 9);
    cr_assert_str_eq(b.data, "abcd-42-x");
    cr_assert_not(b.failed);
    ct_buf_free(&b);
}

Test(buf, binary_data_with_nul_bytes_is_kept)
{
    struct ct_buf b = CT_BUF_INIT;

    cr_assert_eq(ct_buf_append(&b, "a\0b", 3), 0);
    cr_assert_eq(b.len, 3);
    cr_assert_eq(memcmp(b.data, "a\0b", 4), 0); /* and the terminator after them */
    ct_buf_free(&b);
}

Test(buf, an_empty_append_terminates_an_empty_buffer)
{
    struct ct_buf b = CT_BUF_INIT;

    cr_assert_eq(ct_buf_append(&b, "", 0), 0);
    cr_assert_not_null(b.data);
    cr_assert_str_eq(b.data, "");
    cr_assert_eq(ct_buf_printf(&b, "%s", ""), 0);
    cr_assert_str_eq(b.data, "");
    ct_buf_free(&b);
}

Test(buf, it_grows_to_any_size)
{
    struct ct_buf b = CT_BUF_INIT;
    char chunk[1000];

    memset(chunk, 'q', sizeof(chunk));
    for (int i = 0; i < 3000; i++)
        cr_assert_eq(ct_buf_append(&b, chunk, sizeof(chunk)), 0);
    cr_assert_eq(b.len, 3000000);
    cr_assert_geq(b.cap, b.len + 1);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert_eq(b.data[2999999], 'q');
    /* a printf bigger than the whole buffer so far */
    cr_assert_eq(ct_buf_printf(&b, "%5000000s", "end"), 0);
    cr_assert_eq(b.len, 8000000);
    cr_assert_str_eq(b.data + b.len - 3, "end");
    ct_buf_free(&b);
}

Test(buf, reset_keeps_the_memory)
{
    struct ct_buf b = CT_BUF_INIT;
    char *before;
    size_t cap;

    ct_buf_puts(&b, "a first document, long enough to need its own allocation");
    before = b.data;
    cap = b.cap;
    ct_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    ct_buf_puts(&b, "second");
    cr_assert_eq(b.data, before);
    cr_assert_eq(b.cap, cap);
    cr_assert_str_eq(b.data, "second");
    ct_buf_free(&b);
}

Test(buf, reset_of_a_never_used_buffer_is_safe)
{
    struct ct_buf b = CT_BUF_INIT;

    ct_buf_reset(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    ct_buf_free(&b);
}

Test(buf, free_leaves_an_empty_reusable_buffer)
{
    struct ct_buf b = CT_BUF_INIT;

    ct_buf_puts(&b, "x");
    ct_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, 0);
    ct_buf_free(&b); /* twice is fine */
    cr_assert_eq(ct_buf_puts(&b, "again"), 0);
    cr_assert_str_eq(b.data, "again");
    ct_buf_free(&b);
}

Test(buf, failure_is_sticky_until_reset)
{
    struct ct_buf b = CT_BUF_INIT;

    ct_buf_puts(&b, "ok");
    /* a size no allocator can give: refused without touching what is there */
    cr_assert_eq(ct_buf_append(&b, "x", SIZE_MAX - 8), -1);
    cr_assert(b.failed);
    cr_assert_str_eq(b.data, "ok");
    cr_assert_eq(ct_buf_puts(&b, "more"), -1, "later appends are no-ops");
    cr_assert_eq(ct_buf_printf(&b, "%d", 1), -1);
    cr_assert_eq(ct_buf_json_string(&b, "s"), -1);
    cr_assert_eq(b.len, 2);
    cr_assert_str_eq(b.data, "ok");
    ct_buf_reset(&b);
    cr_assert_not(b.failed);
    cr_assert_eq(ct_buf_puts(&b, "fresh"), 0);
    cr_assert_str_eq(b.data, "fresh");
    ct_buf_free(&b);
}

static void json(const char *in, const char *want)
{
    struct ct_buf b = CT_BUF_INIT;

    cr_assert_eq(ct_buf_json_string(&b, in), 0);
    cr_assert_str_eq(b.data, want);
    ct_buf_free(&b);
}

Test(buf, json_strings_are_quoted_and_escaped)
{
    json("", "\"\"");
    json("plain", "\"plain\"");
    json("say \"hi\"", "\"say \\\"hi\\\"\"");
    json("back\\slash", "\"back\\\\slash\"");
    json("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
    json("\x01\x1f", "\"\\u0001\\u001f\"");
    json("高新技术 </script>", "\"高新技术 </script>\""); /* UTF-8 is written as is */
}

Test(buf, json_strings_append_after_other_text)
{
    struct ct_buf b = CT_BUF_INIT;

    ct_buf_puts(&b, "{\"code\":");
    ct_buf_json_string(&b, "hightech_output");
    ct_buf_puts(&b, "}");
    cr_assert_not(b.failed);
    cr_assert_str_eq(b.data, "{\"code\":\"hightech_output\"}");
    ct_buf_free(&b);
}

Test(buf, html_escapes_the_five_characters_and_nothing_else)
{
    struct ct_buf b = CT_BUF_INIT;

    cr_assert_eq(ct_buf_html(&b, "<a href=\"x\">R&D's 研发</a>"), 0);
    cr_assert_eq(ct_buf_html(&b, NULL), 0);
    cr_assert_str_eq(b.data, "&lt;a href=&quot;x&quot;&gt;R&amp;D&#39;s 研发&lt;/a&gt;");
    ct_buf_free(&b);
}
