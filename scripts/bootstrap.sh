#!/usr/bin/env bash
# scripts/bootstrap.sh - install the Debian packages streamfs needs to build
# and test, and only those that are missing. Run by `make deps` (and before
# every build); when everything is present it is one silent dpkg-query.
# Installing needs root (or sudo); `apt-get update` runs only if needed.
#
#   bootstrap.sh            build and test (make deps, make test)
#   bootstrap.sh --bench    the same and what `make bench` needs besides
set -euo pipefail

PACKAGES=(
	build-essential pkg-config	# compiler, make, pkg-config
	libfuse3-dev fuse3		# libfuse 3 and fusermount3
	uuid-dev			# libuuid: stream UUIDs
	libinih-dev			# inih: mount.conf
	libjansson-dev			# jansson: .info JSON, maprcli -json
	libxxhash-dev			# xxhash: record checksums
	libcmocka-dev			# unit tests
	bats jq				# end-to-end tests
	clang libclang-rt-14-dev	# fuzzing: clang, libFuzzer + sanitizer runtimes
	liblz4-dev libzstd-dev		# gateway: compression of replication traffic
	libssl-dev			# gateway: TLS (OpenSSL)
	openssl				# scripts/gateway-certs.sh: CA and certificates
	iproute2 util-linux		# multi-host tests: ip netns, veth, bridge; nsenter
	iputils-ping			# multi-host tests: ping between namespaces
	man-db groff-base		# make install's test: man -l renders the man pages
	curl				# the metrics test scrapes [metrics] listen
	mount				# mount -t fuse.streamfs (mount(8)) in the install test
	nats-server libnats-dev		# clusters kept in NATS JetStream (fs/nats/): the
					# server (tests, bench figure 9) and the C client
)

# make bench only (never make test): figure 10's peer, sshfs over an sshd of
# the benchmark's own (on a port of 127.0.0.1, stopped by the benchmark).
# Not openssh-server: installing it starts the system's sshd on port 22;
# figure 10 measures sshfs where an sshd is installed already.
BENCH_PACKAGES=(openssh-client sshfs)

target="make deps"
case "${1:-}" in
	"") ;;
	--bench) PACKAGES+=(${BENCH_PACKAGES[@]+"${BENCH_PACKAGES[@]}"}); target="make bench" ;;
	*) echo "usage: bootstrap.sh [--bench]" >&2; exit 2 ;;
esac

# Packages dpkg knows as installed ("install ok installed" = "installed").
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
	"${PACKAGES[@]}" 2>/dev/null | awk '$2 == "installed" { print $1 }' || true)

missing=()
for p in "${PACKAGES[@]}"; do
	grep -qxF "$p" <<<"$installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null; then
		SUDO=(sudo)
	else
		echo "bootstrap: missing packages (${missing[*]}) and not root;" \
			"run '$target' as root" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
