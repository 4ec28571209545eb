/**
 * The device protocol of `twin-link`: how a device that can only publish and subscribe talks to
 * its twin over MQTT, the way devices talk to AWS IoT device shadows. Under a topic root
 * (default "twins"):
 *
 *   {root}/{id}/reported            device -> twin   {"temperature": 21.5, "ts"?, "version"?, "clientToken"?}
 *   {root}/{id}/reported/accepted   twin -> device   {"version", "ts", "clientToken"?, "stale"?}
 *   {root}/{id}/reported/rejected   twin -> device   {"code", "message", "ts", "clientToken"?}
 *   {root}/{id}/get                 device -> twin   empty, or {"clientToken"?}
 *   {root}/{id}/get/accepted        twin -> device   the twin document (with "clientToken"?)
 *   {root}/{id}/get/rejected        twin -> device   {"code", "message", "ts", "clientToken"?}
 *   {root}/{id}/delta               twin -> device   {"state": {...what to change}, "version", "ts"}
 *   {root}/{id}/state               twin -> anyone   the document (or reported state), retained
 *   {root}/{id}/status              device -> twin   "online" / "offline" (the device's last will)
 *
 * This module is pure: topic names and payload parsing. Errors are TwinErrors, worded by the
 * adapter from the locale catalog like every other core error.
 */
import { TwinError, showValue } from "../errors";
import { parseTimestamp } from "../timestamp";
import { dict } from "../json";

export type RequestKind = "reported" | "get" | "status";

/** Keys of a reported payload that are about the message, not properties of the twin. */
export const RESERVED_KEYS: readonly string[] = ["ts", "version", "clientToken"];

/** Longest clientToken echoed back (AWS IoT allows 64 bytes too). */
export const MAX_TOKEN_LENGTH = 64;

const MAX_ROOT_LENGTH = 200;
const GROUP = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Why a topic root can not be used, or null when it can: "empty", "too-long", "wildcard" (+ or
 * #, which a device can not publish to), "dollar" (topics starting with $ belong to the broker),
 * "empty-level" (a leading, trailing or double /), "nul".
 */
export function rootProblem(root: unknown): string | null {
  if (typeof root !== "string" || root === "") return "empty";
  if (root.length > MAX_ROOT_LENGTH) return "too-long";
  if (root.includes("\u0000")) return "nul";
  if (root.includes("+") || root.includes("#")) return "wildcard";
  if (root.startsWith("$")) return "dollar";
  if (root.split("/").some((level) => level === "")) return "empty-level";
  return null;
}

/** A shared-subscription group name: 1 to 64 letters, digits, _ . - (no / + #). */
export function isGroupName(group: unknown): group is string {
  return typeof group === "string" && GROUP.test(group);
}

export interface Subscription {
  filter: string;
  /** Part of the device load a shared group splits between Node-RED instances. */
  shared: boolean;
}

export interface ParsedTopic {
  /** The topic level that names the twin, as received (the registry checks it is a valid id). */
  twinId: string;
  kind: RequestKind;
}

/** Topic names under one root. */
export class LinkTopics {
  readonly root: string;
  private readonly prefix: string;

  constructor(root: string) {
    const problem = rootProblem(root);
    if (problem) throw new TwinError("invalid-option", { option: "topic root", reason: problem });
    this.root = root;
    this.prefix = root + "/";
  }

  /**
   * What the link subscribes to. With a group, readings and get requests go to a shared
   * subscription ($share/{group}/...), so the instances of the group split them; status stays a
   * normal subscription: every instance keeps the connectivity of the twins it holds, and gets
   * the retained last will when it subscribes (brokers send no retained messages to shared
   * subscriptions).
   */
  subscriptions(group?: string | null): Subscription[] {
    const share = (filter: string) => (group ? `$share/${group}/${filter}` : filter);
    return [
      { filter: share(`${this.prefix}+/reported`), shared: !!group },
      { filter: share(`${this.prefix}+/get`), shared: !!group },
      { filter: `${this.prefix}+/status`, shared: false },
    ];
  }

  /** The twin and the request a topic carries, or null when it is not a request under this root. */
  parse(topic: string): ParsedTopic | null {
    if (typeof topic !== "string" || !topic.startsWith(this.prefix)) return null;
    const rest = topic.slice(this.prefix.length);
    const slash = rest.indexOf("/");
    if (slash <= 0) return null;
    const kind = rest.slice(slash + 1);
    if (kind !== "reported" && kind !== "get" && kind !== "status") return null;
    return { twinId: rest.slice(0, slash), kind };
  }

  reply(twinId: string, kind: "reported" | "get", accepted: boolean): string {
    return `${this.prefix}${twinId}/${kind}/${accepted ? "accepted" : "rejected"}`;
  }

  delta(twinId: string): string {
    return `${this.prefix}${twinId}/delta`;
  }

  state(twinId: string): string {
    return `${this.prefix}${twinId}/state`;
  }
}

// ---- payloads ---------------------------------------------------------------------------------

export interface ReportRequest {
  values: Record<string, unknown>;
  ts: number | undefined;
  /** The version the device expects the twin to be at (checked by the registry). */
  ifVersion: unknown;
  clientToken: string | undefined;
}

function unusable(twinId: string, property: string, value: string, rule: string): TwinError {
  return new TwinError("invalid-reading", { twinId, property, value, rule });
}

/**
 * A request body: a JSON object, or null for an empty payload when `allowEmpty`. Throws
 * TwinError: "too-large" over maxBytes, "invalid-reading" for anything that is not a JSON object.
 */
export function readBody(twinId: string, payload: Buffer | string, maxBytes: number, allowEmpty: boolean): Record<string, unknown> | null {
  const bytes = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  // `bytes`: worded as the message's size, not the twin's ("the twin would exceed its size limit").
  if (bytes > maxBytes) throw new TwinError("too-large", { twinId, property: "payload", limit: maxBytes, bytes });
  const text = (typeof payload === "string" ? payload : payload.toString("utf8")).trim();
  if (text === "") {
    if (allowEmpty) return null;
    throw unusable(twinId, "payload", "empty", "a JSON object");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw unusable(twinId, "payload", showValue(text), "not JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw unusable(twinId, "payload", showValue(body), "a JSON object");
  }
  return body as Record<string, unknown>;
}

/** The body's clientToken when it is one that can be echoed (text of 1 to 64 characters). */
export function tokenOf(body: Record<string, unknown> | null): string | undefined {
  if (!body || !Object.prototype.hasOwnProperty.call(body, "clientToken")) return undefined;
  const token = body.clientToken;
  return typeof token === "string" && token.length > 0 && token.length <= MAX_TOKEN_LENGTH ? token : undefined;
}

function checkToken(twinId: string, body: Record<string, unknown>): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(body, "clientToken")) return undefined;
  const token = tokenOf(body);
  if (token === undefined) {
    throw unusable(twinId, "clientToken", showValue(body.clientToken), `text of 1 to ${MAX_TOKEN_LENGTH} characters`);
  }
  return token;
}

/**
 * A reported payload: every key but ts, version and clientToken is a property. `ts` is read like a
 * sensor timestamp (epoch ms, epoch s, ISO 8601). Values are not judged here: the registry does.
 */
export function readReport(twinId: string, body: Record<string, unknown>): ReportRequest {
  const clientToken = checkToken(twinId, body);
  let ts: number | undefined;
  const rawTs = Object.prototype.hasOwnProperty.call(body, "ts") ? body.ts : undefined;
  if (rawTs !== undefined && rawTs !== null) {
    const parsed = parseTimestamp(rawTs);
    if (parsed === null) throw new TwinError("invalid-time", { twinId, value: showValue(rawTs), rule: "epoch ms, epoch s or ISO 8601" });
    ts = parsed;
  }
  const ifVersion = Object.prototype.hasOwnProperty.call(body, "version") && body.version !== null ? body.version : undefined;
  // dict(), not Object.create(null): the registry walks these keys, and V8 keeps dict() objects in its fast layout.
  const values = dict<unknown>();
  for (const key of Object.keys(body)) {
    if (!RESERVED_KEYS.includes(key)) values[key] = body[key];
  }
  return { values, ts, ifVersion, clientToken };
}

/** A get payload: empty, or an object whose only meaningful key is clientToken. */
export function readGet(twinId: string, body: Record<string, unknown> | null): { clientToken: string | undefined } {
  return { clientToken: body ? checkToken(twinId, body) : undefined };
}

const ONLINE = new Set(["online", "true", "1", "connected", "up"]);
const OFFLINE = new Set(["offline", "false", "0", "disconnected", "down", "lost"]);

/**
 * A status payload: "online" or "offline" in any case (Tasmota's "Online"/"Offline" too), also
 * true/false, 1/0 and the same words as a JSON string. Anything else gives null.
 */
export function readStatus(payload: Buffer | string): "online" | "offline" | null {
  if (payload.length > 64) return null;
  let text = (typeof payload === "string" ? payload : payload.toString("utf8")).trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1).trim();
  text = text.toLowerCase();
  if (ONLINE.has(text)) return "online";
  if (OFFLINE.has(text)) return "offline";
  return null;
}

// ---- replies ----------------------------------------------------------------------------------

/** Written out, not stringified from an object: one goes out per reading. */
export function acceptedReport(version: number, ts: number, clientToken?: string, stale?: string[]): string {
  let out = `{"version":${JSON.stringify(version)},"ts":${JSON.stringify(ts)}`;
  if (clientToken !== undefined) out += `,"clientToken":${JSON.stringify(clientToken)}`;
  if (stale && stale.length) out += `,"stale":${JSON.stringify(stale)}`;
  return out + "}";
}

export function rejection(code: string, message: string, ts: number, clientToken?: string): string {
  const out: Record<string, unknown> = { code, message, ts };
  if (clientToken !== undefined) out.clientToken = clientToken;
  return JSON.stringify(out);
}

/** The get/accepted payload: the document, with the device's clientToken beside its keys. */
export function documentReply(document: object, clientToken?: string): string {
  return JSON.stringify(clientToken === undefined ? document : { ...document, clientToken });
}

export function deltaMessage(state: object, version: number, ts: number): string {
  return JSON.stringify({ state, version, ts });
}
