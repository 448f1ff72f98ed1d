import { describe, expect, it } from 'vitest';
import { ConflictError, SluiceError, UnavailableError, ValidationError } from '../core/errors.ts';
import { VERSION, runCli } from './run-cli.ts';
import { exitQuietlyOnEpipe } from './io.ts';
import { EventEmitter } from 'node:events';
import { createTestIo } from './test-io.ts';
import type { Command } from 'commander';

function register(program: Command): void {
  program
    .command('ok')
    .description('succeeds')
    .option('--json', 'as JSON')
    .action(() => undefined);
  const fail = program.command('fail').description('throws the error named by its argument');
  fail.argument('<kind>').action((kind: string) => {
    const errors: Record<string, unknown> = {
      invalid: new ValidationError('bad plan'),
      conflict: new ConflictError('cannot pause a completed rollout'),
      unavailable: new UnavailableError('cannot reach the Sluice server'),
      unauthenticated: new SluiceError('unauthenticated', 'bad token'),
      crash: new TypeError("Cannot read properties of undefined (reading 'x')"),
    };
    throw errors[kind];
  });
}

describe('runCli exit codes', () => {
  it.each([
    [['ok'], 0],
    [['ok', '--json'], 0],
    [['--help'], 0],
    [['ok', '--help'], 0],
    [['help', 'ok'], 0],
    [[], 2], // no command: usage, bad input
    [['nope'], 2],
    [['ok', '--nope'], 2],
    [['ok', 'extra'], 2],
    [['fail'], 2], // missing argument
    [['fail', 'invalid'], 2],
    [['fail', 'unauthenticated'], 2],
    [['fail', 'conflict'], 1],
    [['fail', 'unavailable'], 1],
    [['fail', 'crash'], 1],
  ])('sluice %j exits %i', async (argv, code) => {
    expect(await runCli(argv, createTestIo(), register)).toBe(code);
  });

  it('prints a SluiceError as one line on stderr', async () => {
    const io = createTestIo();
    await runCli(['fail', 'conflict'], io, register);
    expect(io.stderr.text).toBe('error: cannot pause a completed rollout\n');
    expect(io.stdout.text).toBe('');
  });

  it('prints an unexpected exception as one clean line, with the stack only under SLUICE_DEBUG=1', async () => {
    const io = createTestIo();
    await runCli(['fail', 'crash'], io, register);
    expect(io.stderr.text).toBe("error: Cannot read properties of undefined (reading 'x')\n");
    const debug = createTestIo({ env: { SLUICE_DEBUG: '1' } });
    await runCli(['fail', 'crash'], debug, register);
    expect(debug.stderr.text).toMatch(/^error: .*\nTypeError: .*\n\s+at /);
  });

  it('lists the commands in the root help, on stdout', async () => {
    const io = createTestIo();
    await runCli(['--help'], io, register);
    expect(io.stdout.text).toMatch(/Usage: sluice/);
    expect(io.stdout.text).toMatch(/ok\s.*succeeds/);
    expect(io.stdout.text).toMatch(/Exit codes: 0 success, 1 operation failed, 2 bad input/);
  });

  it('explains an unknown flag on stderr', async () => {
    const io = createTestIo();
    await runCli(['ok', '--jsn'], io, register);
    expect(io.stderr.text).toMatch(/unknown option '--jsn'/);
    expect(io.stderr.text).toMatch(/Did you mean --json\?/);
  });

  it('prints the version with --version and -V, exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const io = createTestIo();
      expect(await runCli([flag], io, register)).toBe(0);
      expect(io.stdout.text).toBe(`${VERSION}\n`);
    }
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('exitQuietlyOnEpipe', () => {
  it('exits 0 on EPIPE and rethrows anything else', () => {
    const stream = new EventEmitter() as unknown as NodeJS.WriteStream;
    const codes: number[] = [];
    exitQuietlyOnEpipe(stream, (code) => codes.push(code));
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(codes).toEqual([0]);
    expect(() => stream.emit('error', Object.assign(new Error('boom'), { code: 'EIO' }))).toThrow('boom');
  });
});
