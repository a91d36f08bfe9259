// What the offline map names and draws besides the coast: the programme's four cities, the seats of East
// Kalimantan's regencies (named as the official list names them: Kemendagri's codes 64.01–64.11, as the npm package
// `idn-area-data` ships them), and the province's main rivers.
//
// The positions are APPROXIMATE. The cities' are the ones Pantau has always used (docs/console.md); the regency
// seats' and the rivers' are read off public maps to about 0.05° (5 km), and a river is a line through the towns on
// its banks, not a survey: Natural Earth's rivers are not packaged in the npm registry, from which alone Pantau takes
// data at build time. They orient people at zoom 7–11; for street-level detail set PANTAU_MAP_TILES (real tiles),
// which then replaces the coast and the rivers.

export interface Place {
  name: string;
  lat: number;
  lon: number;
  /** 'city' labels always; 'regency' labels from zoom 7, under the cities in priority. */
  rank: 'city' | 'regency';
}

export const PLACES: readonly Place[] = [
  { name: 'Samarinda', lat: -0.5022, lon: 117.1536, rank: 'city' },
  { name: 'Balikpapan', lat: -1.2379, lon: 116.8529, rank: 'city' },
  { name: 'Bontang', lat: 0.1333, lon: 117.5, rank: 'city' },
  // the capital's core area (KIPP) in Sepaku, Penajam Paser Utara
  { name: 'Nusantara', lat: -0.9706, lon: 116.7083, rank: 'city' },
  { name: 'Kutai Kartanegara', lat: -0.42, lon: 116.98, rank: 'regency' }, // seat: Tenggarong
  { name: 'Kutai Timur', lat: 0.5, lon: 117.55, rank: 'regency' }, // Sangatta
  { name: 'Kutai Barat', lat: -0.24, lon: 115.71, rank: 'regency' }, // Sendawar
  { name: 'Mahakam Ulu', lat: 0.6, lon: 115.14, rank: 'regency' }, // Ujoh Bilang
  { name: 'Berau', lat: 2.15, lon: 117.49, rank: 'regency' }, // Tanjung Redeb
  { name: 'Paser', lat: -1.91, lon: 116.2, rank: 'regency' }, // Tanah Grogot
  { name: 'Penajam Paser Utara', lat: -1.3, lon: 116.72, rank: 'regency' }, // Penajam
];

export interface River {
  name: string;
  /** [lat, lon] from source to mouth. */
  line: Array<[number, number]>;
  /** The Mahakam is drawn wider than its tributaries. */
  major: boolean;
}

export const RIVERS: readonly River[] = [
  {
    name: 'Mahakam',
    major: true,
    // Long Bagun, Long Iram, Melak, Muara Muntai, Kota Bangun, Tenggarong, Samarinda, Anggana, the delta
    line: [[0.6, 115.13], [0.25, 115.35], [-0.03, 115.63], [-0.22, 115.82], [-0.33, 116.1], [-0.36, 116.4], [-0.27, 116.58], [-0.36, 116.8], [-0.43, 116.98], [-0.5, 117.08], [-0.507, 117.145], [-0.53, 117.19], [-0.57, 117.26], [-0.62, 117.4], [-0.66, 117.52]],
  },
  {
    name: 'Karang Mumus',
    major: false,
    // Bendung Benanga, Lempake (../shared/DOMAIN.md: −0.4290, 117.1683), Segiri, its mouth in Samarinda
    line: [[-0.385, 117.19], [-0.429, 117.1683], [-0.455, 117.158], [-0.475, 117.152], [-0.4948, 117.1496], [-0.506, 117.151]],
  },
  { name: 'Kelay', major: false, line: [[1.75, 116.85], [1.95, 117.15], [2.1, 117.38], [2.155, 117.49]] },
  { name: 'Berau', major: false, line: [[2.155, 117.49], [2.17, 117.62], [2.1, 117.78], [2.05, 117.9]] },
  { name: 'Kandilo', major: false, line: [[-1.7, 115.9], [-1.82, 116.05], [-1.91, 116.2], [-1.95, 116.32]] },
];
