// An in-memory CliIo for tests: captured output, a fixed clock, instant sleeps, files from a map.
import type { CliIo, OutputStream } from './io.ts';

export interface CapturedStream extends OutputStream {
  text: string;
}

export interface TestIo extends CliIo {
  readonly stdout: CapturedStream;
  readonly stderr: CapturedStream;
  /** Every `sleep` call, in ms. */
  readonly sleeps: number[];
  /** Every question asked with `ask`, in order. */
  readonly asked: string[];
}

export function createTestIo(
  options: {
    env?: Record<string, string>;
    files?: Record<string, string>;
    cwd?: string;
    /** stdout and stderr are terminals. */
    tty?: boolean;
    /** stdin is a terminal (default: as `tty`). */
    stdinTty?: boolean;
    /** What the person types to each question, in order; past the end: stdin ended (null). */
    answers?: string[];
    now?: number;
  } = {},
): TestIo {
  const stream = (): CapturedStream => {
    const s = {
      text: '',
      isTTY: options.tty ?? false,
      write(chunk: string) {
        s.text += chunk;
      },
    };
    return s;
  };
  const sleeps: number[] = [];
  const asked: string[] = [];
  const answers = [...(options.answers ?? [])];
  const files = options.files ?? {};
  return {
    stdout: stream(),
    stderr: stream(),
    env: options.env ?? {},
    cwd: options.cwd ?? '/work/project',
    now: () => options.now ?? Date.UTC(2025, 0, 1, 12, 0, 0),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    readFile: async (path) => {
      const content = files[path];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return content;
    },
    stdinIsTTY: options.stdinTty ?? options.tty ?? false,
    ask: async (question) => {
      asked.push(question);
      return answers.shift() ?? null;
    },
    sleeps,
    asked,
  };
}
