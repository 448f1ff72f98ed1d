// A small auto-healer for the remediation guard's end-to-end test, run as its own process: every
// 500 ms it lists the offline hosts and, for each one it has not settled yet, asks the guard with
// the real CLI (`sluice remediation ask HOST --action replace`). Allowed: it "replaces" the host
// (SIGKILLs the agent whose pid is in PIDS/HOST, wipes STATES/HOST) and logs `replaced HOST`.
// Denied: it logs `denied HOST: reason` and asks again later. It stops when STOP exists, or after
// 120 s; while STOP.pause exists it asks nothing. Usage: node auto-healer.mjs SERVER TOKEN SLUICE_BIN PIDS STATES LOG STOP
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const [server, token, sluice, pids, states, log, stop] = process.argv.slice(2);
const until = Date.now() + 120_000;
const replaced = new Set();
const lastAsked = new Map();

function ask(host) {
  return new Promise((resolve) => {
    execFile(sluice, ['remediation', 'ask', host, '--action', 'replace', '--requester', 'test-healer', '--timeout', '20s', '--server', server], { env: { ...process.env, SLUICE_TOKEN: token }, timeout: 30_000 }, (err, stdout) => {
      resolve({ allowed: err === null, answer: stdout.trim() });
    });
  });
}

while (Date.now() < until && !existsSync(stop)) {
  if (existsSync(`${stop}.pause`)) {
    await new Promise((r) => setTimeout(r, 200));
    continue;
  }
  try {
    const res = await fetch(`${server}/v1/hosts?status=offline&limit=1000`, { headers: { authorization: `Bearer ${token}` } });
    const offline = (await res.json()).hosts.map((h) => h.name).filter((n) => !replaced.has(n));
    await Promise.all(
      offline
        .filter((host) => Date.now() - (lastAsked.get(host) ?? 0) > 2000)
        .map(async (host) => {
          lastAsked.set(host, Date.now());
          const { allowed, answer } = await ask(host);
          if (!allowed) {
            appendFileSync(log, `denied ${host}: ${answer}\n`);
            return;
          }
          replaced.add(host);
          const pidFile = join(pids, host);
          if (existsSync(pidFile)) {
            try {
              process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
            } catch {}
          }
          rmSync(join(states, host), { recursive: true, force: true });
          appendFileSync(log, `replaced ${host}: ${answer}\n`);
        }),
    );
  } catch (err) {
    appendFileSync(log, `error ${err.message}\n`);
  }
  await new Promise((r) => setTimeout(r, 500));
}
