// The `waves:` section of a plan, and the checks that need every wave at once: unique names, and
// waves that can select no host whatever the fleet looks like.
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node } from 'yaml';
import type { Selector, WaveSpec } from '../types.ts';
import { WAVE_KEYS } from './plan-keys.ts';
import { describeNode } from './plan-reader.ts';
import { readGates } from './parse-gates.ts';
import { readBlackout, readWindow, resolveWindow, type WindowSpec } from './parse-window.ts';
import type { DateRange } from './window.ts';
import type { Entry, PlanReader } from './plan-reader.ts';

export const WAVE_NAME = /^[A-Za-z0-9._-]{1,100}$/;
/** Far more than any real plan; bounds the cost of the pairwise wave checks on hostile input. */
export const MAX_WAVES = 1000;

export const WAVE_NAME_HINT = '1-100 characters of A-Z a-z 0-9 . _ -';

/** The targeting selector and where each of its keys was written. */
export interface HostsMatch {
  readonly selector: Selector;
  readonly positions: ReadonlyMap<string, Node>;
}

interface ReadWave {
  readonly spec: WaveSpec;
  /** Where to point at the wave as a whole: its name value. */
  readonly at: Node;
  readonly matchPositions: ReadonlyMap<string, Node>;
}

/** The plan's own window and blackouts, which waves inherit. */
export interface PlanWindow {
  readonly window?: WindowSpec | undefined;
  readonly blackout?: readonly DateRange[] | undefined;
}

export function readWaves(reader: PlanReader, entry: Entry, hosts: HostsMatch | undefined, planWindow: PlanWindow = {}): WaveSpec[] | undefined {
  const node = entry.value;
  if (!isSeq(node)) {
    reader.reportEntry(entry, `"waves" must be a list of waves, got ${describeNode(node)}`);
    return undefined;
  }
  if (node.items.length === 0) {
    reader.report(node, '"waves" must list at least one wave');
    return undefined;
  }
  if (node.items.length > MAX_WAVES) {
    reader.report(node, `"waves" lists ${node.items.length} waves; at most ${MAX_WAVES}`);
    return undefined;
  }
  const waves: ReadWave[] = [];
  const isNew = reader.uniqueNames('wave');
  let ok = true;
  node.items.forEach((item, index) => {
    const wave = readWave(reader, (item as Node | null) ?? node, index, planWindow);
    if (wave.name !== undefined && !isNew(wave.name, wave.at)) {
      ok = false;
      return;
    }
    if (wave.spec === undefined) ok = false;
    else waves.push({ spec: wave.spec, at: wave.at, matchPositions: wave.matchPositions });
  });
  // Emptiness by construction only makes sense once every wave and the targeting read cleanly.
  if (!ok || hosts === undefined) return undefined;
  if (!reportEmptyWaves(reader, waves, hosts)) return undefined;
  return waves.map((wave) => wave.spec);
}

function peekName(node: Node): string | null {
  if (!isMap(node)) return null;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === 'name');
  return isScalar(pair?.value) && typeof pair.value.value === 'string' && WAVE_NAME.test(pair.value.value) ? pair.value.value : null;
}

/** A wave spec when valid; its name and place even when not, so duplicate names are still found. */
function readWave(
  reader: PlanReader,
  node: Node,
  index: number,
  planWindow: PlanWindow,
  parent: { readonly subject: string; readonly depth: number; readonly window: WaveSpec['window'] } | null = null,
): { spec: WaveSpec | undefined; name: string | undefined; at: Node; matchPositions: ReadonlyMap<string, Node> } {
  const peeked = peekName(node);
  const own = peeked === null ? `${parent ? 'step' : 'wave'} ${index + 1}` : `${parent ? 'step' : 'wave'} "${peeked}"`;
  const subject = parent ? `${own} of ${parent.subject}` : own;
  const where = `in ${subject}`;
  const fields = reader.fields(node, subject, where, WAVE_KEYS);
  if (fields === null) return { spec: undefined, name: undefined, at: node, matchPositions: new Map() };
  let ok = true;
  const valid = <T>(value: T | undefined): T | undefined => {
    if (value === undefined) ok = false;
    return value;
  };
  const nameEntry = reader.require(fields, 'name', where, node);
  const name = nameEntry === undefined ? valid(undefined) : valid(reader.text(nameEntry, { pattern: WAVE_NAME, hint: WAVE_NAME_HINT }));
  const matchEntry = fields.get('match');
  const match = matchEntry === undefined ? undefined : valid(reader.selector(matchEntry));
  const sizeEntry = fields.get('size');
  const size = sizeEntry === undefined ? undefined : valid(reader.quantity(sizeEntry, 0));
  if (sizeEntry !== undefined && size !== undefined && 'count' in size && size.count === 0) {
    reader.reportEntry(sizeEntry, `${sizeEntry.label} is 0, so the wave selects no hosts (use at least 1, or remove the wave)`);
    ok = false;
  }
  const parallelEntry = fields.get('parallel');
  const parallel = parallelEntry === undefined ? undefined : valid(reader.quantity(parallelEntry, 1));
  const spreadEntry = fields.get('spread');
  const spread = spreadEntry === undefined ? undefined : valid(reader.labelKeys(spreadEntry));
  const eachEntry = fields.get('each');
  const each = eachEntry === undefined ? undefined : valid(reader.labelKey(eachEntry));
  const limitEntry = fields.get('limit');
  const limit = limitEntry === undefined ? undefined : valid(reader.integer(limitEntry, 1));
  if (limitEntry !== undefined && eachEntry === undefined) {
    reader.report(limitEntry.keyNode, `${limitEntry.label} needs "each": limit keeps the first N sub-waves of an "each" wave (to take N hosts, use "size")`);
    ok = false;
  }
  const bakeEntry = fields.get('bake');
  const bake = bakeEntry === undefined ? 0 : valid(reader.duration(bakeEntry, false));
  const approveEntry = fields.get('approve');
  const approve = approveEntry === undefined ? false : valid(reader.boolean(approveEntry));
  const gatesEntry = fields.get('gates');
  const gates = gatesEntry === undefined ? [] : valid(readGates(reader, gatesEntry, where));
  const windowEntry = fields.get('window');
  const ownWindow = windowEntry === undefined ? undefined : valid(readWindow(reader, windowEntry));
  const blackoutEntry = fields.get('blackout');
  const blackout = blackoutEntry === undefined ? undefined : valid(readBlackout(reader, blackoutEntry));
  if (parent && (windowEntry !== undefined || blackoutEntry !== undefined)) {
    reader.report((windowEntry ?? blackoutEntry)!.keyNode, `${(windowEntry ?? blackoutEntry)!.label} goes on the wave, not on its steps (${subject}): steps run under the wave's window`);
    ok = false;
  }
  const window = parent ? parent.window : resolveWindow(planWindow, { window: ownWindow, blackout });
  const stepsEntry = fields.get('steps');
  let steps: WaveSpec[] | undefined;
  if (stepsEntry !== undefined) {
    for (const k of ['size', 'parallel', 'spread', 'bake', 'approve'] as const) {
      const e = fields.get(k);
      if (e !== undefined) {
        reader.report(e.keyNode, `${e.label}: a wave with "steps" takes ${k} per step (${subject}); move it into its steps`);
        ok = false;
      }
    }
    steps = readSteps(reader, stepsEntry, subject, (parent?.depth ?? 0) + 1, window, planWindow);
    if (steps === undefined) ok = false;
  }
  const at = nameEntry?.value ?? node;
  const matchPositions = match?.positions ?? new Map<string, Node>();
  if (!ok || name === undefined || bake === undefined || approve === undefined) return { spec: undefined, name, at, matchPositions };
  const spec: WaveSpec = {
    name,
    ...(match === undefined ? {} : { match: match.selector }),
    ...(size === undefined ? {} : { size }),
    ...(parallel === undefined ? {} : { parallel }),
    ...(spread === undefined ? {} : { spread }),
    ...(each === undefined ? {} : { each }),
    ...(limit === undefined ? {} : { limit }),
    bake,
    approve,
    ...(gates !== undefined && gates.length > 0 ? { gates } : {}),
    ...(window === undefined ? {} : { window }),
    ...(steps === undefined ? {} : { steps }),
  };
  return { spec, name, at, matchPositions };
}

/** Nested steps at most this deep (provider > region > zone > cluster) and this many in all. */
export const MAX_STEP_DEPTH = 4;
export const MAX_STEPS = 100;

function readSteps(reader: PlanReader, entry: Entry, subject: string, depth: number, window: WaveSpec['window'], planWindow: PlanWindow): WaveSpec[] | undefined {
  const node = entry.value;
  if (!isSeq(node) || node.items.length === 0) {
    reader.reportEntry(entry, `${entry.label} of ${subject} must be a list of at least one step (each like a wave: name, size, each, limit, bake, approve), got ${describeNode(node)}`);
    return undefined;
  }
  if (depth > MAX_STEP_DEPTH) {
    reader.report(entry.keyNode, `${subject}: steps nest at most ${MAX_STEP_DEPTH} deep`);
    return undefined;
  }
  if (node.items.length > MAX_STEPS) {
    reader.report(node, `${subject} lists ${node.items.length} steps; at most ${MAX_STEPS}`);
    return undefined;
  }
  const isNew = reader.uniqueNames('step');
  const out: WaveSpec[] = [];
  let ok = true;
  node.items.forEach((item, index) => {
    const step = readWave(reader, (item as Node | null) ?? node, index, planWindow, { subject, depth, window });
    if (step.name !== undefined && !isNew(step.name, step.at)) ok = false;
    if (step.spec === undefined) ok = false;
    else out.push(step.spec);
  });
  return ok ? out : undefined;
}

function valuesOf(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

function showValues(value: string | readonly string[]): string {
  return typeof value === 'string' ? value : `[${value.join(', ')}]`;
}

/**
 * The hosts a wave could ever see, as a selector: targeting and the wave's own match together.
 * Null when they contradict (no host can match both).
 */
function effectiveMatch(hosts: Selector, wave: Selector): Record<string, readonly string[]> | null {
  const result: Record<string, readonly string[]> = {};
  for (const [key, value] of Object.entries(hosts)) result[key] = valuesOf(value);
  for (const [key, value] of Object.entries(wave)) {
    const own = valuesOf(value);
    const outer = result[key];
    const both = outer === undefined ? own : own.filter((v) => outer.includes(v));
    if (both.length === 0) return null;
    result[key] = both;
  }
  return result;
}

/** Every host matching `inner` also matches `outer`. */
function implies(inner: Readonly<Record<string, readonly string[]>>, outer: Selector): boolean {
  return Object.entries(outer).every(([key, value]) => {
    const allowed = valuesOf(value);
    const narrowed = inner[key];
    return narrowed !== undefined && narrowed.every((v) => allowed.includes(v));
  });
}

/** Reports waves that select nothing by construction; true when there are none. */
function reportEmptyWaves(reader: PlanReader, waves: readonly ReadWave[], hosts: HostsMatch): boolean {
  let ok = true;
  waves.forEach((wave, index) => {
    const own = wave.spec.match ?? {};
    for (const [key, value] of Object.entries(own)) {
      const outer = hosts.selector[key];
      if (outer === undefined) continue;
      if (valuesOf(value).some((v) => valuesOf(outer).includes(v))) continue;
      reader.report(
        wave.matchPositions.get(key) ?? wave.at,
        `wave "${wave.spec.name}" selects no hosts: its match ${key}: ${showValues(value)} contradicts hosts.match ${key}: ${showValues(outer)}`,
      );
      ok = false;
      return;
    }
    const effective = effectiveMatch(hosts.selector, own);
    if (effective === null) return;
    // An earlier wave with no size and no limit takes every remaining host its match allows;
    // with `each: KEY` only hosts that have the KEY label (the engine leaves the others for later).
    const taker = waves
      .slice(0, index)
      .find(
        (earlier) =>
          earlier.spec.steps === undefined &&
          earlier.spec.size === undefined &&
          earlier.spec.limit === undefined &&
          (earlier.spec.each === undefined || effective[earlier.spec.each] !== undefined) &&
          implies(effective, earlier.spec.match ?? {}),
      );
    if (taker !== undefined) {
      reader.report(
        wave.at,
        `wave "${wave.spec.name}" selects no hosts: the earlier wave "${taker.spec.name}" takes every host this wave could match (give "${taker.spec.name}" a size, or "each" with a limit, or narrow its match)`,
      );
      ok = false;
    }
  });
  return ok;
}
