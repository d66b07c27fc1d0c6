/**
 * `node bench/event-patterns.ts`: compiled EventBridge patterns (src/triggers/events/pattern.ts)
 * against hand-written predicates doing the same test, measured in the same run; prints
 * matches per second and the ratio. Then the cost of matching one event against 100 rules,
 * which is what `POST /v1/events` pays before it enqueues anything.
 */
import { compilePattern } from '../src/triggers/events/pattern.ts';

type Ev = { type: string; source: string; subject: string; data: { total: number; currency: string; customer: { tier: string }; items: { sku: string }[]; tags: string[] } };

const EVENT: Ev = {
  type: 'order.created', source: 'shop', subject: 'orders/42',
  data: { total: 150, currency: 'EUR', customer: { tier: 'gold' }, items: [{ sku: 'a' }, { sku: 'b' }], tags: ['gift'] },
};

const CASES: Array<[string, unknown, (e: Ev) => boolean]> = [
  ['exact + numeric', { type: ['order.created'], data: { total: [{ numeric: ['>', 100] }] } }, (e) => e.type === 'order.created' && e.data.total > 100],
  ['prefix + nested exact', { source: [{ prefix: 'sh' }], data: { customer: { tier: ['gold', 'platinum'] } } }, (e) => e.source.startsWith('sh') && ['gold', 'platinum'].includes(e.data.customer.tier)],
  ['wildcard + array of objects', { type: [{ wildcard: 'order.*' }], data: { items: { sku: ['b'] } } }, (e) => e.type.startsWith('order.') && e.data.items.some((i) => i.sku === 'b')],
  ['anything-but + suffix', { type: [{ 'anything-but': ['order.deleted', 'order.updated'] }], subject: [{ suffix: '/42' }] }, (e) => e.type !== 'order.deleted' && e.type !== 'order.updated' && e.subject.endsWith('/42')],
];

function rate(fn: () => void, ms = 500): number {
  for (let i = 0; i < 10_000; i++) fn();
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) fn();
    n += 10_000;
  }
  return (n / ms) * 1000;
}

let sink = 0;
console.log('pattern                        compiled M/s   hand-written M/s   ratio');
for (const [name, pattern, handWritten] of CASES) {
  const m = compilePattern(pattern);
  if (m(EVENT) !== handWritten(EVENT)) throw new Error(`${name}: the two disagree`);
  const compiled = rate(() => void (sink += m(EVENT) ? 1 : 0));
  const baseline = rate(() => void (sink += handWritten(EVENT) ? 1 : 0));
  console.log(`${name.padEnd(30)} ${(compiled / 1e6).toFixed(2).padStart(12)} ${(baseline / 1e6).toFixed(2).padStart(18)} ${(compiled / baseline).toFixed(2).padStart(7)}`);
}

const rules = Array.from({ length: 100 }, (_, i) => compilePattern({ type: [`order.t${i}`], data: { total: [{ numeric: ['>', i] }] } }));
const perEvent = rate(() => {
  for (const r of rules) sink += r(EVENT) ? 1 : 0;
});
console.log(`\none event against 100 rules: ${Math.round(perEvent).toLocaleString('en')} events/s (${(1e6 / perEvent).toFixed(1)} µs each)`);
if (sink < 0) console.log(sink);
