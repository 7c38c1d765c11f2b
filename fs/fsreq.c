/*
 * fsreq.c - the small helpers of the global namespace's requests and
 * answers (fsreq.h).
 */
#include "fsreq.h"

#include <stdlib.h>
#include <string.h>

void fs_rep_free(struct fs_rep *rep)
{
	free(rep->data);
	memset(rep, 0, sizeof(*rep));
}

const char *fs_op_name(int op)
{
	static const char *const names[] = {
		[FS_GETATTR] = "getattr", [FS_READDIR] = "readdir", [FS_READ] = "read",
		[FS_APPEND] = "append", [FS_CREATE] = "create", [FS_UNLINK] = "unlink",
		[FS_MKDIR] = "mkdir", [FS_RMDIR] = "rmdir", [FS_CHMOD] = "chmod",
		[FS_CHOWN] = "chown", [FS_WRITECTL] = "write", [FS_STATFS] = "statfs",
		[FS_OPEN] = "open",
	};
	return op >= 1 && op <= FS_OP_MAX ? names[op] : "?";
}
