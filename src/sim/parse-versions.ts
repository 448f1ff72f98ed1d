// Reads `change.versions` of a scenario file: an artefact regenerated over time, good or bad
// (see docs/simulator.md). Split from parse-scenario.ts, whose Reader it uses.
import { isSeq } from 'yaml';
import type { Node } from 'yaml';
import type { Entries, Reader } from './parse-scenario.ts';
import type { VersionsSpec } from './scenario.ts';

const WHERE = 'change.versions';

export function readVersions(r: Reader, node: Node | null, at: Node): VersionsSpec | null {
  const m = r.map(node, WHERE, ['every', 'within', 'badShare', 'stopAt', 'knownGood'], ['every', 'badShare'], at);
  if (!m) return null;
  const every = m.get('every') ? r.duration(m.get('every')!.value, `${WHERE}.every`, m.get('every')!.keyNode) : null;
  if (every === 0) r.report(m.get('every')!.value, `${WHERE}.every must be more than 0s`);
  const within = m.get('within') ? r.duration(m.get('within')!.value, `${WHERE}.within`, m.get('within')!.keyNode) : 0;
  if (every && within !== null && within > every) {
    r.report(m.get('within')!.value, `${WHERE}.within must not be longer than ${WHERE}.every: a version reaches every host before the next one is generated`);
  }
  const badShare = m.get('badShare') ? readBadShare(r, m.get('badShare')!.value, m.get('badShare')!.keyNode) : null;
  const stopAt = m.get('stopAt') ? r.instant(m.get('stopAt')!.value, `${WHERE}.stopAt`, m.get('stopAt')!.keyNode) : null;
  const knownGood = m.get('knownGood') ? readKnownGood(r, m.get('knownGood')!, within ?? 0) : null;
  if (!every || within === null || within > every || !badShare) return null;
  if ((m.get('stopAt') && stopAt === null) || (m.get('knownGood') && !knownGood)) return null;
  return { every, within, badShare, stopAt, knownGood };
}

/** A non-empty list of {at, share}, times increasing. */
function readBadShare(r: Reader, node: Node | null, at: Node): VersionsSpec['badShare'] | null {
  if (!isSeq(node) || node.items.length === 0) {
    r.report(node ?? at, `${WHERE}.badShare must be a non-empty list of {at, share} (the chance a version is bad from that time)`);
    return null;
  }
  const points: { at: number; share: number }[] = [];
  let ok = true;
  for (const item of node.items as Node[]) {
    const p = r.map(item, `a point of ${WHERE}.badShare`, ['at', 'share'], ['at', 'share'], item);
    if (!p || !p.get('at') || !p.get('share')) {
      ok = false;
      continue;
    }
    const t = r.instant(p.get('at')!.value, `${WHERE}.badShare at`, p.get('at')!.keyNode);
    const share = r.share(p.get('share')!.value, `${WHERE}.badShare share`, p.get('share')!.keyNode);
    if (t === null || share === null) {
      ok = false;
      continue;
    }
    const last = points[points.length - 1];
    if (last && t <= last.at) {
      r.report(p.get('at')!.value, `${WHERE}.badShare: each point must come after the one before (${new Date(t).toISOString()} is not after ${new Date(last.at).toISOString()})`);
      ok = false;
      continue;
    }
    points.push({ at: t, share });
  }
  return ok ? points : null;
}

function readKnownGood(r: Reader, entry: Entries extends Map<string, infer V> ? V : never, within: number): VersionsSpec['knownGood'] {
  const k = r.map(entry.value, `${WHERE}.knownGood`, ['at', 'within', 'restart'], ['at'], entry.keyNode);
  if (!k || !k.get('at')) return null;
  const t = r.instant(k.get('at')!.value, `${WHERE}.knownGood.at`, k.get('at')!.keyNode);
  const w = k.get('within') ? r.duration(k.get('within')!.value, `${WHERE}.knownGood.within`, k.get('within')!.keyNode) : within;
  const rs = k.get('restart');
  const restart = rs ? readRestart(r, rs.value, rs.keyNode) : null;
  if (t === null || w === null || (rs && !restart)) return null;
  return { at: t, within: w, restart };
}

/** knownGood.restart {share, over}: the broken hosts the known-good version does not heal, restarted within `over`. */
function readRestart(r: Reader, node: Node | null, at: Node): { share: number; over: number } | null {
  const m = r.map(node, `${WHERE}.knownGood.restart`, ['share', 'over'], ['share', 'over'], at);
  if (!m || !m.get('share') || !m.get('over')) return null;
  const share = r.share(m.get('share')!.value, `${WHERE}.knownGood.restart.share`, m.get('share')!.keyNode);
  const over = r.duration(m.get('over')!.value, `${WHERE}.knownGood.restart.over`, m.get('over')!.keyNode);
  return share !== null && over !== null ? { share, over } : null;
}
