// Place names on the map that device dots never cover. After every redraw each name is put at the first of a few
// spots around its place (right, left, above, below, the diagonals, then twice as far) where it overlaps no cluster,
// no device marker and no name already placed; a name with no such spot is hidden until the map moves. Cities are
// placed before regencies, so a crowded view keeps the cities.
import L from 'leaflet';
import { h } from '../dom.js';
import type { Place } from '../places.js';

/** Something drawn on the map, in layer pixels: a dot's centre and radius (with its outline and halo). */
export interface Obstacle {
  x: number;
  y: number;
  r: number;
}

interface Label {
  place: Place;
  el: HTMLElement;
  w: number;
  h: number;
}

const GAP = 6;

function circleHitsRect(c: Obstacle, x: number, y: number, w: number, hgt: number): boolean {
  const nx = Math.max(x, Math.min(c.x, x + w));
  const ny = Math.max(y, Math.min(c.y, y + hgt));
  return (c.x - nx) ** 2 + (c.y - ny) ** 2 < c.r * c.r;
}

export class PlaceLabels {
  private readonly labels: Label[];

  constructor(private readonly map: L.Map, places: readonly Place[], pane: HTMLElement) {
    // cities first: they keep their spot when space runs out
    this.labels = [...places].sort((a, b) => (a.rank === b.rank ? 0 : a.rank === 'city' ? -1 : 1)).map((place) => {
      const el = h('div', { class: `place-label ${place.rank}`, 'data-place': place.name, 'aria-hidden': 'true' }, place.name);
      pane.append(el);
      return { place, el, w: 0, h: 0 };
    });
  }

  /** Places every name clear of `obstacles` (layer pixels). */
  place(obstacles: Obstacle[]): void {
    const zoom = this.map.getZoom();
    const size = this.map.getSize();
    const topLeft = this.map.containerPointToLayerPoint([0, 0]);
    const taken: Array<{ x: number; y: number; w: number; h: number }> = [];
    for (const label of this.labels) {
      const show = label.place.rank === 'city' || zoom >= 7;
      if (!show) {
        label.el.hidden = true;
        continue;
      }
      label.el.hidden = false;
      if (label.w === 0) {
        label.w = label.el.offsetWidth;
        label.h = label.el.offsetHeight;
      }
      const { w, h: ht } = label;
      const p = this.map.latLngToLayerPoint([label.place.lat, label.place.lon]);
      const spots: Array<[number, number]> = [];
      for (const d of [GAP, GAP * 3]) {
        spots.push([p.x + d, p.y - ht / 2], [p.x - d - w, p.y - ht / 2], [p.x - w / 2, p.y - d - ht], [p.x - w / 2, p.y + d], [p.x + d, p.y - d - ht], [p.x + d, p.y + d], [p.x - d - w, p.y - d - ht], [p.x - d - w, p.y + d]);
      }
      const free = spots.find(([x, y]) =>
        x >= topLeft.x && y >= topLeft.y && x + w <= topLeft.x + size.x && y + ht <= topLeft.y + size.y
        && !obstacles.some((o) => circleHitsRect(o, x, y, w, ht))
        && !taken.some((t) => x < t.x + t.w && t.x < x + w && y < t.y + t.h && t.y < y + ht));
      if (!free) {
        label.el.hidden = true;
        continue;
      }
      taken.push({ x: free[0], y: free[1], w, h: ht });
      L.DomUtil.setPosition(label.el, L.point(Math.round(free[0]), Math.round(free[1])));
    }
  }
}
