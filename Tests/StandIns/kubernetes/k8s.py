# STAND-IN, for photon's tests only. kubeadm, kubelet and kubectl have no Debian package, so the
# end-to-end tests overlay these scripts on the test machines (controlPlane.local.layers). They accept
# exactly the command lines photon's kubernetes kind produces (anything else fails loudly) and keep the
# cluster's state in the real etcd cluster the kind runs, so readiness checks read a real store.
# Nothing in photon's Sources/ or templates/ knows about them.
import json
import os
import subprocess
import sys
import time
import urllib.request

import yaml

try:  # ../bundle --kubernetes-version writes it: the release these stand-ins play
    from standin_version import VERSION
except ImportError:
    VERSION = "1.30.4"

ETCD_HINT = "# photon-standin-etcd: "


def fail(message):
    sys.stderr.write("stand-in %s: %s\n" % (os.path.basename(sys.argv[0]), message))
    sys.exit(1)


def refuse(argv):
    fail("does not accept the command line: %s" % " ".join(argv))


def documents(path):
    try:
        with open(path) as handle:
            return [d for d in yaml.safe_load_all(handle) if d]
    except (OSError, yaml.YAMLError) as error:
        fail("cannot read %s: %s" % (path, error))


def document(path, kind):
    for doc in documents(path):
        if doc.get("kind") == kind:
            return doc
    fail("%s has no %s" % (path, kind))


def etcd_endpoints_from(path):
    """The etcd endpoints recorded in a kubeconfig this stand-in wrote."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(ETCD_HINT):
                    return line[len(ETCD_HINT):].strip()
    except OSError as error:
        fail("cannot read %s: %s" % (path, error))
    fail("%s was not written by kubeadm (no etcd endpoints)" % path)


# The cluster's etcd takes only clients with a certificate of its authority: on a control-plane node the
# stand-ins use the API server's own (photon uploads it under kubeadm's names); elsewhere they go, like a
# real kubelet, through the API server (the stand-in one proxies to etcd): endpoints "api:HOST:PORT".
ETCD_TLS = ["--cacert=/etc/kubernetes/pki/etcd/ca.crt", "--cert=/etc/kubernetes/pki/apiserver-etcd-client.crt",
            "--key=/etc/kubernetes/pki/apiserver-etcd-client.key"]
API = "api:"


def etcdctl_command(endpoints):
    return ["etcdctl", "--endpoints=" + endpoints, "--dial-timeout=3s", "--command-timeout=5s"] + (ETCD_TLS if "https://" in endpoints else [])


def etcdctl(endpoints, *args, check=True):
    result = subprocess.run(etcdctl_command(endpoints) + list(args), capture_output=True, text=True)
    if check and result.returncode != 0:
        fail("etcdctl %s failed: %s" % (" ".join(args), result.stderr.strip()))
    return result


def through_api(endpoints, operation, key, value=None):
    """A store operation through the stand-in API server at endpoints ("api:HOST:PORT")."""
    body = json.dumps({"operation": operation, "key": key, "value": value}).encode()
    request = urllib.request.Request("http://%s/photon-standin/kv" % endpoints[len(API):], data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        return json.loads(urllib.request.urlopen(request, timeout=10).read())
    except Exception as error:
        fail("the API server at %s did not answer %s %s: %s" % (endpoints[len(API):], operation, key, error))


def get(endpoints, key):
    if endpoints.startswith(API):
        return through_api(endpoints, "get", key)
    out = etcdctl(endpoints, "get", key, "--print-value-only").stdout.strip()
    return json.loads(out) if out else None


def get_prefix(endpoints, prefix):
    if endpoints.startswith(API):
        return through_api(endpoints, "prefix", prefix)
    lines = etcdctl(endpoints, "get", prefix, "--prefix").stdout.splitlines()
    return {lines[i]: json.loads(lines[i + 1]) for i in range(0, len(lines) - 1, 2)}


def put(endpoints, key, value):
    if endpoints.startswith(API):
        through_api(endpoints, "put", key, value)
        return
    # The value on standard input: it may hold a token, and a command line is visible to every process.
    result = subprocess.run(etcdctl_command(endpoints) + ["put", key], input=json.dumps(value, sort_keys=True), capture_output=True, text=True)
    if result.returncode != 0:
        fail("etcdctl put %s failed: %s" % (key, result.stderr.strip()))


def delete(endpoints, key):
    if endpoints.startswith(API):
        through_api(endpoints, "delete", key)
        return
    etcdctl(endpoints, "del", key)


def node_key(name):
    return "/registry/minions/" + name


def token_key(token):
    return "/registry/secrets/kube-system/bootstrap-token-" + token.split(".")[0]


def kubeconfig(path, server, endpoints, user):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(ETCD_HINT + endpoints + "\n")
        yaml.safe_dump({"apiVersion": "v1", "kind": "Config",
                        "clusters": [{"name": "kubernetes", "cluster": {"server": "https://" + server,
                                                                        "certificate-authority": "/etc/kubernetes/pki/ca.crt"}}],
                        "users": [{"name": user}],
                        "contexts": [{"name": user + "@kubernetes", "context": {"cluster": "kubernetes", "user": user}}],
                        "current-context": user + "@kubernetes"}, handle)
    os.chmod(path, 0o600)


def now():
    return int(time.time())
