/*
 * safetext.c - text made safe to log and to put in JSON (safetext.h).
 * UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing
 * past U+10FFFF.
 */
#include "safetext.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The length of the valid UTF-8 character at P (1 to 4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t cp, min;
	if ((c & 0xe0) == 0xc0) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *safetext(char *dst, size_t n, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t o = 0;
	while (*p) {
		size_t len = utf8_len(p);
		/* C0 controls, DEL, and the C1 controls (U+0080..U+009F, which
		 * UTF-8 writes as 0xC2 0x80..0x9F) */
		bool control = len == 1 ? (*p < 0x20 || *p == 0x7f)
					: len == 2 && p[0] == 0xc2 && p[1] < 0xa0;
		if (len && !control) {
			if (o + len >= n)
				break;
			for (size_t i = 0; i < len; i++)
				dst[o++] = (char)p[i];
			p += len;
			continue;
		}
		/* one byte as \xNN; the next byte starts afresh */
		if (o + 4 >= n)
			break;
		snprintf(dst + o, 5, "\\x%02X", *p);
		o += 4;
		p++;
	}
	dst[o] = 0;
	return dst;
}
