#!/bin/sh
# Builds the kernel_rm guest's initramfs (cpio newc, gzip): busybox, INIT as /init, and each
# program as /bin/NAME together with the shared libraries and loader it links against, at
# the same absolute paths as on this host. busybox's own cpio writes the archive, so the
# host needs no cpio.
#
# usage: build-initrd.sh BUSYBOX INIT OUT.gz NAME=PROGRAM...
set -eu

die() { echo "build-initrd: $*" >&2; exit 1; }

BUSYBOX=$(realpath "$1"); INIT=$2; OUT=$3; shift 3
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT INT TERM
chmod 755 "$ROOT"   # mktemp makes it 0700; it becomes the guest's /
mkdir -p "$ROOT/bin" "$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/tmp"
cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in sh mount umount ls cat echo printf dd hexdump sleep poweroff mkdir dmesg grep head tail sed env; do
    ln -s busybox "$ROOT/bin/$applet"
done
cp "$INIT" "$ROOT/init"
chmod 755 "$ROOT/init"

for spec in "$@"; do
    name=${spec%%=*}; prog=${spec#*=}
    [ -f "$prog" ] || die "no such program: $prog"
    cp "$prog" "$ROOT/bin/$name"
    chmod 755 "$ROOT/bin/$name"
    # Debug info is most of a test binary's size and the guest never needs it.
    if command -v strip >/dev/null 2>&1; then strip --strip-debug "$ROOT/bin/$name"; fi
    for lib in $(ldd "$prog" 2>/dev/null | grep -o '/[^ ]*' || true); do
        [ -e "$ROOT$lib" ] && continue
        mkdir -p "$ROOT$(dirname "$lib")"
        cp -L "$lib" "$ROOT$lib"
    done
done

(cd "$ROOT" && find . | "$BUSYBOX" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 > "$OUT"
