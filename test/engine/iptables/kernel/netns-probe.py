#!/usr/bin/env python3
"""Runs TCP connections through real netfilter and reports where each one landed.

Start it as root inside a private network namespace (`unshare -n python3 netns-probe.py`).
It builds a "pod" (this namespace: lo + eth0 with the pod IPs) and a "remote" namespace
(the other end of the veth; it accepts every TEST-NET address and port and says what it saw).
Input on stdin (JSON): {"cases": [{"rules4": "<iptables-restore text>", "rules6": "...", "tproxy": bool,
"conns": [{"family": 4|6, "direction": "outbound"|"inbound", "src": ip, "sport": n, "dst": ip,
"dport": n, "uid": n, "gid": n}]}], "listen": [ports], "timeout": seconds}.
"backend": "nft"|"legacy" picks iptables-restore or iptables-legacy-restore.
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
IP_PKTINFO = 8  # IP_PKTINFO is missing before Python 3.12
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


def serve_udp(sock, family, tag, port):
    while True:
        try:
            data, anc, _flags, peer = sock.recvmsg(512, 256)
        except OSError:
            return
        local = None
        for level, kind, payload in anc:
            if family == 4 and level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                local = socket.inet_ntop(socket.AF_INET, payload[8:12])
            if family == 6 and level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                local = socket.inet_ntop(socket.AF_INET6, payload[0:16])
        if local is None:
            continue
        reply = f"{tag} {port} {local} {port} {local if tag == 'REMOTE' else '?'} {port if tag == 'REMOTE' else 0}\n".encode()
        # Answer from the address the datagram was sent to, as a DNS server does.
        if family == 4:
            anc_out = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, socket.inet_pton(socket.AF_INET, local), b"\0" * 4))]
        else:
            anc_out = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, struct.pack("=16sI", socket.inet_pton(socket.AF_INET6, local), 0))]
        try:
            sock.sendmsg([reply], anc_out, 0, peer)
        except OSError:
            pass


def listen_udp(port, family, tag="LOCAL", transparent=False, uid=None):
    """A UDP responder; with uid, the socket is opened as that user (owner matches see it, like pilot-agent on 15053)."""
    if uid is not None:
        os.seteuid(uid)
    try:
        s = socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_DGRAM)
    finally:
        if uid is not None:
            os.seteuid(0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == 4:
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    if transparent:
        if family == 4:
            s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
    s.bind(("0.0.0.0" if family == 4 else "::", port))
    threading.Thread(target=serve_udp, args=(s, family, tag, port), daemon=True).start()
    return s


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


def make_remote(udp_ports=()):
    """Forks the remote namespace: every TEST-NET address is local there and port 9999 answers all TCP."""
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if libc.unshare(CLONE_NEWNET) != 0:
                os._exit(3)
            os.write(w, b"x")
            os.read(go_r, 1)
            listen(9999, 4, "REMOTE", transparent=False)
            listen(9999, 6, "REMOTE", transparent=False)
            for p in udp_ports:
                listen_udp(p, 4, "REMOTE", transparent=True)
                listen_udp(p, 6, "REMOTE", transparent=True)
            os.write(w, b"y")
        except BaseException as e:  # noqa: BLE001 - a child must never fall back into the parent's code
            sys.stderr.write(f"remote namespace failed: {e!r}\n")
            os._exit(4)
        while True:
            time.sleep(3600)
    if os.read(r, 1) != b"x":
        raise RuntimeError("the remote namespace did not start")
    ns = ["nsenter", "-t", str(pid), "-n"]
    # No duplicate address detection: tentative IPv6 addresses would drop the first packets.
    for where in ([], ns):
        sh(*where, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
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
    if os.read(r, 1) != b"y":
        raise RuntimeError("the remote namespace did not start its listeners")
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


class _Done(Exception):
    def __init__(self, result):
        super().__init__()
        self.result = result


def spawn_client(conn, remote_pid, timeout):
    """Starts one connection in a child process (owner uid/gid, or the remote namespace); returns (pid, read end)."""
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
            udp = conn.get("protocol") == "udp"
            s = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((conn["src"], conn["sport"]))
            s.settimeout(timeout)
            try:
                if udp:
                    # A connected UDP socket only accepts the answer from the address it sent to (after conntrack undid the nat).
                    s.connect((conn["dst"], conn["dport"]))
                    s.send(b"?")
                    s.settimeout(max(0.5, timeout))
                    parts = s.recv(512).decode().split()
                    raise _Done({"kind": parts[0].lower(), "listener": int(parts[1]), "local": [parts[2], int(parts[3])], "origDst": [parts[4], int(parts[5])]})
                s.connect((conn["dst"], conn["dport"]))
                # The handshake is done; the listener's answer may take a scheduler tick on a busy machine.
                s.settimeout(max(1.0, timeout))
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
            except _Done as d:
                result = d.result
            except socket.timeout:
                result = {"kind": "timeout"}
            except ConnectionRefusedError:
                result = {"kind": "refused"}
            except ConnectionResetError:
                result = {"kind": "reset"}
            except OSError as e:
                result = {"kind": "unreachable" if e.errno in (101, 113, 22, 99) else "error", "message": str(e)}
        except Exception as e:  # noqa: BLE001 - report anything as an error row
            result = {"kind": "error", "message": repr(e)}
        os.write(w, json.dumps(result).encode())
        os._exit(0)
    os.close(w)
    return pid, r


def run_clients(conns, remote_pid, timeout):
    """Runs independent connections at once (each has its own source port) and returns their results in order."""
    started = [spawn_client(c, remote_pid, timeout) for c in conns]
    out = [b""] * len(started)
    done = [False] * len(started)
    deadline = time.monotonic() + max(1.0, timeout) + timeout + 5
    while not all(done):
        left = deadline - time.monotonic()
        fds = [r for i, (_, r) in enumerate(started) if not done[i]]
        ready, _, _ = select.select(fds, [], [], max(0, left))
        if not ready:
            break
        for i, (_, r) in enumerate(started):
            if not done[i] and r in ready:
                chunk = os.read(r, 65536)
                if chunk:
                    out[i] += chunk
                else:
                    done[i] = True
    results = []
    for i, (pid, r) in enumerate(started):
        if not done[i]:
            os.kill(pid, signal.SIGKILL)
            out[i] = json.dumps({"kind": "error", "message": "client hung"}).encode()
        os.close(r)
        os.waitpid(pid, 0)
        results.append(json.loads(out[i].decode() or '{"kind": "error", "message": "client died"}'))
    return results


def warm_up():
    """Waits until both families reach the remote namespace (neighbour discovery done), at most 5 seconds."""
    for fam, addr in ((socket.AF_INET, GW4), (socket.AF_INET6, GW6)):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(0.5)
            try:
                s.connect((addr, 9))
                s.recv(256)
                break
            except OSError:
                time.sleep(0.05)
            finally:
                s.close()


def main():
    req = json.load(sys.stdin)
    # A watchdog: never outlive the test's budget, and say where it hung.
    faulthandler.dump_traceback_later(float(req.get("watchdog", 170)), exit=True)
    timeout = req.get("timeout", 0.3)
    udp_ports = sorted({c["dport"] for case in req["cases"] for c in case["conns"] if c.get("protocol") == "udp"})
    remote = make_remote(udp_ports)
    setup_pod()
    warm_up()
    listening = set()
    transparent = set(req.get("transparent", []))
    for p in req.get("listen", []):
        for fam in (4, 6):
            listen(p, fam, transparent=p in transparent)
            # UDP answers come from pilot-agent (uid 1337) on 15053, as in a real pod; others from root.
            listen_udp(p, fam, transparent=p in transparent, uid=1337 if p == 15053 else None)
        listening.add(p)
    # "nft" (iptables-nft, the default) or "legacy" (x_tables through iptables-legacy).
    suffix = "-legacy" if req.get("backend") == "legacy" else ""
    results = []
    for case in req["cases"]:
        try:
            sh(f"iptables{suffix}-restore", stdin=reset_text() + case.get("rules4", ""))
            sh(f"ip6tables{suffix}-restore", stdin=reset_text() + case.get("rules6", ""))
        except RuntimeError as e:
            results.append([{"kind": "restore-error", "message": str(e)} for _ in case["conns"]])
            continue
        rows = run_clients(case["conns"], remote, timeout)
        if case.get("counters"):
            rows.append({"kind": "counters", "save4": sh("iptables-save", "-c")})
        results.append(rows)
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
