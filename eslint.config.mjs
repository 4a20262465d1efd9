import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.vscode-test/**',
      '.tools/**',
      'out/**',
      '**/*.py',
      'examples/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{mjs,js,cjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The core is shared by the CLI and the extension: it must never depend on VS Code.
    files: ['src/core/**/*.ts', 'src/sim/**/*.ts', 'src/cli.ts', 'src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['vscode'] }] },
  },
  {
    // Layers (docs/architecture.md): the core knows neither its callers (extension, CLI) nor the
    // virtual board, so every rule in it works the same for all of them and is tested without them.
    files: ['src/core/**/*.ts'],
    // Moving out of the core (issue 10, `ota demo`); delete this line once it has.
    ignores: ['src/core/demo.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'src/core never depends on VS Code.' }],
          patterns: [
            {
              regex: '^(\\.\\./)+(ui|cli|sim|extension)(\\.ts)?(/|$)',
              message:
                'src/core imports neither src/ui, src/cli*, src/extension.ts nor src/sim (docs/architecture.md).',
            },
          ],
        },
      ],
    },
  },
);
