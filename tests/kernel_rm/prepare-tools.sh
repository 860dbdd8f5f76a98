#!/bin/sh
# Prepares the guest tools for the kernel_rm test in DIR, from Debian packages:
#   DIR/sys/...      extracted qemu-system-x86, qemu-system-common, qemu-system-data, seabios,
#                    ovmf (UEFI firmware for the measured-boot machines, usr/share/OVMF),
#                    sbsigntool (sbsign, sbattach: the kernel signed for secure boot)
#   DIR/snakeoil-key.pem  ovmf's snakeoil secure-boot key (enrolled as PK, KEK and db in
#                    OVMF_VARS_4M.snakeoil.fd), without its published password "snakeoil"
#   DIR/snakeoil.pem      its certificate (snakeoil.der: the same in DER)
#   DIR/vmlinux      the Debian kernel, uncompressed (boots directly through its PVH entry,
#                    skipping seconds of in-guest decompression under software emulation)
#   DIR/vmlinuz      the same kernel as shipped (fallback boot path; OVMF boots it through
#                    its EFI stub)
#   DIR/busybox      a static busybox for the initramfs
#   DIR/.stamp       a copy of this script, written last: the tools are complete
#
# usage: prepare-tools.sh DIR
#
# QEMU is unpacked, not installed: installing qemu-system-x86 would make apt remove a newer
# qemu-utils on machines that carry a backport. Only QEMU's missing runtime libraries are
# installed (root only), and never when apt would remove anything to do so.
set -eu

DIR=$1
PKGS="qemu-system-x86 qemu-system-common qemu-system-data seabios ovmf sbsigntool busybox-static"

die() { echo "prepare-tools: $*" >&2; exit 1; }

for tool in apt-get apt-cache dpkg-deb dpkg-query tar xz od ldd timeout openssl; do
    command -v "$tool" >/dev/null 2>&1 || die "needs '$tool' (a Debian-based host with apt, xz-utils, coreutils, openssl)"
done
is_root=false
[ "$(id -u)" = 0 ] && is_root=true

# Package lists: needed once on a fresh machine.
if ! apt-cache show qemu-system-x86 >/dev/null 2>&1; then
    $is_root || die "apt has no package lists for qemu-system-x86; run 'apt-get update' as root once"
    timeout 120 apt-get update -q >/dev/null || die "apt-get update failed"
    apt-cache show qemu-system-x86 >/dev/null 2>&1 || die "qemu-system-x86 is not available from the configured apt sources"
fi

# The kernel: whatever version the linux-image-amd64 meta package points at.
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
       sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
[ -n "$KPKG" ] || die "cannot find the kernel package behind linux-image-amd64"

# QEMU's shared libraries: the lib* dependencies of qemu-system-x86 that are not installed.
missing=""
for lib in $(apt-cache depends qemu-system-x86 | sed -n 's/^ *Depends: \(lib[^ <>]*\|zlib[^ <>]*\)$/\1/p' | sort -u); do
    status=$(dpkg-query -W -f='${Status}' "$lib" 2>/dev/null || true)
    case "$status" in *" installed") ;; *) missing="$missing $lib" ;; esac
done
if [ -n "$missing" ]; then
    $is_root || die "QEMU needs these libraries; install them as root: apt-get install --no-install-recommends$missing"
    # Refuse if apt would remove anything to install them.
    if apt-get install -s --no-install-recommends $missing 2>/dev/null | grep -q '^Remv '; then
        die "installing$missing would remove packages; install them by hand"
    fi
    log=$(mktemp)
    if ! timeout 180 apt-get install -y -q --no-install-recommends $missing >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        die "apt-get install$missing failed"
    fi
    rm -f "$log"
fi

# Build in a private folder, then move it into place, so an interrupted or concurrent run
# never leaves a half-made DIR that looks complete.
mkdir -p "$(dirname "$DIR")"
WORK=$(mktemp -d "$DIR.partial.XXXXXX")
chmod 755 "$WORK"   # mktemp makes it 0700; the tools are not secret
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$WORK/debs" "$WORK/sys"
if ! (cd "$WORK/debs" && timeout 300 apt-get download -q $PKGS "$KPKG" >"$WORK/apt.log" 2>&1); then
    cat "$WORK/apt.log" >&2
    die "apt-get download $PKGS $KPKG failed"
fi
for deb in "$WORK"/debs/*.deb; do
    case "$deb" in
        # The TPM drivers are built into Debian's kernel: skip its 400 MB of modules.
        */linux-image-*) dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$WORK/sys" ./boot ;;
        *) dpkg-deb -x "$deb" "$WORK/sys" ;;
    esac
done
rm -rf "$WORK/debs" "$WORK/apt.log"

set -- "$WORK"/sys/boot/vmlinuz-*
[ -f "$1" ] || die "no vmlinuz in $KPKG"
cp "$1" "$WORK/vmlinuz"

# The bzImage setup header says where the compressed payload is: it starts at
# (setup_sects + 1) * 512 + payload_offset and is payload_length bytes long.
setup_sects=$(od -An -tu1 -j 497 -N 1 "$WORK/vmlinuz" | tr -d ' ')
payload_offset=$(od -An -tu4 -j 584 -N 4 "$WORK/vmlinuz" | tr -d ' ')
payload_length=$(od -An -tu4 -j 588 -N 4 "$WORK/vmlinuz" | tr -d ' ')
start=$(( (setup_sects + 1) * 512 + payload_offset ))
if tail -c +$((start + 1)) "$WORK/vmlinuz" | head -c "$payload_length" | xz -dc --single-stream > "$WORK/vmlinux" 2>/dev/null &&
   [ "$(od -An -c -N 4 "$WORK/vmlinux" | tr -d ' ')" = '177ELF' ]; then
    :
else
    # Not xz, or not ELF: the test falls back to booting vmlinuz (slower).
    echo "prepare-tools: could not unpack vmlinux from $KPKG; the slower vmlinuz boot will be used" >&2
    rm -f "$WORK/vmlinux"
fi

cp "$WORK/sys/bin/busybox" "$WORK/busybox"
QEMU="$WORK/sys/usr/bin/qemu-system-x86_64"
[ -x "$QEMU" ] || die "qemu-system-x86_64 missing after extraction"
for fd in OVMF_CODE_4M.fd OVMF_VARS_4M.fd OVMF_CODE_4M.secboot.fd OVMF_VARS_4M.ms.fd \
          OVMF_VARS_4M.snakeoil.fd; do
    [ -f "$WORK/sys/usr/share/OVMF/$fd" ] || die "ovmf has no usr/share/OVMF/$fd"
done
# sbsign reads only unencrypted keys (it would prompt for the password).
openssl pkey -in "$WORK/sys/usr/share/ovmf/PkKek-1-snakeoil.key" -passin pass:snakeoil \
    -out "$WORK/snakeoil-key.pem" || die "cannot decrypt ovmf's snakeoil key"
cp "$WORK/sys/usr/share/ovmf/PkKek-1-snakeoil.pem" "$WORK/snakeoil.pem"
openssl x509 -in "$WORK/snakeoil.pem" -outform DER -out "$WORK/snakeoil.der" ||
    die "cannot read ovmf's snakeoil certificate"
if ldd "$WORK/sys/usr/bin/sbsign" "$WORK/sys/usr/bin/sbattach" | grep 'not found' >&2; then
    die "sbsigntool misses shared libraries (listed above)"
fi
if ldd "$QEMU" "$WORK"/sys/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so | grep 'not found' >&2; then
    die "QEMU still misses shared libraries (listed above)"
fi

echo "$KPKG" > "$WORK/kernel-package"
cp "$0" "$WORK/.stamp"
rm -rf "$DIR"
mv -T "$WORK" "$DIR" || { [ -f "$DIR/.stamp" ] || die "cannot move the tools into $DIR"; }
trap - EXIT INT TERM
rm -rf "$WORK"
echo "prepare-tools: ready in $DIR (kernel $KPKG)"
