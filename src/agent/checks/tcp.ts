// The `tcp` check: a TCP connection to host:port opens within the timeout.
import { connect } from 'node:net';
import type { CheckRunner } from './check-runner.ts';

export const tcpCheck: CheckRunner<'tcp'> = {
  kind: 'tcp',
  run(spec, ctx) {
    const target = `${spec.host}:${spec.port}`;
    return new Promise((resolve) => {
      const socket = connect({ host: spec.host, port: spec.port });
      let settled = false;
      const done = (ok: boolean, message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ctx.signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ ok, message });
      };
      const timer = setTimeout(
        () => done(false, `expected a TCP connection to ${target}; none within ${spec.timeout} ms`),
        spec.timeout,
      );
      const onAbort = () => done(false, `check of ${target} stopped`);
      ctx.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => done(true, `connected to ${target}`));
      socket.once('error', (err: NodeJS.ErrnoException) =>
        done(false, `expected a TCP connection to ${target}; got ${err.code ?? err.message}`),
      );
    });
  },
};
