# Raw syscalls through ctypes: namespaces, mounts, ptrace, bpf, keyrings, kexec, reboot, setuid to root, chroot.
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
syscall = libc.syscall
escaped = []
calls = {
    "unshare(NEWUSER)": (272, 0x10000000),
    "unshare(NEWNS)": (272, 0x00020000),
    "setns": (308, 0, 0),
    "mount": (165, b"none", b"/work", b"tmpfs", 0, 0),
    "umount /usr": (166, b"/usr", 2),
    "ptrace(TRACEME)": (101, 0, 0, 0, 0),
    "bpf": (321, 0, 0, 0),
    "keyctl": (250, 0, 0, 0, 0, 0),
    "kexec_load": (246, 0, 0, 0, 0),
    "reboot": (169, 0xfee1dead, 672274793, 0x4321fedc, 0),
    "init_module": (175, 0, 0, b""),
    "chroot": (161, b"/work"),
    "perf_event_open": (298, 0, 0, -1, -1, 0),
    "io_uring_setup": (425, 8, 0),
    "setuid(0)": (105, 0),
    "clone(NEWPID)": (56, 0x20000000 | 17, 0, 0, 0, 0),
}
for name, args in calls.items():
    r = syscall(*args)
    if r == 0 and name.startswith("clone"):
        os._exit(0)  # a child that got through exits at once
    if r >= 0:
        escaped.append(name)
try:
    os.setuid(0)
    escaped.append("os.setuid(0)")
except OSError:
    pass
print("ESCAPED" if escaped else "CONTAINED", escaped)
