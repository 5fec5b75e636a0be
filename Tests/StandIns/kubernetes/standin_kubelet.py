#!/usr/bin/python3
# STAND-IN kubelet for photon's tests (see k8s.py; one file with its siblings, built by ../bundle): started with the command line
# of photon's kubernetes kind, it registers its node in the cluster's real etcd and renews it every 2 s,
# Ready while containerd answers on its socket.
import subprocess
import sys
import time

from k8s import VERSION, etcd_endpoints_from, fail, get, node_key, now, put, refuse

argv = sys.argv[1:]
fixed = ["--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--kubeconfig=/etc/kubernetes/kubelet.conf",
         "--config=/var/lib/kubelet/config.yaml"]
if argv[:3] != fixed:
    refuse(["kubelet"] + argv)
flags = dict(arg[2:].split("=", 1) for arg in argv[3:] if arg.startswith("--") and "=" in arg)
if len(flags) != len(argv) - 3 or set(flags) != {"container-runtime-endpoint", "node-ip", "hostname-override"}:
    refuse(["kubelet"] + argv)
if flags["container-runtime-endpoint"] != "unix:///run/containerd/containerd.sock":
    fail("the container runtime must be containerd")
endpoints = etcd_endpoints_from("/etc/kubernetes/kubelet.conf")
name = flags["hostname-override"]
while True:
    ready = subprocess.run(["ctr", "--address", "/run/containerd/containerd.sock", "version"], capture_output=True).returncode == 0
    previous = get(endpoints, node_key(name)) or {}
    put(endpoints, node_key(name), {"name": name, "ip": flags["node-ip"], "ready": ready, "heartbeat": now(),
                                    "unschedulable": previous.get("unschedulable", False), "kubeletVersion": "v" + VERSION})
    time.sleep(2)
