/** One migrated database for the whole run (dropped at the end); tests reach it with inject('databaseUrl'). */
import type { TestProject } from 'vitest/node';
import { createTestDatabase } from './databases.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const db = await createTestDatabase();
  project.provide('databaseUrl', db.url);
  return () => db.drop();
}
