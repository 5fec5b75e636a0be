# STAND-IN, for photon's tests only. mesos-master, mesos-agent and Marathon have no Debian package, so
# the end-to-end tests overlay these scripts on the test machines (controlPlane.local.layers). They accept
# exactly the command lines photon's mesos kind produces (anything else fails loudly) and keep their
# state in the real ZooKeeper ensemble the kind runs: masters elect a leader there the way Mesos does
# (ephemeral sequential json.info_ nodes under /mesos), agents and frameworks register there, and the
# leader answers the HTTP endpoints the kind's checks call from that state. Nothing in photon's
# Sources/ or templates/ knows about them.
import http.server
import json
import os
import re
import signal
import sys
import threading

from kazoo.client import KazooClient

VERSION = "1.11.0"
ROOT = "/photon-standin"


def fail(message):
    sys.stderr.write("stand-in %s: %s\n" % (os.path.basename(sys.argv[0]), message))
    sys.exit(1)


def refuse(argv):
    fail("does not accept the command line: %s" % " ".join(argv))


def flags(argv, allowed, switches=()):
    """--name=value flags, each of `allowed` exactly once, plus the bare `switches`; anything else is refused."""
    values = {}
    for arg in argv:
        if arg in switches:
            values[arg[2:]] = True
            continue
        match = re.fullmatch(r"--([a-z_]+)=(.+)", arg)
        if not match or match.group(1) not in allowed or match.group(1) in values:
            refuse(argv)
        values[match.group(1)] = match.group(2)
    if set(values) != set(allowed) | {s[2:] for s in switches}:
        refuse(argv)
    return values


def zookeeper(url, path):
    """A started client for zk://HOST:PORT,…/PATH; the path must be `path`."""
    match = re.fullmatch(r"zk://((?:[0-9.]+:2181,)*[0-9.]+:2181)(/[a-z]+)", url)
    if not match or match.group(2) != path:
        fail("expected zk://HOST:2181,…%s, found %s" % (path, url))
    client = KazooClient(hosts=match.group(1), timeout=10)
    client.start(timeout=30)
    # Stopped like a real daemon (SIGTERM), end the session at once: its ephemeral nodes go with it.
    def stop(*_):
        client.stop()
        client.close()
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    return client


def serve(address, port, handler):
    server = http.server.ThreadingHTTPServer((address, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class JSONHandler(http.server.BaseHTTPRequestHandler):
    def send_json(self, value, status=200):
        body = json.dumps(value, separators=(",", ":")).encode()  # compact, as Mesos writes it
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
