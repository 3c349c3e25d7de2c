/** Proxy metrics: live sessions, bytes relayed, authentication failures, cut-offs by reason. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ProxyMetrics {
  liveSessions: Gauge;
  bytes: Counter<'direction'>;
  authFailures: Counter<'reason'>;
  cutoffs: Counter<'reason'>;
  deviceAuthFailures: Counter;
}

export function createProxyMetrics(registry: Registry): ProxyMetrics {
  return {
    liveSessions: new Gauge({ name: 'portcullis_proxy_live_sessions', help: 'sessions currently relayed', registers: [registry] }),
    bytes: new Counter({ name: 'portcullis_proxy_bytes_total', help: 'bytes relayed', labelNames: ['direction'], registers: [registry] }),
    authFailures: new Counter({ name: 'portcullis_proxy_auth_failures_total', help: 'refused technician authentications', labelNames: ['reason'], registers: [registry] }),
    cutoffs: new Counter({ name: 'portcullis_proxy_cutoffs_total', help: 'sessions cut by the broker', labelNames: ['reason'], registers: [registry] }),
    deviceAuthFailures: new Counter({ name: 'portcullis_proxy_device_auth_failures_total', help: 'devices whose host key did not match', registers: [registry] }),
  };
}
