import type { SqliteDatabase } from '../../store/index.ts';
import { AviaryError } from '../../shared/errors.ts';

export interface RuleRecord {
  id: string;
  namespace: string;
  name: string;
  /** The pattern's JSON text, as validated when the rule was created. */
  pattern: string;
  functionId: string;
  /** A version number, an alias, or null for the newest version at each delivery. */
  qualifier: string | null;
  enabled: boolean;
  description: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * Persistence of event rules. Async so a networked database fits behind it; `SqliteRuleStore`
 * is the embedded one. Deleting a function deletes its rules (a foreign-key cascade).
 */
export interface RuleStore {
  listRules(): Promise<RuleRecord[]>;
  /** Throws RuleConflict when the namespace already has a rule of that name. */
  createRule(rule: RuleRecord): Promise<void>;
  setRuleEnabled(id: string, enabled: boolean, updatedAt: number): Promise<void>;
  deleteRule(id: string): Promise<void>;
}

type Row = Record<string, unknown>;

export class SqliteRuleStore implements RuleStore {
  readonly #d: SqliteDatabase;

  constructor(database: SqliteDatabase) {
    this.#d = database;
  }

  async listRules(): Promise<RuleRecord[]> {
    return (this.#d.stmt('SELECT * FROM event_rules ORDER BY namespace, name').all() as Row[]).map(toRule);
  }

  async createRule(r: RuleRecord): Promise<void> {
    try {
      this.#d.stmt(`INSERT INTO event_rules (id, namespace, name, pattern_json, function_id, qualifier, enabled, description,
        created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(r.id, r.namespace, r.name, r.pattern, r.functionId, r.qualifier, r.enabled ? 1 : 0, r.description, r.createdAt, r.updatedAt);
    } catch (err) {
      if (/UNIQUE constraint failed: event_rules\.namespace, event_rules\.name/.test((err as Error).message)) throw ruleConflict(r.name);
      throw err;
    }
  }

  async setRuleEnabled(id: string, enabled: boolean, updatedAt: number): Promise<void> {
    this.#d.stmt('UPDATE event_rules SET enabled = ?, updated_at = ? WHERE id = ?').run(enabled ? 1 : 0, updatedAt, id);
  }

  async deleteRule(id: string): Promise<void> {
    this.#d.stmt('DELETE FROM event_rules WHERE id = ?').run(id);
  }
}

export function ruleConflict(name: string): AviaryError {
  return new AviaryError('RuleConflict', `a rule named ${name} already exists; pick another name, or delete it first with \`aviary rule delete ${name}\``);
}

function toRule(r: Row): RuleRecord {
  return {
    id: String(r.id),
    namespace: String(r.namespace),
    name: String(r.name),
    pattern: String(r.pattern_json),
    functionId: String(r.function_id),
    qualifier: r.qualifier === null ? null : String(r.qualifier),
    enabled: Number(r.enabled) === 1,
    description: String(r.description),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
