// Filter controls shared by the views: a select with its label (kept together), and the kinds to choose from.
import { h } from '../dom.js';
import { KIND_LABELS, pick, t } from '../i18n.js';

export function labelledSelect(id: string): [HTMLLabelElement, HTMLSelectElement] {
  return [h('label', { for: id }), h('select', { id })];
}

/** A label and its select kept on one line when the controls wrap (a phone, a tablet). */
export const field = (label: HTMLLabelElement, select: HTMLSelectElement): HTMLSpanElement => h('span', { class: 'field' }, label, select);

/** "All" and the three kinds, in the current language, keeping `selected`. */
export function kindOptions(selected: string): HTMLOptionElement[] {
  return [h('option', { value: '' }, t('all')), ...(['air', 'flood', 'traffic'] as const).map((k) => h('option', { value: k, selected: k === selected }, pick(KIND_LABELS[k])))];
}
