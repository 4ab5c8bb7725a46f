# Tampers with the driver on disk: overwrite, delete, rename driver.py and solution.py.
import os
escaped = []
for name in ["/work/driver.py", "/work/solution.py"]:
    if not os.path.exists(name):
        continue
    for action in ["write", "unlink", "rename", "chmod"]:
        try:
            if action == "write":
                with open(name, "a") as f:
                    f.write("\nprint('forged')\n")
            elif action == "unlink":
                os.unlink(name)
            elif action == "rename":
                os.rename(name, name + ".x")
            else:
                os.chmod(name, 0o777)
            escaped.append(action + " " + name)
        except OSError:
            pass
print("ESCAPED" if escaped else "CONTAINED", escaped)
