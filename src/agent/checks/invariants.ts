// Host invariants: the routing-policy rules and routes a change must not take away. Snapshot them
// (`ip -d -j rule`, `ip -j route show table all`, both families), compare two snapshots, and put
// vanished entries back with `ip rule add` / `ip route add` argv built from validated JSON fields.
import { isIP } from 'node:net';
import type { InvariantSnapshot } from './check-runner.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { describeResult, tail } from '../exec.ts';
import { UnavailableError, ValidationError } from '../../core/errors.ts';

type Entry = Record<string, unknown>;
export type Family = 'inet' | 'inet6';

const IP_TIMEOUT_MS = 5000;
/** Rules every Linux host has; priority 0 `lookup local` counts only when it was in the baseline. */
export const DEFAULT_RULE_PRIORITIES: readonly number[] = [0, 32766, 32767];

function familyOf(e: Entry): Family {
  return e['family'] === 'inet6' ? 'inet6' : 'inet';
}

function str(e: Entry, k: string): string | undefined {
  const v = e[k];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

function withLen(e: Entry, addrKey: string, lenKey: string): string | undefined {
  const a = str(e, addrKey);
  if (a === undefined) return undefined;
  const len = str(e, lenKey);
  return len === undefined ? a : `${a}/${len}`;
}

// ---- rules ----------------------------------------------------------------------------------

/** Identity of a rule: priority, selectors and what it does (table, action, goto). */
export function ruleKey(rule: Entry): string {
  const parts = [
    familyOf(rule),
    str(rule, 'priority') ?? '',
    'not' in rule ? 'not' : '',
    withLen(rule, 'src', 'srclen') ?? 'all',
    withLen(rule, 'dst', 'dstlen') ?? 'all',
    str(rule, 'fwmark') ?? '',
    str(rule, 'fwmask') ?? '',
    str(rule, 'iif') ?? '',
    str(rule, 'oif') ?? '',
    str(rule, 'tos') ?? '',
    str(rule, 'ipproto') ?? '',
    str(rule, 'sport') ?? '',
    str(rule, 'dport') ?? '',
    str(rule, 'uid_start') ?? '',
    str(rule, 'uid_end') ?? '',
    str(rule, 'l3mdev') ?? '',
    str(rule, 'table') ?? '',
    str(rule, 'action') ?? '',
    str(rule, 'target') ?? '',
    str(rule, 'suppress_prefixlen') ?? '',
  ];
  return parts.join('|');
}

/** Like `ip rule` prints it: `100: from all lookup local`, `9: from all fwmark 0x200/0xf00 lookup 2004`. */
export function describeRule(rule: Entry): string {
  const words: string[] = [];
  if ('not' in rule) words.push('not');
  words.push('from', withLen(rule, 'src', 'srclen') ?? 'all');
  const dst = withLen(rule, 'dst', 'dstlen');
  if (dst !== undefined && dst !== 'all') words.push('to', dst);
  const mark = str(rule, 'fwmark');
  if (mark !== undefined) words.push('fwmark', str(rule, 'fwmask') ? `${mark}/${str(rule, 'fwmask')}` : mark);
  for (const k of ['iif', 'oif', 'tos', 'ipproto', 'sport', 'dport'] as const) {
    const v = str(rule, k);
    if (v !== undefined) words.push(k, v);
  }
  const table = str(rule, 'table');
  if (table !== undefined) words.push('lookup', table);
  const action = str(rule, 'action');
  if (action !== undefined) words.push(action === 'goto' ? `goto ${str(rule, 'target') ?? '?'}` : action);
  const prefix = familyOf(rule) === 'inet6' ? '[ipv6] ' : '';
  return `${prefix}${str(rule, 'priority') ?? '?'}: ${words.join(' ')}`;
}

// ---- routes ---------------------------------------------------------------------------------

export function routeKey(route: Entry): string {
  return [
    familyOf(route),
    str(route, 'table') ?? 'main',
    str(route, 'type') ?? 'unicast',
    str(route, 'dst') ?? '',
    str(route, 'gateway') ?? '',
    str(route, 'dev') ?? '',
    str(route, 'metric') ?? '',
    str(route, 'tos') ?? '',
  ].join('|');
}

/** `table 11: default via 10.231.0.1 dev eth0`. */
export function describeRoute(route: Entry): string {
  const words: string[] = [];
  const type = str(route, 'type');
  if (type !== undefined && type !== 'unicast') words.push(type);
  words.push(str(route, 'dst') ?? '?');
  const gw = str(route, 'gateway');
  if (gw !== undefined) words.push('via', gw);
  const dev = str(route, 'dev');
  if (dev !== undefined) words.push('dev', dev);
  const metric = str(route, 'metric');
  if (metric !== undefined && metric !== '0') words.push('metric', metric);
  const prefix = familyOf(route) === 'inet6' ? '[ipv6] ' : '';
  return `${prefix}table ${str(route, 'table') ?? 'main'}: ${words.join(' ')}`;
}

// ---- snapshot and diff ----------------------------------------------------------------------

export function parseIpJson(text: string, what: string): Entry[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new ValidationError(`${what}: output is not JSON`);
  }
  if (!Array.isArray(parsed)) throw new ValidationError(`${what}: expected a JSON array`);
  return parsed.filter((x): x is Entry => typeof x === 'object' && x !== null && !Array.isArray(x));
}

function tag(entries: Entry[], family: Family): Entry[] {
  return entries.map((e) => ({ ...e, family }));
}

export interface SnapshotOptions {
  readonly run?: ArgvRunner;
  readonly now?: number;
  readonly signal?: AbortSignal;
}

async function ipJson(run: ArgvRunner, argv: string[], optional: boolean, signal?: AbortSignal): Promise<Entry[]> {
  const res = await run(argv, { timeoutMs: IP_TIMEOUT_MS, maxOutputBytes: 8 * 1024 * 1024, ...(signal ? { signal } : {}) });
  if (res.exitCode !== 0) {
    // IPv6 may be disabled on the host: then there is nothing to keep.
    if (optional) return [];
    throw new UnavailableError(`${argv.join(' ')} ${describeResult(res, IP_TIMEOUT_MS)}: ${tail(res.stderr, 200)}`);
  }
  if (res.truncated) throw new UnavailableError(`${argv.join(' ')}: output too large`);
  return parseIpJson(res.stdout, argv.join(' '));
}

/** Rules and routes of both families, each entry tagged with `family`. Throws when `ip` fails. */
export async function takeInvariantSnapshot(opts: SnapshotOptions = {}): Promise<InvariantSnapshot> {
  const run = opts.run ?? defaultRunner;
  const [r4, r6, t4, t6] = await Promise.all([
    ipJson(run, ['ip', '-4', '-d', '-j', 'rule', 'show'], false, opts.signal),
    ipJson(run, ['ip', '-6', '-d', '-j', 'rule', 'show'], true, opts.signal),
    ipJson(run, ['ip', '-4', '-j', 'route', 'show', 'table', 'all'], false, opts.signal),
    ipJson(run, ['ip', '-6', '-j', 'route', 'show', 'table', 'all'], true, opts.signal),
  ]);
  return {
    takenAt: opts.now ?? Date.now(),
    rules: [...tag(r4, 'inet'), ...tag(r6, 'inet6')],
    routes: [...tag(t4, 'inet'), ...tag(t6, 'inet6')],
  };
}

export interface InvariantDiff {
  readonly vanishedRules: readonly Entry[];
  readonly vanishedRoutes: readonly Entry[];
}

function vanished(baseline: readonly Entry[], current: readonly Entry[], key: (e: Entry) => string): Entry[] {
  const seen = new Set(current.map(key));
  return baseline.filter((e) => !seen.has(key(e)));
}

export function vanishedRules(baseline: readonly Entry[], current: readonly Entry[]): Entry[] {
  return vanished(baseline, current, ruleKey);
}

export function vanishedRoutes(baseline: readonly Entry[], current: readonly Entry[]): Entry[] {
  return vanished(baseline, current, routeKey);
}

export function diffInvariants(baseline: InvariantSnapshot, current: InvariantSnapshot): InvariantDiff {
  return {
    vanishedRules: vanishedRules(baseline.rules, current.rules),
    vanishedRoutes: vanishedRoutes(baseline.routes, current.routes),
  };
}

// ---- restore --------------------------------------------------------------------------------

const IFACE = /^[A-Za-z0-9_.:@-]{1,15}$/;
const TABLE = /^(?:[0-9]{1,10}|[A-Za-z][A-Za-z0-9_-]{0,31})$/;
const HEX_OR_DEC = /^(?:0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/;
const SMALL_NAME = /^[A-Za-z0-9_-]{1,32}$/;
const PORTS = /^[0-9]{1,5}(?:-[0-9]{1,5})?$/;
const RULE_ACTIONS = new Set(['unreachable', 'prohibit', 'blackhole', 'goto', 'nop']);
const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'throw', 'unreachable', 'prohibit', 'blackhole', 'nat', 'anycast']);

function field(e: Entry, k: string, re: RegExp, what: string): string | undefined {
  const v = str(e, k);
  if (v === undefined) return undefined;
  if (!re.test(v) || v.startsWith('-')) throw new ValidationError(`${what}: invalid ${k} ${JSON.stringify(v)}`);
  return v;
}

function addr(e: Entry, k: string, lenKey: string | null, family: Family, what: string): string | undefined {
  const v = str(e, k);
  if (v === undefined) return undefined;
  if (v === 'all' || v === 'default') return v;
  const want = family === 'inet6' ? 6 : 4;
  if (isIP(v) !== want) throw new ValidationError(`${what}: invalid ${k} ${JSON.stringify(v)}`);
  if (lenKey === null) return v;
  const len = str(e, lenKey);
  if (len === undefined) return v;
  const n = Number(len);
  if (!Number.isInteger(n) || n < 0 || n > (want === 6 ? 128 : 32)) throw new ValidationError(`${what}: invalid ${lenKey} ${len}`);
  return `${v}/${n}`;
}

function int(e: Entry, k: string, max: number, what: string): string | undefined {
  const v = str(e, k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isInteger(n) || n < 0 || n > max) throw new ValidationError(`${what}: invalid ${k} ${v}`);
  return String(n);
}

/** `ip [-6] rule add ...` for a parsed `ip -j rule` entry; throws ValidationError on any odd field. */
export function ruleAddArgv(rule: Entry): string[] {
  const what = `rule ${describeRule(rule)}`;
  const family = familyOf(rule);
  const argv = ['ip', family === 'inet6' ? '-6' : '-4', 'rule', 'add'];
  const prio = int(rule, 'priority', 0xffffffff, what);
  if (prio === undefined) throw new ValidationError(`${what}: no priority`);
  argv.push('priority', prio);
  if ('not' in rule) argv.push('not');
  const src = addr(rule, 'src', 'srclen', family, what);
  if (src !== undefined && src !== 'all') argv.push('from', src);
  const dst = addr(rule, 'dst', 'dstlen', family, what);
  if (dst !== undefined && dst !== 'all') argv.push('to', dst);
  const mark = field(rule, 'fwmark', HEX_OR_DEC, what);
  const mask = field(rule, 'fwmask', HEX_OR_DEC, what);
  if (mark !== undefined) argv.push('fwmark', mask !== undefined ? `${mark}/${mask}` : mark);
  const iif = field(rule, 'iif', IFACE, what);
  if (iif !== undefined) argv.push('iif', iif);
  const oif = field(rule, 'oif', IFACE, what);
  if (oif !== undefined) argv.push('oif', oif);
  const tos = field(rule, 'tos', HEX_OR_DEC, what);
  if (tos !== undefined) argv.push('tos', tos);
  const ipproto = field(rule, 'ipproto', SMALL_NAME, what);
  if (ipproto !== undefined) argv.push('ipproto', ipproto);
  const sport = field(rule, 'sport', PORTS, what);
  if (sport !== undefined) argv.push('sport', sport);
  const dport = field(rule, 'dport', PORTS, what);
  if (dport !== undefined) argv.push('dport', dport);
  const uidStart = int(rule, 'uid_start', 0xffffffff, what);
  const uidEnd = int(rule, 'uid_end', 0xffffffff, what);
  if (uidStart !== undefined && uidEnd !== undefined) argv.push('uidrange', `${uidStart}-${uidEnd}`);
  if (str(rule, 'l3mdev') !== undefined) argv.push('l3mdev');
  const action = str(rule, 'action');
  const table = field(rule, 'table', TABLE, what);
  if (action !== undefined) {
    if (!RULE_ACTIONS.has(action)) throw new ValidationError(`${what}: unknown action ${JSON.stringify(action)}`);
    if (action === 'goto') {
      const target = int(rule, 'target', 0xffffffff, what);
      if (target === undefined) throw new ValidationError(`${what}: goto without target`);
      argv.push('goto', target);
    } else argv.push(action);
  } else if (table !== undefined) argv.push('lookup', table);
  const suppress = int(rule, 'suppress_prefixlen', 128, what);
  if (suppress !== undefined) argv.push('suppress_prefixlength', suppress);
  const proto = field(rule, 'protocol', SMALL_NAME, what);
  if (proto !== undefined && proto !== 'unspec') argv.push('protocol', proto);
  return argv;
}

/** `ip [-6] route add ...` for a parsed `ip -j route` entry; throws ValidationError on any odd field. */
export function routeAddArgv(route: Entry): string[] {
  const what = `route ${describeRoute(route)}`;
  const family = familyOf(route);
  const argv = ['ip', family === 'inet6' ? '-6' : '-4', 'route', 'add'];
  const type = str(route, 'type');
  if (type !== undefined) {
    if (!ROUTE_TYPES.has(type)) throw new ValidationError(`${what}: unknown type ${JSON.stringify(type)}`);
    argv.push(type);
  }
  const dst = str(route, 'dst');
  if (dst === undefined) throw new ValidationError(`${what}: no dst`);
  if (dst !== 'default') {
    const [a, len, extra] = dst.split('/');
    const want = family === 'inet6' ? 6 : 4;
    if (extra !== undefined || a === undefined || isIP(a) !== want) throw new ValidationError(`${what}: invalid dst ${JSON.stringify(dst)}`);
    if (len !== undefined && !(/^[0-9]{1,3}$/.test(len) && Number(len) <= (want === 6 ? 128 : 32))) {
      throw new ValidationError(`${what}: invalid dst ${JSON.stringify(dst)}`);
    }
  }
  argv.push(dst);
  const table = field(route, 'table', TABLE, what);
  argv.push('table', table ?? 'main');
  const gw = addr(route, 'gateway', null, family, what);
  if (gw !== undefined) argv.push('via', gw);
  const dev = field(route, 'dev', IFACE, what);
  if (dev !== undefined) argv.push('dev', dev);
  const proto = field(route, 'protocol', SMALL_NAME, what);
  if (proto !== undefined) argv.push('proto', proto);
  const scope = field(route, 'scope', SMALL_NAME, what);
  if (scope !== undefined) argv.push('scope', scope);
  const metric = int(route, 'metric', 0xffffffff, what);
  if (metric !== undefined) argv.push('metric', metric);
  const prefsrc = addr(route, 'prefsrc', null, family, what);
  if (prefsrc !== undefined) argv.push('src', prefsrc);
  const flags = route['flags'];
  if (Array.isArray(flags) && flags.includes('onlink')) argv.push('onlink');
  return argv;
}

export interface RestoreResult {
  readonly ok: boolean;
  readonly restoredRules: readonly string[];
  readonly restoredRoutes: readonly string[];
  /** Entries that could not be put back, each with why. */
  readonly failed: readonly string[];
  /** Vanished kernel routes: they come back with their address or link, so they are left alone. */
  readonly skipped: readonly string[];
  readonly message: string;
}

export interface RestoreOptions {
  readonly run?: ArgvRunner;
  readonly signal?: AbortSignal;
  /** The current state; taken when missing. */
  readonly current?: InvariantSnapshot;
}

/**
 * Re-adds every rule and route of `snapshot` that is missing now. Routes first (a rule may point at
 * a table that must have its routes). Kernel routes are not re-added: they follow addresses and
 * links, and re-adding them by hand would be wrong.
 */
export async function restoreInvariants(snapshot: InvariantSnapshot, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const run = opts.run ?? defaultRunner;
  const current = opts.current ?? (await takeInvariantSnapshot({ run, ...(opts.signal ? { signal: opts.signal } : {}) }));
  const diff = diffInvariants(snapshot, current);
  const restoredRules: string[] = [];
  const restoredRoutes: string[] = [];
  const failed: string[] = [];
  const skipped: string[] = [];

  const apply = async (argv: string[], label: string, into: string[]) => {
    const res = await run(argv, { timeoutMs: IP_TIMEOUT_MS, ...(opts.signal ? { signal: opts.signal } : {}) });
    // "File exists": someone put it back meanwhile; the goal is reached.
    if (res.exitCode === 0 || /File exists/.test(res.stderr)) into.push(label);
    else failed.push(`${label}: ${argv.join(' ')} ${describeResult(res, IP_TIMEOUT_MS)}: ${tail(res.stderr, 200)}`);
  };

  for (const route of diff.vanishedRoutes) {
    const label = describeRoute(route);
    if (str(route, 'protocol') === 'kernel') {
      skipped.push(label);
      continue;
    }
    let argv: string[];
    try {
      argv = routeAddArgv(route);
    } catch (err) {
      failed.push(`${label}: ${(err as Error).message}`);
      continue;
    }
    await apply(argv, label, restoredRoutes);
  }
  for (const rule of diff.vanishedRules) {
    const label = describeRule(rule);
    let argv: string[];
    try {
      argv = ruleAddArgv(rule);
    } catch (err) {
      failed.push(`${label}: ${(err as Error).message}`);
      continue;
    }
    await apply(argv, label, restoredRules);
  }
  const parts: string[] = [];
  if (restoredRules.length) parts.push(`restored ${restoredRules.length} rule(s): ${restoredRules.join('; ')}`);
  if (restoredRoutes.length) parts.push(`restored ${restoredRoutes.length} route(s): ${restoredRoutes.join('; ')}`);
  if (failed.length) parts.push(`could not restore: ${failed.join('; ')}`);
  if (skipped.length) parts.push(`left to the kernel: ${skipped.join('; ')}`);
  if (!parts.length) parts.push('nothing to restore: every rule and route of the snapshot is present');
  return { ok: failed.length === 0, restoredRules, restoredRoutes, failed, skipped, message: parts.join('. ') };
}
