#!/usr/bin/env bash
# Makes sure the programs the demo and the tests talk to are installed: swtpm (the TPM),
# tpm2-tools (the independent peer for interoperability), OpenBSD netcat (the cmd: pipe
# recipe), and what the QEMU tests' tool script uses: xz-utils to unpack Debian packages,
# openssl to unlock the firmware's test signing key. Installs them with apt-get when running as root; otherwise says what to install.
set -euo pipefail

missing=()
command -v swtpm >/dev/null 2>&1 || missing+=(swtpm)
command -v swtpm_setup >/dev/null 2>&1 || missing+=(swtpm-tools)
command -v tpm2_startauthsession >/dev/null 2>&1 || missing+=(tpm2-tools)
command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ! command -v nc >/dev/null 2>&1 || ! nc -h 2>&1 | grep -qi openbsd; then
  missing+=(netcat-openbsd)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing programs; install the Debian packages: ${missing[*]}" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
