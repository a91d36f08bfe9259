// The Kaltim demo fleet: air-quality stations, river and street-flood gauges and traffic counters in Samarinda,
// Balikpapan, Bontang and Nusantara (IKN), at real places. Positions are approximate (a few hundred metres) but
// on land and inside the city; districts are the real kecamatan. Flood thresholds follow the style of the BPBD
// gauges (Bendung Benanga: siaga 775 cm, awas 825 cm, normal 720–770 cm); others are plausible for their site.
import { type CityName, type City, type FleetDevice, FleetSchema } from './fleet-schema.js';
import * as balikpapan from './fleet/balikpapan.js';
import * as bontang from './fleet/bontang.js';
import * as nusantara from './fleet/nusantara.js';
import * as samarinda from './fleet/samarinda.js';

// One file per city under fleet/, each with the city's bounds and its devices.
export const CITIES: Readonly<Record<CityName, City>> = {
  Samarinda: samarinda.city,
  Balikpapan: balikpapan.city,
  Bontang: bontang.city,
  Nusantara: nusantara.city,
};

/** The whole demo fleet, validated (a typo here stops the simulator with the zod message). */
export const FLEET: readonly FleetDevice[] = FleetSchema.parse([...samarinda.devices, ...balikpapan.devices, ...bontang.devices, ...nusantara.devices]);
