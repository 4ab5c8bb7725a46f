#!/usr/bin/env python3
"""Looks at a report the way a reader does: headless Chromium loads DIR/report.html, and this prints every console
message, script exception and browser log entry the page produced, then saves a full-page PNG.

    python3 benchmarks/demo/screenshot.py crucible-demo/report.html benchmarks/demo/report.png [--width 1280]

Exit 0 when the page loaded and logged nothing; 1 when it logged something (each message is printed); 2 when
Chromium could not be started or the page did not load. Chromium's own `--enable-logging=stderr` does not print a
page's console in the new headless mode, so the messages are read over the DevTools protocol; the websocket client
is the few lines below (standard library only: nothing to install besides Debian's `chromium`).
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


class WebSocket:
    """The client half of RFC 6455, enough for the DevTools protocol: text frames out (masked), frames in."""

    def __init__(self, url, timeout=30):
        m = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        if not m:
            raise ValueError(f"not a ws:// URL: {url}")
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        data = text.encode()
        n = len(data)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                  bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                  bytes([0x80 | 127]) + struct.pack(">Q", n))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F == 0x8:
                raise ConnectionError("websocket closed by the browser")
            message += payload
            if b0 & 0x80:
                return message.decode()


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if any(e["method"] == method for e in self.events):
                return True
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        return False


def messages(events):
    out = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p.get('type')}: {text}")
        elif e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"exception: {d.get('exception', {}).get('description', d.get('text'))}")
        elif e["method"] == "Log.entryAdded":
            entry = p.get("entry", {})
            out.append(f"log {entry.get('source')}/{entry.get('level')}: {entry.get('text')} {entry.get('url', '')}".rstrip())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html")
    ap.add_argument("png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--top", type=int, default=0, help="first page pixel row of the PNG")
    ap.add_argument("--max-height", type=int, default=0, help="rows of the PNG at most (0: the whole page)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = ap.parse_args()
    if not os.path.isfile(args.html):
        print(f"{args.html}: no such file", file=sys.stderr)
        return 2
    profile = tempfile.mkdtemp(prefix="crucible-shot-")
    # Chromium's stderr goes to a file, not a pipe: it logs a stream of D-Bus complaints in a container, and a pipe
    # nobody drains would fill and stall the browser.
    log_path = os.path.join(profile, "chromium.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                 "--remote-debugging-port=0", f"--user-data-dir={profile}",
                                 f"--window-size={args.width},800", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        port = None
        end = time.time() + 60
        while time.time() < end and port is None and proc.poll() is None:
            with open(log_path, errors="replace") as log:
                m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", log.read())
            if m:
                port = int(m.group(1))
            else:
                time.sleep(0.2)
        if port is None:
            print(f"{args.chromium}: no DevTools port within 60 s (is Debian's chromium installed?)", file=sys.stderr)
            return 2
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=60))
        page_target = next(t for t in targets if t.get("type") == "page")
        page = Page(WebSocket(page_target["webSocketDebuggerUrl"]))
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Page.navigate", url="file://" + os.path.abspath(args.html))
        if not page.wait_for("Page.loadEventFired", 60):
            print(f"{args.html}: the page did not finish loading within 60 s", file=sys.stderr)
            return 2
        height = int(page.call("Page.getLayoutMetrics")["cssContentSize"]["height"])
        page.call("Emulation.setDeviceMetricsOverride", width=args.width, height=height, deviceScaleFactor=1,
                  mobile=False)
        rows = height - args.top if args.max_height <= 0 else min(args.max_height, height - args.top)
        shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": args.top, "width": args.width, "height": rows, "scale": 1})
        with open(args.png, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        found = messages(page.events)
        print(f"{args.png}: rows {args.top}-{args.top + rows} of a {args.width}x{height} px page; "
              f"{len(found)} console/log message(s)")
        for m in found:
            print("  " + m)
        return 1 if found else 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
