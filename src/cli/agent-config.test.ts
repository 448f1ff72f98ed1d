import { describe, expect, it } from 'vitest';
import { mergeAgentFlags, parseAgentConfig } from './agent-config.ts';

const FILE = '/etc/sluice/agent.env';

describe('agent --config file', () => {
  it('reads KEY=VALUE lines; an inline comment never becomes part of the token', () => {
    const flags = parseAgentConfig(
      [
        '# Sluice agent',
        'SLUICE_SERVER=https://sluice.internal:7400   # the control plane',
        'SLUICE_ENROLL_TOKEN=sle_abc123 # prod enrollment token',
        '',
        'SLUICE_LABELS=env=prod,zone=a',
        'SLUICE_ALLOW="apt,file"',
        "SLUICE_FILE_DIRS='/etc/myapp:/etc/other'",
        'SLUICE_DRIFT_NETWORKD=false',
        'export SLUICE_NAME=web-1\r',
      ].join('\n'),
      FILE,
    );
    expect(flags).toEqual({
      server: 'https://sluice.internal:7400',
      token: 'sle_abc123',
      labels: 'env=prod,zone=a',
      allow: 'apt,file',
      fileDir: ['/etc/myapp', '/etc/other'],
      driftNetworkd: false,
      name: 'web-1',
    });
  });

  it('keeps a # inside a value that is not preceded by whitespace, or quoted', () => {
    expect(parseAgentConfig('SLUICE_SERVER=http://h:1/#x\nSLUICE_LABELS="a=b # c"', FILE)).toEqual({ server: 'http://h:1/#x', labels: 'a=b # c' });
  });

  it('an empty value leaves the setting unset', () => {
    expect(parseAgentConfig('SLUICE_ENROLL_TOKEN=\nSLUICE_SERVER=  # later', FILE)).toEqual({});
  });

  it.each([
    ['SLUICE_SERVER http://x', `${FILE}:2: expected KEY=VALUE`],
    ['SLUICE_SERVR=http://x', `${FILE}:2: unknown key SLUICE_SERVR`],
    ['SLUICE_ENROLL_TOKEN="sle_abc # prod"', `${FILE}:2: SLUICE_ENROLL_TOKEN contains whitespace`],
    ['SLUICE_LABELS="env=prod', `${FILE}:2: SLUICE_LABELS: the quoted value has no closing "`],
    ['SLUICE_ALLOW="apt" file', `${FILE}:2: SLUICE_ALLOW: unexpected "file" after the quoted value`],
    ['SLUICE_NAME=a\nSLUICE_NAME=b', `${FILE}:3: SLUICE_NAME is already set on line 2`],
    ['SLUICE_DRIFT_NETWORKD=yes', `${FILE}:2: SLUICE_DRIFT_NETWORKD must be true or false`],
    ['SLUICE_AGENT_ARGS=--allow apt', `${FILE}:2: SLUICE_AGENT_ARGS is for the old unit's command line`],
  ])('refuses %j naming the file and line', (line, message) => {
    expect(() => parseAgentConfig(`# first line\n${line}`, FILE)).toThrow(message);
  });

  it('command-line flags win over the file', () => {
    expect(mergeAgentFlags({ server: 'http://a', allow: 'apt' }, { server: 'http://b', labels: 'x=y' })).toEqual({ server: 'http://b', allow: 'apt', labels: 'x=y' });
  });
});
