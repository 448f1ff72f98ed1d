// The file change's confinement under attack: a local user who can write inside the file dir swaps
// a directory for a symlink to somewhere else, as fast as it can, while changes and rollbacks run.
// Every write must land inside the file dir or be refused: zero files (or temp files) outside.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeContext } from '../src/agent/changes/change-runner.ts';
import { fileRunner } from '../src/agent/changes/file.ts';

const log = { info() {}, warn() {}, error() {} };

// The attacker, a separate process: sub <-> sub.real and a symlink sub -> outside, in a tight loop.
// A sync loop never sees a signal handler run, so it stops when the test creates the stop file
// (looked for every 64 swaps), and by itself after 60 s at most.
const ATTACKER = `
const fs = require('node:fs');
const [allowed, outside, stop] = process.argv.slice(1);
const sub = allowed + '/sub', real = allowed + '/sub.real';
const until = Date.now() + 60000;
let swaps = 0;
process.stdout.write('ready ');
while (Date.now() < until && !(swaps % 64 === 0 && fs.existsSync(stop))) {
  try { fs.renameSync(sub, real); fs.symlinkSync(outside, sub); fs.unlinkSync(sub); fs.renameSync(real, sub); } catch {}
  swaps++;
}
process.stdout.write(String(swaps));
`;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

describe('file change confinement under a directory/symlink swap race', () => {
  let dir = '';
  let allowed = '';
  let outside = '';
  let attacker: ChildProcess | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-file-race-'));
    allowed = join(dir, 'allowed');
    outside = join(dir, 'outside');
    await mkdir(join(allowed, 'sub'), { recursive: true });
    await mkdir(outside);
  });
  afterAll(async () => {
    attacker?.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes only inside the file dir while a directory is swapped for a symlink in a tight loop', async () => {
    attacker = spawn(process.execPath, ['-e', ATTACKER, allowed, outside, join(dir, 'stop')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let swapsOut = '';
    attacker.stdout!.on('data', (d: Buffer) => (swapsOut += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the attacker did not start within 20 s')), 20_000);
      attacker!.stdout!.once('data', () => (clearTimeout(timer), resolve()));
    });
    const ctx: ChangeContext = { stateDir: join(dir, 'state'), stepKey: 'r', timeout: 10_000, fileDirs: [allowed], root: '/', log };
    let applied = 0;
    let refused = 0;
    const messages = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const change = { kind: 'file' as const, path: join(allowed, 'sub', `f${i % 10}.conf`), content: `v${i}\n`, mode: 0o644, timeout: 10_000 };
      const res = await fileRunner.apply(change, { ...ctx, stepKey: `r_${i}` });
      if (res.ok) {
        applied++;
        const back = await fileRunner.rollback(change, { ...ctx, stepKey: `r_${i}` }, res.record);
        if (!back.ok) messages.add(back.message.replace(/f\d\.conf/, 'fN.conf').replace(/\/tmp\/[^ ]+/g, 'PATH'));
      } else {
        refused++;
        messages.add(res.message.replace(/\/tmp\/[^ ;]+/g, 'PATH'));
      }
    }
    const done = new Promise((r) => attacker!.once('exit', r));
    await writeFile(join(dir, 'stop'), '');
    await done;
    const swaps = Number(swapsOut.replace('ready ', ''));
    // The race really ran: the attacker swapped many times and some changes met a swapped path.
    expect(swaps).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(0);
    expect(applied + refused).toBe(300);
    // Nothing outside: no file, no temp file.
    expect(await readdir(outside)).toEqual([]);
    // Everything written is inside, and no temp file was left anywhere.
    const inside = await walk(allowed);
    expect(inside.filter((p) => p.includes('.sluice-'))).toEqual([]);
    // Refusals say why (a symlink, or the directory missing mid-swap), never an unexplained error.
    for (const m of messages) expect(m).toMatch(/refused: .*(symbolic link|does not exist|not a directory|changed while being written)/);
  }, 120_000);
});
