// The `sluice` command line: one file per command group in this folder, wired together here.
// bin/sluice runs this file through tsx; run-cli.ts owns parsing and exit codes.
import { registerAgentCommand } from './agent-command.ts';
import { registerHostsCommand, registerHostsReset } from './hosts-command.ts';
import { registerEnrollTokensCommand } from './enroll-tokens-command.ts';
import { registerTokensCommand } from './tokens-command.ts';
import { registerAuditCommand } from './audit-command.ts';
import { registerRemediationCommand } from './remediation-command.ts';
import { registerFreezeCommand } from './freeze-command.ts';
import { registerDriftCommand } from './drift-command.ts';
import { registerUpdatesCommand } from './updates-command.ts';
import { createProcessIo } from './io.ts';
import { registerPlanCommands } from './plan-command.ts';
import { registerRolloutCommands } from './rollout-command.ts';
import { runCli } from './run-cli.ts';
import { registerServerCommand } from './server-command.ts';
import { registerSimCommand } from './sim-command.ts';
import { registerPlanAnalyze } from './plan-analyze.ts';

const io = createProcessIo();
const code = await runCli(process.argv.slice(2), io, (program) => {
  registerServerCommand(program);
  registerAgentCommand(program);
  registerPlanAnalyze(registerPlanCommands(program));
  registerRolloutCommands(program, io);
  registerHostsReset(registerHostsCommand(program, io), io);
  registerEnrollTokensCommand(program, io);
  registerDriftCommand(program, io);
  registerUpdatesCommand(program, io);
  registerTokensCommand(program, io);
  registerAuditCommand(program, io);
  registerRemediationCommand(program, io);
  registerFreezeCommand(program, io);
  registerSimCommand(program);
});
// Never force 0: a long-running command (server, agent) keeps the process alive on its own.
if (code !== 0) process.exitCode = code;
