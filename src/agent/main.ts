// `sluice-agent`: the agent alone, the entry point of dist/agent/sluice-agent.js, which the .deb
// ships. `sluice-agent [flags]` is `sluice agent [flags]`; nothing of the server, the store or the
// operator commands is in it.
import { registerAgentCommand } from '../cli/agent-command.ts';
import { createProcessIo } from '../cli/io.ts';
import { runCli } from '../cli/run-cli.ts';

const io = createProcessIo();
const argv = process.argv.slice(2);
const code = await runCli(['agent', ...argv], io, (program) => {
  registerAgentCommand(program);
});
if (code !== 0) process.exitCode = code;
