"use strict";
/**
 * Closing a registry on Redis while the server hangs (stopped: the connection stays open and
 * nothing answers) takes a bounded time, as a deploy needs, and the change Redis never answered
 * is failed, not acknowledged.
 */
const assert = require("assert");
const { useRedis } = require("./redis-support");
const { durable } = require("./store-support");

describe("Redis store close", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "everysec" });

  it("closes within seconds while Redis hangs, failing the change it has not had answered instead of acknowledging it", async function () {
    const { reg } = await ctx.open();
    reg.create("pump-1", { reported: { temperature: 20 } });
    assert.strictEqual(await durable(reg), undefined);
    ctx.server.child.kill("SIGSTOP");
    try {
      reg.report("pump-1", { temperature: 21 });
      const answer = durable(reg);
      const started = Date.now();
      let timer;
      const closed = await Promise.race([
        reg.close().then(() => true),
        new Promise((resolve) => (timer = setTimeout(() => resolve(false), 8000))),
      ]);
      clearTimeout(timer);
      assert.ok(closed, "close did not end within 8 s");
      assert.ok(Date.now() - started < 5000, `close took ${Date.now() - started} ms`);
      const err = await answer;
      assert.ok(err, "the unanswered change is not acknowledged");
      assert.strictEqual(err.code, "store-unavailable");
      assert.match(err.message, /no answer from Redis to the change to twin "pump-1" \(.+\): it may or may not have been made/);
    } finally {
      ctx.server.child.kill("SIGCONT");
    }
  });
});
