// The `checks:` section of a plan: host-level tests, each item one kind plus an optional name and
// timeout. Items without a name get "<kind> <target>", and names must be unique.
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node } from 'yaml';
import { parseBodyMatch } from '../body-match.ts';
import type { CheckKind, CheckSpec, Millis } from '../types.ts';
import { CHECK_ITEM_KEYS, CHECK_KIND_KEYS, CHECK_KINDS } from './plan-keys.ts';
import { describeNode } from './plan-reader.ts';
import type { Entry, Fields, PlanReader } from './plan-reader.ts';

export const DEFAULT_CHECK_TIMEOUT: Millis = 10_000;
export const MAX_CHECKS = 1000;

const HOST = /^[A-Za-z0-9._:-]{1,253}$/;
const UNIT = /^[A-Za-z0-9_@][A-Za-z0-9:_.@\\-]{0,254}$/;

export function readChecks(reader: PlanReader, entry: Entry): CheckSpec[] | undefined {
  const node = entry.value;
  // `checks:` with every item commented out reads as null: no checks.
  if (isScalar(node) && node.value === null) return [];
  if (isSeq(node) && node.items.length > MAX_CHECKS) {
    reader.report(node, `"checks" lists ${node.items.length} checks; at most ${MAX_CHECKS}`);
    return undefined;
  }
  if (!isSeq(node)) {
    reader.reportEntry(entry, `"checks" must be a list of checks, got ${describeNode(node)}`);
    return undefined;
  }
  const checks: CheckSpec[] = [];
  const isNew = reader.uniqueNames('check');
  let ok = true;
  node.items.forEach((item, index) => {
    const itemNode = (item as Node | null) ?? node;
    const result = readCheck(reader, itemNode, index);
    if (result.name !== undefined && !isNew(result.name, result.at)) {
      ok = false;
      return;
    }
    if (result.check === undefined) ok = false;
    else checks.push(result.check);
  });
  return ok ? checks : undefined;
}

function peekName(node: Node): string | null {
  if (!isMap(node)) return null;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'name');
  return isScalar(pair?.value) && typeof pair.value.value === 'string' && pair.value.value.length <= 100 ? pair.value.value : null;
}

/** A check when valid; its name and place even when not, so duplicate names are still found. */
function readCheck(reader: PlanReader, node: Node, index: number): { check?: CheckSpec; name?: string; at: Node } {
  const peeked = peekName(node);
  const subject = peeked === null ? `check ${index + 1}` : `check "${peeked}"`;
  const where = `in ${subject}`;
  const fields = reader.fields(
    node,
    subject,
    where,
    [...CHECK_ITEM_KEYS, ...CHECK_KINDS],
    (key) => `unknown key "${key}" ${where} (expected name, timeout and one check kind: ${CHECK_KINDS.join(', ')})`,
  );
  if (fields === null) return { at: node };
  const nameEntry = fields.get('name');
  const name = nameEntry === undefined ? undefined : reader.text(nameEntry, { max: 100 });
  const named = { at: nameEntry?.value ?? node, ...(name === undefined ? {} : { name }) };

  const kinds = fields.entries.filter((e) => (CHECK_KINDS as readonly string[]).includes(e.key));
  const [kindEntry, extra] = kinds;
  if (extra !== undefined) {
    reader.report(extra.keyNode, `${subject} has more than one kind ("${kindEntry?.key}" and "${extra.key}"); write one check per item`);
    return named;
  }
  if (kindEntry === undefined) {
    // An unknown key was already reported; it was most likely meant as the kind.
    const unknownReported = isMap(node) && node.items.length > fields.entries.length;
    if (!unknownReported) reader.report(node, `${subject} needs one kind: ${CHECK_KINDS.join(', ')}`);
    return named;
  }
  const kind = kindEntry.key as CheckKind;
  const inner = readKind(reader, kind, kindEntry, `in "${kind}" of ${subject}`);
  if (inner === undefined) return named;
  const outerTimeout = fields.get('timeout');
  if (outerTimeout !== undefined && inner.timeoutEntry !== undefined) {
    reader.report(inner.timeoutEntry.keyNode, `timeout is given twice ${where} (beside "${kind}" and inside it); keep one`);
    return named;
  }
  const timeoutEntry = outerTimeout ?? inner.timeoutEntry;
  const timeout = timeoutEntry === undefined ? DEFAULT_CHECK_TIMEOUT : reader.duration(timeoutEntry, true);
  const finalName = name ?? (nameEntry === undefined ? defaultName(inner.target, kind) : undefined);
  const at = nameEntry?.value ?? kindEntry.keyNode;
  if (finalName === undefined) return { at };
  if (timeout === undefined) return { name: finalName, at };
  const afterEntry = fields.get('afterRollback');
  const afterRollback = afterEntry === undefined ? undefined : reader.boolean(afterEntry);
  if (afterEntry !== undefined && afterRollback === undefined) return { name: finalName, at };
  const check = inner.build(finalName, timeout);
  return { check: afterRollback === undefined ? check : { ...check, afterRollback }, name: finalName, at };
}

interface KindResult {
  /** What the check looks at, for its default name ("10.0.0.1:443"); empty when nothing. */
  readonly target: string;
  readonly timeoutEntry: Entry | undefined;
  readonly build: (name: string, timeout: Millis) => CheckSpec;
}

function defaultName(target: string, kind: CheckKind): string {
  if (target === '') return kind;
  const name = `${kind} ${target}`;
  return name.length > 100 ? `${name.slice(0, 97)}...` : name;
}

function readKind(reader: PlanReader, kind: CheckKind, entry: Entry, where: string): KindResult | undefined {
  if (kind === 'command') {
    const command = reader.argv(entry);
    if (command === undefined) return undefined;
    return {
      target: command.join(' '),
      timeoutEntry: undefined,
      build: (name, timeout) => ({ kind, name, command, timeout }),
    };
  }
  // `- ipRulesPreserved:` with nothing after it reads as null: the same as `{}`.
  const empty = isScalar(entry.value) && entry.value.value === null;
  const fields: Fields | null = empty ? null : reader.fields(entry, entry.label, where, CHECK_KIND_KEYS[kind]);
  if (fields === null && !empty) return undefined;
  const timeoutEntry = fields?.get('timeout');
  const required = (key: string): Entry | undefined => {
    if (fields !== null) return reader.require(fields, key, where, entry.keyNode);
    reader.report(entry.keyNode, `missing required key "${key}" ${where}`);
    return undefined;
  };

  switch (kind) {
    case 'ipRulesPreserved':
    case 'routesPreserved':
      return { target: '', timeoutEntry, build: (name, timeout) => ({ kind, name, timeout }) };
    case 'tcp': {
      const hostEntry = required('host');
      const portEntry = required('port');
      const host = hostEntry === undefined ? undefined : reader.text(hostEntry, { pattern: HOST, hint: 'a host name or IP address' });
      const port = portEntry === undefined ? undefined : reader.integer(portEntry, 1, 65_535);
      if (host === undefined || port === undefined) return undefined;
      const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      return { target, timeoutEntry, build: (name, timeout) => ({ kind, name, host, port, timeout }) };
    }
    case 'http': {
      const urlEntry = required('url');
      let url = urlEntry === undefined ? undefined : reader.text(urlEntry, { max: 2048 });
      if (urlEntry !== undefined && url !== undefined && !isHttpUrl(url)) {
        reader.reportEntry(urlEntry, `${urlEntry.label} must be an http:// or https:// URL, got ${JSON.stringify(url)}`);
        url = undefined;
      }
      const statusEntry = fields?.get('status');
      const status = statusEntry === undefined ? 200 : reader.integer(statusEntry, 100, 599);
      const bodyEntry = fields?.get('bodyMatch');
      let bodyMatch = bodyEntry === undefined ? undefined : reader.text(bodyEntry, { max: 1000 });
      const parsedMatch = bodyMatch === undefined ? undefined : parseBodyMatch(bodyMatch);
      if (bodyEntry !== undefined && parsedMatch !== undefined && 'error' in parsedMatch) {
        reader.reportEntry(bodyEntry, `${bodyEntry.label}: ${parsedMatch.error}`);
        bodyMatch = undefined;
      }
      if (url === undefined || status === undefined || (bodyEntry !== undefined && bodyMatch === undefined)) return undefined;
      const checkedUrl = url;
      return {
        target: url,
        timeoutEntry,
        build: (name, timeout) =>
          bodyMatch === undefined
            ? { kind, name, url: checkedUrl, status, timeout }
            : { kind, name, url: checkedUrl, status, bodyMatch, timeout },
      };
    }
    case 'systemdUnitActive': {
      const unitEntry = required('unit');
      const unit = unitEntry === undefined ? undefined : reader.text(unitEntry, { pattern: UNIT, hint: 'a systemd unit name like "systemd-networkd.service"' });
      if (unit === undefined) return undefined;
      return { target: unit, timeoutEntry, build: (name, timeout) => ({ kind, name, unit, timeout }) };
    }
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
