"use strict";
/**
 * What a twin-redis config node's settings become for ioredis: each topology's options, and a
 * setting that cannot work refused before anything connects, naming the setting. One test
 * connects to a real redis-server that requires a password.
 */
const assert = require("assert");
const { connectionOf, connect } = require("../../nodes/lib/core/store/redis/connection");
const { startRedis, requireRedis } = require("../support/redis-server");
const { throwsTwin } = require("./store-support");

describe("Redis connection settings", function () {
  it("one server: host, port, database and credentials; 127.0.0.1:6379 when left blank", function () {
    assert.deepStrictEqual(connectionOf({}), { kind: "single", options: { host: "127.0.0.1", port: 6379 } });
    assert.deepStrictEqual(connectionOf({ host: "redis.plant", port: "6380", db: "2", username: "nr", password: "s3cret" }),
      { kind: "single", options: { username: "nr", password: "s3cret", host: "redis.plant", port: 6380, db: 2 } });
  });

  it("a URL: rediss:// turns TLS on, the path is the database, and the node's own credentials win over the URL's", function () {
    assert.deepStrictEqual(connectionOf({ url: "rediss://u:p%40ss@redis.plant:6390/3" }),
      { kind: "single", options: { host: "redis.plant", port: 6390, username: "u", password: "p@ss", db: 3, tls: {} } });
    assert.strictEqual(connectionOf({ url: "redis://u:url@h", password: "node" }).options.password, "node");
  });

  it("Sentinel: the sentinels (26379 by default) and the primary's name; Cluster: its startup nodes", function () {
    assert.deepStrictEqual(connectionOf({ topology: "sentinel", sentinels: "s1, s2:26380", sentinelName: "plant", password: "p" }),
      { kind: "sentinel", options: { password: "p", sentinels: [{ host: "s1", port: 26379 }, { host: "s2", port: 26380 }], name: "plant" } });
    assert.deepStrictEqual(connectionOf({ topology: "cluster", nodes: "n1:7000,n2:7001", password: "p" }),
      { kind: "cluster", nodes: [{ host: "n1", port: 7000 }, { host: "n2", port: 7001 }], options: { redisOptions: { password: "p" } } });
  });

  it("refuses, naming the setting, a port out of range, a URL of another scheme, Sentinel without a name, a Cluster database", function () {
    throwsTwin(() => connectionOf({ port: "70000" }), "invalid-option");
    assert.throws(() => connectionOf({ port: "70000" }), /option=port/);
    assert.throws(() => connectionOf({ url: "http://redis.plant" }), /option=url/);
    assert.throws(() => connectionOf({ topology: "sentinel", sentinels: "s1" }), /option=sentinelName/);
    assert.throws(() => connectionOf({ topology: "sentinel", sentinels: " , ", sentinelName: "x" }), /option=sentinels/);
    assert.throws(() => connectionOf({ topology: "cluster", nodes: "n1", db: "1" }), /option=db/);
  });

  it("never repeats a password written in the URL when it refuses the URL (the error reaches the log and the messages)", function () {
    for (const url of ["redis://nr:s3cret@bad host:6379", "redis://:s3cret@redis.plant:99999", "rediss://nr:s3cret@[::1"]) {
      assert.throws(() => connectionOf({ url }), (err) => {
        assert.match(err.message, /option=url/);
        assert.doesNotMatch(err.message, /s3cret/, err.message);
        assert.match(err.message, /redis.*:\/\/…@/, "the URL is still shown, without its user and password");
        return true;
      });
    }
  });

  describe("against a server that requires a password", function () {
    let server;
    const clients = [];
    before(async function () {
      if (!requireRedis(this)) return;
      server = await startRedis({ args: ["--requirepass", "s3cret"] });
    });
    after(async function () {
      for (const c of clients) c.disconnect();
      if (server) await server.stop();
    });

    it("connects with the password given, and is refused without it", async function () {
      const good = connect({ port: server.port, password: "s3cret" });
      clients.push(good);
      assert.strictEqual(await good.ping(), "PONG");
      const bad = connect({ url: `redis://127.0.0.1:${server.port}` });
      bad.on("error", () => undefined);
      clients.push(bad);
      await assert.rejects(bad.ping(), /NOAUTH|Authentication required/);
    });
  });
});
