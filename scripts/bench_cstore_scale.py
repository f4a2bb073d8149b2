"""CSTORE at scale on this machine (part of `make bench-cstore`).

1. Convergence: N node processes (3, 10, 30) joined into one mesh; 10,000 SETs on node 0
   (pipelined, 100 per round trip); the time from the first write until every node holds all
   10,000 keys (polling each node's DBSIZE over RESP).
2. Catch-up: node A holds K keys (default 1,000,000, written pipelined); node B joins late
   and catches up by anti-entropy alone; the time from B's start until it holds all K. Then
   B is killed, A takes 1,000 more writes, and B restarts on its data: the time until it holds
   the 1,000 it missed (partial catch-up: what differs, not the store, should set the cost).

Usage: python bench_cstore_scale.py R1_BINARY  (env: SCALE_NODES="3 10 30", CATCHUP_KEYS)
Prints `key value` lines.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

R1 = sys.argv[1]
WRITES = int(os.environ.get("SCALE_WRITES", "10000"))
NODES = [int(n) for n in os.environ.get("SCALE_NODES", "3 10 30").split()]
CATCHUP = int(os.environ.get("CATCHUP_KEYS", "1000000"))


def port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Mesh:
    def __init__(self, root):
        self.root = root
        self.procs = []
        self.resp = []
        self.mesh = []
        token = os.path.join(root, "api.token")
        subprocess.run([R1, "token", "rotate", "--token-file", token], check=True, capture_output=True)
        self.token = token

    def start(self, join_first=True, extra=(), reuse=None):
        """Starts a node (on node `reuse`'s data directory when given) and returns a client."""
        i = len(self.procs) if reuse is None else reuse
        api, mesh, resp = port(), port(), port()
        args = [R1, "node", "--data-dir", os.path.join(self.root, f"n{i}"), "--api", f"127.0.0.1:{api}",
                "--api-token-file", self.token, "--mesh-listen", f"127.0.0.1:{mesh}", "--http", "off",
                "--resp", f"127.0.0.1:{resp}", *extra]
        if join_first and self.mesh:
            args += ["--join", f"127.0.0.1:{self.mesh[0]}"]
        log = open(os.path.join(self.root, f"n{i}.log"), "a")
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        if reuse is None:
            self.procs.append(proc)
            self.resp.append(resp)
            self.mesh.append(mesh)
        else:
            self.procs[i], self.resp[i], self.mesh[i] = proc, resp, mesh
        client = redis.Redis(host="127.0.0.1", port=resp)
        deadline = time.time() + 120
        while True:
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                if time.time() > deadline:
                    raise SystemExit(f"node {i} did not start; see {self.root}/n{i}.log")
                time.sleep(0.05)

    def stop(self):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


def fill(client, count, prefix):
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"{prefix}{i}", "v")
        if i % 100 == 99:
            pipe.execute()
    pipe.execute()


def wait_all(clients, count, limit):
    deadline = time.time() + limit
    pending = list(clients)
    while pending:
        pending = [c for c in pending if c.dbsize() < count]
        if time.time() > deadline:
            return None
        time.sleep(0.05)
    return True


for n in NODES:
    root = tempfile.mkdtemp(prefix=f"r1-scale{n}.")
    mesh = Mesh(root)
    try:
        clients = [mesh.start() for _ in range(n)]
        time.sleep(3)  # let peer exchange connect everyone
        started = time.time()
        fill(clients[0], WRITES, "k")
        written = time.time() - started
        ok = wait_all(clients, WRITES, 600)
        total = time.time() - started
        if ok:
            print(f"cstore_converge_{WRITES}_writes_{n}_nodes_s {total:.2f}  (writing took {written:.2f} s)")
        else:
            print(f"cstore_converge_{WRITES}_writes_{n}_nodes_s did not converge within 600 s")
        sys.stdout.flush()
    finally:
        mesh.stop()
        shutil.rmtree(root, ignore_errors=True)

if CATCHUP > 0:
    root = tempfile.mkdtemp(prefix="r1-catchup.")
    mesh = Mesh(root)
    try:
        a = mesh.start(extra=("--cstore-durability", "relaxed"))
        t0 = time.time()
        fill(a, CATCHUP, "c")
        print(f"cstore_fill_{CATCHUP}_keys_s {time.time() - t0:.1f}")
        sys.stdout.flush()
        started = time.time()
        b = mesh.start()
        ok = wait_all([b], CATCHUP, 3600)
        took = time.time() - started
        if ok:
            print(f"cstore_catchup_{CATCHUP}_keys_s {took:.1f}")
        else:
            print(f"cstore_catchup_{CATCHUP}_keys_s did not finish within 3600 s (B holds {b.dbsize()})")
        sys.stdout.flush()
        if ok:
            mesh.procs[1].kill()
            mesh.procs[1].wait()
            fill(a, 1000, "d")
            started = time.time()
            b = mesh.start(reuse=1)
            ready = time.time() - started
            ok = wait_all([b], CATCHUP + 1000, 600)
            took = time.time() - started
            if ok:
                print(f"cstore_catchup_1000_of_{CATCHUP}_keys_s {took:.2f}  (of which {ready:.2f} s until the restarted node answered)")
            else:
                print(f"cstore_catchup_1000_of_{CATCHUP}_keys_s did not finish within 600 s")
    finally:
        mesh.stop()
        shutil.rmtree(root, ignore_errors=True)
