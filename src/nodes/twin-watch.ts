// Being written (issue 3).
import { RED } from "./red";
export = function (RED: RED) {
  void RED;
};
