/**
 * The Twins sidebar's live feed: what changed in a registry, pushed to the editor with
 * RED.comms.publish. Changes are coalesced per twin and flushed at most every FLUSH_MS, so a twin
 * fed 100 readings a second still costs the editor two row updates a second, and each message
 * carries twin summaries (a few reported values, never whole documents).
 *
 * Topics (the editor's comms socket delivers every topic to every connected editor):
 *   twinwire/changes     { registry, name, count, twins: [LiveSummary], removed: [id], overflow? }
 *   twinwire/registries  { registry, name, state: "open" | "closed", count }
 */
import { TwinRegistry } from "../core/registry";
import { Json } from "../core/json";
import { TwinSummary, toSummary } from "../core/twin";
import { Node, RED } from "../nodes/red";

export const CHANGES_TOPIC = "twinwire/changes";
export const REGISTRIES_TOPIC = "twinwire/registries";
export const FLUSH_MS = 500;
/** Above this many changed twins in one window the message names no twins: editors refetch their page. */
export const MAX_TWINS_PER_MESSAGE = 200;
/** Reported values shown in a sidebar row. */
export const PREVIEW_VALUES = 3;
const PREVIEW_TEXT = 60;

export interface LiveSummary extends TwinSummary {
  /** The first few reported values; long strings clipped, objects and arrays as clipped JSON text. */
  reported: Record<string, Json>;
}

export interface ChangesMessage {
  registry: string;
  name: string;
  count: number;
  twins: LiveSummary[];
  removed: string[];
  /** Set instead of `twins` when more twins changed than one message carries. */
  overflow?: number;
}

/** A twin's summary plus its first `values` reported values, or null when it does not exist. */
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
 * Publishes the changes of `registry` (owned by the config node `node`) until the returned
 * function is called; call it when the node closes. Without RED.comms (the test helper) it does
 * nothing.
 */
export function attachLiveFeed(RED: RED, node: Node, registry: TwinRegistry): () => void {
  if (!RED.comms) return () => undefined;
  const comms = RED.comms;
  const name = typeof node.name === "string" ? node.name : "";
  const changed = new Set<string>();
  const removed = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let attached = true;

  const notice = (state: "open" | "closed") =>
    comms.publish(REGISTRIES_TOPIC, { registry: node.id, name, state, count: registry.size }, false);

  function flush(): void {
    timer = null;
    if (!attached || (!changed.size && !removed.size)) return;
    const message: ChangesMessage = { registry: node.id, name, count: registry.size, twins: [], removed: [...removed] };
    if (changed.size > MAX_TWINS_PER_MESSAGE) {
      message.overflow = changed.size;
    } else {
      for (const id of changed) {
        const summary = liveSummary(registry, id);
        if (summary) message.twins.push(summary);
        else message.removed.push(id);
      }
    }
    changed.clear();
    removed.clear();
    comms.publish(CHANGES_TOPIC, message, false);
  }

  // Runs inside every registry change: O(1), no allocation beyond the Set entry.
  const unsubscribe = registry.subscribe((event) => {
    if (event.section === "twin" && event.op === "deleted") {
      changed.delete(event.twinId);
      removed.add(event.twinId);
    } else {
      removed.delete(event.twinId);
      changed.add(event.twinId);
    }
    if (!timer) timer = setTimeout(flush, FLUSH_MS);
  });
  notice("open");

  return function detach() {
    if (!attached) return;
    attached = false;
    unsubscribe();
    if (timer) clearTimeout(timer);
    timer = null;
    changed.clear();
    removed.clear();
    notice("closed");
  };
}
