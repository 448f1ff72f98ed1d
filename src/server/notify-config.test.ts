import { describe, expect, it } from 'vitest';
import { parseNotifyConfig } from './notify-config.ts';

const secrets = (path: string) => `secret-of-${path}`;

describe('--notify-config', () => {
  it('reads webhooks with formats, events and secret files', () => {
    const text = `
- url: https://hooks.example.com/sluice
  secretFile: /etc/sluice/hook.secret
  events: [gate.failed, rollout.halted, gate.failed]
- { url: "https://hooks.slack.com/services/T/B/X", format: slack }
`;
    expect(parseNotifyConfig(text, 'n.yaml', secrets)).toEqual([
      { url: 'https://hooks.example.com/sluice', format: 'json', events: ['gate.failed', 'rollout.halted'], secret: 'secret-of-/etc/sluice/hook.secret' },
      { url: 'https://hooks.slack.com/services/T/B/X', format: 'slack' },
    ]);
  });
  it.each([
    ['url: x', /must be a list/],
    ['- { url: "ftp://x" }', /"url" must be an http\(s\) URL/],
    ['- { url: "http://x", format: xml }', /"format" must be one of: json, slack/],
    ['- { url: "http://x", events: [nope] }', /unknown event "nope"/],
    ['- { url: "http://x", secret: abc }', /unknown key "secret"/],
    ['- [', /not valid YAML/],
  ])('refuses %s', (text, message) => {
    expect(() => parseNotifyConfig(text, 'n.yaml', secrets)).toThrow(message);
  });
});
