import { describe, expect, it } from 'vitest';
import {
  TRUNCATION_MARKER,
  hasLoneSurrogate,
  stripTerminalControls,
  stripTerminalControlsDeep,
  toSafeJson,
  toSafeText,
  unsafeTextReason,
  utf8Bytes,
} from './text.ts';

const valid = (s: string) => Buffer.from(Buffer.from(s, 'utf8').toString('utf8'), 'utf8').equals(Buffer.from(s, 'utf8')) && !hasLoneSurrogate(s);

describe('toSafeText', () => {
  it('removes NUL and replaces lone surrogates', () => {
    expect(toSafeText('a\u0000b', 100)).toBe('ab');
    expect(toSafeText('x\ud800y\udc00z', 100)).toBe('x\ufffdy\ufffdz');
    expect(toSafeText('pair \ud83d\ude00 ok', 100)).toBe('pair \ud83d\ude00 ok');
  });

  it('decodes invalid UTF-8 bytes to U+FFFD', () => {
    const out = toSafeText(Buffer.from([0x61, 0xff, 0xfe, 0x00, 0x62, 0xc3]), 100);
    expect(out).toBe('a\ufffd\ufffdb\ufffd');
  });

  it('bounds by UTF-8 bytes and cuts at a character boundary with a marker', () => {
    const text = 'é'.repeat(100) + '😀'.repeat(100);
    for (const max of [20, 21, 50, 199, 200, 201, 333]) {
      const out = toSafeText(text, max);
      expect(utf8Bytes(out)).toBeLessThanOrEqual(max);
      expect(out.endsWith(TRUNCATION_MARKER)).toBe(true);
      expect(valid(out)).toBe(true);
      expect(text.startsWith(out.slice(0, -TRUNCATION_MARKER.length))).toBe(true);
    }
    expect(toSafeText('short', 5)).toBe('short');
    expect(utf8Bytes(toSafeText('abcdefgh', 3))).toBeLessThanOrEqual(3);
  });

  it('takes other values', () => {
    expect(toSafeText(undefined, 10)).toBe('');
    expect(toSafeText(42, 10)).toBe('42');
  });
});

describe('toSafeJson', () => {
  it('makes every string and key safe, drops what JSON cannot hold', () => {
    const out = toSafeJson({ 'k\u0000': ['a\u0000', '\ud800', 1, NaN, { deep: 'x'.repeat(100) }], f: () => 1, u: undefined }, { maxStringBytes: 20 });
    expect(out).toEqual({ k: ['a', '\ufffd', 1, null, { deep: toSafeText('x'.repeat(100), 20) }] });
    // PostgreSQL's jsonb refuses \u0000 and lone surrogate escapes: neither can survive.
    expect(JSON.stringify(out)).not.toMatch(/\\u0000|\\ud[89a-f]/i);
  });

  it('bounds nesting', () => {
    let v: unknown = 'leaf';
    for (let i = 0; i < 100; i++) v = { v };
    expect(JSON.stringify(toSafeJson(v, { maxDepth: 5 }))).toBe('{"v":{"v":{"v":{"v":{"v":null}}}}}');
  });
});

describe('unsafeTextReason', () => {
  it('names NUL and lone surrogates', () => {
    expect(unsafeTextReason('ok')).toBeNull();
    expect(unsafeTextReason('a\u0000')).toMatch(/NUL/);
    expect(unsafeTextReason('a\udfff')).toMatch(/surrogate/);
  });
});

describe('stripTerminalControls', () => {
  it('removes CSI, OSC and other escape sequences whole', () => {
    expect(stripTerminalControls('\x1b[31mred\x1b[0m')).toBe('red');
    expect(stripTerminalControls('a\x1b[2J\x1b[Hb')).toBe('ab');
    expect(stripTerminalControls('\x1b]0;pwned title\x07after')).toBe('after');
    expect(stripTerminalControls('\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\')).toBe('link');
    expect(stripTerminalControls('x\x1bPq#0;2;0;0;0\x1b\\y')).toBe('xy');
    expect(stripTerminalControls('\x1b7saved\x1b8\x1bc\x1b(B')).toBe('saved');
    expect(stripTerminalControls('\u009b31mc1\u009d0;t\u009c')).toBe('c1');
    expect(stripTerminalControls('unterminated \x1b]0;title')).toBe('unterminated ');
  });

  it('removes C0/C1 controls except newline and tab', () => {
    expect(stripTerminalControls('a\tb\nc\rd\x07e\x08f\x7fg\u0085h\u0000')).toBe('a\tb\ncdefgh');
    expect(stripTerminalControls('plain text, ünïcode 😀')).toBe('plain text, ünïcode 😀');
  });

  it('works through nested values', () => {
    expect(stripTerminalControlsDeep({ a: ['\x1b[1mx'], 'k\x1b[0m': 1, n: null })).toEqual({ a: ['x'], k: 1, n: null });
  });
});
