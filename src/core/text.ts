// Any bytes in, valid text out. Hosts send whatever their commands print: invalid UTF-8, NUL
// bytes, lone surrogates, megabytes of output, terminal escape sequences. PostgreSQL refuses NUL
// in text ("invalid byte sequence for encoding UTF8: 0x00") and NUL or lone surrogates in jsonb,
// and a terminal obeys escape sequences. The server makes host text safe once, at its edge
// (toSafeText / toSafeJson), and the CLI strips control sequences when it prints host text
// (stripTerminalControls). Pure: no I/O.

/** Appended where text was cut to fit its bound. */
export const TRUNCATION_MARKER = ' …[truncated]';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const NUL = /\u0000/g;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Lone surrogates (a JS string that is not valid UTF-16, e.g. from JSON `"\ud800"`) become U+FFFD. */
export function toWellFormed(s: string): string {
  const native = (s as unknown as { toWellFormed?: () => string }).toWellFormed;
  return typeof native === 'function' ? native.call(s) : s.replace(LONE_SURROGATE, '\uFFFD');
}

/** Whether `s` contains a lone surrogate (so it has no UTF-8 encoding). */
export function hasLoneSurrogate(s: string): boolean {
  const native = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  if (typeof native === 'function') return !native.call(s);
  LONE_SURROGATE.lastIndex = 0;
  return LONE_SURROGATE.test(s);
}

/** Why `s` cannot be stored as it is (NUL or a lone surrogate), or null when it can. */
export function unsafeTextReason(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  if (hasLoneSurrogate(s)) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
  return null;
}

/** UTF-8 bytes of a well-formed string. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Valid UTF-8 text without NUL, at most `maxBytes` bytes of UTF-8: invalid bytes and lone
 * surrogates become U+FFFD, NUL is removed, and text over the bound is cut at a character
 * boundary and ends with TRUNCATION_MARKER (counted in the bound). Buffers are decoded as UTF-8;
 * other values go through String(); null and undefined become ''.
 */
export function toSafeText(value: unknown, maxBytes: number): string {
  let s: string;
  if (typeof value === 'string') s = value;
  else if (value === null || value === undefined) s = '';
  else if (value instanceof Uint8Array) s = utf8.decode(value);
  else s = String(value);
  s = toWellFormed(s);
  if (s.includes('\u0000')) s = s.replace(NUL, '');
  return truncateUtf8(s, maxBytes);
}

/** Cuts a well-formed string to at most `maxBytes` UTF-8 bytes at a character boundary, with the marker. */
export function truncateUtf8(s: string, maxBytes: number): string {
  const limit = Math.max(0, Math.floor(maxBytes));
  // Fast path: every UTF-16 unit is at most 3 UTF-8 bytes.
  if (s.length * 3 <= limit || utf8Bytes(s) <= limit) return s;
  const markerBytes = utf8Bytes(TRUNCATION_MARKER);
  const marker = markerBytes <= limit ? TRUNCATION_MARKER : '';
  const buf = Buffer.from(s, 'utf8');
  let end = limit - utf8Bytes(marker);
  // Back up to the first byte of a character (continuation bytes are 10xxxxxx).
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8') + marker;
}

export interface SafeJsonOptions {
  /** Bound for each string value (keys are bounded to 1 KiB). Default 64 KiB. */
  readonly maxStringBytes?: number;
  /** Deeper values are replaced by null. Default 32. */
  readonly maxDepth?: number;
}

/**
 * A JSON value any store accepts: every string (values and keys) through toSafeText, numbers that
 * JSON cannot hold (NaN, Infinity) as null, anything that is not JSON (functions, symbols,
 * undefined in arrays) dropped or null as JSON.stringify would, nesting bounded.
 */
export function toSafeJson(value: unknown, options: SafeJsonOptions = {}): unknown {
  const maxString = options.maxStringBytes ?? 64 * 1024;
  const maxDepth = options.maxDepth ?? 32;
  const walk = (v: unknown, depth: number): unknown => {
    if (v === null) return null;
    switch (typeof v) {
      case 'string':
        return toSafeText(v, maxString);
      case 'number':
        return Number.isFinite(v) ? v : null;
      case 'boolean':
        return v;
      case 'bigint':
        return v.toString();
      case 'object': {
        if (depth >= maxDepth) return null;
        if (Array.isArray(v)) return v.map((item) => (item === undefined || typeof item === 'function' || typeof item === 'symbol' ? null : walk(item, depth + 1)));
        if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return walk((v as { toJSON: () => unknown }).toJSON(), depth);
        const out: Record<string, unknown> = {};
        for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
          if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
          out[toSafeText(k, 1024)] = walk(item, depth + 1);
        }
        return out;
      }
      default:
        return undefined;
    }
  };
  return walk(value, 0);
}

/** toSafeJson for an object (facts, details): always an object back. */
export function toSafeRecord(value: Record<string, unknown>, options: SafeJsonOptions = {}): Record<string, unknown> {
  const out = toSafeJson(value, options);
  return out !== null && typeof out === 'object' && !Array.isArray(out) ? (out as Record<string, unknown>) : {};
}

// ESC-introduced sequences, 7-bit and their 8-bit C1 forms:
// - CSI: ESC [ or 0x9B, parameter bytes 0x30-0x3F, intermediates 0x20-0x2F, final 0x40-0x7E
// - OSC, DCS, SOS, PM, APC: ESC ] P X ^ _ (or 0x9D 0x90 0x98 0x9E 0x9F) up to BEL or ST
//   (ESC \ or 0x9C), or to the end of the text when unterminated
// - other escapes: ESC, intermediates, one final byte (ESC 7, ESC ( B, ESC c, ...)
const CSI = /(?:\u001b\[|\u009b)[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?/g;
const STRING_SEQ = /(?:\u001b[\]PX^_]|[\u009d\u0090\u0098\u009e\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?/g;
const OTHER_ESC = /\u001b[\u0020-\u002f]*[\u0030-\u007e]?/g;
// C0 controls except \t (0x09) and \n (0x0A), DEL, and C1 controls.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text a terminal shows as it is: escape sequences (CSI, OSC, DCS, ...) removed whole, and
 * every other C0/C1 control character removed, except newline and tab. Carriage returns go
 * too (they let text overwrite what was printed before it on the line).
 */
export function stripTerminalControls(s: string): string {
  // Fast path: nothing below 0x20 but \t \n, and nothing in 0x7F-0x9F.
  if (!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(s)) return s;
  return s.replace(STRING_SEQ, '').replace(CSI, '').replace(OTHER_ESC, '').replace(CONTROLS, '');
}

/** stripTerminalControls on every string inside a value (arrays and plain objects, keys too). */
export function stripTerminalControlsDeep<T>(value: T): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return stripTerminalControls(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) out[stripTerminalControls(k)] = walk(item);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}
