/*
 * text.h - checks and copies for untrusted text.
 *
 * Everything that arrives from the network, a CSV file or the command line passes through
 * these before it is stored or logged: identifiers must be short `[a-z0-9_-]` words, notes
 * and names must be valid UTF-8, and bytes echoed into a log line are escaped so that one
 * event stays one line. No function here allocates.
 */
#ifndef CT_TEXT_H
#define CT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define CT_ID_MAX 64 /* longest agent, district or indicator id, in bytes */

/* True when the `len` bytes at `s` are well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF) and contain no NUL. */
bool ct_utf8_valid(const char *s, size_t len);

/* True when `s` is 1..CT_ID_MAX bytes of [a-z0-9_-]. */
bool ct_id_valid(const char *s, size_t len);

/* Copies at most size-1 bytes and always terminates (size > 0). Returns strlen(src), so a
 * result >= size means the copy was truncated. */
size_t ct_strlcpy(char *dst, const char *src, size_t size);

/* Renders `len` untrusted bytes for a log line, an error message or a terminal: printable
 * ASCII and valid UTF-8 as-is, everything else (control characters C0 and C1, DEL, the
 * backslash, bad UTF-8) as \xNN per byte, cut with "..." when `out` is full. */
void ct_text_escape(const char *in, size_t len, char *out, size_t out_size);

#endif
