// The CLI's window on the outside world (streams, env, clock, files), passed in so commands can be
// run in-process by tests and so rendering stays pure.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

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
  /** Whether stdin is a terminal (a person can answer a question); missing: no. */
  readonly stdinIsTTY?: boolean;
  /** Writes `question` to the terminal and resolves with the line typed (null: stdin ended). */
  ask?(question: string): Promise<string | null>;
}

/**
 * A reader that goes away (`sluice --help | head`, a pager closed early) is not an error of ours:
 * stop quietly with exit 0 instead of dying on an unhandled EPIPE with a stack trace. Any other
 * error on the stream is still thrown.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream, exit: (code: number) => void = (code) => process.exit(code)): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exit(0);
    else throw err;
  });
}

export function createProcessIo(): CliIo {
  exitQuietlyOnEpipe(process.stdout);
  exitQuietlyOnEpipe(process.stderr);
  return {
    stdout: { write: (text) => void process.stdout.write(text), isTTY: process.stdout.isTTY === true },
    stderr: { write: (text) => void process.stderr.write(text), isTTY: process.stderr.isTTY === true },
    env: process.env,
    cwd: process.cwd(),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    readFile: (path) => readFile(path, 'utf8'),
    stdinIsTTY: process.stdin.isTTY === true,
    ask: (question) => askOnTerminal(question),
  };
}

/** One line from stdin after `question` on stderr (stdout stays for the command's answer). */
function askOnTerminal(question: string): Promise<string | null> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
    let answered = false;
    rl.question(question, (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    // Ctrl-D or Ctrl-C: no answer.
    rl.on('close', () => {
      if (!answered) {
        process.stderr.write('\n');
        resolve(null);
      }
    });
  });
}

/** Colours only on a terminal, and never when the user asked for none (https://no-color.org). */
export function colorEnabled(stream: OutputStream, env: CliIo['env']): boolean {
  return stream.isTTY && env['NO_COLOR'] === undefined;
}
