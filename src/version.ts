// Kept in step with package.json by test/unit/version.test.ts; a constant so the compiled binary needs no file.
export const VERSION = "0.1.0";
