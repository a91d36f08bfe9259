// Client-side navigation: views link with `navigate`, the shell decides what a path shows.
let router: () => void = () => undefined;

export function setRouter(fn: () => void): void {
  router = fn;
}

export function navigate(path: string): void {
  if (location.pathname !== path) history.pushState(null, '', path);
  router();
}

/** Makes a plain link navigate inside the app (a modified click still opens a new tab). */
export function inApp<T extends HTMLAnchorElement>(a: T): T {
  a.addEventListener('click', (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(a.getAttribute('href')!);
  });
  return a;
}
