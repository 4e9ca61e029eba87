import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'bench/results/**', 'sdk/dist/**', 'cli/dist/**', 'sdk/src/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', {
        object: 'process', property: 'env',
        message: 'Read configuration through shared/config.ts (config is read once).',
      }],
    },
  },
  {
    // config loading, test helpers, benches, the all-in-one launcher and the recipes' entry points may read the environment
    files: ['shared/config.ts', 'cli/src/config.ts', 'shared/testing/**', '**/*.test.ts', '**/test/**', 'bench/**', 'vitest.config.ts', 'scripts/**', 'examples/*/main.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // the CLI's launcher is plain JavaScript run by Node
    files: ['cli/bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
