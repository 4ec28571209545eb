"use strict";
// The name a Node-RED instance goes by among the instances sharing a registry on Redis: the same
// after a restart (so it takes back the partitions it led instead of a new share that moves
// others' partitions), different for every other live instance or registry node.
const assert = require("node:assert/strict");
const { instanceName } = require("../../nodes/lib/runtime/redis-node");

describe("A registry's instance name on Redis", function () {
  const settings = { userDir: "/data/node-red", uiPort: 1880 };

  it("is the same after a restart: same host, user directory, port and registry node", function () {
    assert.equal(instanceName(settings, "reg-1"), instanceName({ ...settings }, "reg-1"));
    assert.equal(instanceName({ userDir: "/data/node-red/", uiPort: 1880 }, "reg-1"), instanceName(settings, "reg-1"), "the same directory written with a trailing slash");
  });

  it("differs for another Node-RED on the same host (user directory or port) and for another registry node", function () {
    const one = instanceName(settings, "reg-1");
    assert.notEqual(instanceName({ ...settings, userDir: "/data/node-red-2" }, "reg-1"), one);
    assert.notEqual(instanceName({ ...settings, uiPort: 1881 }, "reg-1"), one);
    assert.notEqual(instanceName(settings, "reg-2"), one);
  });

  it("differs for a cloned machine (same host name, user directory, port and flow) by its hardware address", function () {
    const a = instanceName(settings, "reg-1", "b8:27:eb:00:00:01");
    assert.equal(instanceName(settings, "reg-1", "b8:27:eb:00:00:01"), a);
    assert.notEqual(instanceName(settings, "reg-1", "b8:27:eb:00:00:02"), a);
  });

  it("holds only characters safe in a Redis key and without the incarnation's '#'", function () {
    assert.match(instanceName(settings, "reg-1"), /^[A-Za-z0-9._-]+-[0-9a-f]{8}$/);
  });

  it("is left to the store (a random name) when the user directory is not known", function () {
    assert.equal(instanceName({}, "reg-1"), undefined);
    assert.equal(instanceName({ userDir: "" }, "reg-1"), undefined);
  });
});
