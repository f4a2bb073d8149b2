#!/usr/bin/env python3
"""Replication latency: SET on one node's RESP listener, poll GET on another's until the value
is visible. Prints p50 and p99 in milliseconds. Usage: replication_latency.py WRITE_PORT READ_PORT [N]"""
import socket
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, s.makefile("rb")


def command(conn, *args):
    sock, reader = conn
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    line = reader.readline()
    if line.startswith(b"$"):
        n = int(line[1:])
        if n < 0:
            return None
        data = reader.read(n + 2)
        return data[:-2]
    if line.startswith(b"-"):
        raise RuntimeError(line.decode().strip())
    return line[1:].strip()


def main():
    write_port, read_port = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    writer, reader = connect(write_port), connect(read_port)
    samples = []
    for i in range(n):
        key, value = "latency:%d" % i, "v%d-%f" % (i, time.time())
        start = time.perf_counter()
        command(writer, "SET", key, value)
        deadline = start + 5.0
        while command(reader, "GET", key) != value.encode():
            if time.perf_counter() > deadline:
                raise SystemExit("write %d never became visible on the other node" % i)
        samples.append((time.perf_counter() - start) * 1000.0)
    samples.sort()
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, (len(samples) * 99) // 100)]
    print("replication_p50_ms %.3f" % p50)
    print("replication_p99_ms %.3f" % p99)


if __name__ == "__main__":
    main()
