/**
 * The derived sections of a twin: what features keep in the twin document beside the sections
 * every twin has (attributes, reported, desired, delta, connectivity). They are declared here and
 * nowhere else: the journal (one op per section, its `code`), the snapshot record (the same code
 * as key), the document, the change events and the watch filter all read this table, so a new
 * feature adds a row here and leaves journal.ts, twin.ts and registry.ts alone. Its writes go
 * through `registry.setDerived` (docs/architecture.md, "Derived sections").
 */

export interface DerivedSpec {
  /**
   * The journal op and the snapshot record key of the section: on disk in every entry, so short,
   * and never changed or reused once released (old journals must still replay).
   */
  code: string;
  /**
   * "keyed": one value per property name; a write names the keys it changes, null removes one.
   * "whole": one JSON value; a write replaces it.
   */
  shape: "keyed" | "whole";
  /** A write is a version step: `ifVersion` guards it and the twin's version moves. */
  versioned: boolean;
  /** Largest serialised size of one write in bytes; "document" for the registry's document limit. */
  maxBytes: number | "document";
}

export const DERIVED = {
  /** twin-predict: each property's latest prediction (derived data, no version step). */
  predictions: { code: "p", shape: "keyed", versioned: false, maxBytes: 64 * 1024 },
  /** twin-lifecycle: the summary of stage, counters and maintenance (a version step). */
  lifecycle: { code: "lc", shape: "whole", versioned: true, maxBytes: "document" },
} as const satisfies Record<string, DerivedSpec>;

export type DerivedSection = keyof typeof DERIVED;

export type DerivedCode = (typeof DERIVED)[DerivedSection]["code"];

export type KeyedSection = { [K in DerivedSection]: (typeof DERIVED)[K]["shape"] extends "keyed" ? K : never }[DerivedSection];

export const DERIVED_SECTIONS = Object.keys(DERIVED) as DerivedSection[];

const BY_CODE = new Map<string, DerivedSection>(DERIVED_SECTIONS.map((name) => [DERIVED[name].code, name]));

/** The section a journal op or record key stands for, if it is a derived section's. */
export function sectionOfCode(code: string): DerivedSection | undefined {
  return BY_CODE.get(code);
}

export function isDerivedSection(name: unknown): name is DerivedSection {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(DERIVED, name);
}

export function specOf(section: DerivedSection): DerivedSpec {
  return DERIVED[section];
}
