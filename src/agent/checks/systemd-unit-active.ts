// systemdUnitActive: `systemctl is-active UNIT` says "active".
import type { CheckOutcome, CheckRunner } from './check-runner.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { describeResult, tail } from '../exec.ts';

/** A systemd unit name with its type suffix (`nginx.service`, `apt-daily-upgrade.timer`, `foo@bar.service`). */
export const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]{1,250}\.(?:service|socket|timer|target|mount|path|scope|slice|swap|device|automount)$/;

export function isUnitName(unit: string): boolean {
  return UNIT_NAME.test(unit) && !unit.startsWith('-');
}

export function createSystemdUnitActiveCheck(run: ArgvRunner = defaultRunner): CheckRunner<'systemdUnitActive'> {
  return {
    kind: 'systemdUnitActive',
    async run(spec, ctx): Promise<CheckOutcome> {
      if (!isUnitName(spec.unit)) {
        return { ok: false, message: `expected a systemd unit name like nginx.service, got ${JSON.stringify(spec.unit)}` };
      }
      const res = await run(['systemctl', 'is-active', '--', spec.unit], {
        timeoutMs: spec.timeout,
        maxOutputBytes: 4096,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      const seen = res.stdout.trim().split('\n')[0] ?? '';
      if (res.exitCode === 0 && seen === 'active') return { ok: true, message: `${spec.unit} is active` };
      if (res.error !== null || res.timedOut) {
        return { ok: false, message: `expected ${spec.unit} active; systemctl ${describeResult(res, spec.timeout)}` };
      }
      const detail = seen !== '' ? seen : tail(res.stderr, 200) || describeResult(res, spec.timeout);
      return { ok: false, message: `expected ${spec.unit} active, seen ${detail}` };
    },
  };
}
