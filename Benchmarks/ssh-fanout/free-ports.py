#!/usr/bin/python3
"""Prints COUNT free TCP ports on 127.0.0.1, one a line, found by binding to them.

usage: free-ports.py COUNT [FIRST [LAST]]

Ports are tried upward from FIRST (default 21000), below the kernel's ephemeral
range, so that an outgoing connection cannot have taken one in the meantime. All
the sockets are held until the end, so the ports printed are distinct, then
released for the sshd processes to bind (a tiny race the caller checks for).
"""
import socket
import sys

count = int(sys.argv[1])
first = int(sys.argv[2]) if len(sys.argv) > 2 else 21000
last = int(sys.argv[3]) if len(sys.argv) > 3 else 32000
held = []
for port in range(first, last + 1):
    if len(held) == count:
        break
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
    except OSError:
        s.close()
        continue
    held.append(s)
if len(held) < count:
    sys.exit(f"free-ports: only {len(held)} free ports in {first}-{last}, {count} needed")
for s in held:
    print(s.getsockname()[1])
for s in held:
    s.close()
