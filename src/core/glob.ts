/** Twin-id globs ("thermo-*, hvac-??"): shared by watch, mirror and lifecycle scopes, and predictions. */

/** One twin-id glob: the characters of a twin id, and * and ?. */
export const ID_GLOB = /^[A-Za-z0-9_.:*?-]{1,128}$/;

/** Matches `text` against a glob of `*` and `?` in time linear in their lengths' product, never exponential. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    const c = pattern.charCodeAt(p);
    if (p < pattern.length && (c === 63 /* ? */ || c === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (p < pattern.length && c === 42 /* * */) {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

/**
 * A matcher for comma- or space-separated id globs ("thermo-*, hvac-??"), or null when the list is
 * empty or holds something that is not an id glob.
 */
export function compileGlob(patterns: string): ((twinId: string) => boolean) | null {
  const parts = patterns.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !ID_GLOB.test(p))) return null;
  return (twinId) => parts.some((p) => globMatch(p, twinId));
}
