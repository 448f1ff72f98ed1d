// The CLI's window on the outside world (streams, env, clock, files), passed in so commands can be
// run in-process by tests and so rendering stays pure.
import { readFile } from 'node:fs/promises';

export interface OutputStream {
  write(text: string): void;
  readonly isTTY: boolean;
}

export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  now(): number;
  sleep(ms: number): Promise<void>;
  readFile(path: string): Promise<string>;
}

export function createProcessIo(): CliIo {
  return {
    stdout: { write: (text) => void process.stdout.write(text), isTTY: process.stdout.isTTY === true },
    stderr: { write: (text) => void process.stderr.write(text), isTTY: process.stderr.isTTY === true },
    env: process.env,
    cwd: process.cwd(),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    readFile: (path) => readFile(path, 'utf8'),
  };
}

/** Colours only on a terminal, and never when the user asked for none (https://no-color.org). */
export function colorEnabled(stream: OutputStream, env: CliIo['env']): boolean {
  return stream.isTTY && env['NO_COLOR'] === undefined;
}
