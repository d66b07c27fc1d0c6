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

/** Where `flattened` keeps its conversion's result, so that no optimising compiler drops it as unused. */
let flattenSink = 0;

/**
 * `s` as one contiguous string. Text built with `+` or a template literal is a tree of its
 * pieces (a V8 cons string), and every copy of a longer string made from it (an invoke frame
 * written to a pipe) walks that tree again. A part reused many times is worth flattening once:
 * converting a string to a number flattens it in place (a non-numeric one ends at its first
 * character).
 */
export function flattened(s: string): string {
  flattenSink = Number(s);
  return s;
}
