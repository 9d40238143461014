#!/usr/bin/env python3
"""Runs TCP connections through real netfilter and reports where each one landed.

Start it as root inside a private network namespace (`unshare -n python3 netns-probe.py`).
It builds a "pod" (this namespace: lo + eth0 with the pod IPs) and a "remote" namespace
(the other end of the veth; it accepts every TEST-NET address and port and says what it saw).
Input on stdin (JSON): {"cases": [{"rules4": "<iptables-restore text>", "rules6": "...", "tproxy": bool,
"conns": [{"family": 4|6, "direction": "outbound"|"inbound", "src": ip, "sport": n, "dst": ip,
"dport": n, "uid": n, "gid": n}]}], "listen": [ports], "timeout": seconds}.
Output on stdout (JSON): {"results": [[{"kind": "local"|"remote"|"timeout"|"refused"|"error", ...}]]}.
Only loopback and addresses inside the namespaces created here are ever used.
"""
import ctypes
import faulthandler
import json
import select
import signal
import os
import socket
import struct
import subprocess
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
SO_ORIGINAL_DST = 80
IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
libc = ctypes.CDLL(None, use_errno=True)

POD4, GW4, PEER4 = "10.244.2.5", "10.244.2.1", "198.51.100.10"
POD6, GW6, PEER6 = "fd00::5", "fd00::1", "2001:db8:ffff::10"
SBIN = "/usr/sbin:/sbin:/usr/bin:/bin"
ENV = dict(os.environ, PATH=SBIN + ":" + os.environ.get("PATH", ""))


def sh(*cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr.strip()}")
    return p.stdout


def original_dst(conn, family):
    if family == 4:
        raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        port, = struct.unpack("!H", raw[2:4])
        return socket.inet_ntop(socket.AF_INET, raw[4:8]), port
    raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
    port, = struct.unpack("!H", raw[2:4])
    return socket.inet_ntop(socket.AF_INET6, raw[8:24]), port


def serve(sock, family, tag, port):
    while True:
        try:
            c, _ = sock.accept()
        except OSError:
            return
        try:
            local = c.getsockname()
            try:
                od = original_dst(c, family)
            except OSError:
                od = ("?", 0)
            c.sendall(f"{tag} {port} {local[0]} {local[1]} {od[0]} {od[1]}\n".encode())
        except OSError:
            pass
        finally:
            c.close()


def listen(port, family, tag="LOCAL", transparent=True):
    s = socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == 6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if transparent:
        if family == 4:
            s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    s.bind(("0.0.0.0" if family == 4 else "::", port))
    s.listen(512)
    threading.Thread(target=serve, args=(s, family, tag, port), daemon=True).start()
    return s


def setns(pid):
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def make_remote():
    """Forks the remote namespace: every TEST-NET address is local there and port 9999 answers all TCP."""
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if libc.unshare(CLONE_NEWNET) != 0:
            os._exit(3)
        os.write(w, b"x")
        os.read(go_r, 1)
        listen(9999, 4, "REMOTE", transparent=False)
        listen(9999, 6, "REMOTE", transparent=False)
        os.write(w, b"y")
        while True:
            time.sleep(3600)
    os.read(r, 1)
    ns = ["nsenter", "-t", str(pid), "-n"]
    sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
    sh("ip", "link", "set", "peer0", "netns", str(pid))
    for cmd in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "link", "set", "peer0", "up"],
        ["ip", "addr", "add", f"{GW4}/24", "dev", "peer0"],
        ["ip", "-6", "addr", "add", f"{GW6}/64", "dev", "peer0", "nodad"],
        ["ip", "route", "add", "local", "192.0.2.0/24", "dev", "lo"],
        ["ip", "route", "add", "local", "198.51.100.0/24", "dev", "lo"],
        ["ip", "route", "add", "local", "203.0.113.0/24", "dev", "lo"],
        ["ip", "-6", "route", "add", "local", "2001:db8::/32", "dev", "lo"],
        ["ip", "-6", "addr", "add", f"{PEER6}/128", "dev", "lo", "nodad"],
    ):
        sh(*ns, *cmd)
    sh(*ns, "iptables-restore", stdin="*nat\n-A PREROUTING -p tcp -j REDIRECT --to-ports 9999\nCOMMIT\n")
    sh(*ns, "ip6tables-restore", stdin="*nat\n-A PREROUTING -p tcp -j REDIRECT --to-ports 9999\nCOMMIT\n")
    os.write(go_w, b"g")
    os.read(r, 1)
    return pid


def setup_pod():
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "set", "eth0", "up")
    sh("ip", "addr", "add", f"{POD4}/24", "dev", "eth0")
    sh("ip", "-6", "addr", "add", f"{POD6}/64", "dev", "eth0", "nodad")
    # Istio binds ::6 for inbound passthrough on dual-stack pods; 127.0.0.6 needs nothing (all of 127/8 is local).
    sh("ip", "-6", "addr", "add", "::6/128", "dev", "lo", "nodad")
    sh("ip", "route", "add", "default", "via", GW4)
    sh("ip", "-6", "route", "add", "default", "via", GW6)
    # What istio-init adds for TPROXY: marked packets are delivered locally (iptables-semantics.md §4d).
    sh("ip", "-f", "inet", "rule", "add", "fwmark", "1337", "lookup", "133")
    sh("ip", "-f", "inet", "route", "add", "local", "default", "dev", "lo", "table", "133")
    sh("ip", "-f", "inet6", "rule", "add", "fwmark", "1337", "lookup", "133")
    sh("ip", "-f", "inet6", "route", "add", "local", "default", "dev", "lo", "table", "133")


RESET = {
    "raw": ["PREROUTING", "OUTPUT"],
    "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    "filter": ["INPUT", "FORWARD", "OUTPUT"],
}


def reset_text():
    return "".join(f"*{t}\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in chains) + "COMMIT\n" for t, chains in RESET.items())


def client(conn, remote_pid, timeout):
    """Runs one connection in a child process (owner uid/gid, or the remote namespace) and returns what it saw."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        result = {"kind": "error"}
        try:
            if conn["direction"] == "inbound":
                setns(remote_pid)
            else:
                os.setgroups([])
                os.setgid(conn["gid"])
                os.setuid(conn["uid"])
            fam = socket.AF_INET if conn["family"] == 4 else socket.AF_INET6
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((conn["src"], conn["sport"]))
            s.settimeout(timeout)
            try:
                s.connect((conn["dst"], conn["dport"]))
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(256)
                    if not chunk:
                        break
                    data += chunk
                parts = data.decode().split()
                if len(parts) == 6:
                    result = {"kind": parts[0].lower(), "listener": int(parts[1]), "local": [parts[2], int(parts[3])], "origDst": [parts[4], int(parts[5])]}
                else:
                    result = {"kind": "error", "message": f"reply {data!r}"}
            except socket.timeout:
                result = {"kind": "timeout"}
            except ConnectionRefusedError:
                result = {"kind": "refused"}
            except OSError as e:
                result = {"kind": "unreachable" if e.errno in (101, 113, 22, 99) else "error", "message": str(e)}
        except Exception as e:  # noqa: BLE001 - report anything as an error row
            result = {"kind": "error", "message": repr(e)}
        os.write(w, json.dumps(result).encode())
        os._exit(0)
    os.close(w)
    out = b""
    deadline = time.monotonic() + timeout + 5
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([r], [], [], max(0, left))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            out = json.dumps({"kind": "error", "message": "client hung"}).encode()
            break
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(out.decode() or '{"kind": "error", "message": "client died"}')


def main():
    req = json.load(sys.stdin)
    # A watchdog: never outlive the test's budget, and say where it hung.
    faulthandler.dump_traceback_later(float(req.get("watchdog", 170)), exit=True)
    timeout = req.get("timeout", 0.3)
    remote = make_remote()
    setup_pod()
    listening = set()
    for p in req.get("listen", []):
        for fam in (4, 6):
            listen(p, fam)
        listening.add(p)
    results = []
    for case in req["cases"]:
        try:
            sh("iptables-restore", stdin=reset_text() + case.get("rules4", ""))
            sh("ip6tables-restore", stdin=reset_text() + case.get("rules6", ""))
        except RuntimeError as e:
            results.append([{"kind": "restore-error", "message": str(e)} for _ in case["conns"]])
            continue
        rows = []
        for c in case["conns"]:
            rows.append(client(c, remote, timeout))
        if case.get("counters"):
            rows.append({"kind": "counters", "save4": sh("iptables-save", "-c")})
        results.append(rows)
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
