// The demo fleet in Nusantara (IKN): the city as the simulator places it, and its devices (devices/fleet.ts joins the cities).
import { type City, type FleetDeviceInput, CitySchema } from '../fleet-schema.js';
import { stream } from './ratings.js';

export const city: City = CitySchema.parse({
  name: 'Nusantara',
  prefix: 'ikn',
  center: { lat: -0.97, lon: 116.7 },
  bounds: { south: -1.05, north: -0.88, west: 116.62, east: 116.8 },
  rainFactor: 1,
  hazeFactor: 1.1,
});

export const devices: FleetDeviceInput[] = [
  {
    id: 'ikn-air-01',
    kind: 'air',
    name: 'KIPP Sumbu Kebangsaan (AQMS)',
    city: 'Nusantara',
    district: 'Sepaku',
    location: { lat: -0.9705, lon: 116.7045 },
    model: { station: 'aqms', background: 7, trafficExposure: 5, pm10Ratio: 1.6 },
  },
  {
    id: 'ikn-air-02',
    kind: 'air',
    name: 'Sepaku, Jl. Poros Sepaku',
    city: 'Nusantara',
    district: 'Sepaku',
    location: { lat: -0.9555, lon: 116.7395 },
    model: { station: 'lowcost', background: 9, trafficExposure: 10, pm10Ratio: 1.8, temperatureOffset: 0.4 },
  },
  {
    id: 'ikn-flood-01',
    kind: 'flood',
    name: 'Bendungan Sepaku Semoi',
    city: 'Nusantara',
    district: 'Sepaku',
    location: { lat: -0.926, lon: 116.756 },
    thresholds: { waspada: 520, siaga: 560, awas: 600 },
    model: { baseLevel: 440, wetSeasonRise: 30, rainGain: 3, maxRise: 150, lagHours: 12, rating: { zeroFlowLevel: 480, coefficient: 60, exponent: 1.5 } },
  },
  {
    id: 'ikn-flood-02',
    kind: 'flood',
    name: 'Intake Sungai Sepaku',
    city: 'Nusantara',
    district: 'Sepaku',
    location: { lat: -0.944, lon: 116.762 },
    thresholds: { waspada: 200, siaga: 250, awas: 300 },
    model: { baseLevel: 110, wetSeasonRise: 20, rainGain: 8, maxRise: 220, lagHours: 3, tidalAmplitude: 10, tidalLagHours: 2, rating: stream(40, 14) },
  },
  {
    id: 'ikn-traffic-01',
    kind: 'traffic',
    name: 'Jalan Sumbu Kebangsaan (KIPP)',
    city: 'Nusantara',
    district: 'Sepaku',
    location: { lat: -0.972, lon: 116.707 },
    thresholds: { freeFlowSpeed: 50, capacity: 1800 },
    model: { lanes: 2, peakLoad: 0.45 },
  },
  {
    id: 'ikn-traffic-02',
    kind: 'traffic',
    name: 'Jalan Tol IKN, Simpang KIPP',
    city: 'Nusantara',
    district: 'Sepaku',
    location: { lat: -0.987, lon: 116.723 },
    thresholds: { freeFlowSpeed: 80, capacity: 4000 },
    model: { lanes: 2, peakLoad: 0.35 },
  },
];
