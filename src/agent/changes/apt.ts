// The `apt` change: install exact versions of named packages and remove others, with a record of the
// versions before so rollback can put exactly those back (a downgrade) or purge what was new.
// With a root other than '/', apt and dpkg work on that root's own database (tests: one per host).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AptChange } from '../../core/types.ts';
import type { ChangeContext, ChangeRunner, StepOutcome } from './change-runner.ts';
import { loadRecord, recordPath, saveRecord } from './records.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { readPackageInventory } from '../facts/dpkg-packages.ts';
import { canonicalPackageName, nativeArchitecture } from '../facts/package-names.ts';
import { childEnv, describeResult, tail } from '../exec.ts';
import type { RunArgvResult } from '../exec.ts';

/** Debian policy names (lower case, digits, + - .), optionally `:arch`; never starting with '-'. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]{0,127}(?::[a-z0-9][a-z0-9-]{0,31})?$/;
/** [epoch:]upstream[-revision], starting with a letter or digit, so it can never look like an option. */
const PACKAGE_VERSION = /^[A-Za-z0-9][A-Za-z0-9.+~:-]{0,127}$/;

export function isPackageName(name: string): boolean {
  return PACKAGE_NAME.test(name);
}

export function isPackageVersion(version: string): boolean {
  return PACKAGE_VERSION.test(version);
}

/** Every problem with the change's names and versions (empty: valid). Defence in depth: the plan parser checks too. */
export function aptChangeProblems(change: AptChange): string[] {
  const problems: string[] = [];
  for (const [name, version] of Object.entries(change.install)) {
    if (!isPackageName(name)) problems.push(`invalid package name ${JSON.stringify(name)}`);
    if (typeof version !== 'string' || !isPackageVersion(version)) {
      problems.push(`invalid version ${JSON.stringify(version)} for ${name}`);
    }
  }
  for (const name of change.remove) {
    if (!isPackageName(name)) problems.push(`invalid package name ${JSON.stringify(name)} in remove`);
    if (name in change.install) problems.push(`${name} is both installed and removed`);
  }
  if (Object.keys(change.install).length === 0 && change.remove.length === 0) problems.push('nothing to install or remove');
  return problems;
}

/**
 * The change with canonical package names (package-names.ts), so `libssl3:amd64` and `libssl3`
 * are the same package on amd64, matching the inventory. A package named twice that way is an error.
 */
export function canonicalAptChange(change: AptChange, nativeArch: string | null): { change: AptChange; problems: string[] } {
  const problems: string[] = [];
  const install: Record<string, string> = {};
  for (const [name, version] of Object.entries(change.install)) {
    const c = canonicalPackageName(name, nativeArch);
    if (c in install) problems.push(`${name} is named twice (as ${c} too)`);
    install[c] = version;
  }
  const remove: string[] = [];
  for (const name of change.remove) {
    const c = canonicalPackageName(name, nativeArch);
    if (remove.includes(c)) problems.push(`${name} is removed twice (as ${c} too)`);
    else remove.push(c);
  }
  return { change: { ...change, install, remove }, problems };
}

function canonicalRecord(record: AptRecord, nativeArch: string | null): AptRecord {
  const names = (m: Readonly<Record<string, string | null>>) => Object.fromEntries(Object.entries(m).map(([n, v]) => [canonicalPackageName(n, nativeArch), v]));
  return { ...record, before: names(record.before), pulledIn: names(record.pulledIn) as Record<string, string> };
}

// ---- apt on a root --------------------------------------------------------------------------

/**
 * apt configuration that points apt and dpkg at `root` only. It must be given through APT_CONFIG
 * (read before apt.conf.d), or apt would first read the machine's own apt.conf.d and run its hooks.
 * Maintainer scripts run without chroot (the root is not a full system) and see DPKG_ROOT.
 */
export function aptRootConfig(root: string): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    '// Written by sluice: apt and dpkg on this root only.',
    `Dir ${q(root.endsWith('/') ? root : `${root}/`)};`,
    `Dir::State::status ${q(join(root, 'var/lib/dpkg/status'))};`,
    `Dir::Etc::parts ${q(join(root, 'etc/apt/apt.conf.d'))};`,
    `Dir::Etc::main ${q(join(root, 'etc/apt/apt.conf'))};`,
    `Dir::Log ${q(join(root, 'var/log/apt'))};`,
    'APT::Sandbox::User "root";',
    `DPkg::Options { ${q(`--root=${root}`)}; "--force-script-chrootless"; ${q(`--log=${join(root, 'var/log/dpkg.log')}`)}; };`,
    '',
  ].join('\n');
}

/** The environment for apt-get/apt-cache on `root` (writes the root's APT_CONFIG file when root is not '/'). */
export async function aptEnvironment(root: string): Promise<Record<string, string>> {
  const env = childEnv({ DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' });
  if (root === '/') return env;
  const path = join(root, 'etc/apt/sluice-root.conf');
  const text = aptRootConfig(root);
  const current = await readFile(path, 'utf8').catch(() => null);
  if (current !== text) {
    await mkdir(join(root, 'etc/apt'), { recursive: true });
    await writeFile(path, text, { mode: 0o644 });
  }
  return { ...env, APT_CONFIG: path };
}

/** dpkg itself (audit, status) on `root`. */
export function dpkgRootArgs(root: string): string[] {
  return root === '/' ? [] : [`--root=${root}`];
}

interface AptCall {
  readonly run: ArgvRunner;
  readonly env: Record<string, string>;
  readonly deadline: number;
  readonly signal?: AbortSignal;
}

class DeadlineError extends Error {}

async function call(c: AptCall, argv: string[]): Promise<RunArgvResult> {
  const left = c.deadline - Date.now();
  if (left <= 0) throw new DeadlineError(`ran out of time before ${argv.slice(0, 2).join(' ')}`);
  const res = await c.run(argv, { timeoutMs: left, env: c.env, maxOutputBytes: 256 * 1024, ...(c.signal ? { signal: c.signal } : {}) });
  if (res.timedOut) throw new DeadlineError(`${argv.slice(0, 2).join(' ')} timed out (change timeout reached)`);
  return res;
}

function aptGet(c: AptCall, args: string[]): Promise<RunArgvResult> {
  const lockWait = Math.max(1, Math.floor((c.deadline - Date.now()) / 1000));
  return call(c, [
    'apt-get', '-y', '-q',
    '-o', `DPkg::Lock::Timeout=${lockWait}`,
    '-o', 'DPkg::Options::=--force-confdef',
    '-o', 'DPkg::Options::=--force-confold',
    ...args,
  ]);
}

/** `apt-cache madison` lines: `pkg | version | source`. */
export function parseMadison(text: string, name: string): string[] {
  const bare = name.split(':')[0];
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [pkg, version, source] = line.split('|').map((s) => s.trim());
    if (pkg !== bare || !version || !source || / Sources$/.test(source)) continue;
    if (!out.includes(version)) out.push(version);
  }
  return out;
}

async function availableVersions(c: AptCall, name: string): Promise<string[]> {
  const res = await call(c, ['apt-cache', 'madison', '--', name]);
  return res.exitCode === 0 ? parseMadison(res.stdout, name) : [];
}

/** Packages that cannot be had at the wanted version; refreshes the lists once before giving up. */
async function missingVersions(c: AptCall, wanted: ReadonlyArray<[string, string]>): Promise<string[]> {
  const check = async () => {
    const missing: string[] = [];
    for (const [name, version] of wanted) {
      const versions = await availableVersions(c, name);
      if (!versions.includes(version)) {
        missing.push(`${name}=${version} (available: ${versions.length ? versions.join(', ') : 'none'})`);
      }
    }
    return missing;
  };
  if (wanted.length === 0) return [];
  const first = await check();
  if (first.length === 0) return [];
  await aptGet(c, ['update']);
  return check();
}

/** `dpkg --audit` output: packages dpkg left half-done. Empty when the database is consistent. */
async function dpkgAudit(c: AptCall, root: string): Promise<string> {
  const res = await call(c, ['dpkg', ...dpkgRootArgs(root), '--audit']);
  return res.stdout.trim();
}

// ---- records --------------------------------------------------------------------------------

export interface AptRecord {
  readonly kind: 'apt';
  /** Each named package's version before the step (null: not installed). */
  readonly before: Readonly<Record<string, string | null>>;
  /** Dependencies the step installed that were not there before: name -> version installed. */
  readonly pulledIn: Readonly<Record<string, string>>;
}

function isAptRecord(x: unknown): x is AptRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return r['kind'] === 'apt' && typeof r['before'] === 'object' && r['before'] !== null && typeof r['pulledIn'] === 'object' && r['pulledIn'] !== null;
}

// ---- the runner -----------------------------------------------------------------------------

function fmt(name: string, v: string | null | undefined): string {
  return v == null ? `${name} (not installed)` : `${name}=${v}`;
}

function failure(message: string, record?: AptRecord): StepOutcome {
  return record ? { ok: false, message, record } : { ok: false, message };
}

export function createAptRunner(run: ArgvRunner = defaultRunner): ChangeRunner<AptChange> {
  const setup = async (ctx: ChangeContext): Promise<AptCall> => ({
    run,
    env: await aptEnvironment(ctx.root),
    deadline: Date.now() + ctx.timeout,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });

  return {
    kind: 'apt',

    async apply(asked, ctx) {
      const first = aptChangeProblems(asked);
      if (first.length) return failure(`apt change refused: ${first.join('; ')}`);
      const canonical = canonicalAptChange(asked, await nativeArchitecture(run));
      const change = canonical.change;
      const problems = [...canonical.problems, ...aptChangeProblems(change)];
      if (problems.length) return failure(`apt change refused: ${problems.join('; ')}`);
      const c = await setup(ctx);
      const path = recordPath(ctx.stateDir, ctx.stepKey, 'apt');
      try {
        const names = [...Object.keys(change.install), ...change.remove];
        const inv = await readPackageInventory(ctx.root, run);
        const now = inv.packages;
        const done = () =>
          Object.entries(change.install).every(([n, v]) => now[n] === v && !(n in inv.unfinished)) &&
          change.remove.every((n) => !(n in now));
        // A repeat keeps the record of the first apply: its "before" is the state to go back to.
        const existing = await loadRecord(path);
        if (done()) {
          const record: AptRecord = isAptRecord(existing) ? existing : { kind: 'apt', before: Object.fromEntries(names.map((n) => [n, now[n] ?? null])), pulledIn: {} };
          return { ok: true, message: `already applied: ${Object.entries(change.install).map(([n, v]) => `${n}=${v}`).concat(change.remove.map((n) => `${n} removed`)).join(', ')}`, record };
        }
        const toInstall = Object.entries(change.install).filter(([n, v]) => now[n] !== v || n in inv.unfinished);
        const missing = await missingVersions(c, toInstall.filter(([n, v]) => now[n] !== v));
        if (missing.length) {
          return failure(`not available from the apt sources: ${missing.join('; ')}; nothing was changed`);
        }
        const before: AptRecord = isAptRecord(existing)
          ? existing
          : { kind: 'apt', before: Object.fromEntries(names.map((n) => [n, now[n] ?? null])), pulledIn: {} };
        // Written before anything changes, so a crash half-way still leaves the way back.
        await saveRecord(path, before);

        const outputs: string[] = [];
        let failedStep: string | null = null;
        if (toInstall.length) {
          const res = await aptGet(c, ['install', '--allow-downgrades', '--no-remove', '--', ...toInstall.map(([n, v]) => `${n}=${v}`)]);
          if (res.exitCode !== 0) failedStep = `apt-get install ${describeResult(res, ctx.timeout)}: ${tail(res.stdout + res.stderr, 600)}`;
          outputs.push(res.stdout);
        }
        const toRemove = change.remove.filter((n) => n in now);
        if (failedStep === null && toRemove.length) {
          const res = await aptGet(c, ['remove', '--', ...toRemove]);
          if (res.exitCode !== 0) failedStep = `apt-get remove ${describeResult(res, ctx.timeout)}: ${tail(res.stdout + res.stderr, 600)}`;
        }
        const after = await readPackageInventory(ctx.root, run);
        const pulledIn: Record<string, string> = { ...before.pulledIn };
        for (const [n, v] of Object.entries(after.packages)) if (!(n in now) && !names.includes(n)) pulledIn[n] = v;
        const record: AptRecord = { ...before, pulledIn };
        await saveRecord(path, record);

        const audit = await dpkgAudit(c, ctx.root);
        const wrong = Object.entries(change.install)
          .filter(([n, v]) => after.packages[n] !== v || n in after.unfinished)
          .map(([n, v]) => `${n}: expected ${v}, seen ${after.packages[n] ?? 'not installed'}${after.unfinished[n] ? ` (${after.unfinished[n]})` : ''}`)
          .concat(change.remove.filter((n) => n in after.packages).map((n) => `${n}: expected removed, still ${after.packages[n]}`));
        const parts: string[] = [];
        if (failedStep) parts.push(failedStep);
        if (wrong.length) parts.push(`not as asked: ${wrong.join('; ')}`);
        if (audit) parts.push(`dpkg --audit reports packages left half-done: ${audit.replace(/\s+/g, ' ').slice(0, 600)}`);
        if (parts.length) return failure(parts.join('. '), record);
        const changed = toInstall.map(([n, v]) => `${fmt(n, now[n])} -> ${v}`).concat(toRemove.map((n) => `${fmt(n, now[n])} removed`));
        const extra = Object.keys(pulledIn).length ? `; pulled in ${Object.entries(pulledIn).map(([n, v]) => `${n}=${v}`).join(', ')}` : '';
        return { ok: true, message: `${changed.join(', ')}${extra}`, record };
      } catch (err) {
        if (err instanceof DeadlineError) return failure(`apt change ${err.message}`, (await loadRecord(path).then((r) => (isAptRecord(r) ? r : undefined))) ?? undefined);
        throw err;
      }
    },

    async rollback(change, ctx, recordArg) {
      const path = recordPath(ctx.stateDir, ctx.stepKey, 'apt');
      const stored = isAptRecord(recordArg) ? recordArg : await loadRecord(path);
      if (!isAptRecord(stored)) return { ok: true, message: 'nothing to roll back: the change was never applied on this host' };
      // Records written before names were canonical may say `libssl3:amd64`.
      const record = canonicalRecord(stored, await nativeArchitecture(run));
      for (const [n, v] of Object.entries(record.before)) {
        if (!isPackageName(n) || (v !== null && !isPackageVersion(v))) return { ok: false, message: `rollback record is corrupt (${n}=${String(v)})` };
      }
      const c = await setup(ctx);
      try {
        const inv = await readPackageInventory(ctx.root, run);
        const now = inv.packages;
        const reinstall = Object.entries(record.before).filter((e): e is [string, string] => e[1] !== null && (now[e[0]] !== e[1] || e[0] in inv.unfinished));
        const purge = [
          ...Object.entries(record.before).filter(([n, v]) => v === null && n in now).map(([n]) => n),
          ...Object.entries(record.pulledIn).filter(([n, v]) => isPackageName(n) && now[n] === v).map(([n]) => n),
        ];
        if (reinstall.length === 0 && purge.length === 0) {
          return { ok: true, message: `already rolled back: ${Object.entries(record.before).map(([n, v]) => fmt(n, v)).join(', ')}` };
        }
        const missing = await missingVersions(c, reinstall);
        if (missing.length) return { ok: false, message: `cannot roll back: previous versions not available from the apt sources: ${missing.join('; ')}; nothing was changed` };
        const parts: string[] = [];
        if (reinstall.length) {
          const res = await aptGet(c, ['install', '--allow-downgrades', '--', ...reinstall.map(([n, v]) => `${n}=${v}`)]);
          if (res.exitCode !== 0) parts.push(`apt-get install ${describeResult(res, ctx.timeout)}: ${tail(res.stdout + res.stderr, 600)}`);
        }
        if (purge.length) {
          const res = await aptGet(c, ['purge', '--', ...purge]);
          if (res.exitCode !== 0) parts.push(`apt-get purge ${describeResult(res, ctx.timeout)}: ${tail(res.stdout + res.stderr, 600)}`);
        }
        const after = await readPackageInventory(ctx.root, run);
        const wrong = Object.entries(record.before)
          .filter(([n, v]) => (after.packages[n] ?? null) !== v || n in after.unfinished)
          .map(([n, v]) => `${n}: expected ${v ?? 'not installed'}, seen ${after.packages[n] ?? 'not installed'}`);
        if (wrong.length) parts.push(`not back to the previous versions: ${wrong.join('; ')}`);
        const audit = await dpkgAudit(c, ctx.root);
        if (audit) parts.push(`dpkg --audit reports packages left half-done: ${audit.replace(/\s+/g, ' ').slice(0, 600)}`);
        if (parts.length) return { ok: false, message: parts.join('. ') };
        const done = reinstall.map(([n, v]) => `${fmt(n, now[n])} -> ${v}`).concat(purge.map((n) => `${fmt(n, now[n])} purged`));
        return { ok: true, message: `rolled back: ${done.join(', ')}` };
      } catch (err) {
        if (err instanceof DeadlineError) return { ok: false, message: `apt rollback ${err.message}` };
        throw err;
      }
    },
  };
}

export const aptRunner: ChangeRunner<AptChange> = createAptRunner();
