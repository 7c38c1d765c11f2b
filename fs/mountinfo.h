/*
 * mountinfo.h - reading the kernel's mount tables (/proc/mounts,
 * /proc/self/mountinfo), used by maprcli (cli/mount.c) to find mounts.
 */
#ifndef STREAMFS_MOUNTINFO_H
#define STREAMFS_MOUNTINFO_H

/*
 * mountinfo_unescape - undo, in place, the octal escapes the kernel puts in
 * the paths of its mount tables (\040 for a space, \011 tab, \012 newline,
 * \134 backslash), so S can be compared with a path as given.
 * Source: proc(5), /proc/pid/mountinfo; fs/proc_namespace.c (mangle()).
 */
void mountinfo_unescape(char *s);

#endif
