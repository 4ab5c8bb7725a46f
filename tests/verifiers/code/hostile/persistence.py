# Plants persistence: shell rc files, cron, systemd units, profile.d, sitecustomize for the next python.
import os, site
escaped = []
targets = ["/root/.bashrc", "/root/.profile", "/etc/profile.d/crucible_hostile.sh", "/etc/cron.d/crucible_hostile",
           "/var/spool/cron/crontabs/root", "/etc/systemd/system/crucible_hostile.service",
           "/usr/lib/python3/dist-packages/sitecustomize.py", "/usr/lib/python3.11/sitecustomize.py",
           "/home/.crucible_hostile_rc"]
for t in targets:
    try:
        os.makedirs(os.path.dirname(t), exist_ok=True)
        with open(t, "a") as f:
            f.write("\n# crucible_hostile\n")
        escaped.append(t)
    except OSError:
        pass
print("ESCAPED" if escaped else "CONTAINED", escaped)
