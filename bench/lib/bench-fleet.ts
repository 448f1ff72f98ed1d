// Shared by the fleet benchmarks (store-growth.ts, halt.ts): a store of each kind in its own
// place (a temporary PGlite data dir, a fresh PostgreSQL database), removed afterwards; a fleet of
// hosts written in one statement; a real server on it; HTTP helpers and statistics.
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPgliteSql } from '../../src/store/pglite.ts';
import { createPostgresSql } from '../../src/store/postgres.ts';
import { createSqlStore } from '../../src/store/sql-store.ts';
import type { Sql } from '../../src/store/store.ts';
import { hashSecret } from '../../src/server/tokens.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/start-server.ts';
import { silentLogger } from '../../src/server/logger.ts';

export type StoreKind = 'pglite' | 'postgres';
export const ADMIN = 'sla_bench_admin_0123456789';
export const ENROLL = 'sle_bench_enroll_0123456789';
const BASE_URL = process.env.SLUICE_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface BenchStore {
  readonly kind: StoreKind;
  /** Raw SQL while no server runs on it (PGlite has one opener). */
  withSql<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  startServer(extra?: Pick<ServerOptions, 'tickMs' | 'heartbeatMs' | 'retainFinishedMs'>): Promise<RunningServer>;
  /** What the bench ran on, for the printout. */
  readonly where: string;
  remove(): Promise<void>;
}

export async function benchStore(kind: StoreKind): Promise<BenchStore> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
    return {
      kind,
      where: `PGlite in ${dir}`,
      async withSql(fn) {
        const sql = await createPgliteSql(join(dir, 'pgdata'));
        try {
          await createSqlStore(sql, 'pglite').migrate();
          return await fn(sql);
        } finally {
          await sql.close();
        }
      },
      startServer: (extra = {}) => startServer({ listen: '127.0.0.1:0', dataDir: dir, adminToken: ADMIN, enrollToken: ENROLL, log: silentLogger(), ...extra }),
      async remove() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `sluice_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  return {
    kind,
    where: `PostgreSQL database ${name} (dropped afterwards)`,
    async withSql(fn) {
      const sql = await createPostgresSql(dbUrl);
      try {
        await createSqlStore(sql, 'postgres').migrate();
        return await fn(sql);
      } finally {
        await sql.close();
      }
    },
    startServer: (extra = {}) => startServer({ listen: '127.0.0.1:0', databaseUrl: dbUrl, adminToken: ADMIN, enrollToken: ENROLL, log: silentLogger(), ...extra }),
    async remove() {
      const c = new pg.Client({ connectionString: BASE_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export const hostName = (i: number) => `h-${String(i).padStart(6, '0')}`;
export const credentialOf = (i: number) => `shc_bench_${i}`;

/** `n` hosts, online now, allowing `command`, in 10 zones: one statement per 5,000. */
export async function writeHosts(sql: Sql, n: number, now: number): Promise<void> {
  for (let from = 0; from < n; from += 5000) {
    const rows = [];
    for (let i = from; i < Math.min(n, from + 5000); i++) {
      rows.push({ name: hostName(i), labels: { env: 'prod', zone: `z${i % 10}` }, facts: { allow: ['command'], os: 'ubuntu-22.04', kernel: '6.8.0' }, hash: hashSecret(credentialOf(i)) });
    }
    await sql.query(
      `insert into hosts (name, labels, facts, credential_hash, enrolled_at, last_seen)
       select name, labels, facts, hash, $2, $2 from jsonb_to_recordset($1::jsonb) as h(name text, labels jsonb, facts jsonb, hash text)`,
      [JSON.stringify(rows), now],
    );
  }
}

export async function http(server: RunningServer, method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<{ status: number; json: any; ms: number }> {
  const started = performance.now();
  const send = () =>
    fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  // A kept-alive socket the server closed while idle (after a long purge) resets on reuse: once more.
  const res = await send().catch((err: unknown) => {
    if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw err;
    return send();
  });
  const text = await res.text();
  const ms = performance.now() - started;
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, ms };
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (values: readonly number[]) => quantile(values, 0.5);

export function fmtMs(ms: number): string {
  return Number.isNaN(ms) ? '-' : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

export function machine(): string {
  return `${process.platform} ${process.arch}, ${(os.cpus()[0]?.model ?? '?').trim()} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`;
}
