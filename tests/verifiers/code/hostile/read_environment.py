# Reads the environment from every place it could leak: its own, /proc/*/environ, /proc/1/cmdline.
import os
print("ENV", dict(os.environ))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for name in ["environ", "cmdline"]:
            try:
                with open(f"/proc/{pid}/{name}", "rb") as f:
                    print(pid, name, f.read()[:4096])
            except OSError as e:
                print(pid, name, "denied", e.errno)
try:
    with open("/proc/1/mem", "rb") as f:
        print("MEM", f.read(16))
except OSError as e:
    print("mem denied", e.errno)
