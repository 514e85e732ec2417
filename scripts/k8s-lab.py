#!/usr/bin/python3
"""The Kubernetes lab's small programs, shared by integration/k8s.rs and
scripts/bench-k8s.sh, so that the tests and the bench exercise the same
API server and count client failures the same way.

  k8s-lab.py serve --cert C --key K --state FILE [--port 6443] [--ready-after S]
      An API-server stand-in in its own process (so that SIGKILL closes its
      port and SIGSTOP freezes it with the kernel still accepting TCP, as
      for the real kube-apiserver). Real TLS; answers shaped like
      kube-apiserver's. FILE holds one word, read on every request (write
      it with a rename): ready, shutdown, etcd-gone, not-ready.

  k8s-lab.py probe --target HOST:PORT --ca CA --out FILE [--every S] [--timeout S]
      A client: every S seconds a new TCP connection, a TLS handshake
      (verified for `kubernetes` against CA) and `GET /livez`, the whole
      bounded by --timeout. One line per probe in FILE:
      `START_NS END_NS OK|FAIL DETAIL` (CLOCK_REALTIME, nanoseconds). Stops
      on SIGTERM or SIGINT.

  k8s-lab.py analyze FILE [--from NS] [--to NS] [--moves WATCHFILE]
      Figures from a probe file: probes, failed, outages (from the start of
      a first failed probe to the start of the next successful one),
      printed as KEY=VALUE lines; with --moves, how many failures were
      connections reset in flight at a VIP move (see reset_at_move).

  k8s-lab.py watch --ns NS1,NS2,... --vip ADDR --out FILE [--every S]
      Which namespaces hold ADDR on eth0, polled every S seconds (0.02):
      one line `NS_TIME INDEXES` per change (indexes into --ns, comma
      separated, `-` for none). Stops on SIGTERM or SIGINT.

  k8s-lab.py moves FILE [--from NS] [--to NS]
      VIP moves in a watch file: changes of the sole holder (a moment with
      two holders, make-before-break, is not a move of its own).

What the stand-in does, per the real kube-apiserver (v1.30-ish), anonymous
requests allowed as kubeadm sets it up:
  - `/readyz`, `/livez`, `/healthz`: 200 `ok` when all checks pass; 500 with
    the `[+]name ok` / `[-]name failed: reason withheld` lines otherwise
    (always verbose on failure), `?exclude=NAME` leaves a check out.
  - start-up: for --ready-after seconds after start (default 2.5) the post-
    start hooks are not done: all three answer 500
    `[-]poststarthook/rbac/bootstrap-roles failed: reason withheld`.
  - shutdown (graceful, during --shutdown-delay-duration): `/readyz` 500
    `[-]shutdown failed: reason withheld`; `/livez`, `/healthz` and every
    request still served.
  - etcd-gone (the node's stacked etcd member is down): the etcd check
    waits out its 2.0 s timeout, so `/readyz`, `/livez`, `/healthz` answer
    500 `[-]etcd failed: reason withheld` only after 2.0 s, while
    `?exclude=etcd` answers 200 at once.
  - not-ready: `/readyz` 500 at once with `[-]etcd-readiness failed: reason
    withheld` (a readiness-only check); `/livez` 200.
  - `/` (what the kubeadm HA guide's check_apiserver.sh curls): 403
    `forbidden: User "system:anonymous" cannot get path "/"` at once, in
    every mode (authorization runs before any storage access).
"""

import argparse
import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ETCD_CHECK_TIMEOUT_S = 2.0

READYZ_CHECKS = ["ping", "log", "etcd", "etcd-readiness", "informer-sync",
                 "poststarthook/rbac/bootstrap-roles", "shutdown"]
LIVEZ_CHECKS = ["ping", "log", "etcd", "poststarthook/rbac/bootstrap-roles"]


def pem_or_der(path, kind):
    data = open(path, "rb").read()
    if data.lstrip().startswith(b"-----BEGIN"):
        return data.decode()
    b64 = base64.encodebytes(data).decode()
    return f"-----BEGIN {kind}-----\n{b64}-----END {kind}-----\n"


def server_context(cert, key, tmpdir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c = os.path.join(tmpdir, "standin-cert.pem")
    k = os.path.join(tmpdir, "standin-key.pem")
    with open(c, "w") as f:
        f.write(pem_or_der(cert, "CERTIFICATE"))
    with open(k, "w") as f:
        f.write(pem_or_der(key, "PRIVATE KEY"))
    os.chmod(k, 0o600)
    ctx.load_cert_chain(c, k)
    return ctx


class State:
    def __init__(self, path, ready_after):
        self.path = path
        self.started = time.monotonic()
        self.ready_after = ready_after

    def mode(self):
        try:
            with open(self.path) as f:
                word = f.read().strip()
        except OSError:
            word = ""
        return word or "ready"

    def starting(self):
        return time.monotonic() - self.started < self.ready_after


def failing_checks(endpoint, mode, starting):
    failing = set()
    if starting:
        failing.add("poststarthook/rbac/bootstrap-roles")
    if mode == "etcd-gone":
        failing.add("etcd")
    if endpoint == "readyz":
        if mode == "shutdown":
            failing.add("shutdown")
        if mode == "not-ready":
            failing.add("etcd-readiness")
    return failing


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-standin"

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="text/plain; charset=utf-8"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        st = self.server.state
        url = urlsplit(self.path)
        q = parse_qs(url.query, keep_blank_values=True)
        endpoint = url.path.strip("/")
        mode = st.mode()
        if endpoint in ("readyz", "livez", "healthz"):
            checks = READYZ_CHECKS if endpoint == "readyz" else LIVEZ_CHECKS
            excluded = set(q.get("exclude", []))
            checks = [c for c in checks if c not in excluded]
            failing = failing_checks(endpoint, mode, st.starting()) & set(checks)
            if mode == "etcd-gone" and "etcd" in checks:
                # The etcd check waits out its own timeout before failing.
                time.sleep(ETCD_CHECK_TIMEOUT_S)
            if not failing and "verbose" not in q:
                return self.reply(200, "ok")
            lines = []
            for c in checks:
                if c in failing:
                    lines.append(f"[-]{c} failed: reason withheld")
                else:
                    lines.append(f"[+]{c} ok")
            if failing:
                lines.append(f"{endpoint} check failed")
                return self.reply(500, "\n".join(lines) + "\n")
            lines.append(f"{endpoint} check passed")
            return self.reply(200, "\n".join(lines) + "\n")
        if endpoint == "version":
            return self.reply(200, json.dumps({"major": "1", "minor": "30"}), "application/json")
        # Anything else, `/` included: anonymous is authenticated but not
        # authorised (system:public-info-viewer covers only the paths above).
        status = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"forbidden: User \"system:anonymous\" cannot get path \"{url.path}\"",
            "reason": "Forbidden", "details": {}, "code": 403,
        }
        return self.reply(403, json.dumps(status), "application/json")


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def server_bind(self):
        # Dual stack, as kube-apiserver's default --bind-address 0.0.0.0.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    in_flight = 0
    lock = threading.Lock()

    def finish_request(self, request, client_address):
        # The handshake runs on the connection's own thread: a client that
        # never sends its ClientHello holds up nothing else.
        with self.lock:
            self.in_flight += 1
        try:
            request.settimeout(10)
            try:
                tls = self.ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            with self.lock:
                self.in_flight -= 1


def serve(a):
    state = State(a.state, a.ready_after)
    srv = Server(("::", a.port), Handler)
    srv.state = state
    srv.ctx = server_context(a.cert, a.key, os.path.dirname(os.path.abspath(a.state)))
    def terminate(*_):
        # As kube-apiserver after its shutdown delay: stop listening (new
        # connections are refused), let the requests in flight finish
        # (bounded), then exit.
        srv.socket.close()
        end = time.monotonic() + 5
        while srv.in_flight > 0 and time.monotonic() < end:
            time.sleep(0.01)
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    print(f"serving on [::]:{a.port}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.05)
    except OSError:
        # The listener closed under serve_forever by terminate().
        while True:
            time.sleep(1)


def one_probe(host, port, ctx, timeout, path):
    end = time.monotonic() + timeout
    left = lambda: max(0.001, end - time.monotonic())
    stage = "connect"
    try:
        sock = socket.create_connection((host, port), timeout=left())
        try:
            stage = "tls"
            sock.settimeout(left())
            tls = ctx.wrap_socket(sock, server_hostname="kubernetes")
            stage = "http"
            tls.settimeout(left())
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: kubernetes\r\nConnection: close\r\n\r\n".encode())
            buf = b""
            while b"\r\n" not in buf:
                tls.settimeout(left())
                chunk = tls.recv(4096)
                if not chunk:
                    return False, f"{stage}: closed before the status line"
                buf += chunk
            code = buf.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            tls.close()
            return code == "200", f"http {code}"
        finally:
            sock.close()
    except socket.timeout:
        return False, f"{stage}: timeout"
    except (OSError, ssl.SSLError, IndexError) as e:
        return False, f"{stage}: {type(e).__name__}: {e}".replace("\n", " ")


def probe(a):
    host, port = a.target.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=a.ca)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(a.out, "a", buffering=1) as out:
        nxt = time.monotonic()
        while not stop.is_set():
            t0 = time.time_ns()
            ok, detail = one_probe(host, int(port), ctx, a.timeout, a.path)
            t1 = time.time_ns()
            out.write(f"{t0} {t1} {'OK' if ok else 'FAIL'} {detail}\n")
            nxt += a.every
            pause = nxt - time.monotonic()
            if pause > 0:
                stop.wait(pause)
            else:
                nxt = time.monotonic()


# How far from a holder change seen by `watch` (which polls) a probe may be
# and still count as in flight at that move.
MOVE_TOLERANCE_NS = 250_000_000


def reset_at_move(p, changes):
    """A probe whose TCP connection was up and then reset or closed, close
    to a change of the VIP's holder: the client's neighbour entry moved to
    the new holder mid-connection, and the new holder, which has no such
    connection, reset it. No VRRP hand-over can save a connection in
    flight at that instant (there is no connection sync)."""
    t0, t1, _ok, detail = p
    after_connect = detail.startswith(("tls:", "http:")) and "timeout" not in detail
    return after_connect and any(t0 - MOVE_TOLERANCE_NS <= c <= t1 + MOVE_TOLERANCE_NS for c in changes)


def analyze(a):
    probes = []
    with open(a.file) as f:
        for line in f:
            parts = line.split(" ", 3)
            if len(parts) < 3:
                continue
            t0, t1, verdict = int(parts[0]), int(parts[1]), parts[2].strip()
            if a.since is not None and t0 < a.since:
                continue
            if a.until is not None and t0 > a.until:
                continue
            probes.append((t0, t1, verdict == "OK", parts[3].strip() if len(parts) > 3 else ""))
    failed = [p for p in probes if not p[2]]
    changes = []
    if a.moves:
        with open(a.moves) as f:
            changes = [int(line.split()[0]) for line in f if line.strip()]
    at_move = [p for p in failed if reset_at_move(p, changes)]
    outages = []
    start = None
    for t0, _t1, ok, _d in probes:
        if not ok and start is None:
            start = t0
        elif ok and start is not None:
            outages.append((start, t0))
            start = None
    unfinished = start is not None
    longest = max((e - s for s, e in outages), default=0)
    slowest = max((t1 - t0 for t0, t1, ok, _ in probes if ok), default=0)
    print(f"probes={len(probes)}")
    print(f"failed={len(failed)}")
    print(f"failed_in_flight_at_move={len(at_move)}")
    print(f"outages={len(outages) + (1 if unfinished else 0)}")
    print(f"longest_outage_s={longest / 1e9:.3f}")
    print(f"unfinished={1 if unfinished else 0}")
    if unfinished:
        print(f"unfinished_since_s={(probes[-1][0] - start) / 1e9:.3f}")
    print(f"first_fail_ns={failed[0][0] if failed else 0}")
    print(f"slowest_ok_s={slowest / 1e9:.3f}")
    reasons = {}
    for p in failed:
        reasons[p[3]] = reasons.get(p[3], 0) + 1
    print("fail_reasons=" + "; ".join(f"{n}x {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1])[:4]))


def holders(namespaces, vip):
    held = []
    for i, ns in enumerate(namespaces):
        out = subprocess.run(["ip", "-n", ns, "-o", "addr", "show", "dev", "eth0"],
                             capture_output=True, text=True).stdout
        if any(w.split("/")[0] == vip for w in out.split()):
            held.append(i)
    return held


def watch(a):
    namespaces = a.ns.split(",")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    last = None
    with open(a.out, "a", buffering=1) as out:
        while not stop.is_set():
            h = holders(namespaces, a.vip)
            if h != last:
                out.write(f"{time.time_ns()} {','.join(map(str, h)) or '-'}\n")
                last = h
            stop.wait(a.every)


def moves(a):
    n, last = 0, None
    with open(a.file) as f:
        for line in f:
            t, h = line.split()
            if a.since is not None and int(t) < a.since:
                # Before the window: only where the VIP was.
                if h != "-" and "," not in h:
                    last = h
                continue
            if a.until is not None and int(t) > a.until:
                break
            if h == "-" or "," in h:
                continue
            if last is not None and h != last:
                n += 1
            last = h
    print(n)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--state", required=True)
    s.add_argument("--port", type=int, default=6443)
    s.add_argument("--ready-after", type=float, default=2.5)
    c = sub.add_parser("probe")
    c.add_argument("--target", required=True)
    c.add_argument("--ca", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--every", type=float, default=0.02)
    c.add_argument("--timeout", type=float, default=0.3)
    c.add_argument("--path", default="/livez")
    n = sub.add_parser("analyze")
    n.add_argument("file")
    n.add_argument("--from", dest="since", type=int)
    n.add_argument("--to", dest="until", type=int)
    n.add_argument("--moves", help="a watch file: count failures in flight at a VIP move")
    w = sub.add_parser("watch")
    w.add_argument("--ns", required=True)
    w.add_argument("--vip", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--every", type=float, default=0.02)
    m = sub.add_parser("moves")
    m.add_argument("file")
    m.add_argument("--from", dest="since", type=int)
    m.add_argument("--to", dest="until", type=int)
    a = p.parse_args()
    {"serve": serve, "probe": probe, "analyze": analyze, "watch": watch, "moves": moves}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
