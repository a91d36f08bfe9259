// A tiny element builder: no framework, no innerHTML with data (text goes in as text).
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** A coloured chip; its colours go through the CSSOM (allowed under a CSP without 'unsafe-inline'). */
export function chip(text: string, bg: string, fg: string, attrs: Attrs = {}): HTMLSpanElement {
  const el = h('span', { class: 'chip', ...attrs }, text);
  el.style.background = bg;
  el.style.color = fg;
  return el;
}

/** Text made safe for HTML text and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
