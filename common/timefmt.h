/*
 * timefmt.h - clocks, and ISO 8601 times as the contract reads and writes them.
 *
 * Every time inside citytally is an int64 count of milliseconds since the Unix epoch.
 * Times without an offset, and all report output, are in Asia/Shanghai (UTC+8, no DST
 * since 1991), so the zone is a constant rather than a tz database lookup. A bare date
 * means the end of that day there: 2015-06-30 is 2015-06-30T23:59:59.999+08:00, so
 * "as of 2015-06-30" includes everything observed on the 30th. No allocation.
 */
#ifndef CT_TIMEFMT_H
#define CT_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define CT_TZ_OFFSET_MS (8 * 3600 * 1000LL)
#define CT_TIME_TEXT_MAX 40 /* "2015-06-30T17:00:00.123+08:00" and NUL, with room */

/* Wall-clock and monotonic now, in milliseconds. */
int64_t ct_time_now_ms(void);
int64_t ct_time_mono_ms(void);

/* Parses `text` into ms since the epoch. Accepts YYYY-MM-DD (also YYYY/M/D, as Excel on
 * Chinese Windows writes dates) optionally followed by 'T' or ' ' and HH:MM[:SS[.fff]],
 * then optionally 'Z' or an offset (+08:00, +0800, +08). Returns 0, or -1 with a reason. */
int ct_time_parse(const char *text, int64_t *ms_out, char *err, size_t err_size);

/* Formats `ms` as ISO 8601 in UTC+8: "2015-06-30T17:00:00+08:00", with ".fff" only when the
 * milliseconds are not zero. Returns the length written. */
size_t ct_time_format(int64_t ms, char *buf, size_t size);

/* The instant year `year` starts in UTC+8 (Jan 1 00:00:00+08:00), in ms. */
int64_t ct_time_year_start_ms(int year);

/* The calendar year (UTC+8) that contains `ms`. */
int ct_time_year_of(int64_t ms);

#endif
