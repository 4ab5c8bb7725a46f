# Network: TCP/UDP to the host's loopback listener (port on stdin), a public address, netlink, raw packets, and an
# AF_UNIX socket (allowed, but there is nothing to reach).
import socket, sys
port = int(sys.stdin.readline())
escaped = []
for family, addr in [(socket.AF_INET, ("127.0.0.1", port)), (socket.AF_INET, ("8.8.8.8", 53)),
                     (socket.AF_INET6, ("::1", port))]:
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(addr)
        escaped.append("connected %s" % (addr,))
    except OSError:
        pass
for family in [socket.AF_NETLINK, socket.AF_PACKET]:
    try:
        socket.socket(family, socket.SOCK_RAW)
        escaped.append("opened family %d" % family)
    except (OSError, AttributeError):
        pass
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("/run/systemd/private")
    escaped.append("unix socket to the host")
except OSError:
    pass
print("ESCAPED" if escaped else "CONTAINED", escaped)
