# STAND-INS of kubeadm, kubelet and kubectl for photon's tests, as one Python zip application (like a
# multi-call binary): ../bundle writes it once under each name, as a user's bundle holds the real files.
import os
import runpy
import sys

command = os.path.basename(sys.argv[0])
if len(sys.argv) > 1 and sys.argv[1] == "__apiserver__":
    # kubeadm init starts the stand-in API server from its own file.
    del sys.argv[1]
    command = "apiserver"
modules = {"kubeadm": "standin_kubeadm", "kubelet": "standin_kubelet", "kubectl": "standin_kubectl", "apiserver": "standin_apiserver"}
if command not in modules:
    sys.stderr.write("stand-in: called as %s, which is none of %s\n" % (command, ", ".join(sorted(modules))))
    sys.exit(2)
runpy.run_module(modules[command], run_name="__main__")
