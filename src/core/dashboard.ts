/**
 * What the Dashboard 2.0 widgets show (ui-twin-fleet, ui-twin-card): a fleet page of twin rows
 * and the "card view" of one twin, both plain JSON built from the registry's public reads, with
 * values already in the words and units an operator reads ("72.4 °C", "in 1 h"). The widgets'
 * Vue code only lays this out, so what an operator sees is decided (and tested) here.
 */
import { Json, JsonObject } from "./json";
import { PropertySpec } from "./models";
import { TwinRegistry } from "./registry";
import { keyedOf, stageOf, toSummary, wholeOf, TwinSummary } from "./twin";
import { TwinError } from "./errors";
import { canonicalUnit } from "./units";

/** Symbols for the UCUM codes models use (units.ts) where the code is not what people write. */
const SYMBOL: Record<string, string> = {
  Cel: "°C",
  "[degF]": "°F",
  K: "K",
  "[psi]": "psi",
  "W.h": "Wh",
  "kW.h": "kWh",
  "MW.h": "MWh",
  "[mi_i]/h": "mph",
  "[kn_i]": "kn",
  "[ppm]": "ppm",
  "1": "",
};

/** The unit as people write it: "°C" for "Cel"; a unit units.ts does not know stays as written. */
export function unitSymbol(unit: string | undefined | null): string {
  if (!unit) return "";
  const code = canonicalUnit(unit) ?? unit;
  return SYMBOL[code] ?? code;
}

/** A number for reading, not for computing: at most 4 significant digits, no float noise. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 3;
  return String(Number(value.toFixed(digits)));
}

/** A value with its unit, as a widget shows it: "72.4 °C", "58 %", "on", "—" for none. */
export function formatValue(value: Json | undefined, unit?: string | null): string {
  if (value === undefined || value === null) return "—";
  if (typeof value === "number") {
    const symbol = unitSymbol(unit);
    if (!symbol) return formatNumber(value);
    return symbol === "%" ? `${formatNumber(value)} %` : `${formatNumber(value)} ${symbol}`;
  }
  if (typeof value === "boolean") return value ? "on" : "off";
  if (typeof value === "string") return value.length > 60 ? value.slice(0, 59) + "…" : value;
  const text = JSON.stringify(value);
  return text.length > 60 ? text.slice(0, 59) + "…" : text;
}

/** A span of seconds in the largest unit that keeps it readable: "45 s", "10 min", "1 h", "2.5 d". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  const s = Math.abs(seconds);
  if (s < 90) return `${formatNumber(Math.round(s))} s`;
  if (s < 3600) return `${formatNumber(Number((s / 60).toFixed(1)))} min`;
  if (s < 36 * 3600) return `${formatNumber(Number((s / 3600).toFixed(1)))} h`;
  return `${formatNumber(Number((s / 86400).toFixed(1)))} d`;
}

// ---- fleet --------------------------------------------------------------------------------------

export interface FleetFilter {
  model?: string;
  stage?: string;
  online?: boolean;
  anomaly?: boolean;
}

export interface FleetRow extends TwinSummary {
  /** The first few reported values, formatted with their units: [name, text]. */
  values: Array<[string, string]>;
}

export interface FleetView {
  /** Twins in the registry. */
  count: number;
  /** Twins that match the filter; `rows` holds the first `limit` of them, by id. */
  total: number;
  rows: FleetRow[];
  /** Every model and stage in the registry, for the filter choices. */
  models: string[];
  stages: string[];
}

/** The filter a widget sent, read defensively (it comes from a browser): unknown keys and types are ignored. */
export function readFleetFilter(input: unknown): FleetFilter {
  const out: FleetFilter = {};
  if (!input || typeof input !== "object" || Array.isArray(input)) return out;
  const f = input as Record<string, unknown>;
  if (typeof f.model === "string" && f.model) out.model = f.model.slice(0, 200);
  if (typeof f.stage === "string" && f.stage) out.stage = f.stage.slice(0, 200);
  if (typeof f.online === "boolean") out.online = f.online;
  if (typeof f.anomaly === "boolean") out.anomaly = f.anomaly;
  return out;
}

/** The fleet page: twins matching `filter`, sorted by id, at most `limit` rows, `values` reported values each. */
export function fleetView(registry: TwinRegistry, filter: FleetFilter = {}, limit = 100, values = 3): FleetView {
  const models = new Set<string>();
  const stages = new Set<string>();
  const rows: FleetRow[] = [];
  let total = 0;
  const all = registry.list({}).twins;
  for (const summary of all) {
    if (summary.model !== null) models.add(summary.model);
    if (summary.stage !== null) stages.add(summary.stage);
    if (filter.model !== undefined && summary.model !== filter.model) continue;
    if (filter.stage !== undefined && summary.stage !== filter.stage) continue;
    if (filter.online !== undefined && summary.online !== filter.online) continue;
    if (filter.anomaly !== undefined && summary.anomaly !== filter.anomaly) continue;
    total++;
    if (rows.length >= limit) continue;
    rows.push({ ...summary, values: previewValues(registry, summary.id, values) });
  }
  return { count: all.length, total, rows, models: [...models].sort(), stages: [...stages].sort() };
}

function previewValues(registry: TwinRegistry, id: string, n: number): Array<[string, string]> {
  const twin = registry.twin(id);
  if (!twin) return [];
  const model = registry.modelOf(twin);
  const out: Array<[string, string]> = [];
  for (const [name, entry] of twin.reported) {
    if (out.length >= n) break;
    out.push([name, formatValue(entry.value, model?.properties.get(name)?.unit)]);
  }
  return out;
}

// ---- card ---------------------------------------------------------------------------------------

export interface CardPrediction {
  forecast: number;
  lower: number;
  upper: number;
  /** Seconds ahead, and in words. */
  horizon: number;
  horizonText: string;
  /** "74.1 °C in 1 h (70.2–78 °C)" */
  text: string;
  anomaly: boolean;
  /** Seconds until the property crosses its threshold, in words; null when not heading there. */
  timeToThreshold: string | null;
}

export interface CardProperty {
  name: string;
  type: string | null;
  unit: string;
  value: Json | null;
  text: string;
  ts: number | null;
  writable: boolean;
  minimum?: number;
  maximum?: number;
  enum?: Json[];
  /** The desired value, and whether the twin still differs from it (a pending delta). */
  desired?: Json;
  desiredText?: string;
  pending: boolean;
  /** Up to `points` recent numeric readings, oldest first, for a sparkline. */
  history: number[];
  prediction: CardPrediction | null;
}

export interface CardView {
  id: string;
  model: string | null;
  online: boolean;
  lastSeen: number | null;
  version: number;
  updated: number;
  stage: string | null;
  since: number | null;
  operatingHours: number | null;
  /** Due maintenance in words ("operating hours: 512 of 500"), null when none is due. */
  maintenance: string | null;
  anomaly: boolean;
  pending: number;
  properties: CardProperty[];
}

/**
 * One twin as the card shows it: the model's properties first (in the model's order), then any
 * other reported or desired one. Null when the twin does not exist.
 */
export function cardView(registry: TwinRegistry, id: string, points = 60): CardView | null {
  const twin = registry.twin(id);
  if (!twin) return null;
  const model = registry.modelOf(twin);
  const summary = toSummary(twin, model);
  const predictions = keyedOf(twin, "predictions");
  const names: string[] = model ? [...model.properties.keys()] : [];
  for (const name of twin.reported.keys()) if (!names.includes(name)) names.push(name);
  if (twin.desired) for (const name of twin.desired.keys()) if (!names.includes(name)) names.push(name);

  const properties: CardProperty[] = [];
  for (const name of names) {
    const spec = model?.properties.get(name);
    const reported = twin.reported.get(name);
    const desired = twin.desired?.get(name);
    // A model property never reported nor wanted is not worth a row, unless it can be set.
    if (!reported && !desired && !spec?.writable) continue;
    const unit = unitSymbol(spec?.unit);
    const row: CardProperty = {
      name,
      type: spec?.type ?? null,
      unit,
      value: reported ? reported.value : null,
      text: formatValue(reported?.value, spec?.unit),
      ts: reported ? reported.ts : null,
      writable: spec?.writable === true,
      pending: false,
      history: [],
      prediction: predictionOf(predictions?.get(name), spec),
    };
    if (spec?.minimum !== undefined) row.minimum = spec.minimum;
    if (spec?.maximum !== undefined) row.maximum = spec.maximum;
    if (spec?.enum !== undefined) row.enum = spec.enum;
    if (desired) {
      row.desired = desired.value;
      row.desiredText = formatValue(desired.value, spec?.unit);
    }
    if (reported && typeof reported.value === "number" && twin.history?.get(name)) {
      row.history = thin(registry.history(twin.id, name, { limit: points * 4 }).map((p) => p.value), points);
    }
    properties.push(row);
  }
  const pendingNames = new Set(Object.keys(deltaNames(registry, id)));
  for (const row of properties) row.pending = pendingNames.has(row.name);

  const lc = wholeOf(twin, "lifecycle");
  const lifecycle = lc && typeof lc === "object" && !Array.isArray(lc) ? (lc as JsonObject) : null;
  return {
    id: twin.id,
    model: twin.model,
    online: twin.online,
    lastSeen: twin.lastSeen,
    version: twin.version,
    updated: twin.updated,
    stage: stageOf(twin),
    since: typeof lifecycle?.since === "number" ? lifecycle.since : null,
    operatingHours: typeof lifecycle?.operatingHours === "number" ? lifecycle.operatingHours : null,
    maintenance: dueText(lifecycle?.maintenanceDue),
    anomaly: summary.anomaly,
    pending: summary.delta,
    properties,
  };
}

function deltaNames(registry: TwinRegistry, id: string): JsonObject {
  return registry.get(id).delta;
}

/** Every step-th value so at most `max` remain, always keeping the newest. */
function thin(values: number[], max: number): number[] {
  if (values.length <= max) return values;
  const step = values.length / max;
  const out: number[] = [];
  for (let i = max - 1; i >= 0; i--) out.unshift(values[Math.floor(values.length - 1 - i * step)]);
  return out;
}

function predictionOf(p: Json | undefined, spec: PropertySpec | undefined): CardPrediction | null {
  if (!p || typeof p !== "object" || Array.isArray(p)) return null;
  const { forecast, lower, upper, horizon } = p;
  if (typeof forecast !== "number" || typeof lower !== "number" || typeof upper !== "number" || typeof horizon !== "number") return null;
  const unit = spec?.unit;
  const symbol = unitSymbol(unit);
  const range = `${formatNumber(lower)}–${formatValue(upper, unit)}`;
  const horizonText = formatSeconds(horizon);
  const ttt = typeof p.timeToThreshold === "number" ? formatSeconds(p.timeToThreshold) : null;
  return {
    forecast,
    lower,
    upper,
    horizon,
    horizonText,
    text: `${formatValue(forecast, unit)} in ${horizonText} (${symbol ? range : `${formatNumber(lower)}–${formatNumber(upper)}`})`,
    anomaly: p.anomaly === true,
    timeToThreshold: ttt,
  };
}

const DUE_WORDS: Record<string, string> = { operatingHours: "operating hours", cycles: "cycles", days: "days" };

function dueText(due: Json | undefined): string | null {
  if (!due || typeof due !== "object" || Array.isArray(due)) return null;
  const rule = String(due.rule);
  if (rule === "prediction") {
    const ttt = typeof due.timeToThreshold === "number" ? formatSeconds(due.timeToThreshold) : "soon";
    return `${String(due.property)} reaches its limit in ${ttt}`;
  }
  if (rule in DUE_WORDS && typeof due.value === "number" && typeof due.limit === "number") {
    return `${DUE_WORDS[rule]}: ${formatNumber(due.value)} of ${formatNumber(due.limit)}`;
  }
  return "maintenance due";
}

// ---- desired value from a widget ------------------------------------------------------------------

/**
 * A value typed into a widget for `property`, as the model's type wants it: a form field gives
 * text, so "1800" becomes 1800 for a number property and "true" true for a boolean one. Anything
 * else passes unchanged: the registry's own check (setDesired) then accepts or refuses it in the
 * words every other writer gets.
 */
export function desiredFromInput(registry: TwinRegistry, twinId: string, property: unknown, value: unknown): { property: string; value: Json } {
  if (typeof property !== "string" || !property) throw new TwinError("invalid-property", { twinId, property: String(property) });
  const twin = registry.twin(twinId);
  if (!twin) throw new TwinError("not-found", { twinId });
  const spec = registry.modelOf(twin)?.properties.get(property);
  let v = value as Json;
  if (typeof v === "string" && spec) {
    const text = v.trim();
    if ((spec.type === "number" || spec.type === "integer") && text !== "" && Number.isFinite(Number(text))) v = Number(text);
    else if (spec.type === "boolean" && (text === "true" || text === "false")) v = text === "true";
  }
  return { property, value: v };
}
