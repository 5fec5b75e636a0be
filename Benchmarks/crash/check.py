#!/usr/bin/env python3
"""crash check: each cluster of the deployment is exactly what the blueprint says, asked of the
software itself (not of photon's records):

  swarm       `docker node ls` on the first manager: every manager and worker, Ready, nothing else
  kubernetes  `kubectl get nodes` on the first controller: every controller and worker, Ready, nothing
              else; `etcdctl member list` on the first etcd machine: every etcd machine, started
  mesos       ZooKeeper `srvr` on each ZooKeeper machine: one leader, the rest followers (standalone
              alone); the first master's /master/slaves: exactly the agents
  management  `etcdctl member list` on the first plane machine: every plane machine, started

usage: check.py BLUEPRINT STATUS_JSON [CLUSTER.ROLE=N|recorded ...]   (and STATUS_JSON.local, `status --local`, if there is one)   (counts that differ from the blueprint's, after a scale)
Prints one line per cluster; exits 1 when one does not match.
"""
import json
import socket
import subprocess
import sys
import urllib.request

import yaml

blueprint = yaml.safe_load(open(sys.argv[1]))
status = json.load(open(sys.argv[2]))
overrides = {}
for arg in sys.argv[3:]:
    key, count = arg.split("=")
    if count == "recorded":  # what photon recorded of a scale (it may have been killed before it did), else the blueprint's
        group, role = key.split(".")
        recorded = [s["count"] for s in status.get("scaled") or [] if s["group"] == group and s["role"] == role]
        if recorded:
            overrides[key] = recorded[0]
    else:
        overrides[key] = int(count)
deployment = blueprint["name"]
state = f".photon/{deployment}"
address = {m["name"]: m["address"] for m in status["machines"]}
try:  # with a management plane: the installer's own state (`status --local`) has the plane's machines
    address.update({m["name"]: m["address"] for m in json.load(open(sys.argv[2] + ".local"))["machines"]})
except FileNotFoundError:
    pass


def count(cluster, role, value):
    return overrides.get(f"{cluster}.{role}", value["count"] if isinstance(value, dict) else int(value))


def names(cluster, role, roles):
    return [f"{deployment}-{cluster}-{role}-{i}" for i in range(1, count(cluster, role, roles.get(role, 0)) + 1)]


def ssh(machine, command):
    result = subprocess.run(
        ["ssh", "-i", f"{state}/id_ed25519", "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={state}/machines/known_hosts",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"root@{address[machine]}", command],
        capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"{command.split()[0]} on {machine}: {result.stderr.strip()[-300:]}")
    return result.stdout


def four_letters(machine, word):
    with socket.create_connection((address[machine], 2181), timeout=5) as connection:
        connection.sendall(word.encode())
        return b"".join(iter(lambda: connection.recv(4096), b"")).decode()


def swarm(cluster, roles):
    managers, workers = names(cluster, "managers", roles), names(cluster, "workers", roles)
    have = sorted(ssh(managers[0], "docker node ls --format '{{.Hostname}} {{.Status}} {{if .ManagerStatus}}manager{{else}}worker{{end}}'").split("\n")[:-1])
    want = sorted([f"{m} Ready manager" for m in managers] + [f"{w} Ready worker" for w in workers])
    return have == want, f"docker node ls: {have}, expected {want}"


def kubernetes(cluster, roles):
    controllers, workers, members = names(cluster, "controllers", roles), names(cluster, "workers", roles), names(cluster, "etcd", roles)
    lines = ssh(controllers[0], "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes").split("\n")[1:-1]
    have = sorted(" ".join(line.split()[:2]) for line in lines)
    want = sorted(f"{n} Ready" for n in controllers + workers)
    if have != want:
        return False, f"kubectl get nodes: {have}, expected {want}"
    tls = "--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key"
    listed = ssh(members[0], f"etcdctl --endpoints=https://127.0.0.1:2379 {tls} member list").split("\n")[:-1]
    started = sorted(line.split(", ")[2] for line in listed if ", started, " in line)
    return started == sorted(members) and len(listed) == len(members), f"etcdctl member list: {listed}, expected {sorted(members)} started"


def mesos(cluster, roles):
    keepers, masters, agents = names(cluster, "zookeeper", roles), names(cluster, "masters", roles), names(cluster, "agents", roles)
    modes = sorted(next((line.split(": ")[1] for line in four_letters(k, "srvr").split("\n") if line.startswith("Mode: ")), "none") for k in keepers)
    want = ["standalone"] if len(keepers) == 1 else sorted(["leader"] + ["follower"] * (len(keepers) - 1))
    if modes != want:
        return False, f"ZooKeeper modes: {modes}, expected {want}"
    with urllib.request.urlopen(f"http://{address[masters[0]]}:5050/master/slaves", timeout=5) as answer:
        have = sorted(slave["hostname"] for slave in json.loads(answer.read())["slaves"])
    want = sorted(address[a] for a in agents)
    return have == want, f"/master/slaves: {have}, expected {want}"


def management(_, roles):
    members = names("management", "plane", roles)
    tls = "--cacert=/etc/photon/etcd/ca.crt --cert=/etc/photon/etcd/client.crt --key=/etc/photon/etcd/client.key"
    listed = ssh(members[0], f"etcdctl --endpoints=https://127.0.0.1:2379 {tls} member list").split("\n")[:-1]
    started = sorted(line.split(", ")[2] for line in listed if ", started, " in line)
    return started == sorted(members) and len(listed) == len(members), f"etcdctl member list: {listed}, expected {sorted(members)} started"


checks = {"swarm": swarm, "kubernetes": kubernetes, "mesos": mesos, "management": management}
ok = True
plane = blueprint.get("management")
if plane is not None:
    blueprint.setdefault("clusters", []).insert(0, {"name": "management", "kind": "management", "roles": {"plane": plane.get("machines", 1)}})
for cluster in blueprint.get("clusters", []):
    check = checks.get(cluster["kind"])
    if check is None:
        continue
    try:
        matches, detail = check(cluster["name"], cluster["roles"])
    except Exception as error:  # a machine that does not answer is a mismatch too
        matches, detail = False, f"{type(error).__name__}: {error}"
    print(f"{cluster['kind']} {cluster['name']}: {'ok' if matches else detail}")
    ok = ok and matches
sys.exit(0 if ok else 1)
