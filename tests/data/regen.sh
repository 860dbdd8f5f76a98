#!/usr/bin/env bash
# Regenerates the tpm2-tools fixtures in this folder against a private swtpm.
# Needs swtpm and tpm2-tools 5.x. The committed files make the tests independent of both;
# run this only to refresh them (every run produces different nonces and TPM blobs).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
swtpm_pid=""
cleanup() {
    if [ -n "$swtpm_pid" ]; then kill "$swtpm_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A free pair of loopback ports (data, data+1 for control).
pick_port() {
    python3 - <<'EOF'
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); continue
    a.close(); b.close(); print(p); break
EOF
}

port="$(pick_port)"
mkdir -p "$work/state"
swtpm socket --tpm2 --tpmstate dir="$work/state" \
    --server type=tcp,port="$port",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear &
swtpm_pid=$!
for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
done

export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
cd "$work"
# swtpm has no resource manager: transient objects stay loaded between tool runs, so flush
# them after every run that loads one (libtpms holds only 3).
flush() { tpm2_flushcontext -t; }

tpm2_createprimary -Q -C o -c primary.ctx; flush
tpm2_createprimary -Q -C o -G ecc -p pw123 -c pwprim.ctx; flush

tpm2_startauthsession -S trial.ctx
tpm2_startauthsession --policy-session -S policy.ctx
tpm2_startauthsession --hmac-session -S hmac.ctx
tpm2_startauthsession --audit-session -S audit.ctx
tpm2_startauthsession --hmac-session --tpmkey-context primary.ctx -S salted.ctx; flush
tpm2_startauthsession --hmac-session --bind-context pwprim.ctx --bind-auth pw123 -S bound.ctx; flush
tpm2_startauthsession --hmac-session -c primary.ctx -S salted_bound.ctx; flush

tpm2_startauthsession --policy-session -S policy_password.ctx
tpm2_policypassword -Q -S policy_password.ctx

# ESYS persists sessionKey||authValue in the file after a session authorizes an object
# (here pwprim's password "pw123"); the tests prove our writer drops it.
tpm2_startauthsession --hmac-session -S hmac_used.ctx
tpm2_create -Q -C pwprim.ctx -P session:hmac_used.ctx+pw123 -G keyedhash -u k.pub -r k.priv; flush

# Bare Esys_TR_Serialize blobs (no magic).
tpm2_evictcontrol -Q -C o -c primary.ctx 0x81000001 -o persistent.tr; flush
tpm2_readpublic -Q -c 0x81000001 -t readpublic.tr

for f in trial policy hmac audit salted bound salted_bound policy_password hmac_used primary pwprim; do
    cp "$f.ctx" "$here/$f.ctx"
done
cp persistent.tr readpublic.tr "$here/"
echo "fixtures written to $here"
