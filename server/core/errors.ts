/**
 * The one error type of the domain. Every transport maps `kind` once:
 * HTTP status, SSH refusal, WebSocket close code. The message is safe to show
 * to the caller; it never carries secrets.
 */
export type ErrorKind = 'invalid' | 'unauthenticated' | 'forbidden' | 'not_found' | 'conflict' | 'throttled';

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const invalid = (message: string, details?: Record<string, unknown>) =>
  new AppError('invalid', message, details);
export const unauthenticated = (message = 'authentication required') =>
  new AppError('unauthenticated', message);
export const forbidden = (message = 'not allowed') => new AppError('forbidden', message);
export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new AppError('conflict', message, details);

/** Too many attempts: refused until `retryAt` (HTTP 429 with Retry-After). */
export const throttled = (message: string, retryAt: Date, now: Date) =>
  new AppError('throttled', message, {
    retryAt: retryAt.toISOString(),
    retryAfterSeconds: Math.max(1, Math.ceil((retryAt.getTime() - now.getTime()) / 1000)),
  });

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;
