/**
 * Recorder.stats() is called by the recording worker for every event (issue 17). Built as
 * `{ ...counts, more }` it made V8 create a new hidden class on every call (4–5 µs each, and the maps'
 * garbage), which took a core from the keystroke path in bursts. This checks the shape directly, not a
 * timing: in a child node with --allow-natives-syntax, successive stats() objects of the recorder and
 * of the relay-side worker recorder must share one hidden class (V8's %HaveSameMap).
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');

const script = (dir: string) => `
const { createRecorder } = await import(${JSON.stringify(join(root, 'proxy/recording/recorder.ts'))});
const { createWorkerRecorder } = await import(${JSON.stringify(join(root, 'proxy/recording/worker-recorder.ts'))});
const sameShape = (objects) => objects.every((o) => %HaveSameMap(o, objects[0]));
const rec = await createRecorder({ path: ${JSON.stringify(join(dir, 'a.cast'))}, width: 80, height: 24, title: 't' });
const a = [];
for (let i = 0; i < 50; i++) { rec.output(Buffer.from('x')); a.push(rec.stats()); }
await rec.close();
const w = await createWorkerRecorder({ path: ${JSON.stringify(join(dir, 'b.cast'))}, width: 80, height: 24, title: 't' });
const b = [];
for (let i = 0; i < 50; i++) { w.output(Buffer.from('x')); b.push(w.stats()); }
await w.close();
console.log(JSON.stringify({ recorder: sameShape(a), workerRecorder: sameShape(b), events: a.at(-1).bytesIn }));
`;

describe('recorder stats() shape', () => {
  it('keeps one hidden class across calls (no new V8 map per event)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-shape-'));
    try {
      const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script(dir)], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toEqual({ recorder: true, workerRecorder: true, events: 50 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
