// `recovery.repair` of a scenario file: when operators repair impaired hosts, uniformly over a
// span (`over`) or along a recovery curve (`curve`: the share of impaired hosts back by each time,
// as incident reports publish it).
import { isSeq } from 'yaml';
import type { Node } from 'yaml';
import { formatDuration as fmt } from '../core/plan/duration.ts';
import type { Reader } from './parse-scenario.ts';
import type { RepairPoint, RepairSpec } from './scenario.ts';

const MAX_POINTS = 50;
const pct = (share: number) => `${+(share * 100).toFixed(3)}%`;

export function readRepair(r: Reader, node: Node | null, at: Node): RepairSpec | null {
  const w = r.map(node, 'recovery.repair', ['after', 'over', 'curve'], ['after'], at);
  if (!w) return null;
  const after = w.get('after') ? r.duration(w.get('after')!.value, 'recovery.repair.after', w.get('after')!.keyNode) : null;
  const over = w.get('over');
  const curve = w.get('curve');
  if (over && curve) {
    r.report(curve.keyNode, 'recovery.repair takes over (uniform) or curve (shares by time), not both');
    return null;
  }
  if (!over && !curve) {
    r.report(node, 'recovery.repair needs over (each host at a random time within it) or curve (a list of {by, share})');
    return null;
  }
  if (over) {
    const span = r.duration(over.value, 'recovery.repair.over', over.keyNode);
    return after !== null && span !== null ? { after, over: span, curve: null } : null;
  }
  if (after === null) return null;
  const points = readCurve(r, curve!.value, curve!.keyNode, after);
  return points ? { after, over: points[points.length - 1]!.by - after, curve: points } : null;
}

/** Points in order: each `by` later than the one before (the first later than `after`), each share more than the one before. */
function readCurve(r: Reader, node: Node | null, at: Node, after: number): RepairPoint[] | null {
  if (!isSeq(node) || node.items.length === 0 || node.items.length > MAX_POINTS) {
    r.report(node ?? at, `recovery.repair.curve must be a list of 1 to ${MAX_POINTS} points like {by: 1d, share: 50%}`);
    return null;
  }
  const points: RepairPoint[] = [];
  let ok = true;
  let last: RepairPoint = { by: after, share: 0 };
  (node.items as Node[]).forEach((item, i) => {
    const where = `point ${i + 1} of recovery.repair.curve`;
    const m = r.map(item, where, ['by', 'share'], ['by', 'share'], item);
    const by = m?.get('by') ? r.duration(m.get('by')!.value, `by of ${where}`, m.get('by')!.keyNode) : null;
    const share = m?.get('share') ? r.share(m.get('share')!.value, `share of ${where}`, m.get('share')!.keyNode) : null;
    if (by === null || share === null) {
      ok = false;
      return;
    }
    if (by <= last.by) {
      const before = i === 0 ? `recovery.repair.after (${fmt(after)})` : `the by before it (${fmt(last.by)})`;
      r.report(m!.get('by')!.value, `by of ${where} (${fmt(by)}) must be later than ${before}: by counts from the first impairment, like after`);
      ok = false;
    }
    if (share <= last.share) {
      const before = i === 0 ? '0%' : `the share before it (${pct(last.share)})`;
      r.report(m!.get('share')!.value, `share of ${where} (${pct(share)}) must be more than ${before}: shares are cumulative, of the impaired hosts`);
      ok = false;
    }
    last = { by, share };
    points.push(last);
  });
  return ok ? points : null;
}
