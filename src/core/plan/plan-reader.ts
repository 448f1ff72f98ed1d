// Reads a parsed YAML document node by node and records every problem with its 1-based line and
// column, so one pass over a plan reports all of its mistakes, each where it was made.
import { isMap, isScalar, isSeq } from 'yaml';
import type { LineCounter, Node, YAMLMap } from 'yaml';
import type { SourceProblem } from '../errors.ts';
import { LABEL_KEY, LABEL_KEY_HINT } from '../labels.ts';
import type { Millis, Quantity, Selector } from '../types.ts';
import { parseDuration } from './duration.ts';

/** One `key: value` of a mapping. */
export interface Entry {
  readonly key: string;
  readonly keyNode: Node;
  /** Null when the pair has no value node at all (`{ key }`). */
  readonly value: Node | null;
  /** How messages name the field: `"bake" in wave "canary"`. */
  readonly label: string;
}

/** The known keys of one mapping, in source order. */
export class Fields {
  readonly node: YAMLMap;
  readonly entries: readonly Entry[];
  constructor(node: YAMLMap, entries: readonly Entry[]) {
    this.node = node;
    this.entries = entries;
  }
  get(key: string): Entry | undefined {
    return this.entries.find((entry) => entry.key === key);
  }
}

const MAX_LABEL_VALUE = 253;

export interface TextRules {
  readonly pattern?: RegExp;
  /** Says what the pattern allows, read after "must be": `"name" must be <hint>, got "x"`. */
  readonly hint?: string;
  readonly max?: number;
  readonly allowEmpty?: boolean;
}

export class PlanReader {
  readonly problems: SourceProblem[] = [];
  readonly #lines: LineCounter;

  constructor(lines: LineCounter) {
    this.#lines = lines;
  }

  reportAt(offset: number, message: string): void {
    const { line, col } = this.#lines.linePos(offset);
    this.problems.push({ line, col, message });
  }

  report(node: Node | null | undefined, message: string): void {
    this.reportAt(node?.range?.[0] ?? 0, message);
  }

  lineOf(node: Node): number {
    return this.#lines.linePos(node.range?.[0] ?? 0).line;
  }

  /**
   * For lists whose items must have distinct names (waves, checks): the returned function records
   * a name and answers true, or reports the duplicate at `at` and answers false.
   */
  uniqueNames(what: string): (name: string, at: Node) => boolean {
    const firstLine = new Map<string, number>();
    return (name, at) => {
      const first = firstLine.get(name);
      if (first !== undefined) {
        this.report(at, `duplicate ${what} name "${name}" (first used at line ${first}); give each ${what} its own name`);
        return false;
      }
      firstLine.set(name, this.lineOf(at));
      return true;
    };
  }

  /** The entry for a required key, or a "missing" problem at `at` (usually the parent's key). */
  require(fields: Fields, key: string, where: string, at: Node): Entry | undefined {
    const entry = fields.get(key);
    if (entry === undefined) this.report(at, `missing required key "${key}" ${where}`);
    return entry;
  }

  /** Reports at the value, or at the key when there is no value to point at (`bake:`). */
  reportEntry(entry: Entry, message: string): void {
    const value = entry.value;
    const empty = value === null || (isScalar(value) && value.value === null && value.range?.[0] === value.range?.[1]);
    this.report(empty ? entry.keyNode : value, message);
  }

  /**
   * A mapping's entries. `where` ends the unknown-key message (`in wave "canary"`); `allowed` null
   * accepts any key (label selectors, package maps). Duplicate keys are already YAML errors: only
   * the first is kept.
   */
  fields(
    source: Entry | Node | null,
    subject: string,
    where: string,
    allowed: readonly string[] | null,
    unknownKey?: (key: string) => string,
  ): Fields | null {
    const entry = source !== null && 'label' in source ? source : null;
    const node = entry === null ? (source as Node | null) : entry.value;
    if (!isMap(node)) {
      const message = `${subject} must be a mapping (key: value), got ${describeNode(node)}`;
      if (entry === null) this.report(node, message);
      else this.reportEntry(entry, message);
      return null;
    }
    const entries: Entry[] = [];
    const seen = new Map<string, Node>();
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.report(keyNode ?? node, `keys must be plain text ${where}, got ${describeNode(keyNode)}`);
        continue;
      }
      const key = keyNode.value;
      const first = seen.get(key);
      if (first !== undefined) {
        this.report(keyNode, `duplicate key "${key}" ${where} (first at line ${this.lineOf(first)}); a key may appear once`);
        continue;
      }
      seen.set(key, keyNode);
      if (allowed !== null && !allowed.includes(key)) {
        this.report(
          keyNode,
          unknownKey?.(key) ?? `unknown key "${key}" ${where} (expected one of: ${allowed.join(', ')})`,
        );
        continue;
      }
      const label = where === 'at top level' ? `"${key}"` : `"${key}" ${where}`;
      entries.push({ key, keyNode, value: (pair.value as Node | null) ?? null, label });
    }
    return new Fields(node, entries);
  }

  /** Text from a scalar; plain numbers and booleans keep the digits the author wrote ("1.10"). */
  text(entry: Entry, rules: TextRules = {}): string | undefined {
    const value = scalarText(entry.value);
    if (value === null) {
      this.reportEntry(entry, `${entry.label} must be text, got ${describeNode(entry.value)}`);
      return undefined;
    }
    return this.#checkText(entry.label, value, rules, (message) => this.reportEntry(entry, message));
  }

  #checkText(label: string, value: string, rules: TextRules, report: (message: string) => void): string | undefined {
    if (value.length === 0 && rules.allowEmpty !== true) {
      report(`${label} must not be empty`);
      return undefined;
    }
    if (rules.max !== undefined && value.length > rules.max) {
      report(`${label} is too long (${value.length} characters, at most ${rules.max})`);
      return undefined;
    }
    if (value.includes('\0')) {
      report(`${label} must not contain a NUL character`);
      return undefined;
    }
    if (rules.pattern !== undefined && !rules.pattern.test(value)) {
      report(`${label} must be ${rules.hint ?? 'valid'}, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  }

  /** A whole number in [min, max]. */
  integer(entry: Entry, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const value = isScalar(entry.value) ? entry.value.value : undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      this.reportEntry(entry, `${entry.label} must be a whole number, got ${describeNode(entry.value)}`);
      return undefined;
    }
    if (value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
      this.reportEntry(entry, `${entry.label} must be ${range}, got ${value}`);
      return undefined;
    }
    return value;
  }

  boolean(entry: Entry): boolean | undefined {
    const value = isScalar(entry.value) ? entry.value.value : undefined;
    if (typeof value !== 'boolean') {
      this.reportEntry(entry, `${entry.label} must be true or false, got ${describeNode(entry.value)}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(entry: Entry, values: readonly T[]): T | undefined {
    const value = isScalar(entry.value) ? entry.value.value : undefined;
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      this.reportEntry(entry, `${entry.label} must be one of: ${values.join(', ')}; got ${describeNode(entry.value)}`);
      return undefined;
    }
    return value as T;
  }

  /** A duration string ("30s", "1h30m"); a bare 0 is zero. `positive`: zero is refused. */
  duration(entry: Entry, positive: boolean): Millis | undefined {
    const node = entry.value;
    const raw = isScalar(node) ? node.value : undefined;
    const parsed = raw === 0 ? 0 : typeof raw === 'string' ? parseDuration(raw) : null;
    if (parsed === null) {
      const unitless = typeof raw === 'number' ? ` (a number needs a unit: "${raw}s")` : '';
      this.reportEntry(
        entry,
        `${entry.label} must be a duration like "30s", "10m" or "1h30m", got ${describeNode(node)}${unitless}`,
      );
      return undefined;
    }
    if (positive && parsed === 0) {
      this.reportEntry(entry, `${entry.label} must be longer than 0`);
      return undefined;
    }
    return parsed;
  }

  /** A count (whole number >= min) or a percentage "N%" with 0 < N <= 100. */
  quantity(entry: Entry, min: number): Quantity | undefined {
    const node = entry.value;
    const raw = isScalar(node) ? node.value : undefined;
    if (typeof raw === 'number' && Number.isSafeInteger(raw)) {
      if (raw < min) {
        this.reportEntry(entry, `${entry.label} must be at least ${min}, got ${raw}`);
        return undefined;
      }
      return { count: raw };
    }
    if (typeof raw === 'string') {
      const match = /^(\d{1,3}(?:\.\d{1,3})?)%$/.exec(raw);
      const percent = match === null ? NaN : Number(match[1]);
      if (percent > 0 && percent <= 100) return { percent };
      if (match !== null) {
        this.reportEntry(entry, `${entry.label} must be a percentage above 0% and at most 100%, got "${raw}"`);
        return undefined;
      }
    }
    this.reportEntry(
      entry,
      `${entry.label} must be a count (a whole number) or a percentage like "10%", got ${describeNode(node)}`,
    );
    return undefined;
  }

  /** A command line as a list: `["test", "-f", "/run/flag"]`; never a shell string. */
  argv(entry: Entry): readonly string[] | undefined {
    const node = entry.value;
    if (!isSeq(node)) {
      const hint = isScalar(node) && typeof node.value === 'string' ? ' (write a list: ["sh", "-c", "..."])' : '';
      this.reportEntry(entry, `${entry.label} must be a command as a list of arguments, got ${describeNode(node)}${hint}`);
      return undefined;
    }
    if (node.items.length === 0) {
      this.reportEntry(entry, `${entry.label} must not be empty: give the program and its arguments`);
      return undefined;
    }
    if (node.items.length > 1000) {
      this.reportEntry(entry, `${entry.label} has too many arguments (${node.items.length}, at most 1000)`);
      return undefined;
    }
    const argv: string[] = [];
    let ok = true;
    node.items.forEach((item, index) => {
      const itemNode = item as Node | null;
      const text = scalarText(itemNode);
      const label = `argument ${index + 1} of ${entry.label}`;
      if (text === null) {
        this.report(itemNode ?? node, `${label} must be text, got ${describeNode(itemNode)}`);
        ok = false;
      } else if (this.#checkText(label, text, { allowEmpty: index > 0, max: 65_536 }, (message) => this.report(itemNode ?? node, message)) === undefined) {
        ok = false;
      } else {
        argv.push(text);
      }
    });
    return ok ? argv : undefined;
  }

  /** A non-empty list of label keys without repeats. */
  labelKeys(entry: Entry): readonly string[] | undefined {
    const node = entry.value;
    if (!isSeq(node) || node.items.length === 0) {
      this.reportEntry(entry, `${entry.label} must be a non-empty list of label keys, got ${describeNode(node)}`);
      return undefined;
    }
    const keys: string[] = [];
    let ok = true;
    for (const item of node.items) {
      const itemNode = item as Node | null;
      const key = scalarText(itemNode);
      if (key === null || !LABEL_KEY.test(key)) {
        this.report(itemNode ?? node, `${entry.label}: ${describeNode(itemNode)} is not a label key (${LABEL_KEY_HINT})`);
        ok = false;
      } else if (keys.includes(key)) {
        this.report(itemNode, `${entry.label} lists "${key}" twice`);
        ok = false;
      } else {
        keys.push(key);
      }
    }
    return ok ? keys : undefined;
  }

  labelKey(entry: Entry): string | undefined {
    return this.text(entry, { pattern: LABEL_KEY, hint: LABEL_KEY_HINT });
  }

  /** `{ env: prod, role: [web, api] }`: every key must match; a list means any of its values. */
  selector(entry: Entry): { selector: Selector; positions: ReadonlyMap<string, Node> } | undefined {
    const fields = this.fields(entry, entry.label, `in ${entry.label}`, null);
    if (fields === null) return undefined;
    const selector: Record<string, string | readonly string[]> = {};
    const positions = new Map<string, Node>();
    let ok = true;
    for (const field of fields.entries) {
      if (!LABEL_KEY.test(field.key)) {
        this.report(field.keyNode, `${JSON.stringify(field.key)} in ${entry.label} is not a label key (${LABEL_KEY_HINT})`);
        ok = false;
        continue;
      }
      const label = `label "${field.key}" in ${entry.label}`;
      const node = field.value;
      if (isSeq(node)) {
        const values: string[] = [];
        for (const item of node.items) {
          const value = this.#labelValue(item as Node | null, label, node);
          if (value === undefined) ok = false;
          else if (!values.includes(value)) values.push(value);
        }
        if (values.length === 0 && node.items.length === 0) {
          this.report(node, `${label} must list at least one value`);
          ok = false;
        }
        selector[field.key] = values;
      } else {
        const value = this.#labelValue(node ?? field.keyNode, label, field.keyNode);
        if (value === undefined) ok = false;
        else selector[field.key] = value;
      }
      positions.set(field.key, node ?? field.keyNode);
    }
    return ok ? { selector, positions } : undefined;
  }

  #labelValue(node: Node | null, label: string, fallback: Node): string | undefined {
    const value = scalarText(node);
    if (value === null || value.length > MAX_LABEL_VALUE) {
      this.report(node?.range?.[0] === node?.range?.[1] ? fallback : node, `${label} must be a label value (text up to ${MAX_LABEL_VALUE} characters), got ${describeNode(node)}`);
      return undefined;
    }
    return value;
  }
}

/** A scalar's text; plain numbers and booleans as written. Null for null, lists, mappings. */
export function scalarText(node: Node | null | undefined): string | null {
  if (!isScalar(node) || node.value === null || node.value === undefined) return null;
  if (typeof node.value === 'string') return node.value;
  if (typeof node.value === 'number' || typeof node.value === 'boolean' || typeof node.value === 'bigint') {
    return node.source ?? String(node.value);
  }
  return null;
}

/** How messages show what the author wrote. */
export function describeNode(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value = node.value;
    if (value === null || value === undefined) return 'nothing';
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return node.source ?? String(value);
    return 'a value of an unsupported type';
  }
  return 'an alias';
}
