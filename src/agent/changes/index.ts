// Change runners by kind. The agent looks a runner up only after its own --allow list said yes.
import type { ChangeKind } from '../../core/types.ts';
import type { ChangeRunner } from './change-runner.ts';
import { commandRunner } from './command.ts';

export function createChangeRunners(): Map<ChangeKind, ChangeRunner> {
  return new Map<ChangeKind, ChangeRunner>([['command', commandRunner as ChangeRunner]]);
}
