export { EventBus, type PublishResult } from './bus.ts';
export { EVENT_LIMITS, isRfc3339, parseBinary, parseHttpEvents, parseStructured, type CloudEvent, type PublishMode } from './cloudevents.ts';
export { compilePattern, PATTERN_LIMITS, type EventMatcher } from './pattern.ts';
export { RULE_NAME, Rules, ruleSchema, ruleTestSchema, type FunctionDirectory, type RuleEntry, type RuleInput } from './rules.ts';
export { SqliteRuleStore, type RuleRecord, type RuleStore } from './store.ts';
