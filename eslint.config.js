// Lint with type information so @pulumi/eslint-plugin can catch an Output in a template literal.
const tsParser = require("@typescript-eslint/parser");
const tsPlugin = require("@typescript-eslint/eslint-plugin");
const pulumi = require("@pulumi/eslint-plugin");

module.exports = [
    { ignores: ["node_modules/**", "bin/**", "out/**", "coverage/**", "tests/fixtures/**", "*.js", "tests/*.js"] },
    {
        files: ["**/*.ts"],
        languageOptions: {
            parser: tsParser,
            parserOptions: { project: "./tsconfig.json", tsconfigRootDir: __dirname },
        },
        plugins: { "@pulumi": pulumi, "@typescript-eslint": tsPlugin },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
        },
    },
];
