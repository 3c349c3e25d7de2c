/**
 * The revocation bus on Redis pub/sub, plus the event validation both transports share.
 * Publishing uses one connection; subscribing uses a second one (a Redis connection in subscriber
 * mode can do nothing else), opened on the first subscribe. ioredis re-subscribes after a reconnect.
 * Events published while a subscriber is disconnected are lost: subscribers are told when the
 * subscription is back (proxies then re-read their live grants), and proxies also hold their own
 * timer to each grant's end and re-check live grants periodically, so a missed event never extends access.
 */
import { Redis } from 'ioredis';
import { z } from 'zod';
import type { RevocationBus, RevocationEvent } from '../core/workflow-ports.js';
import type { Logger } from '../logger.js';

export const REDIS_REVOCATION_CHANNEL = 'portcullis:revocations';

const id = z.string().min(1).max(200);
export const revocationEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('grant.ended'), grantIds: z.array(id), reason: z.enum(['expired', 'revoked']), message: z.string(), early: z.literal(true).optional() }),
  z.object({ type: z.literal('grant.extended'), grantId: id, endsAt: z.string().refine((s) => !Number.isNaN(Date.parse(s))) }),
  z.object({ type: z.literal('session.terminate'), sessionId: id, message: z.string() }),
  z.object({ type: z.literal('session.supervision'), sessionId: id }),
]) satisfies z.ZodType<RevocationEvent>;

export type Handler = (event: RevocationEvent) => void;

/** The in-process handler list of one bus: decodes and validates a raw payload, then fans it out. */
export function createSubscribers(log: Logger) {
  const handlers = new Set<Handler>();
  const resubscribedHooks = new Set<() => void>();
  return {
    add(handler: Handler, opts: { onResubscribed?: () => void } = {}): () => void {
      // wrap so the same function subscribed twice gets two independent subscriptions
      const entry: Handler = (e) => handler(e);
      const hook = opts.onResubscribed ? () => opts.onResubscribed!() : null;
      handlers.add(entry);
      if (hook) resubscribedHooks.add(hook);
      return () => {
        handlers.delete(entry);
        if (hook) resubscribedHooks.delete(hook);
      };
    },
    /** the transport has its subscription back after losing it */
    resubscribed(): void {
      for (const hook of resubscribedHooks) {
        try {
          hook();
        } catch (err) {
          log.error({ err }, 'resubscription hook failed');
        }
      }
    },
    deliver(raw: string): void {
      let decoded: unknown;
      try {
        decoded = JSON.parse(raw);
      } catch {
        decoded = undefined;
      }
      const parsed = revocationEventSchema.safeParse(decoded);
      if (!parsed.success) {
        log.warn({ payload: raw.slice(0, 200) }, 'ignoring malformed revocation event');
        return;
      }
      for (const handler of handlers) {
        try {
          handler(parsed.data);
        } catch (err) {
          log.error({ err, type: parsed.data.type }, 'revocation handler failed');
        }
      }
    },
  };
}

export interface ClosableBus extends RevocationBus {
  close(): Promise<void>;
}

export function createRedisBus(opts: { redisUrl: string; logger: Logger; channel?: string }): ClosableBus {
  const channel = opts.channel ?? REDIS_REVOCATION_CHANNEL;
  const log = opts.logger.child({ component: 'revocation-bus', backend: 'redis', channel });
  const subscribers = createSubscribers(log);
  const pub = new Redis(opts.redisUrl, { connectionName: 'portcullis-bus-pub' });
  pub.on('error', (err) => log.warn({ err }, 'redis publisher connection error'));
  let sub: Redis | undefined;
  let subscribed: Promise<void> | undefined;

  function ensureSubscribed(): Promise<void> {
    if (subscribed) return subscribed;
    const conn = new Redis(opts.redisUrl, { connectionName: 'portcullis-bus-sub' });
    conn.on('error', (err) => log.warn({ err }, 'redis subscriber connection error'));
    conn.on('message', (ch: string, message: string) => {
      if (ch === channel) subscribers.deliver(message);
    });
    // ioredis subscribes again on every reconnect; what was published in between is lost
    let connectedOnce = false;
    conn.on('ready', () => {
      if (connectedOnce) {
        log.info('revocation subscriber reconnected');
        subscribers.resubscribed();
      }
      connectedOnce = true;
    });
    sub = conn;
    // SUBSCRIBE resolves on the server's confirmation: from then on every publish reaches us
    subscribed = conn.subscribe(channel).then(
      () => undefined,
      (err: unknown) => {
        subscribed = undefined;
        sub = undefined;
        conn.disconnect();
        throw err;
      },
    );
    return subscribed;
  }

  return {
    async publish(event) {
      await pub.publish(channel, JSON.stringify(event));
    },
    async subscribe(handler, subscribeOpts) {
      const remove = subscribers.add(handler, subscribeOpts);
      try {
        await ensureSubscribed();
      } catch (err) {
        remove();
        throw err;
      }
      return async () => remove();
    },
    async close() {
      await Promise.all([sub?.quit().catch(() => sub?.disconnect()), pub.quit().catch(() => pub.disconnect())]);
    },
  };
}
