// What operators may write where a rollout id is expected: the full id, a unique prefix of it
// (`r_m3k`), or `latest` (the newest rollout). Every operator route resolves its `:id` here first,
// so the CLI gets the same for free. Ambiguity is never guessed: a prefix that matches several
// rollouts is a 409 that lists them.
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import type { Store } from '../store/store.ts';

export const LATEST = 'latest';
/** Rollout ids are `r_` + base36 time + hex; anything outside this alphabet names no rollout. */
const REF = /^[A-Za-z0-9_-]{1,100}$/;
const MAX_CANDIDATES = 10;

/** The full id of the rollout `ref` names; NotFoundError, ValidationError or ConflictError (ambiguous) otherwise. */
export async function resolveRolloutRef(store: Pick<Store, 'getRollout' | 'listRollouts' | 'rolloutsByIdPrefix'>, ref: string): Promise<string> {
  if (ref === LATEST) {
    const [newest] = await store.listRollouts(1);
    if (!newest) throw new NotFoundError('no rollouts yet, so none is `latest`');
    return newest.id;
  }
  if (!REF.test(ref)) {
    throw new ValidationError(`"${printable(ref)}" is not a rollout id: ids are letters, digits, _ and - (a unique prefix or \`latest\` also works)`);
  }
  if (await store.getRollout(ref)) return ref;
  const matches = await store.rolloutsByIdPrefix(ref, MAX_CANDIDATES + 1);
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) throw new NotFoundError(`no rollout ${ref}`);
  const shown = matches.slice(0, MAX_CANDIDATES).map((r) => `${r.id} (${r.name}, ${r.state})`);
  const more = matches.length > MAX_CANDIDATES ? `, and more` : '';
  throw new ConflictError(`"${ref}" matches ${matches.length > MAX_CANDIDATES ? `more than ${MAX_CANDIDATES}` : matches.length} rollouts: ${shown.join(', ')}${more}; give more of the id`);
}

function printable(s: string): string {
  const shown = s.length > 40 ? `${s.slice(0, 40)}...` : s;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
