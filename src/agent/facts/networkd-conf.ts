// systemd-networkd's effective ManageForeignRoutingPolicyRules / ManageForeignRoutes: networkd.conf,
// then drop-ins from every networkd.conf.d directory sorted by file name (a name in /etc hides the
// same name in /run and /usr/lib), the last assignment wins; both default to yes.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface NetworkdForeign {
  readonly manageForeignRoutingPolicyRules: boolean;
  readonly manageForeignRoutes: boolean;
  /** Files read, in order (absolute paths on the host). */
  readonly files: readonly string[];
}

const DROPIN_DIRS = ['etc', 'run', 'usr/local/lib', 'usr/lib'];

/** systemd's boolean words; null for anything else (networkd then keeps the previous value). */
export function parseSystemdBoolean(v: string): boolean | null {
  const w = v.trim().toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(w)) return true;
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(w)) return false;
  return null;
}

/** Assignments in the [Network] section, in order. */
export function parseNetworkSection(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      section = sec[1] ?? '';
      continue;
    }
    if (section !== 'Network') continue;
    const i = line.indexOf('=');
    if (i <= 0) continue;
    out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return out;
}

export function effectiveNetworkdForeign(texts: ReadonlyArray<{ file: string; text: string }>): NetworkdForeign {
  let rules = true;
  let routes = true;
  for (const { text } of texts) {
    for (const [k, v] of parseNetworkSection(text)) {
      const b = v === '' ? true : parseSystemdBoolean(v); // an empty assignment resets to the default
      if (b === null) continue;
      if (k === 'ManageForeignRoutingPolicyRules') rules = b;
      else if (k === 'ManageForeignRoutes') routes = b;
    }
  }
  return { manageForeignRoutingPolicyRules: rules, manageForeignRoutes: routes, files: texts.map((t) => t.file) };
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

export async function readNetworkdForeign(root: string): Promise<NetworkdForeign> {
  const texts: Array<{ file: string; text: string }> = [];
  for (const main of ['etc/systemd/networkd.conf', 'usr/lib/systemd/networkd.conf']) {
    const t = await readText(join(root, main));
    if (t !== null) {
      texts.push({ file: `/${main}`, text: t });
      break;
    }
  }
  const byName = new Map<string, string>();
  for (const dir of DROPIN_DIRS) {
    let names: string[] = [];
    try {
      names = await readdir(join(root, dir, 'systemd/networkd.conf.d'));
    } catch {
      continue;
    }
    for (const n of names) if (n.endsWith('.conf') && !byName.has(n)) byName.set(n, `/${dir}/systemd/networkd.conf.d/${n}`);
  }
  for (const name of [...byName.keys()].sort()) {
    const shown = byName.get(name)!;
    const t = await readText(join(root, shown));
    if (t !== null) texts.push({ file: shown, text: t });
  }
  return effectiveNetworkdForeign(texts);
}
