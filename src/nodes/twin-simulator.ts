/**
 * `twin-simulator` node: a fleet of virtual devices that emit realistic readings (noise, cycles,
 * wear drift, faults, dropouts, a stuck sensor, quantisation) like real ones would, and follow
 * setpoint commands with a lag, so a twin flow runs and closes its loop with no hardware. The
 * signal model lives in src/core/simulator; this adapter reads the config, owns the one timer,
 * turns readings into messages and commands into calls.
 */
import { TwinError, isTwinError, showValue } from "../core/errors";
import { compilePattern, TopicPattern } from "../core/binding";
import { defaultBack } from "../core/simulator/clock";
import { parseDuration } from "../core/duration";
import { parseProfile } from "../core/simulator/profile";
import { seedOf } from "../core/simulator/prng";
import { Fleet, DeviceReadings, deviceIds, fillTopic, checkTopicTemplate } from "../core/simulator/fleet";
import { Node, NodeDef, NodeMessage, NodeStatus, RED, Send, Done } from "../runtime/red";
import { failWith, onInput } from "../runtime/registry-node";

interface SimulatorConfig extends NodeDef {
  devices?: string;
  prefix?: string;
  count?: string | number;
  ids?: string;
  profile?: string;
  interval?: string | number;
  output?: string;
  topic?: string;
  tsInPayload?: boolean;
  seed?: string | number;
  warp?: string | number;
  start?: string;
  autoStart?: boolean;
  commandTopic?: string;
}

interface Settings {
  fleet: Fleet;
  perProperty: boolean;
  topic: string;
  tsInPayload: boolean;
  commands: TopicPattern;
}

/** Like an inject node's "once": the wired nodes exist by then. */
const AUTOSTART_DELAY_MS = 100;
/** With a time warp the status shows the simulated day, refreshed at most this often. */
const STATUS_EVERY_MS = 1000;
const CONTROLS = new Set(["start", "stop", "reset"]);

export = function (RED: RED) {
  function TwinSimulatorNode(this: Node, config: SimulatorConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>) => RED._(`twin-simulator.${key}`, params);
    let settings: Settings | null = null;
    let problem: Error | null = null;
    let timer: NodeJS.Timeout | null = null;
    let shownText = "";
    let shownAt = 0;
    let closed = false;

    /** A core error in words from this node's catalog; other errors pass through. */
    function describe(err: unknown): Error {
      if (!isTwinError(err)) return err as Error;
      const out = new Error(t(`errors.${err.code}`, err.params)) as Error & { code?: string; params?: object };
      out.code = err.code;
      out.params = err.params;
      return out;
    }

    try {
      settings = readSettings(config);
    } catch (err) {
      problem = describe(err);
    }

    if (!settings) {
      node.status({ fill: "red", shape: "ring", text: t("status.config-error") });
      node.error(problem);
    } else {
      showStatus(Date.now(), true);
      if (config.autoStart !== false) {
        const fleet = settings.fleet;
        timer = setTimeout(() => {
          timer = null;
          const now = Date.now();
          fleet.start(now);
          showStatus(now, true);
          run();
        }, AUTOSTART_DELAY_MS);
      }
    }

    /** Sends what is due, then sets the one timer for the next reading. */
    function run(): void {
      if (!settings || closed) return;
      clear();
      const now = Date.now();
      const batch = settings.fleet.tick(now);
      if (batch.length) node.send([messages(settings, batch)] as unknown as NodeMessage[]);
      showStatus(now, false);
      const next = settings.fleet.nextDue(Date.now());
      if (next !== null) timer = setTimeout(run, next);
    }

    function clear(): void {
      if (timer) clearTimeout(timer);
      timer = null;
    }

    /** Stopped, running, or (with a time warp, until it catches up) the simulated day. */
    function showStatus(now: number, force: boolean): void {
      if (!settings) return;
      const fleet = settings.fleet;
      const warping = fleet.running && !fleet.caughtUp(now);
      if (!force && warping && now - shownAt < STATUS_EVERY_MS) return;
      let status: NodeStatus;
      if (!fleet.running) status = { fill: "grey", shape: "ring", text: t("status.stopped") };
      else if (warping) {
        const days = fleet.simulated(now) / 86_400_000;
        const day = days < 100 ? days.toFixed(1) : String(Math.floor(days));
        status = { fill: "blue", shape: "dot", text: t("status.warp", { count: fleet.size, day }) };
      } else status = { fill: "green", shape: "dot", text: t("status.running", { count: fleet.size }) };
      shownAt = now;
      if (status.text === shownText) return;
      shownText = status.text ?? "";
      node.status(status);
    }

    onInput(RED, node, (msg: NodeMessage, _send: Send, done: Done) => {
      if (!settings) return failWith(msg, done, problem ?? new Error(t("status.config-error")));
      const fleet = settings.fleet;
      const control = controlOf(msg);
      const now = Date.now();
      if (control === "start") {
        fleet.start(now);
        showStatus(now, true);
        run();
      } else if (control === "stop") {
        fleet.stop();
        clear();
        showStatus(now, true);
      } else if (control === "reset") {
        fleet.reset(now); // a pending auto-start stays pending
        showStatus(now, true);
        if (fleet.running) run();
      } else {
        try {
          const { twinId, values } = readCommand(settings, msg);
          fleet.command(twinId, values, now);
        } catch (err) {
          return failWith(msg, done, describe(err));
        }
      }
      done();
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      closed = true;
      clear();
      node.status({});
      done();
    });

    /** Everything the config says, checked once at deploy. */
    function readSettings(c: SimulatorConfig): Settings {
      const ids = c.devices === "list" ? deviceIds({ list: String(c.ids ?? "") }) : deviceIds({ prefix: c.prefix ?? "", count: c.count ?? 5 });
      const profile = parseProfile(c.profile ?? "");
      const interval = numberSetting(c.interval, 1, "interval");
      if (!(interval >= 0.01 && interval <= 86400)) invalid("interval", `a number of seconds from 0.01 to 86400, not ${showValue(c.interval)}`);
      const warp = numberSetting(c.warp, 1, "warp");
      if (!(warp >= 1 && warp <= 1e7)) invalid("warp", `a number from 1 to 10000000, not ${showValue(c.warp)}`);
      const start = String(c.start ?? "").trim();
      const backMs = start === "" ? defaultBack(warp) : parseDuration(start, "start");
      const seed = seedOf(c.seed) ?? Math.floor(Math.random() * 4294967296);
      const perProperty = c.output !== "twin";
      if (!perProperty && c.tsInPayload === true && profile.properties.some((p) => p.name === "ts")) {
        invalid("profile", "a property named ts would clash with the timestamp in the payload");
      }
      const topic = c.topic ? String(c.topic) : perProperty ? "sim/{twin}/{property}" : "sim/{twin}";
      checkTopicTemplate(topic, perProperty);
      const commands = compilePattern(c.commandTopic ? String(c.commandTopic) : "devices/{twin}/set");
      const fleet = new Fleet({ ids, profile, seed, intervalMs: interval * 1000, warp, backMs });
      return { fleet, perProperty, topic, tsInPayload: c.tsInPayload === true, commands };
    }

    /** The command in a message: the device, and the setpoints by property. */
    function readCommand(s: Settings, msg: NodeMessage): { twinId: string; values: Record<string, unknown> } {
      const topic = typeof msg.topic === "string" ? msg.topic : "";
      const params = topic ? s.commands.match(topic) : null;
      const twinId = typeof msg.twinId === "string" && msg.twinId !== "" ? msg.twinId : params?.twin;
      if (!twinId) throw new Error(t("errors.no-twin", { pattern: s.commands.source }));
      let payload = msg.payload;
      if (Buffer.isBuffer(payload)) payload = payload.toString("utf8");
      if (typeof payload === "string" && payload.trim().startsWith("{")) {
        try {
          payload = JSON.parse(payload);
        } catch {
          throw new Error(t("errors.payload", { twinId, value: showValue(payload) }));
        }
      }
      const property = typeof msg.property === "string" && msg.property !== "" ? msg.property : params?.property;
      if (payload !== null && typeof payload === "object" && !Array.isArray(payload)) {
        return { twinId, values: payload as Record<string, unknown> };
      }
      if (property && (typeof payload === "number" || typeof payload === "string")) {
        const values: Record<string, unknown> = Object.create(null);
        values[property] = payload;
        return { twinId, values };
      }
      throw new Error(t("errors.payload", { twinId, value: showValue(payload) }));
    }
  }

  RED.nodes.registerType("twin-simulator", TwinSimulatorNode);
};

/** "start", "stop" or "reset" in msg.payload, or else in msg.topic; null for a command. */
function controlOf(msg: NodeMessage): string | null {
  const payload = typeof msg.payload === "string" ? msg.payload.trim().toLowerCase() : null;
  if (payload !== null && CONTROLS.has(payload)) return payload;
  const topic = typeof msg.topic === "string" ? msg.topic.trim().toLowerCase() : null;
  if (topic !== null && CONTROLS.has(topic)) return topic;
  return null;
}

/**
 * Readings as messages. Property names come from a validated profile (never __proto__ and the
 * like), so they are safe keys of the plain payload objects downstream nodes expect.
 */
function messages(s: Settings, batch: DeviceReadings[]): NodeMessage[] {
  const out: NodeMessage[] = [];
  for (const r of batch) {
    if (s.perProperty) {
      for (const { property, value } of r.values) {
        out.push({
          topic: fillTopic(s.topic, r.twinId, property),
          payload: s.tsInPayload ? { value, ts: r.ts } : value,
          twinId: r.twinId,
          property,
          ts: r.ts,
        });
      }
    } else {
      const payload: Record<string, number> = {};
      for (const { property, value } of r.values) payload[property] = value;
      if (s.tsInPayload) payload.ts = r.ts;
      out.push({ topic: fillTopic(s.topic, r.twinId), payload, twinId: r.twinId, ts: r.ts });
    }
  }
  return out;
}

function numberSetting(value: unknown, fallback: number, option: string): number {
  if (value === undefined || value === null || String(value).trim() === "") return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) invalid(option, `${showValue(value)} is not a number`);
  return n;
}

function invalid(option: string, reason: string): never {
  throw new TwinError("invalid-option", { option, reason });
}
