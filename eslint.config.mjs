// Lint rules: typescript-eslint's recommended set, plus the few rules that keep
// dynamic providers serializable and errors precise.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "bin/**", ".testbed/**", ".harness/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        require: "readonly",
        module: "writable",
        process: "readonly",
        console: "readonly",
        __dirname: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setImmediate: "readonly",
      },
    },
    rules: {
      // Provider methods must require() libraries inside the method body (see docs/ARCHITECTURE.md).
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  {
    // The core0 emulator is written from the facts, independent of the product it tests (issue #13):
    // nothing under it may import or require product code.
    files: ["test/testbed/core0-emulator/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/providers", "**/providers/**"],
              message: "the core0 emulator must not use product code",
            },
          ],
        },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.name='require'][arguments.0.value=/(^|\\/)providers(\\/|$)/]",
          message: "the core0 emulator must not use product code",
        },
      ],
    },
  },
  {
    files: ["scripts/**/*.js", ".ci/**/*.js"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
