#!/usr/bin/env bash
# scripts/demo.sh - the seed scenario, run by `make demo` (as root):
# mount the repository's mount.conf (two local clusters, sanfrancisco and
# newyork), make /mapr/<cluster>/activity on both, set up multi-master
# replication with the seed's `maprcli ... autosetup` command, append a real
# text file line by line - half on each side, both at once, into the same topic - and show
# that both sides end with every line exactly once, nothing echoed.
#
#   MOUNT=/some/dir make demo     mount elsewhere than /mapr
#   INPUT=/path/to/file make demo use another text file
set -euo pipefail
cd "$(dirname "$0")/.."

MOUNT=${MOUNT:-/mapr}
CONF=$PWD/mount.conf
LOG=$PWD/data/streamfs.log
SF=$MOUNT/sanfrancisco/activity
NY=$MOUNT/newyork/activity

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

pick_input() {
	local f
	for f in "${INPUT:-}" /usr/share/common-licenses/GPL-3 /var/log/dpkg.log /etc/services; do
		[[ -n $f && -r $f && -s $f ]] && { echo "$f"; return; }
	done
	die "no readable text file found; set INPUT=/path/to/file"
}

# A stale mount from an earlier run: unmount it if it is ours, refuse otherwise.
if awk -v m="$MOUNT" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
	fstype=$(awk -v m="$MOUNT" '$2 == m { print $3 }' /proc/mounts | tail -n 1)
	if [[ $fstype == fuse.streamfs ]]; then
		say "unmounting the streamfs left on $MOUNT by an earlier run"
		fusermount3 -u "$MOUNT" 2>/dev/null || fusermount3 -uz "$MOUNT" ||
			die "cannot unmount the old streamfs on $MOUNT"
		for _ in $(seq 50); do
			awk -v m="$MOUNT" '$2 == m { f = 1 } END { exit !f }' /proc/mounts || break
			sleep 0.1
		done
	else
		die "$MOUNT is already a mount point of type $fstype; choose another with MOUNT=dir"
	fi
fi
mkdir -p "$MOUNT" data

say "mounting $CONF on $MOUNT (log: $LOG)"
./streamfs -c "$CONF" -l "$LOG" "$MOUNT"
for _ in $(seq 100); do
	awk -v m="$MOUNT" '$2 == m { f = 1 } END { exit !f }' /proc/mounts && break
	sleep 0.1
done
ls "$MOUNT"

# Start from empty streams: remove what an earlier demo left, through the
# filesystem itself.
# Replicas first, on both sides, so nothing is sent to a side that no
# longer accepts it.
for s in "$SF" "$NY"; do [[ -d $s ]] && : >"$s/.replicas"; done
for s in "$SF" "$NY"; do
	if [[ -d $s ]]; then
		: >"$s/.upstreams"
		find "$s" -mindepth 1 -maxdepth 1 -type f ! -name '.*' -delete
		rmdir "$s"
	fi
done

say "creating the source stream"
set -x
mkdir "$SF"
{ set +x; } 2>/dev/null

say "multi-master replication, as MapR does it (maprcli writes the control files)"
# maprcli finds the mount itself when it is /mapr; elsewhere it is told.
export STREAMFS_MOUNT=$MOUNT
set -x
./maprcli stream replica autosetup -path /mapr/sanfrancisco/activity \
	-replica /mapr/newyork/activity -multimaster yes
{ set +x; } 2>/dev/null
echo "what that did, seen through the control files:"
for f in "$SF/.replicas" "$SF/.upstreams" "$NY/.replicas" "$NY/.upstreams"; do
	printf '  %-45s %s\n' "${f#"$MOUNT"/}" "$(sed 's/ *#.*//' "$f")"
done
./maprcli stream replica list -path /mapr/sanfrancisco/activity

INPUT=$(pick_input)
total=$(wc -l <"$INPUT")
half=$((total / 2))
say "appending $INPUT ($total lines) line by line: lines 1-$half in sanfrancisco, the rest in newyork, at the same time, to the same topic"
head -n "$half" "$INPUT" | while IFS= read -r line; do printf '%s\n' "$line" >>"$SF/log"; done &
w1=$!
tail -n +"$((half + 1))" "$INPUT" | while IFS= read -r line; do printf '%s\n' "$line" >>"$NY/log"; done &
w2=$!
wait "$w1" "$w2"

say "waiting for both sides to hold all $total lines"
for _ in $(seq 300); do
	a=$(wc -l <"$SF/log") b=$(wc -l <"$NY/log")
	[[ $a -ge $total && $b -ge $total ]] && break
	sleep 0.1
done
sleep 0.5	# anything echoed back would show up now
a=$(wc -l <"$SF/log") b=$(wc -l <"$NY/log")
printf 'sanfrancisco/activity/log: %s messages\nnewyork/activity/log:      %s messages\ninput:                     %s lines\n' "$a" "$b" "$total"

want=$(sort "$INPUT" | md5sum | cut -d' ' -f1)
got_sf=$(sort "$SF/log" | md5sum | cut -d' ' -f1)
got_ny=$(sort "$NY/log" | md5sum | cut -d' ' -f1)
printf 'sorted checksum: input %s  sanfrancisco %s  newyork %s\n' "$want" "$got_sf" "$got_ny"
ok=1
[[ $a -eq $total && $b -eq $total ]] || ok=0
[[ $got_sf == "$want" && $got_ny == "$want" ]] || ok=0
./maprcli stream replica list -path /mapr/sanfrancisco/activity
./maprcli stream replica list -path /mapr/newyork/activity
if [[ $ok -eq 1 ]]; then
	say "OK: both sides hold the same $total messages, each exactly once; nothing was echoed back"
else
	say "FAILED: the two sides differ (see $LOG)"
fi

cat <<EOF2

Look around:
  # topics and the control files
  ls -a $SF
  # messages, one per line
  cat $NY/log | head
  # follow new messages (append one from another shell: echo hi >> $SF/log)
  tail -f $NY/log
  # replicas, with their status after ' # '
  cat $SF/.replicas
  # the stream's status as JSON
  cat $SF/.info
  STREAMFS_MOUNT=$MOUNT ./maprcli stream topic list -path /mapr/newyork/activity
  # pause, and resume
  echo /mapr/newyork/activity paused=true >> $SF/.replicas
  echo /mapr/newyork/activity paused=false >> $SF/.replicas
Unmount:
  fusermount3 -u $MOUNT
EOF2
[[ $ok -eq 1 ]]
