// What the shell asks of every view (Peta, Peringatan, Perangkat, Ringkasan): its element, a re-label after a
// language switch, and a clean-up when the route changes. A module of its own below both the shell (main.ts) and
// the views, so that neither imports the other's file for it.
export interface View {
  el: HTMLElement;
  /** Re-labels the view after a language switch. */
  relabel(): void;
  destroy(): void;
}
