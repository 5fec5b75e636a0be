#!/usr/bin/python3
# STAND-IN kubectl for photon's tests (see k8s.py; one file with its siblings, built by ../bundle): the command lines of photon's
# kubernetes kind, answered from the nodes the kubelets (stand-ins) keep in the cluster's real etcd.
import os
import sys
import time

from k8s import delete, etcd_endpoints_from, fail, get, get_prefix, node_key, now, put, refuse

argv = sys.argv[1:]
if len(argv) < 3 or argv[0] != "--kubeconfig":
    refuse(["kubectl"] + argv)
endpoints = etcd_endpoints_from(argv[1])
command = argv[2:]


def schedulable(name, value, word):
    """drain and uncordon: the node's unschedulable mark, in the real etcd."""
    node = get(endpoints, node_key(name))
    if node is None:
        fail('nodes "%s" not found' % name)
    node["unschedulable"] = not value
    put(endpoints, node_key(name), node)
    print("node/%s %s" % (name, word))


def is_ready(node):
    return node is not None and node["ready"] and now() - node["heartbeat"] <= 10


if len(command) == 3 and command[:2] == ["apply", "-f"]:
    if not os.path.isfile(command[2]):
        fail("%s does not exist" % command[2])
    put(endpoints, "/registry/photon-standin/addons/" + os.path.basename(command[2]), {"applied": now()})
    print("applied %s (stand-in)" % command[2])
elif len(command) == 4 and command[:3] == ["wait", "--for=condition=Ready", "--timeout=30s"] and command[3].startswith("node/"):
    name = command[3][len("node/"):]
    deadline = time.time() + 30
    while time.time() < deadline:
        if is_ready(get(endpoints, node_key(name))):
            print("node/%s condition met" % name)
            sys.exit(0)
        time.sleep(0.5)
    fail("timed out waiting for the condition on node/%s" % name)
elif len(command) == 5 and command[0] == "drain" and command[2:] == ["--ignore-daemonsets", "--delete-emptydir-data", "--timeout=5m"]:
    schedulable(command[1], False, "drained")
elif len(command) == 2 and command[0] == "uncordon":
    schedulable(command[1], True, "uncordoned")
elif len(command) == 3 and command[:2] == ["get", "node"]:
    node = get(endpoints, node_key(command[2]))
    if node is None:
        fail('nodes "%s" not found' % command[2])
    print("%s %s" % (node["name"], "Ready" if is_ready(node) else "NotReady"))
elif command == ["get", "nodes"]:
    print("NAME STATUS")
    for node in sorted(get_prefix(endpoints, "/registry/minions/").values(), key=lambda n: n["name"]):
        status = ("Ready" if is_ready(node) else "NotReady") + (",SchedulingDisabled" if node.get("unschedulable") else "")
        print("%s %s" % (node["name"], status))
elif len(command) == 4 and command[:2] == ["delete", "node"] and command[3] == "--ignore-not-found":
    delete(endpoints, node_key(command[2]))
else:
    refuse(["kubectl"] + argv)
