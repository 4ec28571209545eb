/**
 * Failures of the lifecycle domain: a code that names a message in the twin-lifecycle locale
 * catalog (`errors.<code>`, dots nest) and the params that fill it in. Like TwinError, the core
 * never formats text for people; the node translates.
 */
import { showValue } from "../errors";

export type LifecycleErrorCode =
  // transitions
  | "stage-unknown"
  | "same-stage"
  | "transition"
  | "guard"
  | "override-reason"
  // work orders
  | "order-unknown"
  | "order-closed"
  | "order-which"
  | "order-full"
  // payloads
  | "payload.object"
  | "payload.unknown-field"
  | "payload.missing"
  | "payload.text"
  | "payload.too-long"
  | "payload.boolean"
  | "payload.hours"
  | "payload.time"
  | "payload.range"
  | "payload.order-type"
  | "payload.order-id"
  | "payload.parts"
  | "payload.note"
  // settings
  | "config.stages-json"
  | "config.stages-shape"
  | "config.stage-name"
  | "config.stage-target"
  | "config.stages-empty"
  | "config.stages-many"
  | "config.guards"
  | "config.condition"
  | "config.counters"
  | "config.counters-many"
  | "config.counter"
  | "config.number"
  | "config.property"
  | "config.needs-running"
  | "config.jsonata"
  | "config.log-size";

export type LifecycleParams = Record<string, string | number>;

export class LifecycleError extends Error {
  readonly code: LifecycleErrorCode;
  readonly params: LifecycleParams;

  constructor(code: LifecycleErrorCode, params: LifecycleParams = {}) {
    super(`${code}: ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(", ")}`);
    this.name = "LifecycleError";
    this.code = code;
    this.params = params;
  }
}

export function isLifecycleError(err: unknown): err is LifecycleError {
  return err instanceof LifecycleError;
}

export { showValue };
