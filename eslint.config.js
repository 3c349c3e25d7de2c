// ESLint flat config: @eslint/js recommended for every file, typescript-eslint recommended
// (syntactic, no type information: fast enough to run on every CI pass) for the TypeScript sources.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const tsFiles = ['server/**/*.ts', 'proxy/**/*.ts', 'test/**/*.ts', 'migrations/**/*.ts', '*.ts'];

// The code base joins side effects on one line with the comma operator (`(a(), b())`), which
// no-unused-expressions rejects wholesale. This variant checks each part of a sequence instead, so
// `(a(), b())` passes while `(a(), b)` or a bare `x.y;` is still an error.
const unusedExpressions = tseslint.plugin.rules['no-unused-expressions'];
const local = {
  rules: {
    'no-unused-expressions': {
      meta: unusedExpressions.meta,
      defaultOptions: unusedExpressions.defaultOptions,
      create(context) {
        const inner = unusedExpressions.create(context);
        const check = (statement) => {
          if (statement.expression.type !== 'SequenceExpression') return inner.ExpressionStatement(statement);
          for (const expression of statement.expression.expressions) check({ ...statement, expression });
        };
        return { ExpressionStatement: check };
      },
    },
  },
};

export default defineConfig([
  globalIgnores([
    '**/node_modules/',
    'dist/',
    'data/',
    'web/dist/',
    'coverage/',
    'bench-results/',
    'test-artifacts/',
  ]),

  js.configs.recommended,

  {
    files: tsFiles,
    extends: [tseslint.configs.recommended],
    plugins: { local },
    rules: {
      // `_`-prefixed names are deliberately unused (ignored parameters, destructured-away fields)
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      '@typescript-eslint/no-unused-expressions': 'off',
      'local/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // terminal output, asciicast and the SSH wire format are about control characters:
      // matching them in a regular expression is the point, not a typo
      'no-control-regex': 'off',
    },
  },

  // The web console (web/): browser TypeScript and React, checked like the server's TypeScript;
  // its build script runs on Node.
  {
    files: ['web/**/*.{ts,tsx}'],
    extends: [tseslint.configs.recommended],
    plugins: { local },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
      '@typescript-eslint/no-unused-expressions': 'off',
      'local/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // terminal output is about control characters
      'no-control-regex': 'off',
    },
  },
  {
    files: ['web/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', setTimeout: 'readonly' } },
  },

  // The route table holds routes with different param/query/body types in one array, so it is
  // typed RouteSpec<any, any, any>; each route is checked where it is declared with route().
  // Visible as a warning rather than silenced; an error everywhere else (core above all).
  {
    files: ['server/http/route.ts', 'server/http/app.ts', 'server/http/openapi.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'warn' },
  },

  // Tests may reach into loosely typed payloads (response bodies, parsed JSON); a leftover import
  // or helper in a test is worth a warning, not a red build.
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': [
        'warn',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
]);
