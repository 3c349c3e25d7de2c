/**
 * The binary forms the search indexer sends (server/db/pg-binary.ts), read by the real PostgreSQL: a
 * tsvector[] built by TsvectorArrayWriter is, element by element, the tsvector PostgreSQL makes of the
 * literal tsvectorOf gives for the same text; a text[] from textArraySend is the texts node-pg would send
 * as a literal — for texts that stress both (non-ASCII letters, quotes, backslashes, braces, the limits of
 * positions and lexemes, hex dumps, lone surrogates).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tsvectorEntries, tsvectorOf } from '../../server/core/search-tokens.js';
import { textArraySend, TsvectorArrayWriter } from '../../server/db/pg-binary.js';
import { adminUrl } from '../support/databases.js';

const TEXTS = [
  'ok ok /etc/passwd ok',
  'Grüße aus Köln — δοκιμή 日本語のテキスト ÅNGSTRÖM straße',
  `it's "quoted" \\back\\slash {braces}, commas; NULL null`,
  'CHG-1042 SN-00039U rate_ml=5 sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  '00000010  3f a0 1b 2c de ad be ef 00 42 70 61 73 73 77 64  |?..,...Bpasswd|',
  'x'.repeat(64) + ' ' + 'y'.repeat(65) + ' z',
  'w '.repeat(20_000), // one lexeme, positions capped at 256
  Array.from({ length: 17_000 }, (_, i) => `w${i}`).join(' '), // positions run past 16,383
  'lone \ud800 surrogate \udfff here 😀 emoji',
  'combining é (e + U+0301) and ǅ titlecase',
];

describe('binary tsvector[] and text[] for the search indexer', () => {
  let db: pg.Client;
  beforeAll(async () => {
    db = new pg.Client({ connectionString: adminUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
  });

  it('each tsvector is the one PostgreSQL parses from the tsvectorOf literal', async () => {
    const writer = new TsvectorArrayWriter();
    const kept = TEXTS.filter((t) => tsvectorEntries(t).lexemes.length > 0);
    for (const t of kept) writer.add(tsvectorEntries(t));
    expect(writer.length).toBe(kept.length);
    const { rows } = await db.query('SELECT v::text AS v, length(v) AS n FROM unnest($1::tsvector[]) WITH ORDINALITY AS u(v, i) ORDER BY i', [writer.finish()]);
    expect(rows).toHaveLength(kept.length);
    for (const [i, t] of kept.entries()) {
      const literal = (await db.query('SELECT $1::tsvector::text AS v, length($1::tsvector) AS n', [tsvectorOf(t)])).rows[0];
      expect(rows[i], t.slice(0, 60)).toEqual(literal);
    }
    // the limits were reached: a lexeme with 256 positions, and positions at 16,383
    expect(rows.some((r) => /^'w':1,2,.*,256$/.test(r.v as string))).toBe(true);
    expect(rows.some((r) => /':16383( |$)/.test(r.v as string))).toBe(true);
  });

  it('grows past its first buffer and still frames every element', async () => {
    const writer = new TsvectorArrayWriter();
    const texts = Array.from({ length: 400 }, (_, i) => `segment ${i} ${'alarm pressure occlusion '.repeat(i % 50)} é${i}`);
    for (const t of texts) writer.add(tsvectorEntries(t));
    const { rows } = await db.query('SELECT v::text AS v FROM unnest($1::tsvector[]) WITH ORDINALITY AS u(v, i) ORDER BY i', [writer.finish()]);
    const literals: string[] = [];
    for (const t of texts) literals.push((await db.query('SELECT $1::tsvector::text AS v', [tsvectorOf(t)])).rows[0].v);
    expect(rows.map((r) => r.v)).toEqual(literals);
  });

  it('a text[] arrives as the same texts the literal would carry', async () => {
    const binary = await db.query('SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i', [textArraySend(TEXTS)]);
    const literal = await db.query('SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i', [TEXTS]);
    expect(binary.rows).toEqual(literal.rows);
    expect(binary.rows[1].t).toBe(TEXTS[1]);
  });

  it('PostgreSQL refuses a tsvector whose positions do not rise (the writer never sends one)', async () => {
    const writer = new TsvectorArrayWriter();
    writer.add({ lexemes: ['alarm'], positions: [[5, 3]] });
    await expect(db.query('SELECT unnest($1::tsvector[])', [writer.finish()])).rejects.toThrow(/position information is misordered/);
  });
});
