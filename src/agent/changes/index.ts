// Change runners by kind. The agent looks a runner up only after its own --allow list said yes;
// apt and file work under the agent's --root, and file only inside its --file-dir directories.
import type { ChangeKind } from '../../core/types.ts';
import { defaultRunner } from '../facts/argv-runner.ts';
import type { ArgvRunner } from '../facts/argv-runner.ts';
import { createAptRunner } from './apt.ts';
import type { ChangeRunner } from './change-runner.ts';
import { commandRunner } from './command.ts';
import { createFileRunner } from './file.ts';

/** Every change kind this agent knows. `run` runs apt/dpkg and reload argvs (tests inject one). */
export function createChangeRunners(run: ArgvRunner = defaultRunner): Map<ChangeKind, ChangeRunner> {
  return new Map<ChangeKind, ChangeRunner>([
    ['command', commandRunner as ChangeRunner],
    ['apt', createAptRunner(run) as ChangeRunner],
    ['file', createFileRunner(run) as ChangeRunner],
  ]);
}
