/**
 * The lifecycle state machine: the stages a twin's asset goes through, the transitions allowed
 * between them, and the guarded transitions that need every work order closed first (leaving
 * maintenance for operation). Users replace the default with their own JSON:
 *
 *   { "transitions": { "<stage>": ["<stage it may go to>", ...], ... },
 *     "guards": { "<stage>": ["<target that needs all work orders closed>", ...] } }
 *
 * A twin with no stage yet (or a stage the machine does not know, after the stages were
 * edited) may enter any stage: an asset is often taken on in the middle of its life.
 */
import { isForbiddenKey } from "../names";
import { isPlainObject as isRecord } from "../json";
import { LifecycleError, showValue } from "./errors";

export interface StagesDefinition {
  transitions: Record<string, string[]>;
  guards?: Record<string, string[]>;
}

export const DEFAULT_STAGES: StagesDefinition = {
  transitions: {
    design: ["manufactured"],
    manufactured: ["commissioned", "retired"],
    commissioned: ["operating", "maintenance", "decommissioned"],
    operating: ["maintenance", "decommissioned"],
    maintenance: ["operating", "decommissioned"],
    decommissioned: ["commissioned", "retired"],
    retired: [],
  },
  guards: { maintenance: ["operating"] },
};

const STAGE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const MAX_STAGES = 64;

export function isStageName(name: unknown): name is string {
  return typeof name === "string" && STAGE.test(name) && !isForbiddenKey(name);
}

export class StageMachine {
  /** Stages in the order they were given. */
  readonly stages: readonly string[];
  private readonly next: Map<string, readonly string[]>;
  private readonly guards: Map<string, ReadonlySet<string>>;

  constructor(next: Map<string, readonly string[]>, guards: Map<string, ReadonlySet<string>>) {
    this.next = next;
    this.guards = guards;
    this.stages = [...next.keys()];
  }

  has(stage: unknown): stage is string {
    return typeof stage === "string" && this.next.has(stage);
  }

  /** Where a twin in `from` may go; every stage when it has none (or one this machine lacks). */
  allowed(from: string | null): readonly string[] {
    if (from === null || !this.next.has(from)) return this.stages;
    return this.next.get(from) as readonly string[];
  }

  /** True when going from `from` to `to` needs every work order closed (maintenance -> operating). */
  guarded(from: string | null, to: string): boolean {
    return from !== null && (this.guards.get(from)?.has(to) ?? false);
  }

  /** Throws when the twin may not go from `from` to `to`, naming the stage and the allowed ones. */
  check(twinId: string, from: string | null, to: unknown): string {
    if (!this.has(to)) {
      throw new LifecycleError("stage-unknown", { twinId, stage: showValue(to), stages: this.stages.join(", ") });
    }
    if (from === to) throw new LifecycleError("same-stage", { twinId, stage: to });
    const allowed = this.allowed(from);
    if (!allowed.includes(to)) {
      throw new LifecycleError("transition", { twinId, from: String(from), to, allowed: allowed.length ? allowed.join(", ") : "-" });
    }
    return to;
  }

  toJSON(): StagesDefinition {
    const transitions: Record<string, string[]> = {};
    for (const [stage, targets] of this.next) transitions[stage] = [...targets];
    const guards: Record<string, string[]> = {};
    for (const [stage, targets] of this.guards) guards[stage] = [...targets];
    return { transitions, guards };
  }
}

/** The machine from JSON text or a value; empty text, null or undefined give the default. */
export function parseStages(input: unknown): StageMachine {
  let raw = input;
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) raw = DEFAULT_STAGES;
  else if (typeof raw === "string") {
    try {
      raw = JSON.parse(raw);
    } catch (err) {
      throw new LifecycleError("config.stages-json", { reason: (err as Error).message.slice(0, 120) });
    }
  }
  if (!isRecord(raw) || !isRecord(raw.transitions)) throw new LifecycleError("config.stages-shape");
  for (const key of Object.keys(raw)) {
    if (key !== "transitions" && key !== "guards") throw new LifecycleError("config.stages-shape");
  }
  const names = Object.keys(raw.transitions);
  if (names.length === 0) throw new LifecycleError("config.stages-empty");
  if (names.length > MAX_STAGES) throw new LifecycleError("config.stages-many", { limit: MAX_STAGES });
  for (const name of names) if (!isStageName(name)) throw new LifecycleError("config.stage-name", { stage: showValue(name) });
  const known = new Set(names);
  const next = new Map<string, readonly string[]>();
  for (const name of names) next.set(name, targets(raw.transitions[name], name, known, "config.stage-target"));
  const guards = new Map<string, ReadonlySet<string>>();
  if (raw.guards !== undefined) {
    if (!isRecord(raw.guards)) throw new LifecycleError("config.guards", { stage: "-", target: showValue(raw.guards) });
    for (const from of Object.keys(raw.guards)) {
      if (!known.has(from)) throw new LifecycleError("config.guards", { stage: showValue(from), target: "-" });
      const list = targets(raw.guards[from], from, known, "config.guards");
      for (const to of list) {
        if (!(next.get(from) as readonly string[]).includes(to)) throw new LifecycleError("config.guards", { stage: from, target: to });
      }
      if (list.length) guards.set(from, new Set(list));
    }
  }
  return new StageMachine(next, guards);
}

function targets(value: unknown, from: string, known: Set<string>, code: "config.stage-target" | "config.guards"): string[] {
  if (!Array.isArray(value)) throw new LifecycleError(code, { stage: from, target: showValue(value) });
  const out: string[] = [];
  for (const to of value) {
    if (typeof to !== "string" || !known.has(to) || to === from) throw new LifecycleError(code, { stage: from, target: showValue(to) });
    if (!out.includes(to)) out.push(to);
  }
  return out;
}

