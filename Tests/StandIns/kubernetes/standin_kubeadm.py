#!/usr/bin/python3
# STAND-IN kubeadm for photon's tests (see k8s.py; one file with its siblings, built by ../bundle): the command lines of photon's
# kubernetes kind, with the cluster's state in its real etcd. init makes a real CA (openssl), so the CA
# hash photon captures is real; join checks the bootstrap token and the CA hash against that state.
import hashlib
import json
import os
import random
import re
import shutil
import signal
import string
import subprocess
import sys
import urllib.request

from k8s import (API, VERSION, delete, document, documents, etcd_endpoints_from, etcdctl, fail, get, get_prefix, kubeconfig, node_key, now,
                 put, refuse, token_key)

argv = sys.argv[1:]
PKI = "/etc/kubernetes/pki"
APISERVER_PID = "/run/photon-standin-apiserver.pid"


def run(*command):
    result = subprocess.run(list(command), capture_output=True, text=True)
    if result.returncode != 0:
        fail("%s failed: %s" % (command[0], result.stderr.strip()))
    return result.stdout


def ca_hash():
    der = subprocess.run("openssl x509 -pubkey -noout -in %s/ca.crt | openssl pkey -pubin -outform der" % PKI,
                         shell=True, capture_output=True).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()


def kubelet_files(name, address, kubelet_config, endpoints, server):
    os.makedirs("/var/lib/kubelet", exist_ok=True)
    with open("/var/lib/kubelet/config.yaml", "w") as handle:
        json.dump(kubelet_config or {"kind": "KubeletConfiguration"}, handle)
    with open("/var/lib/kubelet/kubeadm-flags.env", "w") as handle:
        handle.write('KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock '
                     '--node-ip=%s --hostname-override=%s"\n' % (address, name))
    kubeconfig("/etc/kubernetes/kubelet.conf", server, endpoints, "system:node:" + name)
    kubeconfig("/etc/kubernetes/bootstrap-kubelet.conf", server, endpoints, "tls-bootstrap")


def start_apiserver(address, endpoints):
    os.makedirs("/var/log/photon", exist_ok=True)
    log = open("/var/log/photon/standin-apiserver.log", "ab")
    process = subprocess.Popen([sys.executable, sys.argv[0], "__apiserver__", address, endpoints], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                               start_new_session=True)
    with open(APISERVER_PID, "w") as handle:
        handle.write(str(process.pid))


def stop_apiserver():
    try:
        with open(APISERVER_PID) as handle:
            os.kill(int(handle.read()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


def check_preflight(registration):
    for error in registration.get("ignorePreflightErrors") or []:
        if not isinstance(error, str):
            fail("ignorePreflightErrors must be strings")
    if registration.get("criSocket") != "unix:///run/containerd/containerd.sock":
        fail("criSocket must be containerd's")
    if subprocess.run(["ctr", "--address", "/run/containerd/containerd.sock", "version"], capture_output=True).returncode != 0:
        fail("[preflight] containerd does not answer on /run/containerd/containerd.sock")


def init(config):
    init_config = document(config, "InitConfiguration")
    cluster = document(config, "ClusterConfiguration")
    kubelet = next((d for d in documents(config) if d.get("kind") == "KubeletConfiguration"), None)
    key = init_config.get("certificateKey", "")
    if len(key) != 64 or any(c not in string.hexdigits for c in key):
        fail("certificateKey must be 64 hex digits")
    registration = init_config["nodeRegistration"]
    check_preflight(registration)
    name, address = registration["name"], init_config["localAPIEndpoint"]["advertiseAddress"]
    external = cluster["etcd"]["external"]
    endpoints = ",".join(external["endpoints"])
    # The API server's client certificate for etcd, where photon put it (kubeadm's names).
    expected = {"caFile": "/etc/kubernetes/pki/etcd/ca.crt", "certFile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
                "keyFile": "/etc/kubernetes/pki/apiserver-etcd-client.key"}
    for field, path in expected.items():
        if external.get(field) != path or not os.path.isfile(path):
            fail("etcd.external.%s must name %s, and it must exist" % (field, path))
    if any(not endpoint.startswith("https://") for endpoint in external["endpoints"]):
        fail("the external etcd endpoints must be https:// (the cluster's etcd takes client certificates only)")
    if etcdctl(endpoints, "endpoint", "health", check=False).returncode != 0:
        fail("[preflight] external etcd %s is not healthy" % endpoints)
    server = cluster.get("controlPlaneEndpoint") or address + ":6443"
    if cluster["kubernetesVersion"].lstrip("v") != VERSION:
        fail("kubernetesVersion %s is not this kubeadm's version v%s" % (cluster["kubernetesVersion"], VERSION))
    os.makedirs(PKI, exist_ok=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
        "-subj", "/CN=kubernetes", "-keyout", PKI + "/ca.key", "-out", PKI + "/ca.crt")
    with open(PKI + "/ca.crt") as handle:
        ca = handle.read()
    put(endpoints, "/registry/photon-standin/cluster",
        {"name": cluster["clusterName"], "version": cluster["kubernetesVersion"], "server": server, "ca": ca,
         "podSubnet": cluster["networking"]["podSubnet"], "serviceSubnet": cluster["networking"]["serviceSubnet"]})
    upload_certs(endpoints, key)
    kubelet_files(name, address, kubelet, endpoints, server)
    kubeconfig("/etc/kubernetes/admin.conf", server, endpoints, "kubernetes-admin")
    start_apiserver(address, endpoints)
    print("Your Kubernetes control-plane has initialized successfully! (stand-in)")


def upload_certs(endpoints, key):
    put(endpoints, "/registry/photon-standin/certificates", {"keyDigest": hashlib.sha256(key.encode()).hexdigest(), "at": now()})


def join(config):
    join_config = document(config, "JoinConfiguration")
    discovery = join_config["discovery"]["bootstrapToken"]
    registration = join_config["nodeRegistration"]
    check_preflight(registration)
    name, address = registration["name"], registration["kubeletExtraArgs"]["node-ip"]
    server = discovery["apiServerEndpoint"]
    try:
        info = json.loads(urllib.request.urlopen("http://%s/cluster-info" % server, timeout=5).read())
    except Exception as error:
        fail("cannot reach the API server at %s: %s" % (server, error))
    # A control-plane node talks to etcd with the API server's certificate; a worker only through the API server.
    control = join_config.get("controlPlane")
    endpoints = info["etcd"] if control else API + server
    stored = get(endpoints, "/registry/photon-standin/cluster")
    digest = hashlib.sha256(subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout"], input=stored["ca"].encode(), capture_output=True).stdout, capture_output=True).stdout).hexdigest()
    if "sha256:" + digest not in discovery["caCertHashes"]:
        fail("the cluster CA's public key hash sha256:%s is not among caCertHashes %s" % (digest, discovery["caCertHashes"]))
    if stored["version"].lstrip("v") != VERSION:
        fail("this kubeadm is v%s; the cluster runs %s" % (VERSION, stored["version"]))
    token = get(endpoints, token_key(discovery["token"]))
    if not token or token["token"] != discovery["token"] or token["expires"] < now():
        fail("bootstrap token %s... is not valid in the cluster" % discovery["token"][:6])
    os.makedirs(PKI, exist_ok=True)
    with open(PKI + "/ca.crt", "w") as handle:
        handle.write(stored["ca"])
    if control:
        uploaded = get(endpoints, "/registry/photon-standin/certificates")
        if not uploaded or uploaded["keyDigest"] != hashlib.sha256(control["certificateKey"].encode()).hexdigest():
            fail("the control-plane certificates were not uploaded with this certificate key")
        if now() - uploaded["at"] > 7200:
            fail("the uploaded control-plane certificates have expired (2h)")
        kubeconfig("/etc/kubernetes/admin.conf", server, endpoints, "kubernetes-admin")
        start_apiserver(control["localAPIEndpoint"]["advertiseAddress"], endpoints)
    kubelet_files(name, address, None, endpoints, server)
    print("This node has joined the cluster (stand-in)")


def token_command(args):
    if args == ["generate"]:
        alphabet = string.ascii_lowercase + string.digits
        print("".join(random.choice(alphabet) for _ in range(6)) + "." + "".join(random.choice(alphabet) for _ in range(16)))
        return
    if len(args) == 3 and args[0] == "list" and args[1] == "--kubeconfig":
        endpoints = etcd_endpoints_from(args[2])
        print("TOKEN                     TTL         EXPIRES   USAGES")
        for value in get_prefix(endpoints, "/registry/secrets/kube-system/bootstrap-token-").values():
            ttl = value["expires"] - now()
            print("%s   %s   -   authentication,signing" % (value["token"], "<invalid>" if ttl <= 0 else "%dm" % (ttl // 60)))
        return
    if len(args) == 5 and args[0] == "create" and args[1] == "--config" and args[3] == "--kubeconfig":
        create_token(args[2], etcd_endpoints_from(args[4]))
        return
    if len(args) == 4 and args[0] == "delete" and args[2] == "--kubeconfig":
        # By the token or by its public id, as kubeadm accepts both.
        if not re.fullmatch(r"[a-z0-9]{6}(\.[a-z0-9]{16})?", args[1]):
            fail("%s is not a token or a token id" % args[1][:6])
        delete(etcd_endpoints_from(args[3]), token_key(args[1]))
        return
    refuse(["kubeadm", "token"] + args)


def create_token(path, endpoints):
    """kubeadm token create --config: the InitConfiguration's one bootstrap token, as kubeadm reads it."""
    if os.stat(path).st_mode & 0o077:
        fail("%s holds a token and must be readable by its owner only" % path)
    tokens = document(path, "InitConfiguration").get("bootstrapTokens") or []
    if len(tokens) != 1:
        fail("%s must have exactly one bootstrap token" % path)
    token = tokens[0]
    value = token.get("token", "")
    if not re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", value):
        fail("the bootstrap token in %s is not [a-z0-9]{6}.[a-z0-9]{16}" % path)
    ttl = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", token.get("ttl", ""))
    if not ttl or not token.get("ttl"):
        fail("the bootstrap token's ttl %r is not a duration" % token.get("ttl"))
    seconds = int(ttl.group(1) or 0) * 3600 + int(ttl.group(2) or 0) * 60 + int(ttl.group(3) or 0)
    if sorted(token.get("usages") or []) != ["authentication", "signing"]:
        fail("the bootstrap token needs the usages signing and authentication")
    put(endpoints, token_key(value), {"token": value, "expires": now() + seconds, "description": token.get("description", "")})
    print(value)


def minor(version):
    parts = version.lstrip("v").split(".")
    return int(parts[0]), int(parts[1]), int(parts[2])


def upgrade(args):
    """kubeadm upgrade apply vX --yes on the first control-plane node, then kubeadm upgrade node on every
    other node: refused out of that order, to another version than this kubeadm's, downwards, or over a minor."""
    # A control-plane node reaches etcd itself; a worker only through the API server.
    endpoints = etcd_endpoints_from("/etc/kubernetes/admin.conf" if os.path.exists("/etc/kubernetes/admin.conf") else "/etc/kubernetes/kubelet.conf")
    cluster = get(endpoints, "/registry/photon-standin/cluster")
    name = open("/var/lib/kubelet/kubeadm-flags.env").read().split("--hostname-override=")[1].split('"')[0]
    log = get(endpoints, "/registry/photon-standin/upgrades") or []
    if args[:1] == ["apply"] and len(args) == 3 and args[2] == "--yes":
        if not os.path.exists("/etc/kubernetes/admin.conf"):
            fail("upgrade apply runs on a control-plane node")
        target = args[1]
        if target.lstrip("v") != VERSION:
            fail("the specified version %s is not this kubeadm's v%s: upgrade kubeadm first" % (target, VERSION))
        current, wanted = minor(cluster["version"]), minor(target)
        if wanted < current:
            fail("downgrading the cluster from %s to %s is not supported" % (cluster["version"], target))
        if wanted[:2] > (current[0], current[1] + 1):
            fail("upgrading from %s to %s skips a minor version" % (cluster["version"], target))
        cluster["version"] = "v" + VERSION
        put(endpoints, "/registry/photon-standin/cluster", cluster)
    elif args == ["node"]:
        if cluster["version"].lstrip("v") != VERSION:
            fail("the cluster runs %s: kubeadm upgrade apply v%s on the first control-plane node comes first" % (cluster["version"], VERSION))
    else:
        refuse(["kubeadm", "upgrade"] + args)
    log.append({"node": name, "command": args[0], "version": "v" + VERSION, "at": now()})
    put(endpoints, "/registry/photon-standin/upgrades", log)
    print("[upgrade] %s is at v%s (stand-in)" % (name, VERSION))


def reset():
    stop_apiserver()
    for path in ["/etc/kubernetes", "/var/lib/kubelet"]:
        shutil.rmtree(path, ignore_errors=True)
    print("[reset] stand-in: removed /etc/kubernetes and /var/lib/kubelet")


if argv == ["init", "--config", "/etc/kubernetes/kubeadm-init.yaml", "--upload-certs", "--skip-token-print", "--skip-certificate-key-print"]:
    init(argv[2])
elif argv[:2] == ["token"] or (argv and argv[0] == "token"):
    token_command(argv[1:])
elif argv == ["init", "phase", "upload-certs", "--upload-certs", "--skip-certificate-key-print", "--config", "/etc/kubernetes/kubeadm-init.yaml"]:
    config = argv[6]
    upload_certs(",".join(document(config, "ClusterConfiguration")["etcd"]["external"]["endpoints"]),
                 document(config, "InitConfiguration")["certificateKey"])
elif argv == ["join", "--config", "/etc/kubernetes/kubeadm-join.yaml"]:
    join(argv[2])
elif argv[:1] == ["upgrade"]:
    upgrade(argv[1:])
elif argv == ["reset", "--force"]:
    reset()
else:
    refuse(["kubeadm"] + argv)
