/*
 * mountinfo.h - the one reader of the kernel's mount table (/proc/mounts,
 * format of fstab(5)/proc(5)), used by the daemon to refuse a mountpoint in
 * use (fs/main.c) and by maprcli to find streamfs mounts (cli/mount.c).
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

/*
 * mountinfo_foreach - call FN(mountpoint, fstype, ARG) for each line of the
 * mount table FILE (NULL: /proc/self/mounts), the mount point and type
 * unescaped; the strings live until FN returns. A non-zero return of FN
 * stops the walk and is returned. Returns 0 after the last line, or a
 * negative errno (fopen, -ENOMEM).
 */
int mountinfo_foreach(const char *file, int (*fn)(const char *mountpoint, const char *fstype,
						  void *arg),
		      void *arg);

/*
 * mountinfo_is_mountpoint - is PATH (absolute, as given) a mount point in
 * this process's mount namespace? 1 yes, 0 no, or a negative errno when the
 * table cannot be read.
 */
int mountinfo_is_mountpoint(const char *path);

#endif
