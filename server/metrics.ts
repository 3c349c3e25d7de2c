/** The Prometheus registry shared by every role of this process. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { PublishStats } from './bus/publish-retry.js';
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

export function createMetrics(sources: { busPublish?: PublishStats } = {}): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_' });
  new Gauge({
    name: 'portcullis_ssh_crypto_binding',
    help: '1 when ssh2 uses its native crypto binding',
    registers: [registry],
  }).set(sshCryptoBindingAvailable() ? 1 : 0);
  const busPublish = sources.busPublish;
  if (busPublish) {
    // read from the bus's own counts at scrape time
    new Counter({
      name: 'portcullis_revocation_publish_failures_total', help: 'revocation publishes that failed, by outcome (retried, given_up)',
      labelNames: ['outcome'], registers: [registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'retried' }, busPublish.failedAttempts - busPublish.givenUp);
        this.inc({ outcome: 'given_up' }, busPublish.givenUp);
      },
    });
  }
  return registry;
}
