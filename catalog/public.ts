// Which devices the public sees (issue 22): air and flood devices are public unless an admin says otherwise; traffic
// counters are not (they watch streets, and their numbers are the transport agency's to publish). A device's own
// `public` flag, when set, decides.
export function isPublicDevice(device: { kind: string; public?: boolean | null }): boolean {
  return device.public ?? device.kind !== 'traffic';
}

/** Words of the public warnings (docs/public.md): what a flood or haze alert is called on the citizens' page. */
export const PUBLIC_WARNING_WORDS = {
  flood: { id: 'Peringatan banjir', en: 'Flood warning' },
  haze: { id: 'Peringatan kabut asap', en: 'Haze warning' },
} as const;
