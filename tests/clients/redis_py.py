"""redis-py (PyPI) on its defaults against a node's RESP listener: the commands users reach for.

Usage: python redis_py.py PORT. Prints "ok" and exits 0 when every check holds; an assertion
names the first that does not.
"""
import sys
import time

import redis

r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))  # defaults: RESP3 via HELLO 3
assert r.ping() is True
assert r.set("py:a", "1") is True
assert r.get("py:a") == b"1"
assert r.incrby("py:a", 41) == 42
assert r.incr("py:a") == 43
assert r.decr("py:a") == 42
assert r.mset({"py:b": "x", "py:c": "y"}) is True
assert r.mget(["py:a", "py:b", "py:missing"]) == [b"42", b"x", None]
assert r.set("py:a", "nope", nx=True) is None
assert r.hset("py:h", mapping={"f": "1", "g": "2"}) == 2
assert r.hget("py:h", "f") == b"1"
assert r.hmget("py:h", ["f", "g", "z"]) == [b"1", b"2", None]
assert r.hgetall("py:h") == {b"f": b"1", b"g": b"2"}
assert r.hincrby("py:h", "f", 9) == 10
assert r.hlen("py:h") == 2
assert r.type("py:h") == b"hash" and r.type("py:a") == b"string"
keys = set(r.keys("py:*"))
assert keys == {b"py:a", b"py:b", b"py:c", b"py:h"}, keys
assert set(r.scan_iter(match="py:*", count=2)) == keys
assert r.exists("py:a", "py:h", "py:missing") == 2
assert r.ttl("py:a") == -1 and r.ttl("py:missing") == -2
assert r.dbsize() >= 4
assert r.info()["redis_version"]
# redis-py's default pipeline is a MULTI/EXEC transaction.
with r.pipeline() as pipe:
    pipe.set("py:p", "1").incrby("py:p", 2).get("py:p")
    assert pipe.execute() == [True, 3, b"3"]
# A plain pipeline (no transaction) too.
with r.pipeline(transaction=False) as pipe:
    for i in range(16):
        pipe.set(f"py:n{i}", i)
    assert pipe.execute() == [True] * 16
assert r.delete("py:h", "py:missing") == 1
assert r.get("py:n15") == b"15"
# Expiries: SET EX/PX, EXPIRE, TTL/PTTL, PERSIST; an expired key is gone.
assert r.set("py:t", "1", ex=100)
assert 99 <= r.ttl("py:t") <= 100 and 0 < r.pttl("py:t") <= 100_000
assert r.persist("py:t") and r.ttl("py:t") == -1
assert r.expire("py:t", 50) and 49 <= r.ttl("py:t") <= 50
assert r.incr("py:t") == 2 and r.ttl("py:t") > 0  # a counter keeps its expiry, as in Redis
assert r.set("py:t", "3") and r.ttl("py:t") == -1  # a plain SET clears it
assert r.set("py:gone", "1", px=150) and r.get("py:gone") == b"1"
time.sleep(0.3)
assert r.get("py:gone") is None and r.exists("py:gone") == 0 and r.ttl("py:gone") == -2
assert not r.expire("py:missing", 10)
r.hset("py:h2", "f", "1")
try:
    r.expire("py:h2", 10)
    raise AssertionError("EXPIRE on a hash should be refused")
except redis.ResponseError as e:
    assert "hash" in str(e), e
# RESP2 clients (protocol=2) work too.
r2 = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), protocol=2)
assert r2.hgetall("py:h") == {} and r2.get("py:a") == b"42"
print("ok")
