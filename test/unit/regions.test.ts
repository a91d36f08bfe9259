// Kemendagri codes from idn-area-data's list (catalog/regions.ts).
import { describe, expect, it } from 'vitest';
import { regionOfCity } from '../../catalog/regions.js';
import { isPublicDevice } from '../../catalog/public.js';

describe('regionOfCity', () => {
  it('gives the official codes of the Kaltim cities devices carry', () => {
    expect(regionOfCity('Samarinda')).toEqual({ code: '64.72', name: 'Kota Samarinda', provinceCode: '64' });
    expect(regionOfCity('Balikpapan')?.code).toBe('64.71');
    expect(regionOfCity('BONTANG')?.code).toBe('64.74');
    expect(regionOfCity('Kota Bontang')?.code).toBe('64.74');
    expect(regionOfCity('Kutai Kartanegara')?.code).toBe('64.02');
    expect(regionOfCity('Nusantara')).toMatchObject({ code: '64.09', name: 'Kabupaten Penajam Paser Utara' });
  });

  it('prefers Kalimantan Timur, then a Kota; knows nothing it cannot find', () => {
    expect(regionOfCity('Bogor')?.name).toBe('Kota Bogor');
    expect(regionOfCity('Atlantis')).toBeUndefined();
  });
});

describe('isPublicDevice', () => {
  it('air and flood by default, traffic not; the device\'s own flag decides when set', () => {
    expect(isPublicDevice({ kind: 'air' })).toBe(true);
    expect(isPublicDevice({ kind: 'flood', public: null })).toBe(true);
    expect(isPublicDevice({ kind: 'traffic' })).toBe(false);
    expect(isPublicDevice({ kind: 'flood', public: false })).toBe(false);
    expect(isPublicDevice({ kind: 'traffic', public: true })).toBe(true);
  });
});
