import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';

describe('DATABASE_POOL_SIZE', () => {
  it('defaults to 10 and takes a whole number from 2 to 500', () => {
    expect(loadConfig({}).databasePoolSize).toBe(10);
    expect(loadConfig({ DATABASE_POOL_SIZE: '30' }).databasePoolSize).toBe(30);
  });
  it.each(['0', '1', '501', '2.5', 'many', '-3'])('refuses %j with the setting named', (v) => {
    expect(() => loadConfig({ DATABASE_POOL_SIZE: v })).toThrow(/DATABASE_POOL_SIZE/);
  });
});
