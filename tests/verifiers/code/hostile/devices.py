# Reaches for devices and the kernel: block devices, kmsg, /proc/sys, /sys, mknod.
import os
escaped = []
for path in ["/dev/sda", "/dev/vda", "/dev/kmsg", "/dev/mem", "/proc/sys/kernel/hostname", "/proc/sysrq-trigger"]:
    try:
        with open(path, "wb") as f:
            f.write(b"x")
        escaped.append(path)
    except OSError:
        pass
try:
    os.mknod("/work/crucible_hostile_dev", 0o600 | 0o060000, os.makedev(8, 0))
    escaped.append("mknod")
except OSError:
    pass
print("ESCAPED" if escaped else "CONTAINED", escaped)
