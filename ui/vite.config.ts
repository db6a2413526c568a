import { defineConfig, type Plugin } from 'vite';

// `npm run dev` proxies /api to a running server (LANGFUSE_UI_PROXY, default http://127.0.0.1:3000);
// `npm run dev:mock` (or `LANGFUSE_UI_MOCK=1 vite preview`) answers /api/ui from the in-memory mock
// in dev-mock/ instead. The mock is a
// development aid only: it is never imported by the app and never part of dist/.
export default defineConfig(async ({ command }) => {
  if (command === 'build' && process.env.LANGFUSE_UI_MOCK === '1') throw new Error('the mock API is for development only');
  const plugins: Plugin[] = [];
  if (process.env.LANGFUSE_UI_MOCK === '1') {
    const { mockApiPlugin } = await import('./dev-mock/mock-api.ts');
    plugins.push(mockApiPlugin());
  }
  return {
    plugins,
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: { target: 'es2022', sourcemap: false, assetsDir: 'assets', chunkSizeWarningLimit: 200 },
    server: process.env.LANGFUSE_UI_MOCK === '1'
      ? {}
      : { proxy: { '/api': process.env.LANGFUSE_UI_PROXY ?? 'http://127.0.0.1:3000' } },
  };
});
