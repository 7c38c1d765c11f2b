#!/usr/bin/env bats
# 46-diskfull.bats - a full disk (docs/storage.md): appends fail with ENOSPC and
# store nothing partial, reads and other topics keep working, appends work
# again once space is freed; a failed metadata write leaves the old file.
# The data directory is a small tmpfs that the test mounts and removes.

load helpers

FS=

setup() {
	sfs_mktemp
	FS=$TMP/small
	mkdir -p "$FS"
	mount -t tmpfs -o size=2m tmpfs "$FS"
	printf '[mount]\nmountpoint = %s\nsegment_bytes = 64K\n[cluster sanfrancisco]\ndata = %s/sf\n' \
		"$M" "$FS" >"$TMP/mount.conf"
	sfs_start
}

teardown() {
	if [[ -n ${SFS_PID:-} ]]; then sfs_stop || true; fi
	if [[ -n $FS ]] && awk -v m="$FS" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
		umount "$FS"
	fi
	sfs_teardown
}

# fill T: append "I-<900 x>" for I = 0, 1, ... with one write() each,
# in one process, until a write fails; prints "N ERRNO": how many were
# acknowledged, then the errno name of the failure (or "N none" at 5000)
fill() {
	python3 - "$1" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
pad = "x" * 900
i, why = 0, "none"
while i < 5000:
    data = f"{i}-{pad}\n".encode()
    try:
        n = os.write(fd, data)
    except OSError as e:
        why = errno.errorcode[e.errno]
        break
    if n != len(data):
        why = f"short:{n}"
        break
    i += 1
os.close(fd)
print(i, why)
PY
}

# append LINE to topic T with one write(); prints OK or the errno name
append() {
	python3 - "$1" "$2" <<'PY'
import os, sys, errno
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        n = os.write(fd, (sys.argv[2] + "\n").encode())
        assert n == len(sys.argv[2]) + 1
    finally:
        os.close(fd)
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}

@test "disk full: ENOSPC, nothing partial stored, reads keep working, appends resume after space is freed" {
	mkdir "$M/sanfrancisco/s"
	echo first >>"$M/sanfrancisco/s/other"
	# Fill most of the tmpfs from outside, leaving a little room.
	dd if=/dev/zero of="$FS/filler" bs=64K count=26 status=none 2>/dev/null || true
	local ok res
	read -r ok res < <(fill "$M/sanfrancisco/s/t")
	echo "acknowledged $ok, then $res"
	[ "$res" = ENOSPC ]
	[ "$ok" -gt 0 ]
	# Exactly the acknowledged messages, nothing partial.
	[ "$(wc -l <"$M/sanfrancisco/s/t")" -eq "$ok" ]
	[ "$(stat -c %s "$M/sanfrancisco/s/t")" -eq "$(cat "$M/sanfrancisco/s/t" | wc -c)" ]
	run cut -d- -f1 "$M/sanfrancisco/s/t"
	[ "${lines[0]}" = 0 ]
	[ "${lines[$((ok - 1))]}" = "$((ok - 1))" ]
	# Other topics still read.
	[ "$(cat "$M/sanfrancisco/s/other")" = first ]
	# Free the space: appends work again.
	rm -f "$FS/filler"
	[ "$(append "$M/sanfrancisco/s/t" after)" = OK ]
	[ "$(tail -n 1 "$M/sanfrancisco/s/t")" = after ]
	[ "$(wc -l <"$M/sanfrancisco/s/t")" -eq $((ok + 1)) ]
	# Everything survives a restart.
	sfs_stop
	sfs_start
	[ "$(wc -l <"$M/sanfrancisco/s/t")" -eq $((ok + 1)) ]
}

@test "disk full: a failed metadata write (chmod) leaves the old settings intact" {
	mkdir "$M/sanfrancisco/s"
	echo m >>"$M/sanfrancisco/s/t"
	chmod 0640 "$M/sanfrancisco/s/t"
	local free
	free=$(df --output=avail -B1 "$FS" | tail -n 1)
	fallocate -l "$free" "$FS/filler" 2>/dev/null || dd if=/dev/zero of="$FS/filler" bs=4K status=none 2>/dev/null || true
	run chmod 0600 "$M/sanfrancisco/s/t"
	[ "$status" -ne 0 ]
	[ "$(stat -c %a "$M/sanfrancisco/s/t")" = 640 ]
	run mkdir "$M/sanfrancisco/s2"
	[ "$status" -ne 0 ]
	[ ! -e "$M/sanfrancisco/s2" ]
	rm -f "$FS/filler"
	chmod 0600 "$M/sanfrancisco/s/t"
	[ "$(stat -c %a "$M/sanfrancisco/s/t")" = 600 ]
	sfs_stop
	sfs_start
	[ "$(stat -c %a "$M/sanfrancisco/s/t")" = 600 ]
	[ "$(cat "$M/sanfrancisco/s/t")" = m ]
}
