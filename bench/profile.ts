/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the server's CPU time went,
 * by function (self and inclusive time) and by area (src/ part, node internals, npm package).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number }

export interface ProfileEntry {
  name: string;
  /** Milliseconds, estimated as samples × the mean sampling interval in the window. */
  ms: number;
  /** Share of the busy (not idle) time, 0–100. */
  pct: number;
}

export interface ProfileSummary {
  /** Samples in the window (each stands for the same slice of time). */
  samples: number;
  busyMs: number;
  idleMs: number;
  topSelf: ProfileEntry[];
  topInclusive: ProfileEntry[];
  byArea: ProfileEntry[];
}

const META = new Set(['(idle)', '(root)']);

/**
 * `window` ([from, to] in µs of the monotonic clock, as `process.hrtime.bigint() / 1000n`, which
 * V8 uses for profile timestamps too) keeps only the samples taken under load.
 */
export function summarizeProfile(file: string, root: string, window?: [number, number], top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const keyOf = new Map<number, string>();
  const areaOf = new Map<number, string>();
  for (const n of profile.nodes) {
    keyOf.set(n.id, describeFrame(n.callFrame, root));
    areaOf.set(n.id, area(n.callFrame, root));
  }

  // Each sample counts once: on a busy machine the sampling thread is descheduled too, and the
  // time deltas then pile whole milliseconds onto whichever frame happened to be sampled next.
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let idleSamples = 0;
  let busySamples = 0;
  let first = Number.NaN;
  let last = Number.NaN;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window[0] || at > window[1])) continue;
    if (Number.isNaN(first)) first = at;
    last = at;
    const id = profile.samples[i]!;
    const node = byId.get(id);
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') {
      idleSamples++;
      continue;
    }
    busySamples++;
    const key = keyOf.get(id)!;
    self.set(key, (self.get(key) ?? 0) + 1);
    const a = areaOf.get(id)!;
    areas.set(a, (areas.get(a) ?? 0) + 1);
    // inclusive: each function on the stack once per sample
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (META.has(n.callFrame.functionName)) continue;
      const k = keyOf.get(cur)!;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
    }
  }
  const total = busySamples + idleSamples;
  const msPerSample = total > 1 ? (last - first) / 1000 / (total - 1) : 0;
  const busyUs = busySamples * msPerSample * 1000;
  const idleUs = idleSamples * msPerSample * 1000;
  const rank = (m: Map<string, number>, filter: (k: string) => boolean = () => true): ProfileEntry[] =>
    [...m].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, n]) => ({ name, ms: n * msPerSample, pct: busySamples > 0 ? (100 * n) / busySamples : 0 }));
  return {
    samples: total,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    topSelf: rank(self),
    // the project's own functions, with everything they call
    topInclusive: rank(inclusive, (k) => k.includes(' src/') || k.includes(' node:_http') || k.includes(' node:net')),
    byArea: rank(areas),
  };
}

function describeFrame(f: CallFrame, root: string): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  return `${name} ${shortUrl(f.url, root)}:${f.lineNumber + 1}`;
}

function shortUrl(url: string, root: string): string {
  if (url.startsWith('file://')) {
    const p = fileURLToPath(url);
    const nm = p.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    if (nm !== -1) return p.slice(nm + 1);
    return path.relative(root, p);
  }
  return url;
}

/** The part of the system a frame belongs to: src/<part>, node:<module>, npm package, V8. */
function area(f: CallFrame, root: string): string {
  if (!f.url) {
    if (f.functionName.startsWith('(')) return f.functionName; // (program), (garbage collector)
    return 'V8 builtins / native';
  }
  if (f.url.startsWith('node:')) {
    const m = f.url.slice(5);
    if (m.startsWith('internal/')) {
      const parts = m.split('/');
      return `node:${parts.slice(0, parts.length > 2 ? 2 : 1).join('/')}`;
    }
    return `node:${m}`;
  }
  const rel = shortUrl(f.url, root);
  if (rel.startsWith('node_modules/')) {
    const parts = rel.split('/');
    return `npm:${parts[1]?.startsWith('@') ? `${parts[1]}/${parts[2]}` : parts[1]}`;
  }
  if (rel.startsWith('src/')) {
    const parts = rel.split('/');
    return parts.length > 3 ? `${parts.slice(0, 3).join('/')}/` : rel;
  }
  return rel;
}
