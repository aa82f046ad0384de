#!/usr/bin/env bash
# mkcerts.sh DIR — throwaway test PKI for Zoll tests (synthetic, never for real use).
#
# Writes into DIR:
#   ca.key ca.pem              test CA
#   gateway.key gateway.pem    gateway server cert (localhost, 127.0.0.1, ::1)
#   upstream.key upstream.pem  mock providers (eu/us.mock.zoll.test, localhost, 127.0.0.1)
#   wrong.key wrong.pem        same CA, SAN wrong.example only (host-name mismatch tests)
#
# Idempotent: if every file exists, every cert is valid for at least one more
# day and the leaves still chain to ca.pem, nothing is touched.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
leaves=(gateway upstream wrong)
days=30

# Run openssl quietly; show its output only if it fails.
ossl() {
    local out
    if ! out=$(openssl "$@" 2>&1); then
        echo "mkcerts: openssl $1 failed:" >&2
        echo "$out" >&2
        return 1
    fi
}

still_valid() {
    local f
    for f in ca.key ca.pem; do [[ -s $dir/$f ]] || return 1; done
    openssl x509 -noout -checkend 86400 -in "$dir/ca.pem" >/dev/null 2>&1 || return 1
    for f in "${leaves[@]}"; do
        [[ -s $dir/$f.key && -s $dir/$f.pem ]] || return 1
        openssl x509 -noout -checkend 86400 -in "$dir/$f.pem" >/dev/null 2>&1 || return 1
        # A regenerated CA with stale leaves would make every TLS test fail obscurely.
        openssl verify -CAfile "$dir/ca.pem" "$dir/$f.pem" >/dev/null 2>&1 || return 1
    done
}

mkdir -p "$dir"
if still_valid; then
    exit 0
fi

# Build everything in a scratch dir inside DIR, then move into place, so an
# interrupted run never leaves a half-written PKI that looks complete.
work=$(mktemp -d "$dir/.mkcerts.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Own config so the host's openssl.cnf defaults (v3_ca etc.) can't interfere.
cat >"$work/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca

[dn]
CN = Zoll Test CA (synthetic, tests only)

[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[gateway]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

[upstream]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = DNS:eu.mock.zoll.test, DNS:us.mock.zoll.test, DNS:localhost, IP:127.0.0.1

[wrong]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = DNS:wrong.example
EOF

umask 077  # keys are created 0600
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
serial() { echo "0x$(openssl rand -hex 16)"; }

newkey "$work/ca.key"
ossl req -config "$work/openssl.cnf" -new -x509 -sha256 -days "$days" \
    -key "$work/ca.key" -out "$work/ca.pem" -set_serial "$(serial)"

declare -A cn=(
    [gateway]="Zoll test gateway"
    [upstream]="Zoll test mock upstream"
    [wrong]="wrong.example"
)
for leaf in "${leaves[@]}"; do
    newkey "$work/$leaf.key"
    ossl req -config "$work/openssl.cnf" -new -sha256 -key "$work/$leaf.key" \
        -subj "/CN=${cn[$leaf]}" -out "$work/$leaf.csr"
    ossl x509 -req -sha256 -days "$days" -in "$work/$leaf.csr" \
        -CA "$work/ca.pem" -CAkey "$work/ca.key" -set_serial "$(serial)" \
        -extfile "$work/openssl.cnf" -extensions "$leaf" -out "$work/$leaf.pem"
done

chmod 0600 "$work"/*.key
chmod 0644 "$work"/*.pem
for f in ca "${leaves[@]}"; do
    mv -f "$work/$f.key" "$work/$f.pem" "$dir/"
done
echo "certs in $dir"
