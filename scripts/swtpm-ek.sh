#!/usr/bin/env bash
# Starts a swtpm that a manufacturer could have shipped: swtpm_setup creates its EKs (RSA-2048
# at 0x81010001, ECC P-384 at 0x81010016) and writes their certificates to NV, signed by a
# private CA (swtpm_localca) that lives in DIR/ca, never the system's.
#
#   bash scripts/swtpm-ek.sh DIR [PORT]
#
# Prints the TCTI to use and the CA bundle (root and intermediate) to verify the EK
# certificates against, e.g. for the attest example:
#
#   cargo run --example attest --features ek -- -T "$TCTI" --ek-ca "$DIR/ca/bundle.pem"
#
# The swtpm runs in the background on 127.0.0.1:PORT (data) and PORT+1 (control); stop it with
# `kill "$(cat DIR/swtpm.pid)"` and remove DIR.
set -euo pipefail
dir=${1:?usage: swtpm-ek.sh DIR [PORT]}
port=${2:-2321}
for tool in swtpm swtpm_setup swtpm_localca certtool; do
    command -v "$tool" >/dev/null || {
        echo "swtpm-ek.sh: $tool not found; install the Debian packages swtpm, swtpm-tools and gnutls-bin (bash scripts/deps.sh does)" >&2
        exit 1
    }
done
mkdir -p "$dir/ca"
dir=$(cd "$dir" && pwd)
cat >"$dir/localca.conf" <<EOF
statedir = $dir/ca
signingkey = $dir/ca/signkey.pem
issuercert = $dir/ca/issuercert.pem
certserial = $dir/ca/certserial
EOF
cat >"$dir/localca.options" <<EOF
--platform-manufacturer tpm2-wire
--platform-version 2.1
--platform-model swtpm
EOF
cat >"$dir/setup.conf" <<EOF
create_certs_tool = swtpm_localca
create_certs_tool_config = $dir/localca.conf
create_certs_tool_options = $dir/localca.options
active_pcr_banks = sha256
EOF
swtpm_setup --tpm2 --tpmstate "$dir" --create-ek-cert --create-platform-cert --overwrite \
    --config "$dir/setup.conf" >"$dir/setup.log" 2>&1 || {
    echo "swtpm-ek.sh: swtpm_setup failed:" >&2
    cat "$dir/setup.log" >&2
    exit 1
}
cat "$dir/ca/swtpm-localca-rootca-cert.pem" "$dir/ca/issuercert.pem" >"$dir/ca/bundle.pem"
swtpm socket --tpm2 --tpmstate dir="$dir" \
    --server type=tcp,port="$port",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear --daemon --pid file="$dir/swtpm.pid"
echo "TCTI=swtpm:host=127.0.0.1,port=$port"
echo "CA=$dir/ca/bundle.pem"
