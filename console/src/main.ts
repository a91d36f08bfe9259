// The console's shell: sign-in (username and password, or an API key), the page where a person sets their password
// from their one-time link (/set-password), the top bar (navigation, language, who is signed in, sign-out, live
// state) and client-side routing between Peta (/), Peringatan (/alerts), Perangkat (/devices/{id}), Ringkasan
// (/summary) and, for admins, Platform (/platform: the cluster's health).
import 'leaflet/dist/leaflet.css';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { ApiError, currentSession, loadSession, setPassword, signIn, signOut, SSO_LOGIN, ssoEnabled, takeSsoError, whenSignedOut } from './api.js';
import { installColourClasses } from './colors.js';
import { h } from './dom.js';
import { time } from './format.js';
import { lang, onLangChange, roleLabel, setLang, t } from './i18n.js';
import { inApp, setRouter } from './nav.js';
import { store } from './store.js';
import { alertsView } from './views/alerts.js';
import { deviceView } from './views/device.js';
import { mapView } from './views/map.js';
import { platformView } from './views/platform.js';
import { summaryView } from './views/summary.js';
import type { View } from './view.js';


const app = document.getElementById('app')!;
let view: View | null = null;
let shell: { main: HTMLElement; relabel(): void; setLive(): void; setBadge(): void } | null = null;

document.documentElement.lang = lang();
installColourClasses();

function route(): void {
  if (!shell) return;
  view?.destroy();
  // a notification's link (`/#/alerts/<id>`) opens that alert's panel on Peringatan
  const linked = /^#\/alerts\/([A-Za-z0-9-]+)$/.exec(location.hash);
  if (linked) history.replaceState(null, '', `/alerts#${linked[1]}`);
  const path = location.pathname;
  const device = /^\/devices\/([^/]+)$/.exec(path);
  view = path === '/alerts' ? alertsView() : path === '/summary' ? summaryView() : path === '/platform' ? platformView() : device ? deviceView(decodeURIComponent(device[1]!)) : mapView();
  shell.main.replaceChildren(view.el);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (a.getAttribute('href') === (device ? '/' : path)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function link(href: string, testid: string, key: Parameters<typeof t>[0]): HTMLAnchorElement {
  return inApp(h('a', { href, 'data-testid': testid, 'data-label': key }, t(key)));
}

function renderShell(): void {
  const session = currentSession()!;
  const badge = h('span', { class: 'badge', 'aria-live': 'polite' });
  const alertsLink = link('/alerts', 'nav-alerts', 'navAlerts');
  alertsLink.append(badge);
  const live = h('span', { class: 'live', role: 'status' });
  const langButton = h('button', { type: 'button', 'data-testid': 'lang-toggle', class: 'ghost' });
  langButton.addEventListener('click', () => setLang(lang() === 'id' ? 'en' : 'id'));
  const logout = h('button', { type: 'button', 'data-testid': 'logout', class: 'ghost' });
  logout.addEventListener('click', () => void signOut().finally(showSignIn));
  const who = h('span', { class: 'who', 'data-testid': 'whoami' });
  const brand = inApp(h('a', { href: '/', class: 'brand' }));
  const main = h('main', { id: 'main', tabindex: '-1' });
  const skip = h('a', { href: '#main', class: 'skip' });
  // the cluster's health is for admins: others are not offered the page (its route tells them why if typed)
  const platformLink = session.role === 'admin' ? link('/platform', 'nav-platform', 'navPlatform') : null;
  const header = h('header', { class: 'top' }, brand, h('nav', { 'aria-label': 'Pantau' }, link('/', 'nav-map', 'navMap'), alertsLink, link('/summary', 'nav-summary', 'navSummary'), platformLink), h('div', { class: 'tools' }, live, who, langButton, logout));
  app.replaceChildren(skip, header, main);
  const setLive = () => {
    live.textContent = store.connected ? `● ${t('live')}` : `○ ${t('reconnecting')}`;
    live.classList.toggle('down', !store.connected);
  };
  const setBadge = () => {
    let open = 0;
    for (const a of store.alerts.values()) if (a.state === 'open') open++;
    badge.textContent = open > 0 ? String(open) : '';
    badge.hidden = open === 0;
    badge.setAttribute('aria-label', `${open} ${t('stateOpen')}`);
  };
  const relabel = () => {
    document.title = t('appName');
    brand.textContent = t('appName');
    skip.textContent = t('skip');
    for (const a of header.querySelectorAll<HTMLAnchorElement>('a[data-label]')) a.firstChild!.textContent = t(a.dataset.label as Parameters<typeof t>[0]);
    langButton.textContent = t('langToggle');
    langButton.setAttribute('aria-label', t('langToggleLabel'));
    logout.textContent = t('signOut');
    // a person by their name; a key by its name, said to be a key (the bootstrap key is no person)
    who.textContent = `${session.type === 'key' ? `${t('apiKeyNamed')}: ` : ''}${session.name} · ${roleLabel(session.role)}`;
    setLive();
    setBadge();
  };
  relabel();
  shell = { main, relabel, setLive, setBadge };
}

/** Why a sign-in was refused, in words (wrong, locked until when, disabled, too many tries). */
function signInError(err: unknown, mode: 'password' | 'key'): string {
  if (!(err instanceof ApiError)) return `${t('failed')}: ${(err as Error).message}`;
  if (err.status === 401) return mode === 'key' ? t('badKey') : t('badPassword');
  if (err.status === 423) return `${t('locked')} ${time(String(err.extra.lockedUntil ?? ''))}.`;
  if (err.status === 403 && err.slug === 'account-disabled') return t('disabled');
  if (err.status === 429) return t('tooMany');
  return `${t('failed')}: ${err.message}`;
}

/** A labelled input for the sign-in and password forms. */
function field(id: string, type: 'text' | 'password', autocomplete: string): { label: HTMLLabelElement; input: HTMLInputElement } {
  return {
    label: h('label', { for: id }),
    input: h('input', { id, type, autocomplete, 'data-testid': id, required: true, spellcheck: 'false', autocapitalize: 'none' }),
  };
}

/** The sign-in page: username and password, or (secondary) an API key. */
function showSignIn(mode: 'password' | 'key' = 'password'): void {
  view?.destroy();
  view = null;
  shell = null;
  store.stop();
  const username = field('login-username', 'text', 'username');
  const password = field('login-password', 'password', 'current-password');
  const key = field('login-key', 'password', 'off');
  const error = h('p', { class: 'error', 'data-testid': 'login-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', 'data-testid': 'login-submit' });
  const title = h('h1');
  const help = h('p', { class: 'help' });
  const other = h('button', { type: 'button', class: 'link', 'data-testid': mode === 'password' ? 'login-use-key' : 'login-use-password' });
  other.addEventListener('click', () => showSignIn(mode === 'password' ? 'key' : 'password'));
  const toggle = h('button', { type: 'button', 'data-testid': 'lang-toggle', class: 'ghost' });
  toggle.addEventListener('click', () => setLang(lang() === 'id' ? 'en' : 'id'));
  // single sign-on: a plain link, because the provider's page is a full navigation (shown only when Pantau offers it)
  const sso = h('a', { href: SSO_LOGIN, class: 'sso', 'data-testid': 'login-sso', hidden: true });
  const relabel = () => {
    document.title = t('appName');
    title.textContent = t('signInTitle');
    help.textContent = mode === 'password' ? t('signInHelpPassword') : t('signInHelp');
    username.label.textContent = t('username');
    password.label.textContent = t('password');
    key.label.textContent = t('apiKey');
    submit.textContent = t('signIn');
    other.textContent = mode === 'password' ? t('useKey') : t('usePassword');
    sso.textContent = t('signInSso');
    toggle.textContent = t('langToggle');
    toggle.setAttribute('aria-label', t('langToggleLabel'));
  };
  relabel();
  signInRelabel = relabel;
  const fields = mode === 'password' ? [username.label, username.input, password.label, password.input] : [key.label, key.input];
  const form = h('form', { class: 'signin', novalidate: true }, title, help, ...fields, submit, sso, error, other);
  void ssoEnabled().then((on) => (sso.hidden = !on), () => undefined);
  const ssoError = takeSsoError();
  if (ssoError) {
    error.textContent = t(ssoError);
    error.hidden = false;
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    const credentials = mode === 'password' ? { username: username.input.value.trim().toLowerCase(), password: password.input.value } : { key: key.input.value.trim() };
    signIn(credentials)
      .then((session) => {
        password.input.value = '';
        key.input.value = '';
        // a person's own language, once, as they sign in; the toggle still changes it afterwards
        if (session.language && session.language !== lang()) setLang(session.language);
        return startSignedIn();
      })
      .catch((err: unknown) => {
        error.textContent = signInError(err, mode);
        error.hidden = false;
        (mode === 'password' ? password.input : key.input).focus();
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  app.replaceChildren(h('main', { class: 'signin-page' }, h('div', { class: 'signin-lang' }, toggle), form));
  (mode === 'password' ? username.input : key.input).focus();
}

/** Why a password could not be set, in words. */
function setPasswordError(err: unknown): string {
  if (!(err instanceof ApiError)) return `${t('failed')}: ${(err as Error).message}`;
  switch (err.slug) {
    case 'link-invalid': return t('linkInvalid');
    case 'link-used': return t('linkUsed');
    case 'link-replaced': return t('linkReplaced');
    case 'link-expired': return t('linkExpired');
    case 'weak-password': return /username/.test(err.message) ? t('passwordHasUsername') : t('passwordTooShort');
  }
  return err.status === 429 ? t('tooMany') : `${t('failed')}: ${err.message}`;
}

/** `/set-password#<token>`: a person sets their password from the one-time link an admin gave them. */
function showSetPassword(): void {
  const token = decodeURIComponent(location.hash.slice(1));
  // the token leaves the address bar and the history entry at once; it lives on in this function only
  if (location.hash) history.replaceState(null, '', location.pathname);
  const first = field('setpw-password', 'password', 'new-password');
  const second = field('setpw-confirm', 'password', 'new-password');
  const error = h('p', { class: 'error', 'data-testid': 'setpw-error', role: 'alert', hidden: !!token });
  const submit = h('button', { type: 'submit', 'data-testid': 'setpw-submit', disabled: !token });
  const title = h('h1');
  const help = h('p', { class: 'help' });
  const done = h('p', { 'data-testid': 'setpw-done', role: 'status', hidden: true });
  const toSignIn = h('a', { href: '/', 'data-testid': 'setpw-signin' });
  const toggle = h('button', { type: 'button', 'data-testid': 'lang-toggle', class: 'ghost' });
  toggle.addEventListener('click', () => setLang(lang() === 'id' ? 'en' : 'id'));
  let message: Parameters<typeof t>[0] | null = token ? null : 'linkMissing';
  let problem = '';
  const relabel = () => {
    document.title = t('appName');
    title.textContent = t('setPasswordTitle');
    help.textContent = t('setPasswordHelp');
    first.label.textContent = t('newPassword');
    second.label.textContent = t('confirmPassword');
    submit.textContent = t('savePassword');
    done.textContent = t('passwordSet');
    toSignIn.textContent = t('goToSignIn');
    toggle.textContent = t('langToggle');
    toggle.setAttribute('aria-label', t('langToggleLabel'));
    error.textContent = message ? t(message) : problem;
  };
  relabel();
  signInRelabel = relabel;
  const form = h('form', { class: 'signin', novalidate: true }, title, help, first.label, first.input, second.label, second.input, submit, error);
  const fail = (text: Parameters<typeof t>[0] | null, detail = '') => {
    message = text;
    problem = detail;
    error.textContent = text ? t(text) : detail;
    error.hidden = false;
    first.input.focus();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.hidden = true;
    if (first.input.value.length < 12) return fail('passwordTooShort');
    if (first.input.value !== second.input.value) return fail('passwordMismatch');
    submit.disabled = true;
    setPassword(token, first.input.value)
      .then(() => {
        first.input.value = '';
        second.input.value = '';
        form.replaceChildren(title, done, toSignIn);
        done.hidden = false;
        toSignIn.focus();
      })
      .catch((err: unknown) => {
        submit.disabled = false;
        fail(null, setPasswordError(err));
      });
  });
  app.replaceChildren(h('main', { class: 'signin-page' }, h('div', { class: 'signin-lang' }, toggle), form));
  if (token) first.input.focus();
}

let signInRelabel: (() => void) | null = null;

async function startSignedIn(): Promise<void> {
  signInRelabel = null;
  renderShell();
  shell!.main.replaceChildren(h('p', { class: 'loading' }, t('loading')));
  await store.start();
  route();
}

store.on((what) => {
  if (what === 'live') shell?.setLive();
  if (what === 'alerts') shell?.setBadge();
});
onLangChange(() => {
  if (shell) {
    shell.relabel();
    view?.relabel();
  } else signInRelabel?.();
});
whenSignedOut(() => showSignIn());
window.addEventListener('popstate', route);
setRouter(route);

if (location.pathname === '/set-password') {
  showSetPassword();
  // another link opened in this tab is a fragment change of the same page, not a new load
  window.addEventListener('hashchange', () => {
    if (location.pathname === '/set-password' && location.hash.length > 1) showSetPassword();
  });
} else {
  loadSession()
    .then((s) => (s ? startSignedIn() : showSignIn()))
    .catch((err: Error) => {
      app.replaceChildren(h('p', { class: 'error', role: 'alert' }, `${t('failed')}: ${err.message}`));
    });
}
