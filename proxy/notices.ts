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
  idleWarning: (msLeft: number) =>
    `no input for a while: this session will be closed in ${msLeft >= 60_000 ? `${Math.round(msLeft / 60_000)} minute${msLeft >= 90_000 ? 's' : ''}` : `${Math.round(msLeft / 1000)} seconds`} unless you type something`,
  idle: (minutes: number) => `no input for ${minutes >= 1 ? `${+minutes.toFixed(2)} minute${minutes === 1 ? '' : 's'}` : `${Math.round(minutes * 60)} seconds`}: session closed (the access grant stays; you can reconnect)`,
  supervisionHeld: (department: string, command: boolean) =>
    `waiting for a supervisor from ${department}: ${command ? 'the command runs' : 'your input is passed on'} once one watches this session`,
  inputDiscarded: (department: string) => `input held until a supervisor from ${department} watches: what you type now is discarded`,
  supervisorJoined: (name: string) => `${name} is now supervising this session`,
  supervisorLeft: (name: string) => `${name} stopped supervising this session`,
  supervised: (names: string[]) => `supervised by ${names.join(', ')}: your input is passed on`,
  notAllowed: (what: string) => `${what} is not allowed on this device by policy`,
};

/** A notice as terminal bytes: on its own line, never mistaken for device output. */
export function terminalLine(text: string): string {
  return `\r\n\x1b[1;33m[portcullis]\x1b[0m ${text}\r\n`;
}
