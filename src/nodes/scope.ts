/** Which twins a node that follows the registry handles: every twin, one id, or id globs. */
import { showValue } from "../core/errors";
import { isTwinId } from "../core/names";
import { compileGlob } from "../core/glob";
import { Node, RED } from "../runtime/red";

export interface ScopeConfig { scope?: string; twinId?: string; twinIdType?: string; pattern?: string }

export interface Scope {
  handles: (twinId: string) => boolean;
  /** What the node's errors and status call it: the id, the globs, or "all twins". */
  label: string;
}

/**
 * Reads the scope settings; `t` is the node's own catalog (keys scope.all, errors.scope-id,
 * errors.pattern, errors.scope). Throws an Error in the user's words on a bad setting.
 */
export function readScope(RED: RED, node: Node, c: ScopeConfig, t: (key: string, params?: Record<string, unknown>) => string): Scope {
  switch (c.scope || "all") {
    case "all":
      return { handles: () => true, label: t("scope.all") };
    case "twin": {
      const type = c.twinIdType || "str";
      let id: unknown;
      if (type === "str") id = c.twinId;
      else if (type === "env") RED.util.evaluateNodeProperty(c.twinId ?? "", "env", node, {}, (_err, value) => (id = value));
      if (!isTwinId(id)) throw new Error(t("errors.scope-id", { value: showValue(id) }));
      const only = id;
      return { handles: (twinId) => twinId === only, label: only };
    }
    case "glob": {
      const pattern = String(c.pattern ?? "");
      const matcher = compileGlob(pattern);
      if (!matcher) throw new Error(t("errors.pattern", { pattern }));
      return { handles: matcher, label: pattern };
    }
    default:
      throw new Error(t("errors.scope", { value: String(c.scope) }));
  }
}
