#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ct_buf_free(struct ct_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void ct_buf_reset(struct ct_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int ct_buf_reserve(struct ct_buf *b, size_t extra)
{
    size_t want, cap;
    char *bigger;

    if (b->failed)
        return -1;
    if (extra > (size_t)-1 / 2 - b->len)
        goto fail;
    want = b->len + extra + 1;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    bigger = realloc(b->data, cap);
    if (bigger == NULL)
        goto fail;
    b->data = bigger;
    b->cap = cap;
    return 0;
fail:
    b->failed = true;
    return -1;
}

int ct_buf_append(struct ct_buf *b, const void *data, size_t len)
{
    if (ct_buf_reserve(b, len) != 0)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int ct_buf_printf(struct ct_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ct_buf_reserve(b, (size_t)n) != 0) {
        b->failed = true;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Bytes a JSON string must escape: control characters, '"' and '\\'. */
static const bool json_escaped[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1,
};

char *ct_json_string_into(char *dst, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *run = (const unsigned char *)s, *end = run + len;

    /* runs of bytes that need no escape are copied whole: a diff renders ~100 MB of this */
    *dst++ = '"';
    for (const unsigned char *p = run; p < end; p++) {
        if (!json_escaped[*p])
            continue;
        memcpy(dst, run, (size_t)(p - run));
        dst += p - run;
        run = p + 1;
        *dst++ = '\\';
        switch (*p) {
        case '"':
        case '\\':
            *dst++ = (char)*p;
            break;
        case '\n':
            *dst++ = 'n';
            break;
        case '\r':
            *dst++ = 'r';
            break;
        case '\t':
            *dst++ = 't';
            break;
        default:
            memcpy(dst, "u00", 3);
            dst[3] = hex[*p >> 4];
            dst[4] = hex[*p & 15];
            dst += 5;
        }
    }
    memcpy(dst, run, (size_t)(end - run));
    dst += end - run;
    *dst++ = '"';
    return dst;
}

int ct_buf_json_string(struct ct_buf *b, const char *s)
{
    size_t len = strlen(s);
    char *end;

    if (ct_buf_reserve(b, CT_JSON_STRING_MAX(len)) != 0)
        return -1;
    end = ct_json_string_into(b->data + b->len, s, len);
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int ct_buf_html(struct ct_buf *b, const char *s)
{
    for (; s != NULL && *s; s++) {
        const char *ref = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&#39;"
                                       : NULL;
        if (ref != NULL)
            ct_buf_puts(b, ref);
        else
            ct_buf_append(b, s, 1);
    }
    return b->failed ? -1 : 0;
}
