// The console is built to web/dist and served by the broker (same origin as the API). In
// development `npx vite web` proxies /api (including the terminal and watch WebSockets) to a
// broker on BROKER_URL.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const broker = process.env.BROKER_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // asciinema-player carries its terminal emulator as WebAssembly: one big chunk is expected
    chunkSizeWarningLimit: 1500,
    // no inlined data: URLs for assets: the broker's CSP allows same-origin files
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { '/api': { target: broker, ws: true, changeOrigin: false } },
  },
});
