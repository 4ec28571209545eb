/**
 * The Twins sidebar's live feed: which registry changed, pushed to the editor with
 * RED.comms.publish. Node-RED's comms socket delivers every topic to every connected editor
 * whose user holds `status.read`, with no permission per topic, so the feed carries no twin
 * data: no twin id, no registry name, no value, no count. A notice names the registry's config
 * node id (which every user who may read flows sees anyway); an editor then reads what it shows
 * through the admin API, which asks for `twins.read` (./admin-api.ts).
 *
 * Changes are coalesced per registry: one notice per FLUSH_MS at most, however many twins
 * changed, so a registry fed 10,000 readings a second still costs each editor two notices a
 * second (and the sidebar refetches only the page it shows).
 *
 * Topics:
 *   twinwire/changes     { registry }                          something in that registry changed
 *   twinwire/registries  { registry, state: "open" | "closed" } a registry started or stopped
 *
 * Off (nothing published) for a registry whose `liveFeed` is false (its config node's "Live
 * updates in the Twins sidebar"), and for all of them with `twinwire: { liveFeed: false }` in
 * settings.js. The sidebar then updates on its refresh button.
 */
import { TwinRegistry } from "../core/registry";
import { Json } from "../core/json";
import { TwinSummary, toSummary } from "../core/twin";
import { Node, RED } from "./red";

export const CHANGES_TOPIC = "twinwire/changes";
export const REGISTRIES_TOPIC = "twinwire/registries";
export const FLUSH_MS = 500;
/** Reported values in a summary of GET /twins/:registry?reported=N when N is not given. */
export const PREVIEW_VALUES = 3;
const PREVIEW_TEXT = 60;

/** All a `twinwire/changes` message holds. */
export interface ChangesNotice {
  registry: string;
}

/** All a `twinwire/registries` message holds. */
export interface RegistryNotice {
  registry: string;
  state: "open" | "closed";
}

export interface LiveSummary extends TwinSummary {
  /** The first few reported values; long strings clipped, objects and arrays as clipped JSON text. */
  reported: Record<string, Json>;
}

/**
 * A twin's summary plus its first `values` reported values, or null when it does not exist: the
 * sidebar's rows, served by the admin API (`reported=N`) to users with `twins.read`, never
 * published on the feed.
 */
export function liveSummary(registry: TwinRegistry, id: string, values = PREVIEW_VALUES): LiveSummary | null {
  const twin = registry.twin(id);
  if (!twin) return null;
  const reported: Record<string, Json> = Object.create(null);
  let n = 0;
  for (const [name, entry] of twin.reported) {
    if (n++ >= values) break;
    reported[name] = previewValue(entry.value);
  }
  return { ...toSummary(twin, registry.modelOf(twin)), reported };
}

function previewValue(value: Json): Json {
  if (typeof value === "string") return value.length > PREVIEW_TEXT ? value.slice(0, PREVIEW_TEXT - 1) + "…" : value;
  if (value !== null && typeof value === "object") {
    const text = JSON.stringify(value);
    return text.length > PREVIEW_TEXT ? text.slice(0, PREVIEW_TEXT - 1) + "…" : text;
  }
  return value;
}

/**
 * Whether the feed runs for a registry: its config node's `liveFeed` (missing in flows from
 * before the setting: on) and settings.js `twinwire.liveFeed` (missing: on).
 */
export function liveFeedEnabled(RED: RED, liveFeed: unknown): boolean {
  if (liveFeed === false || liveFeed === "false") return false;
  const settings = RED.settings.twinwire;
  return !(settings !== null && typeof settings === "object" && (settings as { liveFeed?: unknown }).liveFeed === false);
}

/**
 * Publishes notices about `registry` (owned by the config node `node`) until the returned
 * function is called; call it when the node closes. `liveFeed` is the config node's setting.
 * Without RED.comms (the test helper), or when the feed is off, it publishes nothing.
 */
export function attachLiveFeed(RED: RED, node: Node, registry: TwinRegistry, liveFeed?: unknown): () => void {
  if (!RED.comms || !liveFeedEnabled(RED, liveFeed)) return () => undefined;
  const comms = RED.comms;
  const id = node.id;
  let timer: NodeJS.Timeout | null = null;
  let attached = true;

  const notice = (state: "open" | "closed") => {
    const message: RegistryNotice = { registry: id, state };
    comms.publish(REGISTRIES_TOPIC, message, false);
  };

  function flush(): void {
    timer = null;
    if (!attached) return;
    const message: ChangesNotice = { registry: id };
    comms.publish(CHANGES_TOPIC, message, false);
  }

  // Runs inside every registry change: O(1), no allocation while a notice is already due.
  const unsubscribe = registry.subscribe(() => {
    if (!timer) timer = setTimeout(flush, FLUSH_MS);
  });
  notice("open");

  return function detach() {
    if (!attached) return;
    attached = false;
    unsubscribe();
    if (timer) clearTimeout(timer);
    timer = null;
    notice("closed");
  };
}
