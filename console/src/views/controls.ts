// Filter controls shared by the views: a select with its label, and the kinds to choose from.
import { h } from '../dom.js';
import { KIND_LABELS, pick, t } from '../i18n.js';

export function labelledSelect(id: string): [HTMLLabelElement, HTMLSelectElement] {
  return [h('label', { for: id }), h('select', { id })];
}

/** "All" and the three kinds, in the current language, keeping `selected`. */
export function kindOptions(selected: string): HTMLOptionElement[] {
  return [h('option', { value: '' }, t('all')), ...(['air', 'flood', 'traffic'] as const).map((k) => h('option', { value: k, selected: k === selected }, pick(KIND_LABELS[k])))];
}
