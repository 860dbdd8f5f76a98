#!/usr/bin/env bash
# The main demo: seals a secret under a salted, bound HMAC session with parameter encryption
# and unseals it through an encrypted session. Uses the TPM named by TPM2TOOLS_TCTI, or starts
# a private swtpm when none is configured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
args=(--secret "${1:-hello from tpm2-wire}")
if [ -n "${TPM2TOOLS_TCTI:-}" ]; then args+=(-T "$TPM2TOOLS_TCTI"); fi
cargo run --quiet --release --features sim --example sealed_secret -- "${args[@]}"
