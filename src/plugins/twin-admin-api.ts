/**
 * Runtime plugin: the twins admin HTTP API. Its editor side (twin-admin-api.html) is the Twins
 * sidebar, which reads this API and listens to the live feed each twin-registry publishes
 * (./live-feed.ts, attached by the registry node itself, so it follows deployments).
 */
import { RED } from "../runtime/red";
import { registerAdminApi } from "./admin-api";

export = function (RED: RED) {
  RED.plugins.registerPlugin("twin-admin-api", {
    onadd() {
      registerAdminApi(RED);
    },
  });
};
