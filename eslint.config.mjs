// ESLint flat config: typescript-eslint's type-aware rules over every TypeScript folder tsconfig.json includes.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Build output, synth output, the embedded platform's run folders, generated provider bindings.
  globalIgnores(['node_modules/', 'dist/', 'cdktf.out/', '.run/', '.gen/', '.terraform/', 'coverage/', 'bench/results/']),
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // tsc already enforces noUnusedLocals and noUnusedParameters (underscore-prefixed parameters allowed):
      // one checker, one convention.
      '@typescript-eslint/no-unused-vars': 'off',
      // A switch over a union with no default clause must name every member, so a new stage, status or kind
      // fails lint where it is not handled (a default clause marks the switches meant to take the rest).
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // `== null` is the one loose comparison allowed: it means null or undefined.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // A returned promise inside try must be awaited, or its rejection skips the catch and finally.
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      // An async function with no await is how this code implements a Promise-returning port (a stub, a fake
      // clock's sleep, a handler): it turns a synchronous throw into a rejection, which dropping `async` would not.
      '@typescript-eslint/require-await': 'off',
      // Passing on a caught error of unknown type is forwarding it, not inventing a non-Error reason; the
      // recommended only-throw-error allows the same for `throw`.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `{}` is what TypeScript narrows `unknown` to after a null or undefined check; the rule already leaves
      // `unknown` alone (checkUnknown: false), so it leaves its narrowed form alone too. Real object types
      // (interfaces, records, arrays of objects) are still reported.
      '@typescript-eslint/no-base-to-string': ['error', { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', '{}'] }],
    },
  },
  {
    // Tests walk untyped JSON on purpose: synthesized Terraform (`Record<string, any>` from synth-helpers),
    // axios responses from the stand-in APIs (`data` is `any`), JSON.parse of files, OpenAPI documents; and
    // jest's asymmetric matchers (`expect.any`, `expect.stringContaining`) are typed `any`. Typing each
    // response would restate the assertions that follow it, and a wrong guess fails the test anyway.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The two CommonJS files jest loads (its config and the ES-module transform).
    files: ['**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' },
    },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
  },
);
