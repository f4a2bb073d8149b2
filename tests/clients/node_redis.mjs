// node-redis (npm `redis` 5) on its defaults against a node's RESP listener.
// Usage: node node_redis.mjs PORT (NODE_PATH: where `redis` is installed). Prints "ok".
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import path from "node:path";

const require = createRequire(path.join(process.env.R1_NPM_CLIENTS ?? ".", "package.json"));
const { createClient } = require("redis");

const client = createClient({ url: `redis://127.0.0.1:${process.argv[2]}` });
client.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await client.connect();
assert.equal(await client.ping(), "PONG");
assert.equal(await client.set("js:a", "1"), "OK");
assert.equal(await client.incrBy("js:a", 41), 42);
assert.deepEqual(await client.mGet(["js:a", "js:missing"]), ["42", null]);
assert.equal(await client.hSet("js:h", { f: "1", g: "2" }), 2);
assert.deepEqual({ ...(await client.hGetAll("js:h")) }, { f: "1", g: "2" });
assert.deepEqual(await client.hmGet("js:h", ["f", "z"]), ["1", null]);
assert.equal(await client.hIncrBy("js:h", "f", 4), 5);
assert.equal(await client.type("js:h"), "hash");
const keys = (await client.keys("js:*")).sort();
assert.deepEqual(keys, ["js:a", "js:h"]);
const replies = await client.multi().set("js:m", "1").incr("js:m").get("js:m").exec();
assert.deepEqual(replies, ["OK", 2, "2"]);
const piped = await Promise.all(Array.from({ length: 16 }, (_, i) => client.set(`js:n${i}`, `${i}`)));
assert.deepEqual(piped, Array(16).fill("OK"));
assert.equal(await client.set("js:t", "1", { expiration: { type: "EX", value: 60 } }), "OK");
const ttl = await client.ttl("js:t");
assert.ok(ttl > 58 && ttl <= 60, `ttl ${ttl}`);
assert.equal(await client.pExpire("js:t", 100), 1);
await new Promise((done) => setTimeout(done, 250));
assert.equal(await client.get("js:t"), null);
assert.equal(await client.ttl("js:t"), -2);
assert.equal(await client.dbSize() >= 2, true);
await client.quit();
console.log("ok");
