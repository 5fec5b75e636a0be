#!/usr/bin/python3
"""Checks that every upload dir holds the benchmark files, byte for byte, with mode 0644.

usage: verify-uploads.py HOSTS UPLOAD_ROOT FILE...

Checks UPLOAD_ROOT/upload-1 .. UPLOAD_ROOT/upload-HOSTS (every host, not a sample:
all the sshd processes serve this machine's own file system, so it is cheap).
Prints one line per problem (at most 20) and exits 1 if there was any.
"""
import hashlib
import os
import stat
import sys

hosts, root, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
expected = {}
for path in files:
    with open(path, "rb") as f:
        expected[os.path.basename(path)] = hashlib.sha256(f.read()).hexdigest()

problems = []
for i in range(1, hosts + 1):
    directory = os.path.join(root, f"upload-{i}")
    for name, digest in expected.items():
        path = os.path.join(directory, name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            problems.append(f"host {i}: {path} is missing")
            continue
        mode = stat.S_IMODE(st.st_mode)
        if mode != 0o644:
            problems.append(f"host {i}: {path} has mode {mode:04o}, not 0644")
        with open(path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                problems.append(f"host {i}: {path} differs from the source (sha256)")
for line in problems[:20]:
    print(line)
if len(problems) > 20:
    print(f"... and {len(problems) - 20} more")
sys.exit(1 if problems else 0)
