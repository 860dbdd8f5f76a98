#!/usr/bin/env bash
# The whole test suite: unit, property and integration tests against a private swtpm,
# tpm2-tools interoperability, and the kernel resource manager under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo test --all-targets --all-features "$@"
# The examples in the API documentation (not part of --all-targets).
cargo test --doc --all-features
