/**
 * Every user JSONata expression runs through here (twin-query's expression, twin-lifecycle's
 * conditions, and every typedInput of type jsonata). Node-RED prepares it, so $flowContext,
 * $globalContext, $env, $moment and the legacy `msg.` form work as in core nodes; this file
 * bounds each evaluation by the registry's limits:
 *
 * - time: an evaluation that runs longer than the limit (wall clock, from its start) fails;
 * - depth: an evaluation whose steps nest deeper than the limit (runaway recursion) fails;
 * - pace: JSONata 2 evaluates step by step through promises that are already settled, so a
 *   long evaluation never gives the event loop a turn. Once JSONata has kept the loop busy for
 *   a slice, the next step waits for the next turn, so timers and I/O go on meanwhile.
 *
 * The checks sit in JSONata's per-step hooks (`__evaluate_entry` / `__evaluate_exit`, bound
 * once per prepared expression). Their state is per evaluation, not per expression: each
 * evaluation gets its own record, bound in its own top frame under a name no expression can
 * write (a variable name stops at a space), and every hook finds it from the frame it is
 * called with. Evaluations of one expression may therefore overlap (several messages, several
 * twins) without sharing a clock or a depth.
 *
 * Errors come back as Errors whose text is from the registry's catalog: never a JSONata error
 * object (`{code, message, position, token}`, which reads "[object Object]" once wrapped).
 */
import { showValue } from "../core/errors";
import { Node, NodeMessage, RED } from "./red";
import type { RegistryNode } from "./registry-node";

export interface ExpressionLimits {
  /** Longest an evaluation may run, in milliseconds. */
  timeMs: number;
  /** Deepest its evaluation steps may nest. */
  depth: number;
}

export const DEFAULT_EXPRESSION_LIMITS: Readonly<ExpressionLimits> = Object.freeze({ timeMs: 500, depth: 500 });
/** What the registry accepts for each limit (the editor checks the same). */
export const EXPRESSION_LIMIT_RANGE = Object.freeze({ timeMs: [1, 600000] as const, depth: [10, 100000] as const });

export type ExpressionErrorCode = "expression-invalid" | "expression-failed" | "expression-timeout" | "expression-too-deep";

/** An expression's failure, in words from the catalog (twin-registry.errors.<code>). */
export class ExpressionError extends Error {
  readonly code: ExpressionErrorCode;
  readonly params: Record<string, string | number>;
  constructor(message: string, code: ExpressionErrorCode, params: Record<string, string | number>) {
    super(message);
    this.code = code;
    this.params = params;
  }
}

export interface Expression {
  readonly source: string;
  /** The expression's value on `input` (a message or a twin document), within the limits. */
  evaluate(input: object): Promise<unknown>;
}

/** Reads one typedInput per message: JSONata prepared once and bounded, other types as core nodes read them. */
export type PropertyReader = (msg: NodeMessage, cb: (err: Error | null, value?: unknown) => void) => void;

/** How long JSONata may keep the event loop busy before its next step waits for a turn. */
const SLICE_MS = 20;
/** The binding that carries an evaluation's record: unreachable from an expression (names stop at a space). */
const RUN = "twinwire evaluation";
const ENTRY = Symbol.for("jsonata.__evaluate_entry");
const EXIT = Symbol.for("jsonata.__evaluate_exit");
const EXPRESSION_SHOWN = 80;

/** One evaluation's record. */
interface Run {
  /** The time limit, in milliseconds of this evaluation's own work. */
  readonly limitMs: number;
  /** Milliseconds of its own work so far (see charge). */
  usedMs: number;
  readonly maxDepth: number;
  /** Steps open in the part of the evaluation that runs one step after another. */
  depth: number;
  /** Array and object constructors open: their items run side by side (see onEntry). */
  parallel: number;
  failure: ExpressionError | null;
  readonly fail: (code: "expression-timeout" | "expression-too-deep") => ExpressionError;
}

interface Frame {
  lookup(name: unknown): unknown;
}

/** The part of a prepared JSONata expression used here (jsonata 1.8 in Node-RED 3, 2.x in 4 and 5). */
interface Prepared {
  evaluate(input: unknown, bindings?: Record<string, unknown>, callback?: (err: unknown, result: unknown) => void): unknown;
  assign(name: string | symbol, value: unknown): void;
}

interface Step {
  type?: string;
  value?: unknown;
  group?: unknown;
}

function runOf(environment: unknown): Run | undefined {
  const frame = environment as Frame | null;
  if (!frame || typeof frame.lookup !== "function") return undefined;
  return frame.lookup(RUN) as Run | undefined;
}

/** An array constructor `[...]`, an object constructor `{...}` or a grouping `path{...}`. */
function startsSideBySide(expr: Step): boolean {
  return (expr.type === "unary" && (expr.value === "[" || expr.value === "{")) || expr.group !== undefined;
}

/**
 * Runs before every step. JSONata 2 evaluates the items of an array constructor and the groups
 * of an object constructor side by side (Promise.all): their steps interleave, so one counter
 * would add up the items' depths (a 5,000-key object is not 5,000 deep). Depth is therefore
 * counted where the evaluation runs one step after another, which is where it is exact:
 * outside every constructor. Inside one only the time limit applies (it always does). A step
 * is counted when no constructor is open at its entry, and then none is at its exit either
 * (the ones it opened have closed; nothing else runs beside it), so entries and exits pair up.
 */
function onEntry(expr: Step, _input: unknown, environment: unknown): Promise<void> | undefined {
  const run = runOf(environment);
  if (!run) return undefined;
  if (run.failure) throw run.failure;
  const now = Date.now();
  charge(run, now);
  if (run.usedMs > run.limitMs) throw (run.failure = run.fail("expression-timeout"));
  if (run.parallel === 0 && ++run.depth > run.maxDepth) throw (run.failure = run.fail("expression-too-deep"));
  if (startsSideBySide(expr)) run.parallel++;
  return pace(now);
}

function onExit(expr: Step, _input: unknown, environment: unknown): void {
  const run = runOf(environment);
  if (!run) return;
  if (run.failure) throw run.failure; // a step running beside the one that failed stops too
  charge(run, Date.now());
  if (startsSideBySide(expr)) run.parallel--;
  if (run.parallel === 0) run.depth--;
}

// The start of JSONata work in this turn of the event loop. Process-wide on purpose: it measures
// how long the loop has been busy, whichever node or evaluation kept it so. It holds no state of
// any flow.
let turnStart = 0;
let turnMarked = false;
const endTurn = (): void => {
  turnMarked = false;
  lastRun = null;
};

/**
 * The time limit counts an evaluation's own work, not the time it waits for its turn: a burst of
 * a thousand messages runs a thousand evaluations side by side, each step in turn, and a wall
 * clock from its start would stop the last ones of a burst however short they are. So the time
 * between two steps in one turn of the event loop goes to the evaluation that took the earlier
 * one (it was running then), and a wait between turns goes to none.
 */
let lastRun: Run | null = null;
let lastAt = 0;
function charge(run: Run, now: number): void {
  if (lastRun && turnMarked) lastRun.usedMs += Math.max(0, now - lastAt);
  lastRun = run;
  lastAt = now;
}
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function pace(now: number): Promise<void> | undefined {
  if (!turnMarked) {
    turnMarked = true;
    turnStart = now;
    setImmediate(endTurn);
    return undefined;
  }
  return now - turnStart >= SLICE_MS ? nextTurn() : undefined;
}

function isAsyncFunction(fn: unknown): boolean {
  return Object.prototype.toString.call(fn) === "[object AsyncFunction]";
}

/** The text of a JSONata error object (or any thrown value), for a message. */
function reasonOf(err: unknown): { reason: string; code: string; position: number | null } {
  if (err && typeof err === "object") {
    const e = err as { message?: unknown; code?: unknown; position?: unknown; value?: unknown };
    let reason = typeof e.message === "string" && e.message ? e.message : "";
    if (!reason) reason = e.value !== undefined ? showValue(e.value, 120) : String(err);
    if (reason === "[object Object]") reason = showValue(err, 120);
    let code = typeof e.code === "string" || typeof e.code === "number" ? String(e.code) : "";
    if (!code) code = err instanceof Error ? err.name : "error";
    const position = typeof e.position === "number" && Number.isFinite(e.position) ? e.position : null;
    return { reason: clip(reason, 200), code, position };
  }
  return { reason: clip(String(err), 200), code: "error", position: null };
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** The limits the registry sets, or the defaults when the node has no registry. */
export function limitsOf(registryNode: RegistryNode | null): ExpressionLimits {
  return registryNode?.expressionLimits ?? DEFAULT_EXPRESSION_LIMITS;
}

/**
 * Prepares `source` for `node`, bounded by the limits of `registryNode` (read at each
 * evaluation, so they follow the registry). Throws an ExpressionError when it does not parse.
 */
export function prepareExpression(RED: RED, node: Node, registryNode: RegistryNode | null, source: string): Expression {
  const shown = showValue(source, EXPRESSION_SHOWN);
  const t = (code: ExpressionErrorCode, params: Record<string, string | number>): ExpressionError =>
    new ExpressionError(RED._(`twin-registry.errors.${code}`, params), code, params);
  const failed = (err: unknown): ExpressionError => {
    if (err instanceof ExpressionError) return err;
    const { reason, code, position } = reasonOf(err);
    const params: Record<string, string | number> = { expression: shown, reason, code };
    if (position !== null) params.position = position;
    return t("expression-failed", params);
  };

  let prepared: Prepared;
  try {
    prepared = RED.util.prepareJSONataExpression(source, node) as Prepared;
  } catch (err) {
    const { reason, code, position } = reasonOf(err);
    const params: Record<string, string | number> = { expression: shown, reason, code };
    if (position !== null) params.position = position;
    throw t("expression-invalid", params);
  }

  prepared.assign(ENTRY, onEntry);
  prepared.assign(EXIT, onExit);
  // jsonata 1.x (Node-RED 3) looks the hooks up by name and calls them synchronously.
  if (!isAsyncFunction(prepared.evaluate)) {
    prepared.assign("__evaluate_entry", onEntry);
    prepared.assign("__evaluate_exit", onExit);
  }

  // Each call of evaluate (Node-RED's evaluateJSONataExpression makes exactly one per
  // evaluation) starts a new record, bound beside Node-RED's own bindings.
  const original = prepared.evaluate;
  let last: Run | null = null;
  prepared.evaluate = function (input, bindings, callback) {
    const limits = limitsOf(registryNode);
    const run: Run = {
      limitMs: limits.timeMs,
      usedMs: 0,
      maxDepth: limits.depth,
      depth: 0,
      parallel: 0,
      failure: null,
      fail: (code) => t(code, { expression: shown, limit: code === "expression-timeout" ? limits.timeMs : limits.depth }),
    };
    last = run;
    const withRun: Record<string, unknown> = { ...(bindings ?? {}) };
    withRun[RUN] = run;
    const cb = typeof callback === "function" ? (err: unknown, result: unknown) => callback(err ? run.failure ?? err : null, result) : undefined;
    const result = original.call(this, input, withRun, cb);
    if (result && typeof (result as Promise<unknown>).then === "function") {
      return (result as Promise<unknown>).catch((err: unknown) => {
        throw run.failure ?? err;
      });
    }
    return result;
  };

  return {
    source,
    evaluate(input: object): Promise<unknown> {
      return new Promise((resolve, reject) => {
        last = null;
        try {
          RED.util.evaluateJSONataExpression(prepared, input as NodeMessage, (err, value) => (err ? reject(failed(err)) : resolve(value)));
        } catch (err) {
          // jsonata 1.x runs synchronously: a failure (a limit too) can leave the call itself
          const run = last as Run | null;
          reject(failed(run?.failure ?? err));
        }
      });
    },
  };
}

/**
 * A typedInput read per message. JSONata is prepared once, here, and bounded; a JSONata that
 * does not parse fails every message with its error (the node may also show it at deploy:
 * `problem` holds it). Every other type is read by RED.util.evaluateNodeProperty.
 */
export function propertyReader(
  RED: RED,
  node: Node,
  registryNode: RegistryNode | null,
  value: string,
  type: string,
): PropertyReader & { problem: Error | null } {
  if (type === "jsonata") {
    let expression: Expression;
    try {
      expression = prepareExpression(RED, node, registryNode, value);
    } catch (err) {
      const problem = err as Error;
      return Object.assign<PropertyReader, { problem: Error | null }>((_msg, cb) => cb(problem), { problem });
    }
    return Object.assign<PropertyReader, { problem: Error | null }>(
      (msg, cb) =>
        void expression
          .evaluate(msg)
          .then((result) => cb(null, result), (err: Error) => cb(err))
          .catch((err: unknown) => node.error(err)), // thrown by what the node does next: logged, never an unhandled rejection
      { problem: null },
    );
  }
  return Object.assign<PropertyReader, { problem: Error | null }>(
    (msg, cb) => {
      try {
        RED.util.evaluateNodeProperty(value, type || "str", node, msg, (err, result) => cb(err ? asError(err) : null, result));
      } catch (err) {
        cb(asError(err));
      }
    },
    { problem: null },
  );
}

/** The same read as a promise. */
export function readProperty(reader: PropertyReader, msg: NodeMessage): Promise<unknown> {
  return new Promise((resolve, reject) => reader(msg, (err, value) => (err ? reject(err) : resolve(value))));
}

function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(reasonOf(err).reason);
}
