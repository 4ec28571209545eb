/**
 * Running conditions: when a twin counts as running (operating hours, cycles) or when a custom
 * counter's condition holds. The built-in form is one comparison of a reported property with a
 * literal, such as `rpm > 0`, `mode == "auto"` or `status.running == true` (a dotted path reads
 * into an object value); a bare property (`running`) holds when it is true or a non-zero number.
 * A property the twin does not have makes the condition false. Other forms (JSONata in the node)
 * plug in as a Condition whose evaluation may be asynchronous.
 */
import { Json } from "../json";
import { isPropertyName } from "../names";
import { Twin } from "../twin";
import { LifecycleError } from "./errors";

export interface Condition {
  /** The reported properties it reads, or null when it may read anything. */
  readonly properties: readonly string[] | null;
  /** Its text, for people. */
  readonly source: string;
  evaluate(twin: Twin): boolean | Promise<boolean>;
}

type Op = ">" | ">=" | "<" | "<=" | "==" | "!=";

const FORM = /^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:(>=|<=|==|!=|>|<|=)\s*(.*?))?\s*$/;
const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A condition's result: true, or a number other than 0; anything else is false. */
export function truthy(value: unknown): boolean {
  return value === true || (typeof value === "number" && value !== 0 && !Number.isNaN(value));
}

/** Compiles `property op literal` (or a bare property); throws config.condition when it is not one. */
export function compileComparison(text: string): Condition {
  const m = FORM.exec(text);
  if (!m) throw new LifecycleError("config.condition", { condition: text.slice(0, 100) });
  const path = m[1].split(".");
  if (!path.every(isPropertyName)) throw new LifecycleError("config.condition", { condition: text.slice(0, 100) });
  const op = (m[2] === "=" ? "==" : m[2]) as Op | undefined;
  let literal: Json = true;
  if (op) {
    const parsed = parseLiteral(m[3]);
    if (parsed === undefined) throw new LifecycleError("config.condition", { condition: text.slice(0, 100) });
    if ((op === ">" || op === ">=" || op === "<" || op === "<=") && typeof parsed !== "number") {
      throw new LifecycleError("config.condition", { condition: text.slice(0, 100) });
    }
    literal = parsed;
  }
  const [name, ...rest] = path;
  return {
    properties: [name],
    source: text.trim(),
    evaluate(twin: Twin): boolean {
      const entry = twin.reported.get(name);
      if (!entry) return false;
      let value: Json | undefined = entry.value;
      for (const key of rest) {
        if (value === null || typeof value !== "object" || Array.isArray(value) || !Object.prototype.hasOwnProperty.call(value, key)) return false;
        value = (value as Record<string, Json>)[key];
      }
      if (value === undefined) return false;
      if (!op) return truthy(value);
      return compare(value, op, literal);
    },
  };
}

function compare(value: Json, op: Op, literal: Json): boolean {
  switch (op) {
    case "==":
      return value === literal;
    case "!=":
      return value !== literal;
    default:
      if (typeof value !== "number") return false;
      if (op === ">") return value > (literal as number);
      if (op === ">=") return value >= (literal as number);
      if (op === "<") return value < (literal as number);
      return value <= (literal as number);
  }
}

function parseLiteral(text: string): Json | undefined {
  if (NUMBER.test(text)) return Number(text);
  if (text === "true") return true;
  if (text === "false") return false;
  if (text === "null") return null;
  if (/^"(?:[^"\\]|\\.)*"$/.test(text)) {
    try {
      return JSON.parse(text) as string;
    } catch {
      return undefined;
    }
  }
  const single = /^'([^']*)'$/.exec(text);
  if (single) return single[1];
  return undefined;
}
