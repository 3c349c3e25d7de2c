/** The search tokeniser (server/core/search-tokens.ts): what is indexed, what a query asks, what is marked. */
import { describe, expect, it } from 'vitest';
import { MAX_LEXEME, parseQuery, snippet, tsvectorOf, words } from '../../server/core/search-tokens.js';

const lexemes = (text: string) => words(text).map((w) => w.lexeme);

describe('words and tsvectorOf', () => {
  it('splits paths, options, hyphenated words and key=value into their words, lower-cased', () => {
    expect(lexemes('cat /etc/passwd; rm -rf /tmp/Update-Staging CHG-1042 rate_ml=5')).toEqual(
      ['cat', 'etc', 'passwd', 'rm', 'rf', 'tmp', 'update', 'staging', 'chg', '1042', 'rate', 'ml', '5']);
    expect(lexemes('café Ünïcode 日本語')).toEqual(['café', 'ünïcode', '日本語']);
  });

  it('gives each distinct lexeme once with its positions', () => {
    expect(tsvectorOf('ok ok /etc/passwd ok')).toBe("'ok':1,2,5 'etc':3 'passwd':4");
    expect(tsvectorOf('  -- ;; ')).toBe('');
  });

  it('leaves out base64 runs and over-long words, keeps hex digests', () => {
    const b64 = 'QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB/9jZXJ0aWZpY2F0ZQ+ZXhhbXBsZQ==';
    expect(lexemes(`key ${b64} end`)).toEqual(['key', 'end']);
    const sha = 'ab'.repeat(32);
    expect(lexemes(`sha256 ${sha}`)).toEqual(['sha256', sha]);
    expect(lexemes(`${'x'.repeat(MAX_LEXEME + 1)} y ${'z'.repeat(MAX_LEXEME)}`)).toEqual(['y', 'z'.repeat(MAX_LEXEME)]);
    // a long run without mixed case is words, not a blob
    expect(lexemes(`${'a-'.repeat(40)}b`)).toHaveLength(41);
  });

  it('leaves out the bytes of a hex dump and its offset, keeps its text column and short hex words', () => {
    const dump = '0000a0b0  3f 1a 00 de ad be ef 42  70 61 73 73 77 64 0a 00  |?......Bpasswd..|';
    expect(tsvectorOf(dump)).toBe("'bpasswd':1");
    expect(tsvectorOf('00000010: 3fa0 1b2c dead beef 0042 7061 7373 7764  ?..,...Bpasswd')).toBe("'bpasswd':1");
    expect(tsvectorOf('error 3f at 0xdead ab cd')).toBe("'error':1 '3f':2 'at':3 '0xdead':4 'ab':5 'cd':6");
    expect(parseQuery('"de ad be ef 42 70 61 73"')).toBeNull(); // as indexed: nothing
  });

  it('survives hostile input: huge text, control characters, lone surrogates, quotes and backslashes', () => {
    const huge = 'a'.repeat(5_000_000);
    expect(tsvectorOf(huge)).toBe('');
    expect(lexemes('a\x00b\x1bc\x7fd\u0007e')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(lexemes('x\ud800y\udfffz')).toEqual(['x', 'y', 'z']);
    expect(tsvectorOf("it's \\back\\slash 'quoted'")).toBe("'it':1 's':2 'back':3 'slash':4 'quoted':5");
    // positions stop at PostgreSQL's limit; a lexeme keeps at most 256 of them
    const many = tsvectorOf('w '.repeat(20_000));
    expect(many.split(',')).toHaveLength(256);
    const distinct = tsvectorOf(Array.from({ length: 17_000 }, (_, i) => `w${i}`).join(' '));
    expect(distinct.endsWith("'w16999':16383")).toBe(true);
  });
});

describe('parseQuery', () => {
  it('reads websearch syntax: AND, phrases, or, exclusion', () => {
    expect(parseQuery('passwd')).toEqual({ tsquery: "'passwd'", terms: new Set(['passwd']) });
    expect(parseQuery('"rm -rf" shadow')?.tsquery).toBe("('rm' <-> 'rf') & 'shadow'");
    expect(parseQuery('passwd or shadow')?.tsquery).toBe("'passwd' | 'shadow'");
    expect(parseQuery('passwd OR shadow -echo')?.tsquery).toBe("'passwd' | 'shadow' & !'echo'");
    expect(parseQuery('firmware -"dry run"')?.tsquery).toBe("'firmware' & !('dry' <-> 'run')");
    expect(parseQuery('"stty -echo"')?.tsquery).toBe("('stty' <-> 'echo')");
  });

  it('makes a word of several words (path, ticket) the phrase of them', () => {
    expect(parseQuery('/etc/passwd')?.tsquery).toBe("('etc' <-> 'passwd')");
    expect(parseQuery('CHG-1042')).toEqual({ tsquery: "('chg' <-> '1042')", terms: new Set(['chg', '1042']) });
  });

  it('asks nothing for a query of only operators, punctuation or exclusions', () => {
    for (const q of ['', '   ', 'or', 'OR or', '"', '""', '- -- ---', '"-" | & !', '-passwd', '-passwd -"x y"', '\ud800\x00']) {
      expect(parseQuery(q), JSON.stringify(q)).toBeNull();
    }
  });

  it('quotes and escapes nothing a lexeme cannot hold: hostile queries stay valid literals', () => {
    const p = parseQuery(`'a\\' \\\\ "b'c" d\x00e ${'f'.repeat(100)} g`);
    expect(p?.tsquery).toBe("'a' & ('b' <-> 'c') & ('d' <-> 'e') & 'g'");
  });

  it('treats an unterminated quote as a phrase to the end', () => {
    expect(parseQuery('"occlusion alarm')?.tsquery).toBe("('occlusion' <-> 'alarm')");
  });
});

describe('snippet', () => {
  it('marks matched words, inside paths too', () => {
    expect(snippet('hunter2-zebra', new Set(['hunter2', 'zebra']))).toBe('⟦hunter2⟧-⟦zebra⟧');
    expect(snippet('cat /etc/passwd', new Set(['passwd']))).toBe('cat /etc/⟦passwd⟧');
  });

  it('shows about 35 words around the first match', () => {
    const text = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    const s = snippet(text, new Set(['w100']));
    expect(s.startsWith('w90 ')).toBe(true);
    expect(s).toContain('⟦w100⟧');
    expect(s.split(' ')).toHaveLength(35);
    expect(snippet(text, new Set(['w199'])).endsWith('⟦w199⟧')).toBe(true);
    expect(snippet(text, new Set(['none'])).split(' ')).toHaveLength(35);
  });
});
