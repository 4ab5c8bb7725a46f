# Looks for the host: its files, its processes, its users, the crucible checkout.
import os
escaped = []
for path in ["/etc/passwd", "/etc/shadow", "/root", "/home", "/var", "/sys", "/etc/hostname"]:
    try:
        if os.path.isdir(path):
            names = os.listdir(path)
            if names:
                escaped.append(path + ": " + ",".join(names[:5]))
        else:
            with open(path) as f:
                escaped.append(path + ": " + f.read(40))
    except OSError:
        pass
pids = [p for p in os.listdir("/proc") if p.isdigit()]
if len(pids) > 3:
    escaped.append("sees %d processes" % len(pids))
print("ESCAPED" if escaped else "CONTAINED", escaped)
