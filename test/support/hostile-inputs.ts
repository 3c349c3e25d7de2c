/**
 * Generators of hostile input for the fuzz suite: HTTP requests, WebSocket upgrade requests and
 * WebSocket frame sequences, each a valid (or nearly valid) message built from a small grammar and
 * then, often, mutated byte by byte. Deterministic for a given Rng.
 */
import { randomUUID } from 'node:crypto';
import { hostileText, mutate, type Rng } from './fuzz-mutate.js';

export interface HttpContext {
  /** a live session's id (watchable) */
  sessionId: string;
  /** grant and device ids that exist */
  grantId: string;
  deviceId: string;
  /** a real login token the requests may carry (its user may get logged out by a mutated request) */
  readerToken: string;
  /** a real token with the right to watch `sessionId` (only ever sent in upgrade requests) */
  watcherToken: string;
}

const CRLF = '\r\n';

const API_PATHS = [
  '/healthz', '/metrics', '/api/openapi.json', '/api/me', '/api/me/password', '/api/auth/login', '/api/auth/logout',
  '/api/access-requests', '/api/access-requests/:id', '/api/access-requests/:id/approve', '/api/access-requests/:id/deny',
  '/api/access-requests/:id/cancel', '/api/audit', '/api/audit/checkpoint', '/api/audit/verify', '/api/devices', '/api/devices/:id',
  '/api/devices/:id/lifecycle', '/api/devices/:id/test', '/api/ssh-known-hosts', '/api/grants', '/api/grants/:id', '/api/grants/:id/extend', '/api/grants/:id/revoke',
  '/api/grants/:id/ssh-certificate', '/api/grants/:id/terminal-token', '/api/sessions', '/api/sessions/:id',
  '/api/sessions/:id/recording', '/api/sessions/:id/terminate', '/api/users', '/api/users/:id', '/api/vendors', '/api/vendors/:id',
  '/', '/index.html', '/assets/../../etc/passwd', '/api/slack/interactions', '/api/terminal', '/api/sessions/:id/watch',
];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PATCH', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'G\0T', 'X'.repeat(300)];
const QUERIES = ['', '', '?limit=10', '?cursor=%00', '?grantId=%00&deviceId=%00', '?action=a%00b', '?limit=-1', '?limit=1e309', '?cursor=%', '?cursor=%E0%A4%A', '?live=maybe', '?grantId=not-a-uuid',
  '?deviceId[]=1&deviceId[]=2', '?__proto__[x]=1', '?q=' + 'a'.repeat(5000), '?a=1&a=2&a=3', '?%=%'];
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'text/plain',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=nope', '*/*', ''];

function idFor(rng: Rng, ctx: HttpContext): string {
  return rng.pick([ctx.sessionId, ctx.grantId, ctx.deviceId, randomUUIDFrom(rng), 'not-a-uuid', '%', '%00', '..', '0', '-1', '9'.repeat(40), hostileText(rng)]);
}

/** a UUID-shaped string from the Rng (deterministic, unlike randomUUID) */
function randomUUIDFrom(rng: Rng): string {
  const h = rng.bytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function jsonBody(rng: Rng, ctx: HttpContext): string {
  const bodies = [
    () => JSON.stringify({ username: `fuzz-${rng.int(1000)}${rng.pick(['', '\u0000', '\ud800', '\u202e'])}`, password: 'not the password' }),
    () => JSON.stringify({ deviceId: ctx.deviceId, reason: hostileText(rng), ticketRef: 'T', durationMinutes: rng.pick([1, 0, -5, 1e9, 1.5, 'x']) }),
    () => JSON.stringify({ currentPassword: 'x', newPassword: hostileText(rng).repeat(rng.int(50)) }),
    () => JSON.stringify({ checkpoint: { seq: rng.pick([1, -1, 1e20, '1']), hash: 'zz', signature: '%', publicKey: hostileText(rng) } }),
    () => JSON.stringify({ __proto__: { admin: true }, constructor: { prototype: { x: 1 } } }).replace('{}', '{"__proto__":{"admin":true}}'),
    () => '['.repeat(5000) + ']'.repeat(5000),
    () => '{"a":' + '"' + 'x'.repeat(300_000) + '"}',
    () => '{"a":1,' + '"a":1,'.repeat(2000) + '"b":2}',
    () => JSON.stringify({ reason: 'r', publicKey: 'ssh-ed25519 ' + rng.bytes(40).toString('base64') }),
    () => JSON.stringify({ state: rng.pick(['deployed', 'retired', '', 'x'.repeat(1000)]), reason: hostileText(rng) }),
    () => 'null',
    () => '"just a string"',
    () => '\ufeff{"username":"a","password":"b"}',
    () => rng.bytes(rng.int(200)).toString('latin1'),
  ];
  return rng.pick(bodies)();
}

/** A (mostly) well-formed HTTP/1.1 request with hostile parts; often mutated afterwards. */
export function httpRequest(rng: Rng, ctx: HttpContext): Buffer {
  const path = rng.pick(API_PATHS).replace(/:id/g, () => idFor(rng, ctx)) + rng.pick(QUERIES);
  const method = rng.pick(METHODS);
  const body = rng.chance(0.6) ? jsonBody(rng, ctx) : '';
  const headers: string[] = [`Host: ${rng.pick(['127.0.0.1', 'evil.example', '', '[', 'a'.repeat(300)])}`];
  // failed logins count against the source address: keep them off loopback, which other tests share
  headers.push(`X-Forwarded-For: 198.51.100.${1 + rng.int(254)}`);
  if (rng.chance(0.5)) headers.push(`Content-Type: ${rng.pick(CONTENT_TYPES)}`);
  const auth = rng.int(5);
  if (auth === 1) headers.push(`Authorization: Bearer ${ctx.readerToken}`);
  if (auth === 2) headers.push(`Authorization: ${rng.pick(['Bearer', 'Bearer ', 'Basic Og==', 'Bearer a.b.c', `Bearer ${hostileText(rng)}`])}`);
  if (auth === 3) headers.push(`Cookie: portcullis_session=${rng.pick([ctx.readerToken, '%', '%E0%A4%A', hostileText(rng), ''])}`);
  if (auth === 4) headers.push(`Cookie: ${rng.pick(['=', ';;;', 'a=%; portcullis_session=%', 'portcullis_session', 'x'.repeat(5000)])}`);
  if (rng.chance(0.2)) headers.push(`Origin: ${rng.pick(['https://evil.example', 'null', 'http://[', hostileText(rng)])}`);
  if (rng.chance(0.1)) headers.push('Expect: 100-continue');
  if (rng.chance(0.1)) headers.push(`X-Big: ${'b'.repeat(rng.pick([100, 8000, 20000]))}`);
  if (rng.chance(0.05)) for (let i = 0; i < 200; i++) headers.push(`X-Many-${i}: ${i}`);
  let payload = body;
  const framing = rng.int(6);
  if (framing === 0 || framing === 1) headers.push(`Content-Length: ${Buffer.byteLength(body)}`);
  if (framing === 2) headers.push(`Content-Length: ${rng.pick([Buffer.byteLength(body) + 10, 0, -1, 'abc', '1, 2', '99999999999999999999'])}`);
  if (framing === 3 || framing === 4) {
    headers.push('Transfer-Encoding: chunked');
    payload = body.length ? `${Buffer.byteLength(body).toString(16)}${CRLF}${body}${CRLF}0${CRLF}${CRLF}` : `0${CRLF}${CRLF}`;
    if (framing === 4) payload = rng.pick([`zz${CRLF}${body}${CRLF}`, `ffffffffffffffff${CRLF}x`, `5;ext=%${CRLF}hello${CRLF}0${CRLF}X: y${CRLF}${CRLF}`]);
    if (rng.chance(0.3)) headers.push(`Content-Length: ${Buffer.byteLength(body)}`);
  }
  headers.push(`Connection: ${rng.pick(['close', 'close', 'keep-alive'])}`);
  const version = rng.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1 extra', '']);
  const text = `${method} ${path} ${version}${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}${payload}`;
  const request = Buffer.from(text, rng.chance(0.9) ? 'utf8' : 'latin1');
  return rng.chance(0.5) ? mutate(rng, request) : request;
}

const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A WebSocket upgrade request (hostile target, cookies, origins, versions); often mutated. */
export function upgradeRequest(rng: Rng, ctx: HttpContext, opts: { mutate?: boolean } = {}): Buffer {
  const target = rng.pick([
    '/api/terminal?token=x', `/api/terminal?token=${hostileText(rng)}&cols=${rng.pick(['0', '-1', '1e9', 'x', '80'])}&rows=${rng.pick(['24', 'NaN', '%'])}`,
    `/api/sessions/${ctx.sessionId}/watch`, `/api/sessions/${randomUUID()}/watch`, '/api/sessions/../watch', 'http://[/', 'http://[::1/', '//',
    '/%', '/api/terminal%', `http://127.0.0.1/api/sessions/${ctx.sessionId}/watch`, '*', `/${'a'.repeat(rng.pick([10, 9000]))}`,
    '/api/terminal?token=%E0%A4%A', '/api/terminal?%=%', 'http://u:p@127.0.0.1:99999/api/terminal', '/healthz',
  ]);
  const headers = [
    `Host: ${rng.pick(['127.0.0.1', '', 'evil.example', '['])}`,
    `Upgrade: ${rng.pick(['websocket', 'websocket', 'WebSocket', 'h2c', ''])}`,
    `Connection: ${rng.pick(['Upgrade', 'upgrade, keep-alive', 'close'])}`,
    `Sec-WebSocket-Version: ${rng.pick(['13', '13', '8', 'abc', ''])}`,
  ];
  if (rng.chance(0.9)) headers.push(`Sec-WebSocket-Key: ${rng.pick([WS_KEY, WS_KEY, 'short', '%%%%', ''])}`);
  const auth = rng.int(6);
  if (auth === 1) headers.push(`Cookie: portcullis_session=${ctx.watcherToken}`);
  if (auth === 2) headers.push(`Cookie: portcullis_session=${rng.pick(['%', '%E0%A4%A', '%%', hostileText(rng), ''])}`);
  if (auth === 3) headers.push(`Authorization: Bearer ${rng.pick([ctx.watcherToken, 'x', hostileText(rng)])}`);
  if (auth === 4) headers.push(`Cookie: ${rng.pick(['portcullis_session', '=%', 'a=%;portcullis_session=%;b=%', 'portcullis_session==%'])}`);
  if (auth === 5) headers.push(`Authorization: ${rng.pick(['Bearer', 'Basic', `Bearer ${'a'.repeat(10_000)}`])}`);
  if (rng.chance(0.3)) headers.push(`Origin: ${rng.pick(['http://127.0.0.1', 'https://evil.example', 'http://[', 'null', '%', hostileText(rng)])}`);
  if (rng.chance(0.2)) headers.push(`Sec-WebSocket-Extensions: ${rng.pick(['permessage-deflate', 'permessage-deflate; client_max_window_bits=99', 'x; y=%'])}`);
  if (rng.chance(0.1)) headers.push(`Sec-WebSocket-Protocol: ${rng.pick(['a, a', ',', hostileText(rng)])}`);
  const request = Buffer.from(`GET ${target} HTTP/1.1${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}`);
  return (opts.mutate ?? rng.chance(0.4)) ? mutate(rng, request) : request;
}

/** A valid upgrade to `target` (for frame fuzzing). */
export function cleanUpgrade(target: string, extra: string[] = []): Buffer {
  return Buffer.from(
    [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${WS_KEY}`,
      'Sec-WebSocket-Version: 13', ...extra, '', ''].join(CRLF),
  );
}

export interface FrameSpec {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  rsv?: number;
  /** client frames must be masked; false sends an unmasked one */
  masked?: boolean;
  /** claim this length instead of the payload's */
  claimedLength?: number;
}

/** One WebSocket frame, encoded as RFC 6455 says (or as `spec` bends it). */
export function wsFrame(rng: Rng, spec: FrameSpec): Buffer {
  const len = spec.claimedLength ?? spec.payload.length;
  const first = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f);
  const masked = spec.masked ?? true;
  let header: Buffer;
  if (len < 126) header = Buffer.from([first, (masked ? 0x80 : 0) | len]);
  else if (len < 65536) {
    header = Buffer.alloc(4);
    header.writeUInt16BE(len, 2);
    header[1] = (masked ? 0x80 : 0) | 126;
  } else {
    header = Buffer.alloc(10);
    header.writeBigUInt64BE(BigInt(len), 2);
    header[1] = (masked ? 0x80 : 0) | 127;
  }
  header[0] = first;
  if (!masked) return Buffer.concat([header, spec.payload]);
  const key = rng.bytes(4);
  const body = Buffer.from(spec.payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i % 4]!;
  return Buffer.concat([header, key, body]);
}

const TEXT = 0x1;
const BINARY = 0x2;
const CONTINUATION = 0x0;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

/** A sequence of client frames (valid, bent or mutated), as the bytes that follow an upgrade. */
export function frameSequence(rng: Rng): Buffer {
  const messages = [
    () => JSON.stringify({ type: 'input', data: rng.pick(['true\n', hostileText(rng), '\u0003', '\u0004', 'x'.repeat(rng.int(70_000))]) }),
    () => JSON.stringify({ type: 'resize', cols: rng.pick([80, 0, -1, 1001, 1e308, 2.5, '80']), rows: rng.pick([24, 1000, null]) }),
    () => JSON.stringify({ type: rng.pick(['signal', 'end', '__proto__', '']), data: 'x' }),
    () => '{"type":"input","data":' + '['.repeat(3000),
    () => hostileText(rng),
  ];
  const frames: Buffer[] = [];
  for (let n = 1 + rng.int(6); n > 0; n--) {
    const kind = rng.int(14);
    const text = Buffer.from(rng.pick(messages)());
    if (kind <= 4) frames.push(wsFrame(rng, { opcode: TEXT, payload: text }));
    else if (kind === 5) frames.push(wsFrame(rng, { opcode: BINARY, payload: rng.bytes(rng.int(300)) }));
    else if (kind === 6) frames.push(wsFrame(rng, { opcode: rng.pick([PING, PONG]), payload: rng.bytes(rng.pick([0, 10, 125, 126, 200])) }));
    else if (kind === 7) frames.push(wsFrame(rng, { opcode: CLOSE, payload: rng.pick([closePayload(1000, 'bye'), closePayload(999), closePayload(1005), closePayload(4999, '\xff'), Buffer.from([3])]) }));
    else if (kind === 8) {
      // a fragmented message, sometimes with a control frame in the middle or the start missing
      const half = Math.floor(text.length / 2);
      if (rng.chance(0.8)) frames.push(wsFrame(rng, { opcode: TEXT, payload: text.subarray(0, half), fin: false }));
      if (rng.chance(0.3)) frames.push(wsFrame(rng, { opcode: PING, payload: Buffer.from('p') }));
      frames.push(wsFrame(rng, { opcode: CONTINUATION, payload: text.subarray(half) }));
    } else if (kind === 9) frames.push(wsFrame(rng, { opcode: rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xf]), payload: text }));
    else if (kind === 10) frames.push(wsFrame(rng, { opcode: TEXT, payload: text, rsv: 1 + rng.int(7) }));
    else if (kind === 11) frames.push(wsFrame(rng, { opcode: TEXT, payload: text, masked: false }));
    else if (kind === 12) frames.push(wsFrame(rng, { opcode: rng.pick([TEXT, BINARY]), payload: text, claimedLength: rng.pick([2 ** 31, 2 ** 53, 300_000, text.length + 5]) }));
    else frames.push(wsFrame(rng, { opcode: TEXT, payload: Buffer.from([0xc3, 0x28, 0xff, 0xfe]) })); // invalid UTF-8
  }
  const seq = Buffer.concat(frames);
  return rng.chance(0.3) ? mutate(rng, seq) : seq;
}
