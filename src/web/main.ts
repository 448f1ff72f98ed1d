// The dashboard's entry: sign-in, the header, and a hash router (#/rollouts, #/rollouts/ID,
// #/fleet, #/hosts/NAME, #/drift, #/updates, #/rehearse). Each page renders into <main> and may return a
// function that stops what it started (a live stream, a timer) when the page changes.
import { ApiError, loadSession, session, signIn, signOut, whenSignedOut } from './api.ts';
import { clear, h, show, toast } from './dom.ts';
import { rolloutPage, rolloutsPage } from './rollouts.ts';
import { fleetPage, hostPage } from './fleet.ts';
import { driftPage, updatesPage } from './drift.ts';
import { rehearsePage } from './rehearse.ts';

type Dispose = () => void;
type Page = (arg: string, params: URLSearchParams) => Promise<Dispose | void> | Dispose | void;

let dispose: Dispose | null = null;
let signInMessage = '';

function routeOf(hash: string): { page: Page; arg: string; params: URLSearchParams; nav: string } {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [top = 'rollouts', arg = ''] = parts;
  if (top === 'rollouts' && arg) return { page: rolloutPage, arg, params, nav: 'rollouts' };
  if (top === 'fleet') return { page: fleetPage, arg, params, nav: 'fleet' };
  if (top === 'hosts' && arg) return { page: hostPage, arg, params, nav: 'fleet' };
  if (top === 'drift') return { page: driftPage, arg, params, nav: 'drift' };
  if (top === 'updates') return { page: updatesPage, arg, params, nav: 'updates' };
  if (top === 'rehearse') return { page: rehearsePage, arg, params, nav: 'rehearse' };
  return { page: rolloutsPage, arg: '', params, nav: 'rollouts' };
}

async function render(): Promise<void> {
  dispose?.();
  dispose = null;
  if (!session()) return renderSignIn();
  const { page, arg, params, nav } = routeOf(location.hash);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    if (a.getAttribute('href') === `#/${nav}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    dispose = (await page(arg, params)) ?? null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // whenSignedOut shows the sign-in
    show(h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, err instanceof Error ? err.message : String(err)));
  }
}

function renderHeader(): void {
  const s = session();
  const nav = document.getElementById('nav')!;
  const who = document.getElementById('who')!;
  nav.hidden = !s;
  clear(who);
  if (!s) return;
  who.append(
    h('span', { class: 'principal', 'data-role': s.role }, s.name, ' ', h('span', { class: 'muted' }, `(${s.role})`)),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: async () => {
          await signOut().catch(() => {});
          signInMessage = 'Signed out.';
          renderHeader();
          await render();
        },
      },
      'Sign out',
    ),
  );
}

function renderSignIn(): void {
  renderHeader();
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const message = h('p', { class: 'error', id: 'signin-message', role: 'alert' }, signInMessage);
  const form = h(
    'form',
    {
      class: 'signin card',
      method: 'post',
      action: '/ui/session',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        message.textContent = '';
        try {
          await signIn(input.value);
          signInMessage = '';
          renderHeader();
          await render();
        } catch (err) {
          message.textContent = err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : err instanceof Error ? err.message : String(err);
          input.focus();
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Use an operator token: the admin token `sluice server` wrote to DATA_DIR/admin.token, or a named token.'),
    h('label', { for: 'token' }, 'Token'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    message,
  );
  show(form);
  input.focus();
}

whenSignedOut((why) => {
  signInMessage = `You are signed out (${why}).`;
  dispose?.();
  dispose = null;
  renderSignIn();
});

window.addEventListener('hashchange', () => void render());

async function start(): Promise<void> {
  const failed = /signin=(refused|invalid)/.exec(location.hash);
  if (failed) {
    signInMessage = 'That token is not valid.';
    history.replaceState(null, '', '#/rollouts');
  }
  try {
    await loadSession();
  } catch (err) {
    toast(err instanceof Error ? err.message : String(err), 'error');
  }
  renderHeader();
  await render();
}

void start();
