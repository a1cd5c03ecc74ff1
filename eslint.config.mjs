// Lint rules: typescript-eslint's recommended set, plus the layer rules of docs/ARCHITECTURE.md
// ("Layers"), each proven to fire by test/unit/lint-layers.test.ts:
// - providers/ and workflows/: a file may import @pulumi/* (value import) only if it declares a
//   `...Resource` class; plain clients (`client*.ts`) never; nobody require()s @pulumi/* there
//   (a provider method would capture it). Type-only imports are erased by tsc and stay allowed.
// - providers/ and workflows/: no module-level `new Set`/`new Map`/`WeakSet`/`WeakMap` (closure
//   serialization of a dynamic provider drops their entries).
// - a provider system imports only its own folder, providers/shared and npm packages;
//   providers/shared imports no system; nothing under providers/ imports components/, stacks/,
//   workflows/ or test/.
// - product code (index.ts, providers, components, stacks, workflows, grid) never imports test/.
// - workflows never import components/ or stacks/; components never import stacks/ or a
//   workflow's internals (only `workflows` or `workflows/<name>`); stacks import components and
//   providers only through their entry points (`components/<domain>`, `providers/<system>`),
//   plus `providers/shared/*` and `workflows` / `workflows/<name>`.
// - the cockpit (cockpit/) never imports test/, components/, stacks/ or workflows/ (it runs the
//   stacks through the Automation API).
// - the core0 emulator (test/testbed/core0-emulator/) never uses product code.
// Relative specifiers are matched by how many `../` climb to a layer's root, so each rule is
// generated per folder depth (DEPTHS); a file nested deeper than that is not covered.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Folder depths below a layer root that the generated rules cover (providers/<system>/<sub>/<sub>). */
const DEPTHS = [1, 2, 3];
const up = (n) => `(\\.\\./){${n}}`;
const TEST_SEGMENT = "(^|/)test(/|$)";

/** The @pulumi rule: value imports only in files declaring a Resource class. */
const pulumiOnlyInResourceFiles = {
  selector:
    "Program:not(:has(ClassDeclaration[superClass.property.name=/Resource$/])):not(:has(ClassDeclaration[superClass.name=/Resource$/])) ImportDeclaration[importKind='value'][source.value=/^@pulumi\\u002F/]",
  message:
    "only a file that declares a Resource class may import @pulumi/* here (plain modules stay Pulumi-free so provider methods do not capture it); use `import type` for types",
};
const pulumiNeverInClients = {
  selector: "ImportDeclaration[importKind='value'][source.value=/^@pulumi\\u002F/]",
  message: "a plain client (client*.ts) never imports @pulumi/*: keep it usable from scripts and tests",
};
const noRequirePulumi = {
  selector: "CallExpression[callee.name='require'][arguments.0.value=/^@pulumi\\u002F/]",
  message: "never require() @pulumi/* in provider or workflow code: a provider method would capture it",
};
const noModuleSetMap = {
  selector:
    "NewExpression[callee.name=/^(Set|Map|WeakSet|WeakMap)$/]:not(:function NewExpression):not(PropertyDefinition[static=false] NewExpression)",
  message:
    "no module-level Set/Map in provider code: closure serialization drops their entries; use an array or build it inside the function",
};
const noRequireTest = {
  selector: `CallExpression[callee.name='require'][arguments.0.value=/${TEST_SEGMENT.replace(/\//g, "\\u002F")}/]`,
  message: "product code never requires test/ code",
};
const noImportTest = { regex: `^\\.\\.?/(.*/)?test(/|$)`, message: "product code never imports test/ code" };

/** Config blocks for the files `<root>/<d folders>/*.ts`, one per depth, with the patterns of `make(d)`. */
function perDepth(root, make, extra = {}) {
  return DEPTHS.map((d) => {
    const { patterns, syntax = [], files } = make(d);
    return {
      files: files ?? [`${root}/${"*/".repeat(d - 1)}*.ts`],
      ...extra,
      rules: {
        "no-restricted-imports": ["error", { patterns }],
        "no-restricted-syntax": ["error", ...syntax],
      },
    };
  });
}

/** providers/<system>/...: climbing to providers/ is allowed only into shared; out of providers/, never. */
function providerPatterns(d, selfIsShared) {
  return [
    noImportTest,
    {
      regex: `^${up(d)}(?!shared(/|$))`,
      message: selfIsShared
        ? "providers/shared imports no provider system"
        : "a provider system imports only its own folder, providers/shared and npm packages",
    },
    {
      regex: `^${up(d + 1)}`,
      message: "providers never import components, stacks, workflows or other layers",
    },
  ];
}
function providerRequires(d) {
  return {
    selector: `CallExpression[callee.name='require'][arguments.0.value=/^${up(d).replace(/\//g, "\\u002F")}(?!shared(\\u002F|$))/]`,
    message: "provider code require()s only its own folder, providers/shared and npm packages",
  };
}
const providerSyntax = (d) => [
  pulumiOnlyInResourceFiles,
  noRequirePulumi,
  noModuleSetMap,
  noRequireTest,
  providerRequires(d),
];

/** `../` chains of exactly d+1 (from depth d) into a layer root folder `name`, then `rest`. */
const into = (d, name, rest = "") => `^${up(d)}${name}${rest}`;

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

  // --- layers (docs/ARCHITECTURE.md "Layers"; test/unit/lint-layers.test.ts) ---
  // providers/shared (depth counted from providers/: providers/shared/x.ts is depth 1).
  ...perDepth("providers", (d) => ({
    files: [`providers/shared/${"*/".repeat(d - 1)}*.ts`],
    patterns: providerPatterns(d, true),
    syntax: providerSyntax(d),
  })),
  // Plain clients of a system: no @pulumi value import at all.
  ...perDepth(
    "providers",
    (d) => ({
      files: [`providers/*/${"*/".repeat(d - 1)}client*.ts`],
      patterns: providerPatterns(d, false),
      syntax: [pulumiNeverInClients, ...providerSyntax(d)],
    }),
    { ignores: ["providers/shared/**"] },
  ),
  // Every other provider file.
  ...perDepth(
    "providers",
    (d) => ({
      files: [`providers/*/${"*/".repeat(d - 1)}*.ts`],
      patterns: providerPatterns(d, false),
      syntax: providerSyntax(d),
    }),
    { ignores: ["providers/shared/**", "providers/**/client*.ts"] },
  ),
  // workflows/<name>/...: Pulumi only in resource files, no module-level Set/Map, never components/stacks/test.
  ...perDepth("workflows", (d) => ({
    patterns: [
      noImportTest,
      {
        regex: into(d, "(components|stacks)", "(/|$)"),
        message: "workflows never import components or stacks",
      },
    ],
    syntax: [pulumiOnlyInResourceFiles, noRequirePulumi, noModuleSetMap, noRequireTest],
  })),
  // components/<domain>/...: never stacks, never a workflow's internals.
  ...perDepth("components", (d) => ({
    patterns: [
      noImportTest,
      { regex: into(d, "stacks", "(/|$)"), message: "components never import stacks" },
      {
        regex: into(d, "workflows", "/[^/]+/"),
        message:
          "components use a workflow through `workflows` or `workflows/<name>` (its index), not its internals",
      },
    ],
    syntax: [noRequireTest],
  })),
  // stacks/*.ts (depth 1): entry points only; top-level resources from a provider's entry point are fine.
  {
    files: ["stacks/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            noImportTest,
            {
              regex: "^\\.\\./components/[^/]+/",
              message: "stacks use a component through `components/<domain>` (its index.ts), not its files",
            },
            {
              regex: "^\\.\\./providers/(?!shared/)[^/]+/",
              message: "stacks use a provider through `providers/<system>` (its index.ts), not its files",
            },
            {
              regex: "^\\.\\./workflows/[^/]+/",
              message: "stacks use a workflow through `workflows` or `workflows/<name>`, not its internals",
            },
          ],
        },
      ],
      "no-restricted-syntax": ["error", noRequireTest],
    },
  },
  {
    // The cockpit drives the stacks through the Automation API (a `pulumi` process), never by
    // importing them; it uses only providers/shared and npm packages of the product.
    files: ["cockpit/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            noImportTest,
            {
              regex: "^(\\.\\./)+(components|stacks|workflows)(/|$)",
              message:
                "the cockpit runs stacks through the Automation API; it never imports components, stacks or workflows",
            },
          ],
        },
      ],
      "no-restricted-syntax": ["error", noRequireTest],
    },
  },
  {
    files: ["index.ts", "grid/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [noImportTest] }],
      "no-restricted-syntax": ["error", noRequireTest],
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
