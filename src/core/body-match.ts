// An http check's `bodyMatch`: "/re/flags" is a JavaScript regular expression, anything else a
// plain substring. Parsed the same way by `plan check` (which refuses a regex that does not
// compile) and by the agent (which evaluates a regex off its main thread, under a time limit).

export type BodyMatch =
  | { readonly kind: 'substring'; readonly text: string }
  | { readonly kind: 'regex'; readonly source: string; readonly flags: string };

/** Flags that change what matches; `g` and `y` (stateful) and `d` (indices) mean nothing for a test. */
const REGEX = /^\/(.+)\/([imsu]*)$/s;

/** The match a pattern asks for, or an error message naming what is wrong with it. */
export function parseBodyMatch(pattern: string): BodyMatch | { readonly error: string } {
  const m = REGEX.exec(pattern);
  if (!m) {
    if (/^\/.+\/[a-z]+$/s.test(pattern)) return { error: `${JSON.stringify(pattern)}: a regular expression's flags can only be i, m, s and u` };
    return { kind: 'substring', text: pattern };
  }
  const source = m[1] ?? '';
  const flags = m[2] ?? '';
  try {
    new RegExp(source, flags); // compiling never backtracks; only matching can
  } catch (err) {
    return { error: `${JSON.stringify(pattern)} is not a valid regular expression: ${(err as Error).message}` };
  }
  return { kind: 'regex', source, flags };
}
