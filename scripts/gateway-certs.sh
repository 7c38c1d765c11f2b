#!/usr/bin/env bash
# scripts/gateway-certs.sh - make the TLS files of streamfs gateways: one
# certificate authority (CA), and for each daemon a key and a certificate
# signed by that CA that names the daemon's local clusters. Uses only the
# `openssl` command.
#
#   scripts/gateway-certs.sh ca DIR
#       DIR/ca.key and DIR/ca.crt: a self-signed CA (EC P-256, 10 years).
#       Does nothing if DIR/ca.crt exists already, so the certificates it
#       signed stay valid.
#   scripts/gateway-certs.sh cert DIR NAME CLUSTER...
#       DIR/NAME.key and DIR/NAME.crt, signed by DIR/ca.key (run `ca DIR`
#       first): CN = the first CLUSTER, one subjectAltName DNS:CLUSTER for
#       each CLUSTER, usable as TLS server and client, 10 years. Replaces
#       DIR/NAME.* if they exist.
#
# Every daemon gets the same ca.crt, and its own NAME.crt and NAME.key,
# which must name each local cluster of that daemon:
#
#     scripts/gateway-certs.sh ca    /etc/streamfs/tls
#     scripts/gateway-certs.sh cert  /etc/streamfs/tls host-a sanfrancisco newyork
#     scripts/gateway-certs.sh cert  /etc/streamfs/tls host-b london
#
#     [gateway]                     ; mount.conf of host-a
#     listen = 192.0.2.10:5660
#     cert = /etc/streamfs/tls/host-a.crt
#     key  = /etc/streamfs/tls/host-a.key
#     ca   = /etc/streamfs/tls/ca.crt
#
# Key files are written with mode 0600: keep them on their own host.
# ca.key signs certificates and nothing else: it need not be copied to any
# daemon.
set -euo pipefail

DAYS=3650	# 10 years

usage() {
	cat >&2 <<'EOF'
usage: gateway-certs.sh ca DIR
       gateway-certs.sh cert DIR NAME CLUSTER...

  ca DIR                    make DIR/ca.key and DIR/ca.crt (a self-signed CA),
                            unless DIR/ca.crt exists
  cert DIR NAME CLUSTER...  make DIR/NAME.key and DIR/NAME.crt, signed by the
                            CA in DIR, naming each CLUSTER (subjectAltName DNS)

NAME and CLUSTER: letters, digits, '.', '_' and '-'.
EOF
	exit 2
}

die() {
	echo "gateway-certs.sh: $*" >&2
	exit 1
}

# valid_name WORD: WORD is a cluster or file name (A-Za-z0-9._-, not "."
# nor ".." nor starting with '-').
valid_name() {
	[[ $1 =~ ^[A-Za-z0-9._][A-Za-z0-9._-]*$ && $1 != . && $1 != .. ]]
}

# new_key FILE: a new EC P-256 private key in FILE, mode 0600.
new_key() {
	(umask 077 && openssl genpkey -algorithm EC \
		-pkeyopt ec_paramgen_curve:P-256 -out "$1")
	chmod 600 "$1"
}

make_ca() {
	local dir=$1
	if [[ -e $dir/ca.crt ]]; then
		echo "gateway-certs.sh: $dir/ca.crt exists, kept" >&2
		return 0
	fi
	mkdir -p "$dir"
	new_key "$dir/ca.key"
	openssl req -new -x509 -key "$dir/ca.key" -out "$dir/ca.crt" \
		-days "$DAYS" -subj "/CN=streamfs gateway CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign"
	echo "gateway-certs.sh: made $dir/ca.crt and $dir/ca.key" >&2
}

make_cert() {
	local dir=$1 name=$2
	shift 2
	local clusters=("$@") c san=
	[[ -f $dir/ca.crt && -f $dir/ca.key ]] ||
		die "$dir/ca.crt and $dir/ca.key are needed: run '$0 ca $dir' first"
	for c in "${clusters[@]}"; do
		san+="${san:+,}DNS:$c"
	done

	# The certificate's extensions, in a file of the form openssl x509
	# -extfile reads.
	local ext csr
	ext=$(mktemp "$dir/.$name.ext.XXXXXX")
	csr=$(mktemp "$dir/.$name.csr.XXXXXX")
	# shellcheck disable=SC2064	# expand now: the names are set
	trap "rm -f '$ext' '$csr'" EXIT
	cat >"$ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF

	new_key "$dir/$name.key"
	openssl req -new -key "$dir/$name.key" -subj "/CN=${clusters[0]}" \
		-out "$csr"
	# (openssl x509 chats on stderr even when all is well: show it only
	# if it fails)
	local out
	if ! out=$(openssl x509 -req -in "$csr" -CA "$dir/ca.crt" \
		-CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
		-days "$DAYS" -extfile "$ext" -out "$dir/$name.crt" 2>&1); then
		printf '%s\n' "$out" >&2
		die "openssl could not sign $dir/$name.crt"
	fi
	chmod 644 "$dir/$name.crt"
	echo "gateway-certs.sh: made $dir/$name.crt ($san) and $dir/$name.key" >&2
}

[[ $# -ge 1 ]] || usage
case $1 in
ca)
	[[ $# -eq 2 && -n $2 ]] || usage
	make_ca "$2"
	;;
cert)
	[[ $# -ge 4 && -n $2 ]] || usage
	valid_name "$3" || die "bad NAME '$3' (letters, digits, '.', '_', '-')"
	[[ $3 != ca ]] || die "NAME 'ca' is the CA's own file name; choose another"
	for c in "${@:4}"; do
		valid_name "$c" ||
			die "bad CLUSTER '$c' (letters, digits, '.', '_', '-')"
	done
	make_cert "$2" "$3" "${@:4}"
	;;
-h | --help | help)
	usage
	;;
*)
	echo "gateway-certs.sh: unknown command '$1'" >&2
	usage
	;;
esac
