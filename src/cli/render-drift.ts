// `sluice drift` and `sluice updates`: the server's answers (parsed, not trusted) as tables, or as
// the stable JSON shapes scripts rely on. Pure: no I/O.
import { z } from 'zod';
import { createPaint } from './render-style.ts';
import { renderTable } from './render-table.ts';
import { formatAgo, toIso } from './render-time.ts';
import { stripTerminalControlsDeep } from '../core/text.ts';

const nullableNumber = z.number().nullable().optional().transform((v) => v ?? null);

export const driftViewSchema = z.object({
  summary: z.object({
    hosts: z.number(),
    hostsWithDrift: z.number(),
    open: z.record(z.string(), z.number()),
    hostsByKind: z.record(z.string(), z.number()),
  }),
  hosts: z.array(
    z.object({
      name: z.string(),
      policy: z.string().nullable(),
      open: z.array(z.object({ kind: z.string(), subject: z.string(), message: z.string(), at: z.number(), receivedAt: z.number() })),
      lastEventAt: nullableNumber,
    }),
  ),
  events: z.array(
    z.object({
      host: z.string(),
      kind: z.string(),
      subject: z.string(),
      message: z.string(),
      at: z.number(),
      receivedAt: z.number(),
      resolvedAt: nullableNumber,
    }),
  ),
});

export const updatesViewSchema = z.object({
  updates: z.array(
    z.object({
      package: z.string(),
      candidate: z.string(),
      security: z.boolean(),
      hosts: z.array(z.object({ name: z.string(), installed: z.string() })),
    }),
  ),
  hosts: z.array(
    z.object({
      name: z.string(),
      labels: z.record(z.string(), z.string()),
      checkedAt: nullableNumber,
      error: z.string().nullable().optional().transform((v) => v ?? null),
      pending: z.number(),
      security: z.number(),
      installed: z.record(z.string(), z.string().nullable()).optional(),
    }),
  ),
});

export type DriftView = z.infer<typeof driftViewSchema>;
export type UpdatesView = z.infer<typeof updatesViewSchema>;

/** `sluice drift --json`: the server's view with times as ISO-8601. */
export function driftJson(view: DriftView): unknown {
  return {
    summary: view.summary,
    hosts: view.hosts.map((h) => ({
      name: h.name,
      policy: h.policy,
      open: h.open.map((e) => ({ kind: e.kind, subject: e.subject, message: e.message, at: toIso(e.at) })),
      lastEventAt: toIso(h.lastEventAt),
    })),
    events: view.events.map((e) => ({
      host: e.host,
      kind: e.kind,
      subject: e.subject,
      message: e.message,
      at: toIso(e.at),
      resolvedAt: toIso(e.resolvedAt),
    })),
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function firstLine(text: string, max = 100): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

export function renderDrift(raw: DriftView, options: { now: number; color: boolean; events?: number }): string {
  // Drift messages and subjects are host output: no escape sequence reaches the terminal.
  const view = stripTerminalControlsDeep(raw);
  const paint = createPaint(options.color);
  const s = view.summary;
  let out = `Fleet: ${plural(s.hosts, 'host')}, ${s.hostsWithDrift} with open drift\n`;
  const kinds = Object.keys(s.hostsByKind).sort();
  if (kinds.length > 0) {
    out += renderTable(kinds.map((k) => [`  ${paint('yellow', k)}`, `${plural(s.hostsByKind[k] ?? 0, 'host')} (${plural(s.open[k] ?? 0, 'open event')})`]));
  }
  if (view.hosts.length > 0) {
    const hosts = [...view.hosts].sort((a, b) => b.open.length - a.open.length || a.name.localeCompare(b.name));
    out += '\n';
    out += renderTable([
      ['HOST', 'POLICY', 'OPEN', 'DRIFT'].map((h) => paint('bold', h)),
      ...hosts.map((h) => [
        h.name,
        h.policy ?? paint('dim', 'no guard'),
        h.open.length === 0 ? paint('green', '0') : paint('red', String(h.open.length)),
        h.open.length === 0 ? '-' : h.open.map((e) => (e.kind === 'package-changed' ? `${e.kind} ${e.subject}` : e.kind)).join(', '),
      ]),
    ]);
  }
  const events = view.events.slice(0, options.events ?? 20);
  if (events.length > 0) {
    out += `\nRecent events (newest first):\n`;
    out += renderTable([
      ['WHEN', 'HOST', 'KIND', 'STATE', 'MESSAGE'].map((h) => paint('bold', h)),
      ...events.map((e) => [
        formatAgo(e.receivedAt, options.now),
        e.host,
        e.kind,
        e.resolvedAt === null ? paint('red', 'open') : paint('dim', 'closed'),
        firstLine(e.message),
      ]),
    ]);
  } else {
    out += '\nNo drift reported yet.\n';
  }
  return out;
}

/** `sluice updates --json`: [{package, candidate, security, hosts: [{name, installed}]}]. */
export function updatesJson(view: UpdatesView): unknown {
  return view.updates.map((u) => ({ package: u.package, candidate: u.candidate, security: u.security, hosts: u.hosts.map((h) => ({ ...h })) }));
}

function hostList(names: readonly string[], max = 5): string {
  return names.length <= max ? names.join(',') : `${names.slice(0, max).join(',')} +${names.length - max}`;
}

export function renderUpdates(raw: UpdatesView, options: { color: boolean }): string {
  const view = stripTerminalControlsDeep(raw);
  const paint = createPaint(options.color);
  const reporting = view.hosts.filter((h) => h.checkedAt !== null);
  const silent = view.hosts.length - reporting.length;
  let out = '';
  if (view.updates.length === 0) {
    out += `No pending security updates on ${plural(reporting.length, 'host')} that report them.\n`;
  } else {
    out += renderTable([
      ['PACKAGE', 'CANDIDATE', 'HOSTS', 'INSTALLED', 'ON'].map((h) => paint('bold', h)),
      ...view.updates.map((u) => [
        u.security ? paint('yellow', u.package) : u.package,
        u.candidate,
        String(u.hosts.length),
        [...new Set(u.hosts.map((h) => h.installed))].sort().join(', '),
        hostList(u.hosts.map((h) => h.name)),
      ]),
    ]);
    out += `\nRoll them out in waves: sluice updates plan --output security.yaml && sluice rollout start security.yaml\n`;
  }
  const failing = view.hosts.filter((h) => h.error !== null);
  for (const h of failing) out += paint('red', `${h.name}: could not read pending updates: ${firstLine(h.error ?? '', 160)}\n`);
  if (silent > 0) out += paint('dim', `${plural(silent, 'host')} report no pending-updates facts (no drift guard yet, or its first check is still to come)\n`);
  return out;
}
