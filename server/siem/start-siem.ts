/**
 * The worker's SIEM streaming (§8.7): one delivery loop per configured sink (SIEM_SYSLOG_URL,
 * SIEM_HEC_URL), its lag and failures on the process's Prometheus registry.
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { startDeliveryLoop, type DeliveryLoop, type DeliveryOptions } from './delivery.js';
import { hecSink, syslogSink, type SiemSink } from './sinks.js';
import { parseSyslogUrl } from './syslog-transport.js';

export type SiemConfig = Config['siem'];

/** The sinks the configuration asks for; throws when a setting cannot be used. */
export function sinksFromConfig(siem: SiemConfig, productVersion: string): SiemSink[] {
  const sinks: SiemSink[] = [];
  const f = { format: siem.format, productVersion };
  if (siem.syslogUrl) {
    const target = parseSyslogUrl(siem.syslogUrl);
    if (!target) throw new Error('SIEM_SYSLOG_URL must be tcp://host:port or tls://host:port');
    const ca = siem.tlsCa ? readFileSync(siem.tlsCa, 'utf8') : undefined;
    sinks.push(syslogSink({ ...target, ca }, f));
  }
  if (siem.hecUrl) {
    if (!siem.hecToken) throw new Error('SIEM_HEC_URL is set without SIEM_HEC_TOKEN');
    sinks.push(hecSink({ url: siem.hecUrl, token: siem.hecToken }, f));
  }
  return sinks;
}

/** Registers the SIEM metrics, read from the loops at scrape time. */
export function registerSiemMetrics(registry: Registry, loops: () => DeliveryLoop[]): void {
  new Gauge({
    name: 'portcullis_siem_lag_events', help: 'audit events not yet delivered to the SIEM sink', labelNames: ['sink'], registers: [registry],
    collect() {
      this.reset();
      for (const l of loops()) this.set({ sink: l.sink }, l.lag());
    },
  });
  new Counter({
    name: 'portcullis_siem_delivery_failures_total', help: 'SIEM deliveries that failed and were retried', labelNames: ['sink'], registers: [registry],
    collect() {
      this.reset();
      for (const l of loops()) this.inc({ sink: l.sink }, l.failures());
    },
  });
  new Counter({
    name: 'portcullis_siem_delivered_events_total', help: 'audit events delivered to the SIEM sink by this process', labelNames: ['sink'], registers: [registry],
    collect() {
      this.reset();
      for (const l of loops()) this.inc({ sink: l.sink }, l.delivered());
    },
  });
}

export interface SiemStreaming {
  loops: DeliveryLoop[];
  close(): Promise<void>;
}

export function startSiemStreaming(
  deps: { pool: Pool; logger: Logger; registry: Registry },
  sinks: SiemSink[],
  opts: DeliveryOptions = {},
): SiemStreaming {
  const loops = sinks.map((s) => startDeliveryLoop(deps.pool, s, deps.logger.child({ component: 'siem', sink: s.name }), opts));
  registerSiemMetrics(deps.registry, () => loops);
  if (loops.length > 0) deps.logger.info({ sinks: loops.map((l) => l.sink) }, 'siem streaming');
  return {
    loops,
    async close() {
      await Promise.all(loops.map((l) => l.close()));
    },
  };
}
