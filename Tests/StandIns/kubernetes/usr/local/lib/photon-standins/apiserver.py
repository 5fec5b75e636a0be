# STAND-IN API server for photon's tests: kubeadm (stand-in) starts it on a control-plane node so the
# node listens on 6443 and joining machines can discover the cluster. It serves only what the
# stand-ins need: where the cluster's real etcd is.
import http.server
import json
import sys

address, endpoints = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/cluster-info":
            body = json.dumps({"etcd": endpoints}).encode()
        elif self.path in ("/healthz", "/livez", "/readyz"):
            body = b"ok"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer((address, 6443), Handler).serve_forever()
