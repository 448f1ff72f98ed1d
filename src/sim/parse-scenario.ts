// Turns a scenario YAML file into a validated Scenario. Untrusted input: every problem is
// collected with its FILE:LINE:COL (from the yaml package's source ranges) before giving up.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Node, YAMLMap } from 'yaml';
import { ValidationError } from '../core/errors.ts';
import type { SourceProblem } from '../core/errors.ts';
import { LABEL_KEY } from '../core/labels.ts';
import { parseDuration } from '../core/plan/duration.ts';
import type { Millis, Selector } from '../core/types.ts';
import { DEFAULT_REMEDIATION_POLICY } from '../core/remediation/guard.ts';
import type { ScopePolicy } from '../core/remediation/guard.ts';
import { parseCalendar } from './calendar.ts';
import type { CalendarSpec } from './calendar.ts';
import { readRepair } from './parse-repair.ts';
import { readVersions } from './parse-versions.ts';
import { EFFECTS } from './scenario.ts';
import type { Effect, LabelMix, ProviderSpec, RecoverySpec, RegionSpec, RemediationSpec, Scenario, SpreadSpec, TimerSpec } from './scenario.ts';

const MAX_SOURCE = 256 * 1024;
const NAME = /^[A-Za-z0-9._-]{1,100}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;
const MAX_HOSTS = 1_000_000;

export type Entries = Map<string, { keyNode: Node; value: Node | null }>;

export class Reader {
  readonly problems: SourceProblem[] = [];
  constructor(private readonly lines: LineCounter) {}

  report(node: Node | null | undefined, message: string): void {
    const { line, col } = this.lines.linePos(node?.range?.[0] ?? 0);
    this.problems.push({ line, col, message });
  }

  /** A mapping's entries; unknown keys and missing required ones are reported. */
  map(node: Node | null, where: string, allowed: readonly string[], required: readonly string[] = [], at?: Node): Entries | null {
    if (!isMap(node)) {
      this.report(node ?? at, `${where} must be a mapping`);
      return null;
    }
    const out: Entries = new Map();
    for (const pair of (node as YAMLMap<Node, Node>).items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      if (!allowed.includes(key)) {
        this.report(keyNode, `unknown key "${key}" in ${where} (expected one of: ${allowed.join(', ')})`);
        continue;
      }
      out.set(key, { keyNode, value: (pair.value as Node | null) ?? null });
    }
    for (const key of required) {
      if (!out.has(key)) this.report(at ?? node, `missing required key "${key}" in ${where}`);
    }
    return out;
  }

  /** Any-key mapping (label selectors, mirrors): pairs in source order. */
  pairs(node: Node | null, where: string, at?: Node): { key: string; keyNode: Node; value: Node | null }[] | null {
    if (!isMap(node)) {
      this.report(node ?? at, `${where} must be a mapping`);
      return null;
    }
    return (node as YAMLMap<Node, Node>).items.map((pair) => ({
      key: isScalar(pair.key) ? String(pair.key.value) : '',
      keyNode: pair.key as Node,
      value: (pair.value as Node | null) ?? null,
    }));
  }

  scalar(node: Node | null): unknown {
    return isScalar(node) ? node.value : undefined;
  }

  string(node: Node | null, what: string, at: Node, pattern?: RegExp, hint?: string): string | null {
    const v = this.scalar(node);
    if (typeof v !== 'string' || v.length === 0) {
      this.report(node ?? at, `${what} must be a non-empty string`);
      return null;
    }
    if (pattern && !pattern.test(v)) {
      this.report(node, `${what} ${JSON.stringify(v)} is not valid (${hint ?? pattern.source})`);
      return null;
    }
    return v;
  }

  integer(node: Node | null, what: string, at: Node, min: number, max: number): number | null {
    const v = this.scalar(node);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.report(node ?? at, `${what} must be a whole number from ${min} to ${max}`);
      return null;
    }
    return v;
  }

  duration(node: Node | null, what: string, at: Node): Millis | null {
    const v = this.scalar(node);
    const ms = typeof v === 'string' ? parseDuration(v) : v === 0 ? 0 : null;
    if (ms === null) {
      this.report(node ?? at, `${what} must be a duration like 30s, 10m, 12h or 1h30m (got ${JSON.stringify(v ?? null)})`);
      return null;
    }
    return ms;
  }

  instant(node: Node | null, what: string, at: Node): number | null {
    const v = this.scalar(node);
    const ms = typeof v === 'string' && INSTANT.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) {
      this.report(node ?? at, `${what} must be a UTC time like 2023-03-08T06:00:00Z (got ${JSON.stringify(v ?? null)})`);
      return null;
    }
    return ms;
  }

  /** "40%" -> 0.4. */
  share(node: Node | null, what: string, at: Node): number | null {
    const v = this.scalar(node);
    const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(v) : null;
    const pct = m ? Number(m[1]) : NaN;
    if (!(pct >= 0 && pct <= 100)) {
      this.report(node ?? at, `${what} must be a percentage like 40% (got ${JSON.stringify(v ?? null)})`);
      return null;
    }
    return pct / 100;
  }

  selector(node: Node | null, what: string, at: Node): Selector | null {
    const pairs = this.pairs(node, what, at);
    if (!pairs) return null;
    const out: Record<string, string | string[]> = {};
    let ok = true;
    for (const { key, keyNode, value } of pairs) {
      if (!LABEL_KEY.test(key)) {
        this.report(keyNode, `label key ${JSON.stringify(key)} in ${what} is not valid`);
        ok = false;
        continue;
      }
      if (isSeq(value)) {
        const list = value.items.map((item) => this.scalar(item as Node));
        if (list.length === 0 || list.some((x) => typeof x !== 'string' && typeof x !== 'number')) {
          this.report(value, `"${key}" in ${what} must be a label value or a non-empty list of them`);
          ok = false;
          continue;
        }
        out[key] = list.map(String);
        continue;
      }
      const v = this.scalar(value);
      if (typeof v !== 'string' && typeof v !== 'number') {
        this.report(value ?? keyNode, `"${key}" in ${what} must be a label value or a list of them`);
        ok = false;
        continue;
      }
      out[key] = String(v);
    }
    return ok ? out : null;
  }
}

const TOP_KEYS = ['name', 'description', 'start', 'duration', 'fleet', 'change', 'spread', 'remediation', 'guard', 'recovery', 'plan'];

/** Parses and validates; throws ValidationError with every problem found. */
export function parseScenario(source: string, file: string): Scenario {
  const { scenario, problems } = checkScenario(source, file);
  if (scenario === null) {
    throw new ValidationError(`${file}: invalid scenario (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems);
  }
  return scenario;
}

export function checkScenario(source: string, file: string): { scenario: Scenario | null; problems: SourceProblem[] } {
  void file;
  if (source.length > MAX_SOURCE) {
    return { scenario: null, problems: [{ line: 1, col: 1, message: `scenario file is larger than ${MAX_SOURCE / 1024} KiB` }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const r = new Reader(lines);
  if (doc.errors.length > 0) {
    const sourceLines = source.split('\n');
    for (const e of doc.errors) {
      const { line, col } = lines.linePos(e.pos[0]);
      // An unquoted value that starts with `*` (a systemd calendar) is read as an alias.
      const unquoted = /:\s*\*/.test(sourceLines[line - 1] ?? '');
      const hint = unquoted ? ' (a value starting with "*" is a YAML alias: quote it, e.g. onCalendar: "*-*-* 6:00")' : '';
      r.problems.push({ line, col, message: `YAML: ${e.message.split('\n')[0]}${hint}` });
    }
    return { scenario: null, problems: r.problems };
  }
  // Aliases would reach the reader as alias nodes and be reported as values of the wrong type.
  let aliases = false;
  visit(doc, {
    Alias(_, node) {
      r.report(node, `YAML aliases (*${node.source}) are not supported in scenario files; write the value out`);
      aliases = true;
    },
  });
  if (aliases) return { scenario: null, problems: r.problems };
  const root = doc.contents as Node | null;
  const top = r.map(root, 'the scenario', TOP_KEYS, ['name', 'start', 'duration', 'fleet', 'change', 'spread', 'plan']);
  if (!top) return { scenario: null, problems: r.problems };
  const get = (k: string) => top.get(k)?.value ?? null;
  const keyOf = (k: string) => top.get(k)?.keyNode ?? root!;

  const name = top.has('name') ? r.string(get('name'), 'name', keyOf('name'), NAME, 'letters, digits, ".", "_", "-"') : null;
  const descriptionValue = r.scalar(get('description'));
  if (top.has('description') && typeof descriptionValue !== 'string') r.report(get('description') ?? keyOf('description'), 'description must be a string');
  const start = top.has('start') ? r.instant(get('start'), 'start', keyOf('start')) : null;
  const duration = top.has('duration') ? r.duration(get('duration'), 'duration', keyOf('duration')) : null;
  if (duration !== null && (duration <= 0 || duration > 14 * 86_400_000)) r.report(get('duration'), 'duration must be more than 0 and at most 14d');

  const fleet = top.has('fleet') ? readFleet(r, get('fleet'), keyOf('fleet')) : null;
  // Without a valid fleet, provider names cannot be checked (and would only repeat its problems).
  const providerNames = fleet ? new Set(fleet.providers.map((p) => p.name)) : null;
  const remediation = top.has('remediation') ? readRemediation(r, get('remediation'), keyOf('remediation'), providerNames) : new Map<string, RemediationSpec>();
  const change = top.has('change') ? readChange(r, get('change'), keyOf('change')) : null;
  const spread = top.has('spread') ? readSpread(r, get('spread'), keyOf('spread'), providerNames) : null;
  const recovery = readRecovery(r, get('recovery'), keyOf('recovery'), top.has('recovery'));
  const guard = top.has('guard') ? readGuard(r, get('guard'), keyOf('guard'), remediation) : null;
  const plan = top.has('plan') ? readPlanRef(r, get('plan'), keyOf('plan')) : null;

  if (r.problems.length > 0 || !name || start === null || duration === null || !fleet || !change || !spread || !recovery || !plan) {
    return { scenario: null, problems: r.problems };
  }
  const providers = fleet.providers.map((p) => ({ ...p, remediation: remediation.get(p.name) ?? null }));
  return {
    scenario: {
      name,
      description: typeof descriptionValue === 'string' ? descriptionValue : '',
      start,
      duration,
      fleet: { ...fleet, providers },
      change,
      spread,
      recovery,
      guard,
      plan: { file: plan.file, startAt: plan.startAt ?? start },
    },
    problems: [],
  };
}

function readMixes(r: Reader, node: Node | null, where: string, at: Node): LabelMix[] {
  const pairs = r.pairs(node, where, at);
  if (!pairs) return [];
  const mixes: LabelMix[] = [];
  for (const { key, keyNode, value } of pairs) {
    if (!LABEL_KEY.test(key)) {
      r.report(keyNode, `label key ${JSON.stringify(key)} in ${where} is not valid`);
      continue;
    }
    if (['provider', 'region', 'zone', 'cluster', 'data'].includes(key)) {
      r.report(keyNode, `label "${key}" is set by the simulator; it cannot be given in ${where}`);
      continue;
    }
    const single = r.scalar(value);
    if (typeof single === 'string' || typeof single === 'number') {
      mixes.push({ key, values: [{ value: String(single), share: 1 }] });
      continue;
    }
    const shares = r.pairs(value, `label "${key}" in ${where}`, keyNode);
    if (!shares) continue;
    const values: { value: string; share: number }[] = [];
    for (const s of shares) {
      const share = r.share(s.value, `share of ${key}=${s.key}`, s.keyNode);
      if (share !== null) values.push({ value: s.key, share });
    }
    const total = values.reduce((a, v) => a + v.share, 0);
    if (values.length === shares.length && Math.abs(total - 1) > 1e-6) {
      r.report(value, `shares of label "${key}" in ${where} add up to ${round(total * 100)}%, not 100%`);
      continue;
    }
    if (values.length === shares.length && values.length > 0) mixes.push({ key, values });
  }
  return mixes;
}

function readFleet(r: Reader, node: Node | null, at: Node) {
  const f = r.map(node, 'fleet', ['hosts', 'labels', 'dataBearing', 'perCluster', 'providers'], ['hosts', 'providers'], at);
  if (!f) return null;
  const hostsEntry = f.get('hosts');
  const hosts = hostsEntry ? r.integer(hostsEntry.value, 'fleet.hosts', hostsEntry.keyNode, 1, MAX_HOSTS) : null;
  const labelsEntry = f.get('labels');
  const labels = labelsEntry ? readMixes(r, labelsEntry.value, 'fleet.labels', labelsEntry.keyNode) : [];
  const dbEntry = f.get('dataBearing');
  const dataBearing = dbEntry ? r.share(dbEntry.value, 'fleet.dataBearing', dbEntry.keyNode) : 0;
  const provEntry = f.get('providers');
  const providers: ProviderSpec[] = [];
  if (provEntry) {
    if (!isSeq(provEntry.value) || provEntry.value.items.length === 0) {
      r.report(provEntry.value ?? provEntry.keyNode, 'fleet.providers must be a non-empty list');
    } else {
      const seen = new Set<string>();
      const regionNames = new Set<string>();
      for (const item of provEntry.value.items as Node[]) {
        const p = r.map(item, 'a provider', ['name', 'labels', 'regions'], ['name', 'regions']);
        if (!p) continue;
        const pname = p.get('name') ? r.string(p.get('name')!.value, 'provider name', p.get('name')!.keyNode, NAME) : null;
        if (pname && seen.has(pname)) r.report(p.get('name')!.value, `provider "${pname}" appears twice`);
        if (pname) seen.add(pname);
        const where = `provider "${pname ?? '?'}"`;
        const plabels = p.get('labels') ? readMixes(r, p.get('labels')!.value, `${where} labels`, p.get('labels')!.keyNode) : [];
        const regions: RegionSpec[] = [];
        const re = p.get('regions');
        if (re && (!isSeq(re.value) || re.value.items.length === 0)) r.report(re.value ?? re.keyNode, `regions of ${where} must be a non-empty list`);
        else if (re && isSeq(re.value)) {
          for (const rn of re.value.items as Node[]) {
            const region = readRegion(r, rn, where);
            if (!region) continue;
            if (regionNames.has(region.name)) r.report(rn, `region "${region.name}" appears twice`);
            regionNames.add(region.name);
            regions.push(region);
          }
        }
        if (pname) providers.push({ name: pname, labels: plabels, regions, remediation: null });
      }
      const total = providers.reduce((a, p) => a + p.regions.reduce((b, g) => b + g.share, 0), 0);
      if (r.problems.length === 0 && Math.abs(total - 1) > 1e-6) {
        r.report(provEntry.keyNode, `region shares add up to ${round(total * 100)}%, not 100%`);
      }
    }
  }
  if (hosts === null || dataBearing === null) return null;
  // Label keys whose value is drawn once per cluster (every host of a cluster shares it).
  const perCluster: string[] = [];
  const pc = f.get('perCluster');
  if (pc) {
    if (!isSeq(pc.value)) r.report(pc.value ?? pc.keyNode, 'fleet.perCluster must be a list of label keys');
    else {
      for (const item of pc.value.items as Node[]) {
        const v = r.scalar(item);
        if (typeof v !== 'string' || ['provider', 'region', 'zone', 'cluster', 'data'].includes(v)) r.report(item, `fleet.perCluster: ${JSON.stringify(v ?? null)} must be a label key given in the fleet's label mixes`);
        else perCluster.push(v);
      }
    }
  }
  return { hosts, labels, dataBearing, perCluster, providers };
}

function readRegion(r: Reader, node: Node, where: string): RegionSpec | null {
  const g = r.map(node, `a region of ${where}`, ['name', 'share', 'zones', 'clusters', 'labels', 'database'], ['name', 'share', 'zones']);
  if (!g) return null;
  const name = g.get('name') ? r.string(g.get('name')!.value, 'region name', g.get('name')!.keyNode, NAME) : null;
  const rw = `region "${name ?? '?'}"`;
  const share = g.get('share') ? r.share(g.get('share')!.value, `share of ${rw}`, g.get('share')!.keyNode) : null;
  let zones: string[] = [];
  const z = g.get('zones');
  if (z) {
    if (!isSeq(z.value) || z.value.items.length === 0) r.report(z.value ?? z.keyNode, `zones of ${rw} must be a non-empty list of names`);
    else zones = (z.value.items as Node[]).map((n) => r.string(n, `a zone of ${rw}`, z.keyNode, NAME) ?? '');
  }
  const c = g.get('clusters');
  const clusters = c ? r.integer(c.value, `clusters of ${rw}`, c.keyNode, 1, 1000) : 1;
  const labels = g.get('labels') ? readMixes(r, g.get('labels')!.value, `${rw} labels`, g.get('labels')!.keyNode) : [];
  let database: RegionSpec['database'] = null;
  const d = g.get('database');
  if (d) {
    const dm = r.map(d.value, `database of ${rw}`, ['capacityPerSecond'], ['capacityPerSecond'], d.keyNode);
    const cap = dm?.get('capacityPerSecond');
    const v = cap ? r.share(cap.value, `database capacityPerSecond of ${rw}`, cap.keyNode) : null;
    if (v !== null && v <= 0) r.report(cap!.value, `database capacityPerSecond of ${rw} must be more than 0%`);
    else if (v !== null) database = { capacityPerSecond: v };
  }
  if (!name || share === null || clusters === null || zones.includes('')) return null;
  return { name, share, zones, clusters, labels, database };
}

function readGuard(r: Reader, node: Node | null, at: Node, remediation: ReadonlyMap<string, RemediationSpec>): Scenario['guard'] {
  // `guard: {}` (or an empty `guard:`): the guard's documented defaults, in front of every auto-healer.
  const g = node === null || (isScalar(node) && node.value === null) ? new Map() : r.map(node, 'guard', ['providers', 'window', 'scopes', 'retryEvery'], [], at);
  if (!g) return null;
  let providers = [...remediation.keys()];
  const pv = g.get('providers');
  if (pv) {
    if (!isSeq(pv.value)) r.report(pv.value ?? pv.keyNode, 'guard.providers must be a list of provider names');
    else {
      providers = [];
      for (const item of pv.value.items as Node[]) {
        const v = r.scalar(item);
        if (typeof v !== 'string' || !remediation.has(v)) r.report(item, `guard.providers: ${JSON.stringify(v ?? null)} is not a provider with auto-healing (${[...remediation.keys()].join(', ') || 'none'})`);
        else providers.push(v);
      }
    }
  }
  const windowMs = g.get('window') ? r.duration(g.get('window')!.value, 'guard.window', g.get('window')!.keyNode) : DEFAULT_REMEDIATION_POLICY.windowMs;
  let scopes: ScopePolicy[] = [...DEFAULT_REMEDIATION_POLICY.scopes];
  const sv = g.get('scopes');
  if (sv) {
    if (!isSeq(sv.value) || sv.value.items.length === 0) r.report(sv.value ?? sv.keyNode, 'guard.scopes must be a non-empty list of {label, maxShare, dataMaxShare}');
    else {
      scopes = [];
      for (const item of sv.value.items as Node[]) {
        const m = r.map(item, 'a guard scope', ['label', 'maxShare', 'dataMaxShare'], ['label', 'maxShare'], item);
        if (!m) continue;
        const label = r.string(m.get('label')!.value, 'guard scope label', m.get('label')!.keyNode);
        const maxShare = r.share(m.get('maxShare')!.value, 'maxShare', m.get('maxShare')!.keyNode);
        const dataMaxShare = m.get('dataMaxShare') ? r.share(m.get('dataMaxShare')!.value, 'dataMaxShare', m.get('dataMaxShare')!.keyNode) : maxShare;
        if (label === null || maxShare === null || dataMaxShare === null) continue;
        scopes.push({ label: label === 'fleet' ? null : label, maxShare, dataMaxShare });
      }
    }
  }
  const retryEvery = g.get('retryEvery') ? r.duration(g.get('retryEvery')!.value, 'guard.retryEvery', g.get('retryEvery')!.keyNode) : 5 * 60_000;
  if (windowMs === null || retryEvery === null) return null;
  return { providers, policy: { ...DEFAULT_REMEDIATION_POLICY, windowMs, scopes }, retryEvery: Math.max(1000, retryEvery) };
}

function readRemediation(r: Reader, node: Node | null, at: Node, providers: ReadonlySet<string> | null): Map<string, RemediationSpec> {
  const out = new Map<string, RemediationSpec>();
  const pairs = r.pairs(node, 'remediation', at);
  for (const { key, keyNode, value } of pairs ?? []) {
    if (providers && !providers.has(key)) {
      r.report(keyNode, `remediation for unknown provider "${key}" (providers: ${[...providers].join(', ')})`);
      continue;
    }
    if (r.scalar(value) === 'none') continue;
    const where = `remediation of "${key}"`;
    const m = r.map(value, where, ['replace'], ['replace'], keyNode);
    const rep = m?.get('replace');
    if (!rep) continue;
    const f = r.map(rep.value, `${where} replace`, ['match', 'statusCheckInterval', 'failedFor', 'replacementBoot'], ['failedFor'], rep.keyNode);
    if (!f) continue;
    const match = f.get('match') ? r.selector(f.get('match')!.value, `${where} match`, f.get('match')!.keyNode) : {};
    const interval = f.get('statusCheckInterval') ? r.duration(f.get('statusCheckInterval')!.value, 'statusCheckInterval', f.get('statusCheckInterval')!.keyNode) : 60_000;
    const failedFor = r.duration(f.get('failedFor')!.value, 'failedFor', f.get('failedFor')!.keyNode);
    const boot = f.get('replacementBoot') ? r.duration(f.get('replacementBoot')!.value, 'replacementBoot', f.get('replacementBoot')!.keyNode) : 300_000;
    if (interval === 0) r.report(f.get('statusCheckInterval')!.value, 'statusCheckInterval must be more than 0');
    if (match && interval && failedFor !== null && boot !== null) {
      out.set(key, { kind: 'replace', match, statusCheckInterval: interval, failedFor, replacementBoot: boot });
    }
  }
  return out;
}

function readChange(r: Reader, node: Node | null, at: Node): Scenario['change'] | null {
  const c = r.map(node, 'change', ['name', 'hosts', 'applyTime', 'rollbackTime', 'versions', 'breaks'], ['name', 'breaks'], at);
  if (!c) return null;
  const name = c.get('name') ? r.string(c.get('name')!.value, 'change name', c.get('name')!.keyNode) : null;
  const hosts = c.get('hosts') ? r.selector(c.get('hosts')!.value, 'change.hosts', c.get('hosts')!.keyNode) : {};
  const applyTime = c.get('applyTime') ? r.duration(c.get('applyTime')!.value, 'applyTime', c.get('applyTime')!.keyNode) : 20_000;
  const rollbackTime = c.get('rollbackTime') ? r.duration(c.get('rollbackTime')!.value, 'rollbackTime', c.get('rollbackTime')!.keyNode) : 20_000;
  const b = c.get('breaks');
  let breaks: Scenario['change']['breaks'] | null = null;
  if (b) {
    const bm = r.map(b.value, 'change.breaks', ['match', 'effects', 'after', 'again', 'errorShare'], ['effects'], b.keyNode);
    const again = bm?.get('again') ? readTimer(r, bm.get('again')!.value, 'change.breaks.again', bm.get('again')!.keyNode) : null;
    const delay = bm?.get('after') ? r.duration(bm.get('after')!.value, 'change.breaks.after', bm.get('after')!.keyNode) : 0;
    const match = bm?.get('match') ? r.selector(bm.get('match')!.value, 'change.breaks.match', bm.get('match')!.keyNode) : {};
    const e = bm?.get('effects');
    const effects: Effect[] = [];
    if (e) {
      if (!isSeq(e.value) || e.value.items.length === 0) r.report(e.value ?? e.keyNode, `change.breaks.effects must be a non-empty list (of: ${EFFECTS.join(', ')})`);
      else {
        for (const item of e.value.items as Node[]) {
          const v = r.scalar(item);
          if (typeof v !== 'string' || !(EFFECTS as readonly string[]).includes(v)) {
            r.report(item, `unknown effect ${JSON.stringify(v ?? null)} (expected one of: ${EFFECTS.join(', ')})`);
          } else effects.push(v as Effect);
        }
      }
    }
    const errorShare = bm ? readErrorShare(r, bm, effects) : null;
    if (bm && match && delay !== null && errorShare !== null && (again !== null || !bm.get('again'))) breaks = { match, effects, delay, errorShare, again };
  }
  const v = c.get('versions');
  const versions = v ? readVersions(r, v.value, v.keyNode) : null;
  // A version breaks a host when it reaches it: a later start or a recurring trigger would be a second clock.
  if (v && breaks && (breaks.delay > 0 || breaks.again)) r.report(v.keyNode, `change.versions cannot be combined with change.breaks.${breaks.again ? 'again' : 'after'}: a bad version breaks a host when it reaches it`);
  if (!name || !hosts || applyTime === null || rollbackTime === null || !breaks || (v && !versions)) return null;
  return { name, hosts, applyTime, rollbackTime, versions, breaks };
}

/** change.breaks.errorShare: the share of requests a requestErrors host fails (only with that effect; default 100%). */
function readErrorShare(r: Reader, bm: Entries, effects: readonly Effect[]): number | null {
  const e = bm.get('errorShare');
  if (!e) return 1;
  if (!effects.includes('requestErrors')) {
    r.report(e.keyNode, 'change.breaks.errorShare applies to the requestErrors effect only: add requestErrors to change.breaks.effects, or remove errorShare');
    return null;
  }
  const share = r.share(e.value, 'change.breaks.errorShare', e.keyNode);
  if (share === 0) {
    r.report(e.value, 'change.breaks.errorShare must be more than 0% (a host failing no request is not broken)');
    return null;
  }
  return share;
}

function readTimer(r: Reader, node: Node | null, what: string, at: Node): TimerSpec | null {
  const t = r.map(node, what, ['onCalendar', 'randomizedDelay'], ['onCalendar'], at);
  if (!t) return null;
  let calendar: CalendarSpec | null = null;
  const oc = t.get('onCalendar');
  if (oc) {
    const v = r.scalar(oc.value);
    calendar = typeof v === 'string' ? parseCalendar(v) : null;
    if (!calendar) r.report(oc.value ?? oc.keyNode, `onCalendar ${JSON.stringify(v ?? null)} is not supported (use "*-*-* 6:00", "*-*-* 6,18:00", "hourly" or "daily")`);
  }
  const rd = t.get('randomizedDelay');
  const delay = rd ? r.duration(rd.value, 'randomizedDelay', rd.keyNode) : 0;
  return calendar && delay !== null ? { calendar, randomizedDelay: delay } : null;
}

function readSpread(r: Reader, node: Node | null, at: Node, providers: ReadonlySet<string> | null): SpreadSpec | null {
  const s = r.map(node, 'spread', ['timers', 'replicate'], [], at);
  if (!s) return null;
  if (s.size !== 1) {
    r.report(node, 'spread must have exactly one of: timers, replicate');
    return null;
  }
  const rep = s.get('replicate');
  if (rep) {
    const m = r.map(rep.value, 'spread.replicate', ['at', 'within'], ['at', 'within'], rep.keyNode);
    if (!m) return null;
    const atT = m.get('at') ? r.instant(m.get('at')!.value, 'spread.replicate.at', m.get('at')!.keyNode) : null;
    const within = m.get('within') ? r.duration(m.get('within')!.value, 'spread.replicate.within', m.get('within')!.keyNode) : null;
    return atT !== null && within !== null ? { kind: 'replicate', at: atT, within } : null;
  }
  const tm = s.get('timers')!;
  const m = r.map(tm.value, 'spread.timers', ['mirrors', 'download', 'install', 'stopAt'], ['mirrors', 'download', 'install'], tm.keyNode);
  if (!m) return null;
  const mirrors = new Map<string, number>();
  const mp = m.get('mirrors') ? r.pairs(m.get('mirrors')!.value, 'spread.timers.mirrors', m.get('mirrors')!.keyNode) : null;
  for (const { key, keyNode, value } of mp ?? []) {
    if (providers && !providers.has(key)) r.report(keyNode, `mirror for unknown provider "${key}" (providers: ${[...providers].join(', ')})`);
    const t = r.instant(value, `mirror time of "${key}"`, keyNode);
    if (t !== null) mirrors.set(key, t);
  }
  if (mp && providers) for (const p of providers) if (!mirrors.has(p)) r.report(m.get('mirrors')!.keyNode, `spread.timers.mirrors has no time for provider "${p}"`);
  const download = m.get('download') ? readTimer(r, m.get('download')!.value, 'spread.timers.download', m.get('download')!.keyNode) : null;
  const install = m.get('install') ? readTimer(r, m.get('install')!.value, 'spread.timers.install', m.get('install')!.keyNode) : null;
  const stopAt = m.get('stopAt') ? r.instant(m.get('stopAt')!.value, 'spread.timers.stopAt', m.get('stopAt')!.keyNode) : null;
  if (!download || !install || (m.get('stopAt') && stopAt === null)) return null;
  return { kind: 'timers', mirrors, download, install, stopAt };
}

function readRecovery(r: Reader, node: Node | null, at: Node, present: boolean): RecoverySpec | null {
  const def: RecoverySpec = { repair: null, revert: null, stop: null, restart: { backoff: 'none', retryEvery: 1000, base: 1000, cap: 300_000 } };
  if (!present) return def;
  const m = r.map(node, 'recovery', ['repair', 'revert', 'stop', 'restart'], [], at);
  if (!m) return null;
  const window = (key: 'revert', second: 'within') => {
    const e = m.get(key);
    if (!e) return null;
    const w = r.map(e.value, `recovery.${key}`, ['after', second], ['after', second], e.keyNode);
    if (!w || !w.get('after') || !w.get(second)) return null;
    const after = r.duration(w.get('after')!.value, `recovery.${key}.after`, w.get('after')!.keyNode);
    const spread = r.duration(w.get(second)!.value, `recovery.${key}.${second}`, w.get(second)!.keyNode);
    return after !== null && spread !== null ? { after, spread } : null;
  };
  const repair = m.get('repair') ? readRepair(r, m.get('repair')!.value, m.get('repair')!.keyNode) : null;
  const revert = window('revert', 'within');
  let stop: RecoverySpec['stop'] = null;
  const st = m.get('stop');
  if (st) {
    const w = r.map(st.value, 'recovery.stop', ['after'], ['after'], st.keyNode);
    const after = w?.get('after') ? r.duration(w.get('after')!.value, 'recovery.stop.after', w.get('after')!.keyNode) : null;
    if (after !== null) stop = { after };
  }
  let restart = def.restart;
  const rs = m.get('restart');
  if (rs) {
    const w = r.map(rs.value, 'recovery.restart', ['backoff', 'retryEvery', 'base', 'cap'], ['backoff'], rs.keyNode);
    const b = w?.get('backoff');
    const bv = b ? r.scalar(b.value) : undefined;
    if (b && bv !== 'none' && bv !== 'jittered') r.report(b.value ?? b.keyNode, `recovery.restart.backoff must be "none" or "jittered" (got ${JSON.stringify(bv ?? null)})`);
    const dur = (k: string, d: number) => (w?.get(k) ? r.duration(w.get(k)!.value, `recovery.restart.${k}`, w.get(k)!.keyNode) : d);
    const retryEvery = dur('retryEvery', 1000);
    const base = dur('base', 1000);
    const cap = dur('cap', 300_000);
    for (const [k, v] of [['retryEvery', retryEvery], ['base', base], ['cap', cap]] as const) {
      if (v !== null && v < 1000 && w?.get(k)) r.report(w.get(k)!.value, `recovery.restart.${k} must be at least 1s`);
    }
    if ((bv === 'none' || bv === 'jittered') && retryEvery !== null && base !== null && cap !== null) {
      restart = { backoff: bv, retryEvery: Math.max(1000, retryEvery), base: Math.max(1000, base), cap: Math.max(1000, cap) };
    }
  }
  return {
    repair,
    revert: revert && { after: revert.after, within: revert.spread },
    stop,
    restart,
  };
}

function readPlanRef(r: Reader, node: Node | null, at: Node): { file: string; startAt: number | null } | null {
  const m = r.map(node, 'plan', ['file', 'startAt'], ['file'], at);
  if (!m) return null;
  const file = m.get('file') ? r.string(m.get('file')!.value, 'plan.file', m.get('file')!.keyNode) : null;
  if (file && (file.startsWith('/') || file.split('/').includes('..'))) {
    r.report(m.get('file')!.value, 'plan.file must be a relative path inside the scenario\'s folder (no "/" at the start, no "..")');
    return null;
  }
  const startAt = m.get('startAt') ? r.instant(m.get('startAt')!.value, 'plan.startAt', m.get('startAt')!.keyNode) : null;
  if (!file || (m.get('startAt') && startAt === null)) return null;
  return { file, startAt };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
