/**
 * Every failure the domain can report. The code names a message in the registry's locale
 * catalog (`errors.<code>` in nodes/locales/en-US/twin-registry.json); params fill it in. The
 * core never formats text for people: adapters translate with RED._ so every text a user reads
 * comes from the catalog.
 */
export type ErrorCode =
  | "invalid-id"
  | "invalid-property"
  | "forbidden-key"
  | "invalid-json"
  | "too-deep"
  | "too-large"
  | "invalid-value"
  | "not-writable"
  | "not-in-model"
  | "unknown-model"
  | "model-invalid"
  | "not-found"
  | "exists"
  | "conflict"
  | "invalid-version"
  | "invalid-patch"
  | "invalid-time"
  | "invalid-query"
  | "store-unavailable"
  | "store-closed"
  | "model-fixed"
  | "invalid-pattern"
  | "topic-mismatch"
  | "invalid-reading"
  | "invalid-unit"
  | "no-conversion"
  | "invalid-option";

export type ErrorParams = Record<string, string | number>;

export class TwinError extends Error {
  readonly code: ErrorCode;
  readonly params: ErrorParams;

  constructor(code: ErrorCode, params: ErrorParams = {}) {
    super(`${code}: ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(", ")}`);
    this.name = "TwinError";
    this.code = code;
    this.params = params;
  }
}

export function isTwinError(err: unknown): err is TwinError {
  return err instanceof TwinError;
}

/** A short, printable rendering of any value for an error message (never the whole of a 1 MB string). */
export function showValue(value: unknown, max = 40): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "number" || typeof value === "boolean" || value === null) text = String(value);
  else if (value === undefined) text = "undefined";
  else if (Array.isArray(value)) text = `array(${value.length})`;
  else if (typeof value === "object") text = "object";
  else text = typeof value;
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** The first `max` names, and how many more: a warning names what it is about without flooding the log. */
export function showNames(names: string[], max = 20): string {
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}
