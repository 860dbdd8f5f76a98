#!/bin/sh
# /init of the kernel_rm guest: mounts the kernel file systems, runs the test program in
# guest mode (it prints KRM-CHECK lines and the final KRM-RESULT line on the console), and
# powers off. A failing run also leaves a non-zero QEMU exit status (isa-debug-exit), but
# the host trusts the markers, not the status: a kernel panic exits QEMU with 0 as well.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# The firmware's event log (binary_bios_measurements), for the measured-boot checks.
mount -t securityfs securityfs /sys/kernel/security
echo "KRM-INFO kernel $(cat /proc/sys/kernel/osrelease)"

status=1
# A missing device node would be created as a regular file by the first open for writing.
if [ -c /dev/tpm0 ] && [ -c /dev/tpmrm0 ]; then
    KERNEL_RM_GUEST=1 /bin/kernel_rm
    status=$?
else
    echo "KRM-RESULT: FAIL no /dev/tpm0 or /dev/tpmrm0 character device"
fi
# krm_dmesg=1 on the kernel command line (KERNEL_RM_APPEND) shows them on success too.
if [ "$status" != 0 ] || [ -n "${krm_dmesg:-}" ]; then
    echo "KRM-INFO guest program exit status $status; kernel TPM messages follow"
    dmesg | grep -i tpm | sed 's/^/KRM-DMESG /'
fi
if [ "$status" != 0 ]; then
    # isa-debug-exit: QEMU exits with (1 << 1) | 1 = 3.
    printf '\001' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
fi
poweroff -f
