// schema/plan.schema.json is what editors complete from; it must offer exactly the keys the parser
// accepts, and explain each one. The key lists come from the parser's own exports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHANGE_KINDS, NOTIFY_EVENTS } from '../types.ts';
import {
  BUDGET_KEYS,
  CHANGE_KIND_KEYS,
  CHECK_ITEM_KEYS,
  CHECK_KIND_KEYS,
  CHECK_KINDS,
  GATE_KEYS,
  HOSTS_KEYS,
  NOTIFY_KEYS,
  ON_FAILURE_VALUES,
  PLAN_KEYS,
  PREFLIGHT_VALUES,
  WAVE_KEYS,
} from './plan-keys.ts';

interface SchemaNode {
  title?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  enum?: string[];
  $ref?: string;
  [key: string]: unknown;
}

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '../../../schema/plan.schema.json'), 'utf8')) as SchemaNode & {
  $defs: Record<string, SchemaNode>;
};

function keysOf(node: SchemaNode | undefined): string[] {
  return Object.keys(node?.properties ?? {}).sort();
}

const sorted = (keys: readonly string[]) => [...keys].sort();

describe('plan JSON Schema agrees with the parser', () => {
  it('is draft 2020-12 and closed at the top level', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    expect(sorted(schema.required as string[])).toEqual(['change', 'name', 'waves']);
  });

  it('offers exactly the parser keys at every level', () => {
    const top = schema.properties!;
    expect(keysOf(schema)).toEqual(sorted(PLAN_KEYS));
    expect(keysOf(top['hosts'])).toEqual(sorted(HOSTS_KEYS));
    expect(keysOf(top['change'])).toEqual(sorted(CHANGE_KINDS));
    for (const kind of CHANGE_KINDS) {
      expect(keysOf(top['change']!.properties![kind]), kind).toEqual(sorted(CHANGE_KIND_KEYS[kind]));
    }
    expect(keysOf(schema.$defs['wave'])).toEqual(sorted(WAVE_KEYS));
    const check = schema.$defs['check']!;
    expect(keysOf(check)).toEqual(sorted([...CHECK_ITEM_KEYS, ...CHECK_KINDS]));
    for (const kind of CHECK_KINDS) {
      const keys = CHECK_KIND_KEYS[kind];
      const node = check.properties![kind]!;
      if (keys === null) expect(node.$ref, kind).toBe('#/$defs/argv');
      else expect(keysOf(node), kind).toEqual(sorted(keys));
    }
    expect(keysOf(top['budget'])).toEqual(sorted(BUDGET_KEYS));
    expect(keysOf(schema.$defs['gate'])).toEqual(sorted(GATE_KEYS));
    expect(keysOf(schema.$defs['notify'])).toEqual(sorted(NOTIFY_KEYS));
    expect((schema.$defs['notify']!.properties!['events']!['items'] as SchemaNode).enum).toEqual([...NOTIFY_EVENTS]);
    expect(top['onFailure']!.enum).toEqual([...ON_FAILURE_VALUES]);
    expect(top['preflight']!.enum).toEqual([...PREFLIGHT_VALUES]);
  });

  it('closes every mapping that the parser closes', () => {
    const closed: (SchemaNode | undefined)[] = [
      schema.properties!['hosts'],
      schema.properties!['change'],
      schema.properties!['budget'],
      schema.$defs['wave'],
      schema.$defs['check'],
      schema.$defs['gate'],
      schema.$defs['notify'],
      ...CHANGE_KINDS.map((kind) => schema.properties!['change']!.properties![kind]),
    ];
    for (const node of closed) expect(node?.additionalProperties, node?.title).toBe(false);
  });

  it('gives every property a title and a description', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return;
      const properties = (node as SchemaNode).properties;
      for (const [key, child] of Object.entries(properties ?? {})) {
        if (typeof child.title !== 'string' || typeof child.description !== 'string') missing.push(`${path}.${key}`);
      }
      for (const [key, child] of Object.entries(node)) walk(child, `${path}.${key}`);
    };
    walk(schema, '$');
    expect(missing).toEqual([]);
  });
});
