// The console's shell: sign-in, the top bar (navigation, language, sign-out, live state) and client-side routing
// between Peta (/), Peringatan (/alerts), Perangkat (/devices/{id}) and Ringkasan (/summary).
import 'leaflet/dist/leaflet.css';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { ApiError, currentSession, loadSession, signIn, signOut, SSO_LOGIN, ssoEnabled, takeSsoError, whenSignedOut } from './api.js';
import { installColourClasses } from './colors.js';
import { h } from './dom.js';
import { lang, onLangChange, roleLabel, setLang, t } from './i18n.js';
import { inApp, setRouter } from './nav.js';
import { store } from './store.js';
import { alertsView } from './views/alerts.js';
import { deviceView } from './views/device.js';
import { mapView } from './views/map.js';
import { summaryView } from './views/summary.js';

export interface View {
  el: HTMLElement;
  /** Re-labels the view after a language switch. */
  relabel(): void;
  destroy(): void;
}

const app = document.getElementById('app')!;
let view: View | null = null;
let shell: { main: HTMLElement; relabel(): void; setLive(): void; setBadge(): void } | null = null;

document.documentElement.lang = lang();
installColourClasses();

function route(): void {
  if (!shell) return;
  view?.destroy();
  const path = location.pathname;
  const device = /^\/devices\/([^/]+)$/.exec(path);
  view = path === '/alerts' ? alertsView() : path === '/summary' ? summaryView() : device ? deviceView(decodeURIComponent(device[1]!)) : mapView();
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
  const who = h('span', { class: 'who' });
  const brand = inApp(h('a', { href: '/', class: 'brand' }));
  const main = h('main', { id: 'main', tabindex: '-1' });
  const skip = h('a', { href: '#main', class: 'skip' });
  const header = h('header', { class: 'top' }, brand, h('nav', { 'aria-label': 'Pantau' }, link('/', 'nav-map', 'navMap'), alertsLink, link('/summary', 'nav-summary', 'navSummary')), h('div', { class: 'tools' }, live, who, langButton, logout));
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
    who.textContent = `${session.keyName} · ${roleLabel(session.role)}`;
    setLive();
    setBadge();
  };
  relabel();
  shell = { main, relabel, setLive, setBadge };
}

function showSignIn(): void {
  view?.destroy();
  view = null;
  shell = null;
  store.stop();
  const input = h('input', { id: 'login-key', type: 'password', autocomplete: 'off', 'data-testid': 'login-key', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'error', 'data-testid': 'login-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', 'data-testid': 'login-submit' });
  const label = h('label', { for: 'login-key' });
  const title = h('h1');
  const help = h('p', { class: 'help' });
  const toggle = h('button', { type: 'button', 'data-testid': 'lang-toggle', class: 'ghost' });
  toggle.addEventListener('click', () => setLang(lang() === 'id' ? 'en' : 'id'));
  // single sign-on: a plain link, because the provider's page is a full navigation (shown only when Pantau offers it)
  const sso = h('a', { href: SSO_LOGIN, class: 'sso', 'data-testid': 'login-sso', hidden: true });
  const relabel = () => {
    document.title = t('appName');
    title.textContent = t('signInTitle');
    help.textContent = t('signInHelp');
    label.textContent = t('apiKey');
    submit.textContent = t('signIn');
    sso.textContent = t('signInSso');
    toggle.textContent = t('langToggle');
    toggle.setAttribute('aria-label', t('langToggleLabel'));
  };
  relabel();
  signInRelabel = relabel;
  const form = h('form', { class: 'signin', novalidate: true }, title, help, label, input, submit, sso, error);
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
    signIn(input.value.trim())
      .then(() => {
        input.value = '';
        return startSignedIn();
      })
      .catch((err: unknown) => {
        error.textContent = err instanceof ApiError && err.status === 401 ? t('badKey') : err instanceof ApiError && err.status === 429 ? t('tooMany') : `${t('failed')}: ${(err as Error).message}`;
        error.hidden = false;
        input.focus();
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  app.replaceChildren(h('main', { class: 'signin-page' }, h('div', { class: 'signin-lang' }, toggle), form));
  input.focus();
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

loadSession()
  .then((s) => (s ? startSignedIn() : showSignIn()))
  .catch((err: Error) => {
    app.replaceChildren(h('p', { class: 'error', role: 'alert' }, `${t('failed')}: ${err.message}`));
  });
