/*
 * config_values.h - the value syntaxes of mount.conf, shared by the parts
 * of the configuration's parser (fs/config.c, and each section's keys
 * kept in a file of their own). Pure functions, no state.
 */
#ifndef STREAMFS_CONFIG_VALUES_H
#define STREAMFS_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KIB (1024ull)
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)

/*
 * config_resolve_path - join DIR and P (P taken as is when absolute) and
 * tidy the result lexically: repeated '/' and '.' components go, '..'
 * stays (a symlink may make it mean something else than the parent).
 * Returns a malloc'd string (the caller frees it), or NULL when out of
 * memory.
 */
char *config_resolve_path(const char *dir, const char *p);

/*
 * config_parse_size - a byte count: decimal digits, optionally followed
 * by K, M or G (either case, powers of 1024), optionally followed by "iB"
 * or "B", into *OUT. False (nothing stored) for anything else or a value
 * past 2^64 - 1.
 */
bool config_parse_size(const char *s, uint64_t *out);

/* config_parse_uint - a plain decimal number (no sign, no suffix) into
 * *OUT; false for anything else or past 2^64 - 1. */
bool config_parse_uint(const char *s, uint64_t *out);

/* config_fmt_size - V bytes for messages into BUF (LEN bytes): "1G",
 * "64M", "4K" or plain bytes. */
void config_fmt_size(char *buf, size_t len, uint64_t v);

#endif
