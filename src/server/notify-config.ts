// `sluice server --notify-config FILE`: server-wide webhooks, each with its own format, events and
// secret file (YAML or JSON):
//
//   - url: https://hooks.example.com/sluice
//     secretFile: /etc/sluice/hook.secret
//     events: [gate.failed, rollout.halted]
//   - { url: "https://hooks.slack.com/services/T/B/X", format: slack }
import { parse } from 'yaml';
import { ValidationError } from '../core/errors.ts';
import { readSecretFile } from '../core/secret-file.ts';
import { NOTIFY_EVENTS, NOTIFY_FORMATS, type NotifyEvent, type NotifyFormat } from '../core/types.ts';
import { isHttpUrl } from '../core/plan/parse-gates.ts';
import type { ServerEndpoint } from '../engine/notifier.ts';

const KEYS = ['url', 'format', 'events', 'secretFile'];

export function parseNotifyConfig(text: string, file: string, readSecret: (path: string, flag: string) => string = readSecretFile): ServerEndpoint[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ValidationError(`--notify-config ${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(doc)) throw new ValidationError(`--notify-config ${file}: must be a list of webhooks ({url, format?, events?, secretFile?})`);
  return doc.map((item: unknown, i) => {
    const where = `--notify-config ${file}: webhook ${i + 1}`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new ValidationError(`${where}: must be a mapping`);
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw new ValidationError(`${where}: unknown key "${k}" (expected one of: ${KEYS.join(', ')})`);
    if (typeof o.url !== 'string' || !isHttpUrl(o.url)) throw new ValidationError(`${where}: "url" must be an http(s) URL without credentials`);
    const format = o.format ?? 'json';
    if (typeof format !== 'string' || !(NOTIFY_FORMATS as readonly string[]).includes(format)) throw new ValidationError(`${where}: "format" must be one of: ${NOTIFY_FORMATS.join(', ')}`);
    let events: NotifyEvent[] | undefined;
    if (o.events !== undefined) {
      if (!Array.isArray(o.events) || o.events.length === 0) throw new ValidationError(`${where}: "events" must be a non-empty list`);
      for (const e of o.events) if (typeof e !== 'string' || !(NOTIFY_EVENTS as readonly string[]).includes(e)) throw new ValidationError(`${where}: unknown event ${JSON.stringify(e)} (expected one of: ${NOTIFY_EVENTS.join(', ')})`);
      events = [...new Set(o.events as NotifyEvent[])];
    }
    if (o.secretFile !== undefined && typeof o.secretFile !== 'string') throw new ValidationError(`${where}: "secretFile" must be a path`);
    const secret = o.secretFile === undefined ? undefined : readSecret(o.secretFile as string, `${where}: secretFile`);
    return { url: o.url, format: format as NotifyFormat, ...(events ? { events } : {}), ...(secret ? { secret } : {}) };
  });
}
