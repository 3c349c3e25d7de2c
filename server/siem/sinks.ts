/**
 * The two kinds of SIEM sink: syslog (RFC 5424 over TCP/TLS, octet-counted) and Splunk's HTTP Event
 * Collector. A sink delivers one batch, in order, or throws; it never drops part of a batch.
 */
import os from 'node:os';
import { formatEvent, formatEventText } from './formats.js';
import type { SiemEvent, SiemFormat } from './siem-event.js';
import { octetFrame, syslogMessage } from './syslog.js';
import { createSyslogConnection, type SyslogTarget } from './syslog-transport.js';

export interface SiemSink {
  /** the cursor's name: `syslog` or `hec` */
  name: string;
  deliver(events: SiemEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface SinkFormat {
  format: SiemFormat;
  productVersion: string;
  hostname?: string;
}

export function syslogSink(target: SyslogTarget, f: SinkFormat, name = 'syslog'): SiemSink {
  const conn = createSyslogConnection(target);
  const hostname = f.hostname ?? os.hostname();
  return {
    name,
    async deliver(events) {
      const frames = events.map((e) => octetFrame(syslogMessage({
        at: e.event.at, hostname, action: e.event.action, msg: formatEventText(f.format, e, f.productVersion),
      })));
      await conn.send(Buffer.concat(frames));
    },
    close: () => conn.close(),
  };
}

/**
 * Splunk HEC: one POST per batch to the URL as given (normally `https://splunk:8088/services/collector/event`),
 * `Authorization: Splunk <token>`, the events as concatenated JSON objects. Anything but a 2xx is a failure
 * and the whole batch is sent again.
 */
export function hecSink(opts: { url: string; token: string; timeoutMs?: number }, f: SinkFormat, name = 'hec'): SiemSink {
  const host = f.hostname ?? os.hostname();
  return {
    name,
    async deliver(events) {
      const body = events.map((e) => JSON.stringify({
        time: e.event.at.getTime() / 1000,
        host,
        source: 'portcullis',
        sourcetype: `portcullis:audit:${f.format}`,
        event: formatEvent(f.format, e, f.productVersion),
        fields: { seq: e.event.seq, action: e.event.action, ...(e.device ? { device: e.device.name } : {}) },
      })).join('\n');
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: { authorization: `Splunk ${opts.token}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
      const text = await res.text().catch(() => '');
      if (!res.ok) throw new Error(`HEC answered ${res.status}: ${text.slice(0, 200)}`);
    },
    async close() {},
  };
}
