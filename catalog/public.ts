// Which devices the public sees (issue 22): air and flood devices are public unless an admin says otherwise; traffic
// counters are not (they watch streets, and their numbers are the transport agency's to publish). A device's own
// `public` flag, when set, decides.
export function isPublicDevice(device: { kind: string; public?: boolean | null }): boolean {
  return device.public ?? device.kind !== 'traffic';
}
