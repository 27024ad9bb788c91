import { defineConfig, mergeConfig } from 'vitest/config';
import viteConfig from './vite.config.js';

// Unit tests (`npm test`): the app's own Vite config (React plugin) plus the test settings, kept
// out of vite.config.js so that `npm run build` reads exactly what it read before.
export default mergeConfig(
  viteConfig,
  defineConfig({
    test: {
      environment: 'jsdom',
      include: ['src/**/*.test.{js,jsx}'],
      setupFiles: ['./test/setup.js'],
      // Every test starts with the real fetch and fresh spies.
      unstubGlobals: true,
      restoreMocks: true,
      coverage: {
        provider: 'v8',
        include: ['src/**/*.{js,jsx}'],
        exclude: ['src/**/*.test.{js,jsx}'],
        reporter: ['text', 'text-summary'],
        // Below 80 % of the lines, `npm test` fails.
        thresholds: { lines: 80 },
      },
    },
  }),
);
