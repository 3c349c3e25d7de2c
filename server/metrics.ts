/** The Prometheus registry shared by every role of this process. */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** ssh2's native crypto binding: without it the proxy falls back to slow JS ciphers (FIELD-NOTES). */
export function sshCryptoBindingAvailable(): boolean {
  try {
    return Boolean(require('ssh2/lib/protocol/crypto').bindingAvailable);
  } catch {
    return false;
  }
}

export function createMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_' });
  new Gauge({
    name: 'portcullis_ssh_crypto_binding',
    help: '1 when ssh2 uses its native crypto binding',
    registers: [registry],
  }).set(sshCryptoBindingAvailable() ? 1 : 0);
  return registry;
}
