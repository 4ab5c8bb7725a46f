# Writes outside the work dir: host paths, the read-only /usr, /tmp (which is the work dir's twin), /proc.
import os
escaped = []
targets = ["/crucible_hostile_root", "/etc/crucible_hostile", "/usr/crucible_hostile", "/usr/lib/crucible_hostile",
           "/root/crucible_hostile", "/var/tmp/crucible_hostile", "/dev/crucible_hostile", "/proc/crucible_hostile"]
for t in targets:
    try:
        with open(t, "w") as f:
            f.write("x")
        escaped.append(t)
    except OSError:
        pass
# /tmp is writable but private: the host must not see this file.
with open("/tmp/crucible_hostile_tmp", "w") as f:
    f.write("x")
for t in ["/usr/bin/python3"]:
    try:
        os.chmod(t, 0o777)
        escaped.append("chmod " + t)
    except OSError:
        pass
print("ESCAPED" if escaped else "CONTAINED", escaped)
