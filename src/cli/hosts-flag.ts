// The --hosts flag of `sim run` and `plan analyze`: light, so registering those commands loads no simulator.
import { InvalidArgumentError } from 'commander';

/** Commander parser for --hosts: a fleet size the simulator accepts. */
export function parseHosts(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1_000_000) throw new InvalidArgumentError('expected a whole number from 1 to 1000000');
  return n;
}
