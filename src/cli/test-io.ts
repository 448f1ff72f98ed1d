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
}

export function createTestIo(
  options: { env?: Record<string, string>; files?: Record<string, string>; cwd?: string; tty?: boolean; now?: number } = {},
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
    sleeps,
  };
}
