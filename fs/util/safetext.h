/*
 * safetext.h - text from users and peers made safe to log and to put in
 * JSON: a refused control-file line, a peer's error, a path. Bytes that
 * are not valid UTF-8, and control characters, are written as \xNN, so
 * a log line stays one line without terminal escapes, and jansson (which
 * refuses invalid UTF-8) can always render .info.
 */
#ifndef STREAMFS_SAFETEXT_H
#define STREAMFS_SAFETEXT_H

#include <stddef.h>

/*
 * safetext - copy the NUL-terminated SRC into DST (N bytes, N > 0), each
 * valid UTF-8 character that is not a control character (below U+0020,
 * U+007F, U+0080 to U+009F) as it is, every other byte as the four
 * characters \xNN (hex, upper case). Cut at a character's end, so DST is
 * valid UTF-8 and NUL-terminated whatever N. Returns DST. SRC and DST
 * must not overlap.
 */
char *safetext(char *dst, size_t n, const char *src);

#endif
