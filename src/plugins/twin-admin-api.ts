/** Runtime plugin: the twins admin HTTP API (and, later, the sidebar's live feed). */
import { RED } from "../nodes/red";
import { registerAdminApi } from "./admin-api";

export = function (RED: RED) {
  RED.plugins.registerPlugin("twin-admin-api", {
    onadd() {
      registerAdminApi(RED);
    },
  });
};
