// Preflight: what could go wrong on this host before a change is applied. The host part is pure
// (networkd would flush foreign rules); the apt part reads the maintainer scripts of the exact
// package versions to install (downloaded with apt under the same root, inspected with dpkg-deb).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Change } from '../../core/types.ts';
import type { Facts } from '../facts/facts.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { DEFAULT_RULE_PRIORITIES, describeRule } from '../checks/invariants.ts';
import { aptChangeProblems, aptEnvironment } from '../changes/apt.ts';

export type FindingCode = 'networkd-foreign-rules' | 'networkd-foreign-routes' | 'maintainer-script-network' | 'preflight-incomplete' | 'apt-lists-stale';

export interface Finding {
  readonly code: FindingCode;
  readonly message: string;
  readonly package?: string;
  /** The offending lines or rules, for people. */
  readonly evidence?: readonly string[];
}

type Entry = Record<string, unknown>;

/** Rules networkd would delete on a restart: not the kernel's defaults and not marked `proto kernel`. */
export function foreignRules(rules: readonly Entry[]): Entry[] {
  return rules.filter((r) => {
    const prio = Number(r['priority']);
    return !DEFAULT_RULE_PRIORITIES.includes(prio) && r['protocol'] !== 'kernel';
  });
}

// Protocols networkd itself uses (or the kernel's); anything else was added by someone else.
const NETWORKD_ROUTE_PROTOCOLS = new Set(['kernel', 'dhcp', 'ra', 'static', 'redirect']);

export function foreignRoutes(routes: readonly Entry[]): Entry[] {
  return routes.filter((r) => r['table'] !== 'local' && !NETWORKD_ROUTE_PROTOCOLS.has(String(r['protocol'] ?? 'boot')));
}

/** The Datadog/Heroku condition: networkd manages foreign rules (or routes) while such rules (routes) exist. */
export function hostFindings(facts: Pick<Facts, 'networkd' | 'routing'>): Finding[] {
  const out: Finding[] = [];
  if (facts.routing === null) return out;
  const rules = foreignRules(facts.routing.rules);
  if (facts.networkd.manageForeignRoutingPolicyRules && rules.length > 0) {
    out.push({
      code: 'networkd-foreign-rules',
      message: `would lose ${rules.length} routing-policy rules if systemd-networkd restarts (ManageForeignRoutingPolicyRules=yes)`,
      evidence: rules.map(describeRule),
    });
  }
  const routes = foreignRoutes(facts.routing.routes);
  if (facts.networkd.manageForeignRoutes && routes.length > 0) {
    out.push({
      code: 'networkd-foreign-routes',
      message: `would lose ${routes.length} routes if systemd-networkd restarts (ManageForeignRoutes=yes)`,
    });
  }
  return out;
}

const NET_UNITS = '(?:systemd-networkd|networking|NetworkManager|network-manager|systemd-resolved)';
const RISKY_PATTERNS: readonly RegExp[] = [
  new RegExp(`\\bsystemctl\\b[^\\n]*\\b(?:restart|try-restart|reload-or-restart|try-reload-or-restart|stop|start)\\b[^\\n]*\\b${NET_UNITS}\\b`),
  new RegExp(`\\bdeb-systemd-invoke\\b[^\\n]*\\b(?:restart|try-restart|stop|start)\\b[^\\n]*\\b${NET_UNITS}\\b`),
  new RegExp(`\\b(?:invoke-rc\\.d|service)\\s+(?:--\\S+\\s+)*${NET_UNITS}\\s+(?:restart|stop|start|force-reload)\\b`),
  // Options may be variables (`ip $fam rule del ...`): allow a few words between `ip` and `rule`.
  /\bip\s+(?:\S+\s+){0,3}rule\s+(?:flush|del|delete)\b/,
  /\bip\s+(?:\S+\s+){0,3}route\s+flush\b/,
  /\bnetworkctl\s+(?:reload|reconfigure|down)\b/,
];

/** Lines of a maintainer script that restart networking or delete routing-policy rules. */
export function riskyScriptLines(script: string): string[] {
  const out: string[] = [];
  for (const raw of script.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (RISKY_PATTERNS.some((re) => re.test(line))) out.push(line);
  }
  return out;
}

export interface PackageScripts {
  readonly package: string;
  readonly version: string;
  /** script name (preinst, postinst, prerm, postrm) -> text */
  readonly scripts: Readonly<Record<string, string>>;
}

export function scriptFindings(pkgs: readonly PackageScripts[]): Finding[] {
  const out: Finding[] = [];
  for (const p of pkgs) {
    const evidence: string[] = [];
    for (const [name, text] of Object.entries(p.scripts)) for (const line of riskyScriptLines(text)) evidence.push(`${name}: ${line}`);
    if (evidence.length) {
      out.push({
        code: 'maintainer-script-network',
        package: p.package,
        message: `${p.package}=${p.version}: maintainer scripts restart networking or delete routing rules (${evidence.slice(0, 3).join(' | ')})`,
        evidence,
      });
    }
  }
  return out;
}

const SCRIPTS = ['preinst', 'postinst', 'prerm', 'postrm'];

export interface PreflightIo {
  readonly root: string;
  readonly run?: ArgvRunner;
  readonly timeoutMs?: number;
}

/**
 * Downloads the exact versions (apt-get download, into a temp dir, nothing installed) and reads
 * their maintainer scripts with `dpkg-deb --info`.
 */
export async function readAptScripts(install: Readonly<Record<string, string>>, io: PreflightIo): Promise<{ pkgs: PackageScripts[]; problems: string[] }> {
  const run = io.run ?? defaultRunner;
  const timeoutMs = io.timeoutMs ?? 120_000;
  const env = await aptEnvironment(io.root);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-preflight-'));
  const pkgs: PackageScripts[] = [];
  const problems: string[] = [];
  try {
    const wanted = Object.entries(install);
    if (wanted.length === 0) return { pkgs, problems };
    const res = await run(['apt-get', '-q', 'download', '--', ...wanted.map(([n, v]) => `${n}=${v}`)], { timeoutMs, env, cwd: dir });
    if (res.exitCode !== 0) problems.push(`apt-get download failed: ${res.stderr.trim().slice(0, 300)}`);
    const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb'));
    for (const [name, version] of wanted) {
      const bare = name.split(':')[0] ?? name;
      const deb = debs.find((f) => f.startsWith(`${bare}_`));
      if (!deb) {
        problems.push(`could not inspect ${name}=${version}: not downloaded`);
        continue;
      }
      const scripts: Record<string, string> = {};
      for (const s of SCRIPTS) {
        const out = await run(['dpkg-deb', '--info', join(dir, deb), s], { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024 });
        if (out.exitCode === 0) scripts[s] = out.stdout;
      }
      // On an upgrade the installed version's prerm runs too.
      const oldPrerm = await readFile(join(io.root, 'var/lib/dpkg/info', `${bare}.prerm`), 'utf8').catch(() => null);
      if (oldPrerm !== null) scripts['installed prerm'] = oldPrerm;
      pkgs.push({ package: name, version, scripts });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { pkgs, problems };
}

/** Host findings plus, for an `apt` change with `io`, the packages whose scripts touch networking. */
export async function preflight(facts: Pick<Facts, 'networkd' | 'routing'>, change: Change, io?: PreflightIo): Promise<Finding[]> {
  const out = hostFindings(facts);
  if (change.kind === 'apt' && io !== undefined && aptChangeProblems(change).length === 0) {
    const { pkgs, problems } = await readAptScripts(change.install, io);
    out.push(...scriptFindings(pkgs));
    if (problems.length) out.push({ code: 'preflight-incomplete', message: problems.join('; ') });
  }
  return out;
}
