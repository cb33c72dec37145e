// ESLint for every file tsc checks, with type information (typescript-eslint's
// recommended-type-checked): floating promises, `any` leaking through module boundaries, awaits of
// non-promises — what strict tsc lets through.
//
// typescript-eslint reads types through TypeScript's JavaScript API (ts.createProgram and friends).
// TypeScript 7, the native port, ships no such API (its package exports only a version and an
// unstable IPC client), and typescript-eslint's peer range stops below 6.1; so the project pins
// TypeScript ~6.0, the last JavaScript release, for both `npm run typecheck` and this lint.
import eslint from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "out/", "test-output/", "node_modules/", ".steplens-cache/"] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    rules: {
      // node:test's test() and describe() return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": [
        "error",
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] }] },
      ],
      // `_name` marks a parameter a signature needs but the body does not (LSP handlers, callbacks).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Plain JavaScript outside tsconfig: the build scripts (Node) and the report webview (a browser).
    files: ["**/*.{js,mjs,cjs}"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // The extension host loads the client alone: it may import itself, protocol/, node, vscode and
    // vscode-languageclient, never the engine or the server (they run in the language server process).
    files: ["client/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ regex: "^(?!\\./|\\.\\./protocol/index\\.js$|node:|vscode$|vscode-languageclient(/.*)?$)", message: "the client imports only ./*, ../protocol/index.js, node:*, vscode and vscode-languageclient" }] },
      ],
    },
  },
  {
    // The report webview runs under a strict CSP: it builds no markup from strings except the body the
    // extension escaped (report.js's one `innerHTML = msg.body`), and evaluates no strings as code.
    files: ["media/**/*.js"],
    languageOptions: { globals: globals.browser },
    rules: {
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-restricted-syntax": [
        "error",
        { selector: "AssignmentExpression[left.property.name=/^(innerHTML|outerHTML)$/]:not([right.object.name='msg'][right.property.name='body'])", message: "build DOM nodes; only the extension's escaped msg.body may be assigned as HTML" },
        { selector: "CallExpression[callee.property.name=/^(insertAdjacentHTML|write|writeln)$/]", message: "no markup from strings in the webview" },
        { selector: "CallExpression[callee.property.name='setAttribute'][arguments.0.value='style']", message: "inline styles break the CSP" },
      ],
    },
  },
);
