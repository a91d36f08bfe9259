// Places panels on Grafana's 24-column grid, left to right and top to bottom, and numbers them.
// The SDK's own placement does not wrap a panel that would overflow the row, nor assign ids.
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import {
  type DashboardBuilder,
  type GridPos,
  type Panel,
  RowBuilder,
} from '@grafana/grafana-foundation-sdk/dashboard';

export const GRID_COLUMNS = 24;

/** Any SDK panel builder. */
export interface PlaceablePanel extends Builder<Panel> {
  id(id: number): this;
  gridPos(gridPos: GridPos): this;
}

export class Grid {
  private x = 0;
  private y = 0;
  private lineHeight = 0;
  private nextId = 1;

  constructor(private readonly dashboard: DashboardBuilder) {}

  /** A full-width section header; panels after it start on a new line. */
  row(title: string): this {
    this.newLine();
    this.dashboard.withRow(
      new RowBuilder(title).id(this.nextId++).gridPos({ x: 0, y: this.y, w: GRID_COLUMNS, h: 1 }),
    );
    this.y += 1;
    return this;
  }

  /** Adds a panel `w` columns wide and `h` units high, wrapping to a new line when it does not fit. */
  add(panel: PlaceablePanel, w: number, h: number): this {
    if (w < 1 || w > GRID_COLUMNS) throw new Error(`panel width ${w} is outside 1–${GRID_COLUMNS}`);
    if (this.x + w > GRID_COLUMNS) this.newLine();
    panel.id(this.nextId++).gridPos({ x: this.x, y: this.y, w, h });
    this.dashboard.withPanel(panel);
    this.x += w;
    this.lineHeight = Math.max(this.lineHeight, h);
    return this;
  }

  private newLine(): void {
    if (this.x === 0) return;
    this.y += this.lineHeight;
    this.x = 0;
    this.lineHeight = 0;
  }
}
