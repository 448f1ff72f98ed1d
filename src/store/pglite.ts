// PGlite driver for the `Sql` port: PostgreSQL compiled to WebAssembly, running in this process
// on a data directory (or in memory). It has one connection, so transactions go through its own
// `transaction` API, which holds every other query until the transaction ends.
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { UnavailableError } from '../core/errors.ts';
import type { Sql, SqlTx } from './store.ts';

/** Opens PGlite on `dataDir` (created, mode 0700), or in memory when null (tests). */
export async function createPgliteSql(dataDir: string | null): Promise<Sql> {
  let releaseLock = (): void => {};
  if (dataDir !== null) {
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new UnavailableError(`cannot create the data directory ${dataDir}: ${describe(err)}`, { cause: err });
    }
    releaseLock = acquireLock(`${dataDir}.lock`, dataDir);
  }
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir ?? undefined);
  } catch (err) {
    releaseLock();
    throw new UnavailableError(`cannot open the embedded database in ${dataDir ?? 'memory'}: ${describe(err)}`, { cause: err });
  }
  let closed = false;
  return {
    async query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      const result = await db.query<T>(text, [...params]);
      return result.rows;
    },
    transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
      return db.transaction((tx) =>
        fn({
          async query<R>(text: string, params: readonly unknown[] = []): Promise<R[]> {
            const result = await tx.query<R>(text, [...params]);
            return result.rows;
          },
        }),
      );
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await db.close();
      } finally {
        releaseLock();
      }
    },
  };
}

/**
 * PGlite does not lock its data directory, and two processes writing one directory corrupt it
 * (a second open in the same process hangs). A lock file holding our pid refuses a second opener
 * while the first is alive, and is taken over when its owner died without removing it.
 */
function acquireLock(lockPath: string, dataDir: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath, 'wx', 0o600);
    } catch (err) {
      if (errCode(err) !== 'EEXIST') {
        throw new UnavailableError(`cannot lock the data directory ${dataDir}: ${describe(err)}`, { cause: err });
      }
      const owner = lockOwner(lockPath);
      if (owner !== null && isAlive(owner)) {
        throw new UnavailableError(
          `the data directory ${dataDir} is in use by process ${owner} (lock file ${lockPath}); stop it or use another --data-dir`,
        );
      }
      try {
        unlinkSync(lockPath);
      } catch {
        // another opener removed it first; the next attempt settles who gets it
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      try {
        unlinkSync(lockPath);
      } catch {
        // already gone: nothing to release
      }
    };
  }
  throw new UnavailableError(`cannot lock the data directory ${dataDir}: another process keeps taking ${lockPath}`);
}

function lockOwner(lockPath: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return errCode(err) === 'EPERM';
  }
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
