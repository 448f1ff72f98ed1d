// The page's side of the API: the same /v1 routes as the CLI, authenticated by the session
// cookie; every request that changes something carries the session's CSRF token.

export type Role = 'viewer' | 'operator' | 'approver' | 'admin';

export interface SessionInfo {
  readonly name: string;
  readonly role: Role;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: readonly any[] = [],
  ) {
    super(message);
  }
}

let current: SessionInfo | null = null;
let onSignedOut: (why: string) => void = () => {};

export function session(): SessionInfo | null {
  return current;
}

export function setSession(s: SessionInfo | null): void {
  current = s;
}

export function whenSignedOut(f: (why: string) => void): void {
  onSignedOut = f;
}

/** The session is gone (found out by a page): show the sign-in. */
export function signedOut(why: string): void {
  current = null;
  onSignedOut(why);
}

/** Whether the signed-in role may run this action (the server checks again). */
export function can(action: string): boolean {
  const role = current?.role;
  if (role === 'admin') return true;
  if (action === 'approve') return role === 'approver';
  return role === 'operator';
}

async function call(method: string, path: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && current) headers['x-csrf-token'] = current.csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'unreachable', 'the server cannot be reached');
  }
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, json?.error?.code ?? 'failed', json?.error?.message ?? `${method} ${path}: HTTP ${res.status}`, Array.isArray(json?.error?.problems) ? json.error.problems : []);
    if (res.status === 401 && !path.startsWith('/ui/session')) {
      current = null;
      onSignedOut(err.message);
    }
    throw err;
  }
  return json;
}

export const get = (path: string): Promise<any> => call('GET', path);
export const post = (path: string, body?: unknown): Promise<any> => call('POST', path, body ?? {});
export const del = (path: string): Promise<any> => call('DELETE', path);

/** The signed-in session, or null (401: not signed in, or the server restarted). */
export async function loadSession(): Promise<SessionInfo | null> {
  const s = await get('/ui/session');
  current = s && s.signedIn ? (s as SessionInfo) : null;
  return current;
}

export async function signIn(token: string): Promise<SessionInfo> {
  current = (await call('POST', '/ui/session', { token })) as SessionInfo;
  return current;
}

export async function signOut(): Promise<void> {
  try {
    await del('/ui/session');
  } finally {
    current = null;
  }
}

export function q(params: Record<string, string | number | undefined | string[]>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) u.append(k, x);
    else u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}
