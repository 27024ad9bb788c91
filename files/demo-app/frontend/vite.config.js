import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// In `npm run dev`, /api and /actuator go to a locally running backend (override with API_URL).
const api = process.env.API_URL || 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Vite inlines small assets as data: URIs by default; keep everything as files for the strict CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': api,
      '/actuator': api,
    },
  },
});
