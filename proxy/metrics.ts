/** Proxy metrics: live sessions, bytes relayed, authentication failures, pre-auth limits, cut-offs by reason. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ProxyMetrics {
  liveSessions: Gauge;
  bytes: Counter<'direction'>;
  authFailures: Counter<'reason'>;
  /** connections closed by a pre-authentication limit: timeout, too_many_attempts, too_many_unauthenticated */
  preauthRefused: Counter<'reason'>;
  cutoffs: Counter<'reason'>;
  deviceAuthFailures: Counter;
  /** periodic grant re-checks that could not read the database */
  recheckFailures: Counter;
}

export function createProxyMetrics(registry: Registry): ProxyMetrics {
  return {
    liveSessions: new Gauge({ name: 'portcullis_proxy_live_sessions', help: 'sessions currently relayed', registers: [registry] }),
    bytes: new Counter({ name: 'portcullis_proxy_bytes_total', help: 'bytes relayed', labelNames: ['direction'], registers: [registry] }),
    authFailures: new Counter({ name: 'portcullis_proxy_auth_failures_total', help: 'refused technician authentications', labelNames: ['reason'], registers: [registry] }),
    preauthRefused: new Counter({ name: 'portcullis_proxy_preauth_refused_total', help: 'SSH connections closed by a pre-authentication limit', labelNames: ['reason'], registers: [registry] }),
    cutoffs: new Counter({ name: 'portcullis_proxy_cutoffs_total', help: 'sessions cut by the broker', labelNames: ['reason'], registers: [registry] }),
    recheckFailures: new Counter({ name: 'portcullis_proxy_grant_recheck_failures_total', help: 'live-grant re-checks that could not read the database', registers: [registry] }),
    deviceAuthFailures: new Counter({ name: 'portcullis_proxy_device_auth_failures_total', help: 'devices whose host key did not match', registers: [registry] }),
  };
}
