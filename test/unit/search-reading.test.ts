/**
 * readingFor (server/db/search-repo.ts): which of the search's two statements answers a query, from
 * PostgreSQL's estimates — the matches first only when they are few and no more than the newest-first
 * scan would read.
 */
import { describe, expect, it } from 'vitest';
import { readingFor } from '../../server/db/search-repo.js';

describe('readingFor', () => {
  it('reads a rare word\'s matches first', () => {
    expect(readingFor({ matches: 194, filtered: 66_145, total: 66_145 })).toBe('matches');
    expect(readingFor({ matches: 1, filtered: 370, total: 66_145 })).toBe('matches');
    expect(readingFor({ matches: 15_000, filtered: 2_200_000, total: 2_200_000 })).toBe('matches');
  });

  it('reads the newest segments when the words match more than FEW_MATCHES', () => {
    expect(readingFor({ matches: 20_001, filtered: 2_200_000, total: 2_200_000 })).toBe('newest');
  });

  it('reads the filtered segments newest first when the filters select fewer than the words match', () => {
    // `occlusion alarm` for one technician at 300 sessions: 9,186 matches, the technician's 1,246 segments
    expect(readingFor({ matches: 9_186, filtered: 1_246, total: 66_145 })).toBe('newest');
    expect(readingFor({ matches: 1_246, filtered: 1_246, total: 66_145 })).toBe('matches');
  });

  it('reads newest first when about CANDIDATES matches come sooner that way than all the matches', () => {
    // a word in one segment in seven: the newest 7,000 segments hold 1,000 matches, fewer than its 9,138
    expect(readingFor({ matches: 9_138, filtered: 66_145, total: 66_145 })).toBe('newest');
    // a page larger than CANDIDATES needs more of them
    expect(readingFor({ matches: 9_138, filtered: 66_145, total: 66_145 }, 2_000)).toBe('matches');
  });
});
