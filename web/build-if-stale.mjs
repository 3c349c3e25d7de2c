#!/usr/bin/env node
// Builds the web console (vite → web/dist) only when web/dist is missing or older than its sources,
// so `npm start` on a fresh clone serves a console and the second start stays fast. Safe to run
// from several processes at once (test workers): one builds under a lock, the others wait for it.
// The new build is swapped in whole, so a broker never serves half of one.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const webDir = path.dirname(fileURLToPath(import.meta.url));
const rootDir = path.dirname(webDir);
const distDir = path.join(webDir, 'dist');
const stamp = path.join(distDir, 'index.html');
const lockDir = path.join(webDir, '.build-lock');
const inputs = [path.join(webDir, 'src'), path.join(webDir, 'index.html'), path.join(webDir, 'vite.config.ts'), path.join(rootDir, 'package-lock.json')];
const force = process.argv.includes('--force');

function newestMtime(p) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

function isStale() {
  if (force) return true;
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return true;
  }
  return inputs.some((p) => newestMtime(p) > built);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function takeLock() {
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    // a lock left by a build that died is stale after five minutes
    try {
      if (Date.now() - fs.statSync(lockDir).mtimeMs > 5 * 60_000) fs.rmSync(lockDir, { recursive: true, force: true });
    } catch {
      // gone in between: try again
    }
    await sleep(250);
  }
}

async function build() {
  let vite;
  try {
    vite = await import('vite');
  } catch {
    const msg = 'vite is not installed (npm ci installs it): the web console cannot be built';
    if (fs.existsSync(stamp)) {
      console.warn(`web: ${msg}; serving the existing web/dist`);
      return;
    }
    console.warn(`web: ${msg}; the broker will serve the API only`);
    return;
  }
  const tmp = path.join(webDir, `.dist-${process.pid}`);
  const old = path.join(webDir, `.dist-old-${process.pid}`);
  const started = Date.now();
  console.log('web: building the console (vite) …');
  await vite.build({
    configFile: path.join(webDir, 'vite.config.ts'),
    root: webDir,
    logLevel: 'warn',
    build: { outDir: tmp, emptyOutDir: true },
  });
  if (fs.existsSync(distDir)) fs.renameSync(distDir, old);
  fs.renameSync(tmp, distDir);
  fs.rmSync(old, { recursive: true, force: true });
  console.log(`web: built web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (isStale()) {
  await takeLock();
  try {
    // another process may have built it while we waited for the lock
    if (isStale()) await build();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}
