/*
 * buf.h - a growable byte buffer for building documents (JSON, CSV, COPY data, pages).
 *
 * A `struct ct_buf` owns its heap memory; ct_buf_free() releases it and leaves an empty
 * buffer. Appends never truncate: on allocation failure they return -1 and set `failed`,
 * and every later append is a no-op, so a caller may append many pieces and check once at
 * the end. `data` is always NUL-terminated when `len > 0` or after any successful append.
 */
#ifndef CT_BUF_H
#define CT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct ct_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

#define CT_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

void ct_buf_free(struct ct_buf *b);

/* Empties the buffer but keeps its memory for reuse; also clears `failed`. */
void ct_buf_reset(struct ct_buf *b);

int ct_buf_append(struct ct_buf *b, const void *data, size_t len);
/* Inline so that the length of a literal is known when compiling: documents are mostly
 * literals between values. */
static inline int ct_buf_puts(struct ct_buf *b, const char *s)
{
    return ct_buf_append(b, s, strlen(s));
}
int ct_buf_printf(struct ct_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends `s` as a JSON string literal, quotes included. `s` must be valid UTF-8. */
int ct_buf_json_string(struct ct_buf *b, const char *s);

/* For writers of large documents that reserve room once for many pieces: makes room for
 * `extra` more bytes (and the NUL) at data + len without writing them. Returns 0, or -1
 * (and `failed` is set). */
int ct_buf_reserve(struct ct_buf *b, size_t extra);

/* The most bytes ct_json_string_into() writes for `len` bytes of text. */
#define CT_JSON_STRING_MAX(len) (6 * (size_t)(len) + 2)

/* Writes the `len` bytes of `s` as a JSON string literal at `dst`, which has room for
 * CT_JSON_STRING_MAX(len) bytes, and returns the end. No NUL is written. */
char *ct_json_string_into(char *dst, const char *s, size_t len);

/* Appends `s` (NULL appends nothing) with & < > " ' as character references: safe as HTML
 * or SVG text and inside a quoted attribute. Returns 0, or -1 when the buffer could not
 * grow. Every page the daemons serve escapes what it did not write itself through this. */
int ct_buf_html(struct ct_buf *b, const char *s);

#endif
