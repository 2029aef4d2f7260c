import { defineConfig } from "vite";

// Static files only: every asset is bundled into dist/ (no CDN at run time).
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, assetsInlineLimit: 0 },
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
});
