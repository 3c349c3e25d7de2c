/** What the technician reads in their terminal when the broker speaks. One place, one tone. */

const hhmm = (d: Date) => d.toISOString().slice(11, 16);

export const notice = {
  warning: (minutesLeft: number, endsAt: Date) =>
    `access to this device ends in ${minutesLeft >= 1 ? `${minutesLeft} minute${minutesLeft === 1 ? '' : 's'}` : `${Math.round(minutesLeft * 60)} seconds`} (at ${hhmm(endsAt)} UTC); ask for an extension if you need more time`,
  extended: (endsAt: Date) => `access extended until ${hhmm(endsAt)} UTC`,
  expired: 'the approved access window has ended; disconnecting',
  revoked: (message: string) => `access revoked: ${message}; disconnecting`,
  terminated: (message: string) => `session ${message}; disconnecting`,
  deviceUnverified: 'the device could not be verified (host key mismatch); connection refused and reported',
  deviceUnreachable: 'the device could not be reached; try again later',
  notAllowed: (what: string) => `${what} is not allowed on this device by policy`,
};

/** A notice as terminal bytes: on its own line, never mistaken for device output. */
export function terminalLine(text: string): string {
  return `\r\n\x1b[1;33m[portcullis]\x1b[0m ${text}\r\n`;
}
