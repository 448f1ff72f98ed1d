#!/usr/bin/env node
// Adds lock entries for optional platform packages (other OSes and CPUs) that the npm registry
// mirror on our build machines does not serve: without them `npm ci` refuses the lock file as
// "out of sync". Each entry is marked optional with its os/cpu, so npm ci skips it on a platform
// it does not fit, exactly as it would with a lock written against the full registry.
// Run after `npm install` changes package-lock.json: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const OS = ['aix', 'android', 'darwin', 'freebsd', 'linux', 'netbsd', 'openbsd', 'openharmony', 'sunos', 'win32'];
const CPU = ['arm64', 'arm', 'x64', 'ia32', 'loong64', 'mips64el', 'ppc64', 'riscv64', 's390x'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p)) ?? (parts.includes('wasi') || parts.includes('wasm32') ? null : undefined);
  const cpu = parts.find((p) => CPU.includes(p)) ?? (parts.includes('loongarch64') ? 'loong64' : parts.includes('eabi') || parts.includes('gnueabihf') || parts.includes('musleabihf') ? 'arm' : undefined);
  return { os, cpu };
}

let added = 0;
for (const [path, pkg] of Object.entries({ ...lock.packages })) {
  for (const [dep, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = path === '' ? '' : `${path}/`;
    const candidates = [`${base}node_modules/${dep}`, `node_modules/${dep}`];
    if (candidates.some((c) => lock.packages[c])) continue;
    const { os, cpu } = platformOf(dep);
    const entry = { version: range.replace(/^[\^~=]/, ''), dev: pkg.dev, optional: true };
    if (os) entry.os = [os];
    if (cpu) entry.cpu = [cpu];
    if (!entry.dev) delete entry.dev;
    lock.packages[`node_modules/${dep}`] = entry;
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`complete-lockfile: added ${added} optional platform entries`);
