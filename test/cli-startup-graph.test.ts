// What every `sluice` command loads before it knows which command runs: the CLI's entry chunk and
// the chunks it imports statically. A stray static import (a constant taken from the API client)
// once pulled full zod and yaml (~700 kB) into `sluice --help` and made it 2.3x `node -e 0`; this
// keeps the start-up graph to the command table and commander.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/processes.ts';

const ENTRY = join(REPO, 'dist', 'cli', 'main.js');
const STATIC_IMPORT = /(?:^|[;\s}])(?:import|export)\s*(?:[\w*${},\s]+from\s*)?"(\.\.?\/[^"]+)"/g;

function staticGraph(entry: string): string[] {
  const seen = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) walk(normalize(join(dirname(file), m[1]!)));
  };
  walk(entry);
  return [...seen];
}

/** The npm packages a built chunk holds code of, from its source map. */
function packagesIn(chunk: string): string[] {
  const map = `${chunk}.map`;
  if (!existsSync(map)) return [];
  const sources = (JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }).sources;
  return sources.filter((s) => s.includes('node_modules/')).map((s) => s.split('node_modules/').pop()!.split('/')[0]!);
}

describe('the CLI start-up graph (dist/, as shipped)', () => {
  it('loads only the command table and commander before a command runs', () => {
    const files = staticGraph(ENTRY);
    const packages = [...new Set(files.flatMap(packagesIn))].sort();
    expect(packages).toEqual(['commander']);
    const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
    expect(bytes).toBeLessThan(250 * 1024);
  });
});
