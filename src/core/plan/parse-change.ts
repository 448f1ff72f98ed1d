// The `change:` section of a plan: exactly one of command, apt or file, validated into a Change.
import type { Node } from 'yaml';
import { isSeq } from 'yaml';
import { CHANGE_KINDS } from '../types.ts';
import type { AptChange, Change, ChangeKind, CommandChange, FileChange } from '../types.ts';
import { CHANGE_KIND_KEYS } from './plan-keys.ts';
import { describeNode, scalarText } from './plan-reader.ts';
import type { Entry, PlanReader } from './plan-reader.ts';

const DEFAULT_TIMEOUT: Readonly<Record<ChangeKind, number>> = {
  command: 60_000,
  apt: 600_000,
  file: 60_000,
};

// Debian policy names, optionally `:arch` (libssl3:amd64 is libssl3 on amd64); a leading letter or
// digit also keeps a name from reading as an apt option.
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*(?::[a-z0-9][a-z0-9-]*)?$/;
const PACKAGE_VERSION = /^[A-Za-z0-9.+~:][A-Za-z0-9.+~:-]*$/;
const USER_NAME = /^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})$/;

export function readChange(reader: PlanReader, entry: Entry): Change | undefined {
  const fields = reader.fields(
    entry,
    '"change"',
    'in change',
    CHANGE_KINDS,
    (key) => `unknown change kind "${key}" (expected one of: ${CHANGE_KINDS.join(', ')})`,
  );
  if (fields === null) return undefined;
  const [first, second] = fields.entries;
  if (second !== undefined) {
    reader.report(
      second.keyNode,
      `"change" has more than one kind ("${first?.key}" and "${second.key}"); a plan makes exactly one change`,
    );
    return undefined;
  }
  if (first === undefined) {
    if (fields.node.items.length === 0) {
      reader.report(entry.keyNode, `"change" needs one kind: ${CHANGE_KINDS.join(', ')}`);
    }
    return undefined;
  }
  switch (first.key as ChangeKind) {
    case 'command':
      return readCommandChange(reader, first);
    case 'apt':
      return readAptChange(reader, first);
    case 'file':
      return readFileChange(reader, first);
  }
}

function readTimeout(reader: PlanReader, entry: Entry | undefined, kind: ChangeKind): number | undefined {
  return entry === undefined ? DEFAULT_TIMEOUT[kind] : reader.duration(entry, true);
}

function readCommandChange(reader: PlanReader, entry: Entry): CommandChange | undefined {
  const where = 'in change.command';
  const fields = reader.fields(entry, 'change.command', where, CHANGE_KIND_KEYS.command);
  if (fields === null) return undefined;
  const applyEntry = reader.require(fields, 'apply', where, entry.keyNode);
  const apply = applyEntry === undefined ? undefined : reader.argv(applyEntry);
  const rollbackEntry = fields.get('rollback');
  const rollback = rollbackEntry === undefined ? undefined : reader.argv(rollbackEntry);
  const timeout = readTimeout(reader, fields.get('timeout'), 'command');
  if (apply === undefined || timeout === undefined || (rollbackEntry !== undefined && rollback === undefined)) return undefined;
  return rollback === undefined ? { kind: 'command', apply, timeout } : { kind: 'command', apply, rollback, timeout };
}

function readAptChange(reader: PlanReader, entry: Entry): AptChange | undefined {
  const where = 'in change.apt';
  const fields = reader.fields(entry, 'change.apt', where, CHANGE_KIND_KEYS.apt);
  if (fields === null) return undefined;
  let ok = true;
  const install: Record<string, string> = {};
  const installEntry = fields.get('install');
  if (installEntry !== undefined) {
    const packages = reader.fields(installEntry, installEntry.label, 'in change.apt.install', null);
    if (packages === null) ok = false;
    for (const pkg of packages?.entries ?? []) {
      if (!PACKAGE_NAME.test(pkg.key) || pkg.key.length > 200) {
        reader.report(pkg.keyNode, `package name "${pkg.key}" in change.apt.install is not valid (lowercase letters, digits, + . -, starting with a letter or digit)`);
        ok = false;
        continue;
      }
      const version = reader.text(
        { ...pkg, label: `version of "${pkg.key}" in change.apt.install` },
        { pattern: PACKAGE_VERSION, hint: 'letters, digits and . + ~ : - (not starting with -)', max: 200 },
      );
      if (version === undefined) ok = false;
      else install[pkg.key] = version;
    }
  }
  const remove: string[] = [];
  const removeEntry = fields.get('remove');
  if (removeEntry !== undefined) {
    const node = removeEntry.value;
    if (!isSeq(node)) {
      reader.reportEntry(removeEntry, `${removeEntry.label} must be a list of package names, got ${describeNode(node)}`);
      ok = false;
    } else {
      for (const item of node.items) {
        const itemNode = item as Node | null;
        const name = scalarText(itemNode);
        if (name === null || !PACKAGE_NAME.test(name) || name.length > 200) {
          reader.report(itemNode ?? node, `${removeEntry.label}: ${describeNode(itemNode)} is not a valid package name (lowercase letters, digits, + . -, starting with a letter or digit)`);
          ok = false;
        } else if (name in install) {
          reader.report(itemNode, `package "${name}" is both installed and removed in change.apt`);
          ok = false;
        } else if (!remove.includes(name)) {
          remove.push(name);
        }
      }
    }
  }
  if (ok && Object.keys(install).length === 0 && remove.length === 0) {
    reader.report(entry.keyNode, 'change.apt needs at least one package to install or remove');
    ok = false;
  }
  const timeout = readTimeout(reader, fields.get('timeout'), 'apt');
  const maxListAgeEntry = fields.get('maxListAge');
  const maxListAge = maxListAgeEntry === undefined ? undefined : reader.duration(maxListAgeEntry, false);
  if (!ok || timeout === undefined || (maxListAgeEntry !== undefined && maxListAge === undefined)) return undefined;
  return { kind: 'apt', install, remove, timeout, ...(maxListAge !== undefined ? { maxListAge } : {}) };
}

function readFileChange(reader: PlanReader, entry: Entry): FileChange | undefined {
  const where = 'in change.file';
  const fields = reader.fields(entry, 'change.file', where, CHANGE_KIND_KEYS.file);
  if (fields === null) return undefined;
  let ok = true;
  const pathEntry = reader.require(fields, 'path', where, entry.keyNode);
  let path: string | undefined;
  if (pathEntry !== undefined) {
    path = reader.text(pathEntry, { max: 4096 });
    if (path !== undefined && (!path.startsWith('/') || path.endsWith('/') || path.split('/').some((part) => part === '..' || part === '.'))) {
      reader.reportEntry(pathEntry, `${pathEntry.label} must be an absolute file path without "." or ".." parts, got ${JSON.stringify(path)}`);
      path = undefined;
    }
  }
  const contentEntry = reader.require(fields, 'content', where, entry.keyNode);
  const content = contentEntry === undefined ? undefined : reader.text(contentEntry, { allowEmpty: true, max: 200_000 });
  let mode = 0o644;
  const modeEntry = fields.get('mode');
  if (modeEntry !== undefined) {
    // The digits as written: YAML reads `0644` as the decimal number 644.
    const text = scalarText(modeEntry.value);
    const match = text === null ? null : /^(?:0o)?([0-7]{3,4})$/.exec(text);
    if (match === null) {
      reader.reportEntry(modeEntry, `${modeEntry.label} must be an octal file mode like "0644", got ${describeNode(modeEntry.value)}`);
      ok = false;
    } else {
      mode = Number.parseInt(match[1]!, 8);
    }
  }
  const owner = readUser(reader, fields.get('owner'));
  const group = readUser(reader, fields.get('group'));
  const reloadEntry = fields.get('reload');
  const reload = reloadEntry === undefined ? undefined : reader.argv(reloadEntry);
  const timeout = readTimeout(reader, fields.get('timeout'), 'file');
  if (
    !ok ||
    path === undefined ||
    content === undefined ||
    owner === null ||
    group === null ||
    (reloadEntry !== undefined && reload === undefined) ||
    timeout === undefined
  ) {
    return undefined;
  }
  return {
    kind: 'file',
    path,
    content,
    mode,
    ...(owner === undefined ? {} : { owner }),
    ...(group === undefined ? {} : { group }),
    ...(reload === undefined ? {} : { reload }),
    timeout,
  };
}

/** undefined: not given; null: given and invalid (reported). */
function readUser(reader: PlanReader, entry: Entry | undefined): string | undefined | null {
  if (entry === undefined) return undefined;
  return reader.text(entry, { pattern: USER_NAME, hint: 'a user or group name, or a numeric id' }) ?? null;
}
