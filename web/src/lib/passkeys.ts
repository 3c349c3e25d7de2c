// Passkeys through @simplewebauthn/browser: the options come from the broker, the browser talks to the
// authenticator, the response goes back to the broker, which alone decides. What this adds is words for
// people: a cancelled prompt, an unknown passkey or a browser without WebAuthn each say what to do next.
import {
  browserSupportsWebAuthn,
  startAuthentication,
  startRegistration,
  WebAuthnError,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/browser';

/** A passkey ceremony that did not happen: its message is meant for the user. */
export class PasskeyProblem extends Error {}

export const passkeysSupported = (): boolean => browserSupportsWebAuthn();

/** Signs the broker's challenge with one of the user's passkeys. */
export async function signWithPasskey(optionsJSON: PublicKeyCredentialRequestOptionsJSON): Promise<AuthenticationResponseJSON> {
  if (!passkeysSupported()) throw new PasskeyProblem('This browser cannot use passkeys. Use a code from your authenticator app instead.');
  try {
    return await startAuthentication({ optionsJSON });
  } catch (e) {
    throw new PasskeyProblem(problem(e, 'use'));
  }
}

/** Creates a new passkey for the broker's registration options. */
export async function createPasskey(optionsJSON: PublicKeyCredentialCreationOptionsJSON): Promise<RegistrationResponseJSON> {
  if (!passkeysSupported()) throw new PasskeyProblem('This browser cannot create passkeys. Set up an authenticator app instead.');
  try {
    return await startRegistration({ optionsJSON });
  } catch (e) {
    throw new PasskeyProblem(problem(e, 'create'));
  }
}

function problem(e: unknown, what: 'use' | 'create'): string {
  const name = e instanceof Error ? e.name : '';
  if (e instanceof WebAuthnError && e.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') {
    return 'This passkey is already registered to your account.';
  }
  if (e instanceof WebAuthnError && (e.code === 'ERROR_INVALID_DOMAIN' || e.code === 'ERROR_INVALID_RP_ID')) {
    return 'Passkeys do not work at this address of the console; ask your administrator, or use a code instead.';
  }
  if (name === 'NotAllowedError' || name === 'AbortError') {
    return what === 'use'
      ? 'The passkey prompt was closed or timed out, or this device has no passkey for your account. Try again, or use a code instead.'
      : 'The passkey prompt was closed or timed out. Try again when you are ready.';
  }
  return `The passkey did not work${e instanceof Error && e.message ? `: ${e.message}` : '.'}`;
}
