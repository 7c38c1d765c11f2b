/* names.c - the naming rule for clusters, streams and topics (names.h). */
#include "names.h"

#include <string.h>

bool name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255 || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}
