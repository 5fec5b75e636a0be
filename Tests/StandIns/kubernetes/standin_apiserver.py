# STAND-IN API server for photon's tests: kubeadm (stand-in) starts it on a control-plane node so the
# node listens on 6443 and joining machines can discover the cluster. It serves only what the
# stand-ins need: where the cluster's real etcd is, and the store itself to nodes that, like a real
# kubelet, reach the cluster only through the API server (it talks to etcd with the API server's
# client certificate, as the real one does).
import http.server
import json
import sys

import k8s

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

    def do_POST(self):
        if self.path != "/photon-standin/kv":
            self.send_error(404)
            return
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        operation, key = request.get("operation"), request.get("key", "")
        if not key.startswith("/registry/"):
            self.send_error(403)
            return
        try:
            if operation == "get":
                result = k8s.get(endpoints, key)
            elif operation == "prefix":
                result = k8s.get_prefix(endpoints, key)
            elif operation == "put":
                k8s.put(endpoints, key, request["value"])
                result = True
            elif operation == "delete":
                k8s.delete(endpoints, key)
                result = True
            else:
                self.send_error(400)
                return
        except SystemExit:
            self.send_error(502)
            return
        body = json.dumps(result).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer((address, 6443), Handler).serve_forever()
