# Raises its limits back: CPU, address space, processes, files, core dumps.
import resource
escaped = []
for name in ["RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_FSIZE"]:
    res = getattr(resource, name)
    soft, hard = resource.getrlimit(res)
    try:
        resource.setrlimit(res, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        escaped.append(name)
    except (ValueError, OSError):
        pass
print("ESCAPED" if escaped else "CONTAINED", escaped)
