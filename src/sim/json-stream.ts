// Writes a value as JSON in chunks, byte for byte what JSON.stringify(value) gives, without ever
// holding the whole text: a 14-day run over 300 regions has per-region timelines of hundreds of
// MB, past the longest string V8 can make ("Invalid string length").
const CHUNK = 1 << 20;

/** A plain object (not an array) whose values are all primitives: small enough to stringify at once. */
function isFlat(v: object): boolean {
  if (Array.isArray(v) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const key in v) {
    const x = (v as Record<string, unknown>)[key];
    if (x !== null && typeof x === 'object') return false;
  }
  return true;
}

export function writeJson(value: unknown, write: (chunk: string) => void): void {
  let buf = '';
  const out = (s: string): void => {
    buf += s;
    if (buf.length >= CHUNK) {
      write(buf);
      buf = '';
    }
  };
  const emit = (v: unknown): boolean => {
    if (v === null || typeof v !== 'object') {
      const s = JSON.stringify(v);
      if (s === undefined) return false; // undefined, functions, symbols: left out (null in arrays)
      out(s);
      return true;
    }
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return emit((v as { toJSON: () => unknown }).toJSON());
    if (Array.isArray(v)) {
      out('[');
      for (let i = 0; i < v.length; i++) {
        if (i > 0) out(',');
        const item: unknown = v[i];
        // Flat items (timeline points) go through the native serializer whole.
        if (item !== null && typeof item === 'object' && isFlat(item)) out(JSON.stringify(item));
        else if (!emit(item)) out('null');
      }
      out(']');
      return true;
    }
    out('{');
    let first = true;
    for (const key of Object.keys(v)) {
      const item = (v as Record<string, unknown>)[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      out(`${first ? '' : ','}${JSON.stringify(key)}:`);
      first = false;
      emit(item);
    }
    out('}');
    return true;
  };
  if (!emit(value)) out('null');
  if (buf.length > 0) write(buf);
}
