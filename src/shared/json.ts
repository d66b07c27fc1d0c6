/**
 * `JSON.stringify(s)` for a string, skipping the builtin's per-call setup for the usual string
 * that needs no escaping (ids, names, paths): the hot path builds JSON text around many of them.
 */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // what JSON.stringify escapes: controls, '"', '\\', unpaired surrogates (any surrogate goes the slow way)
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}
