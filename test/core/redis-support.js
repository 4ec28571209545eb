"use strict";
/**
 * What the Redis store tests share: a redis-server per test (test/support/redis-server.js),
 * registries on a RedisStore opened on it (closed after each test, before the server stops),
 * and reads of what the server holds.
 */
const Redis = require("ioredis").default;
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { RedisStore } = require("../../nodes/lib/core/store/redis-store");
const { startRedis, requireRedis } = require("../support/redis-server");
const { waitFor } = require("./store-support");

/**
 * Mocha hooks for a suite of Redis store tests; returns the context the tests use:
 * `ctx.server` (this test's redis-server), `ctx.open(options)`, `ctx.client()`.
 */
function useRedis(serverOptions = {}) {
  const ctx = { server: null, servers: [], registries: [], clients: [] };
  before(function () {
    requireRedis(this);
  });
  beforeEach(async function () {
    ctx.server = await startRedis(serverOptions);
    ctx.servers.push(ctx.server);
  });
  afterEach(async function () {
    for (const reg of ctx.registries.splice(0)) await reg.close().catch(() => undefined);
    for (const client of ctx.clients.splice(0)) client.disconnect();
    for (const server of ctx.servers.splice(0)) await server.stop();
  });
  /** A client of this test's server (disconnected after the test). */
  ctx.client = (server = ctx.server) => {
    const client = new Redis(server.port, "127.0.0.1", { lazyConnect: false });
    client.on("error", () => undefined); // a test that kills the server sees it through the store
    ctx.clients.push(client);
    return client;
  };
  /** A registry on a RedisStore on this test's server, opened. Returns { reg, store, warnings }. */
  ctx.open = async (storeOptions = {}, registryOptions = {}) => {
    const store = new RedisStore({ redis: ctx.client(storeOptions.server), registry: "plant", mode: "strict", leaseMs: 3000, blockMs: 200, ...storeOptions });
    const reg = new TwinRegistry({ historyLength: 20, ...registryOptions, store });
    ctx.registries.push(reg);
    const warnings = await reg.openAsync();
    return { reg, store, warnings };
  };
  return ctx;
}

/** A twin id whose partition `store` leads and `other` does not. */
function ledBy(store, other, prefix) {
  for (let i = 0; i < 10000; i++) {
    const id = `${prefix}-${i}`;
    if (store.leads(id) && !other.leads(id)) return id;
  }
  throw new Error(`no id led by ${store.instance}`);
}

/** Waits until the 64 partitions are split between two instances, each writable and leading where it holds the lease. */
async function split(a, b) {
  await waitFor(() => {
    const ha = a.store.leases.heldPartitions();
    const hb = b.store.leases.heldPartitions();
    return ha.length > 0 && hb.length > 0 && ha.length + hb.length === 64 && ha.every((p) => !hb.includes(p)) &&
      a.store.writableCount() === ha.length && b.store.writableCount() === hb.length &&
      a.store.leadingCount() === ha.length && b.store.leadingCount() === hb.length;
  }, "the partitions split between the two instances", 10000);
}

module.exports = { useRedis, ledBy, split };
