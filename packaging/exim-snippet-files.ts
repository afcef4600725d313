// packaging/exim/ holds the snippets as files (for /usr/share/doc/mailpolicyd/examples); they are
// generated from src/exim/snippets.ts by `npm run snippets`, and test/unit/exim/snippets.test.ts fails
// when they drift.
import { basename } from "node:path";
import { eximSnippet, legacySnippet, type SnippetVariant } from "../src/exim/snippets.ts";

export const SNIPPET_DIR = new URL("./exim/", import.meta.url).pathname;

export function snippetFiles(): Record<string, string> {
  const files: Record<string, string> = { "legacy-readsocket.conf": legacySnippet() };
  for (const variant of ["debian-split", "debian-unsplit", "plain"] as SnippetVariant[]) {
    eximSnippet(variant).forEach((file, index) => {
      const name = variant === "plain" ? ["main-section.conf", "acl-section.conf"][index] : basename(file.path);
      files[`${variant}/${name}`] = file.content;
    });
  }
  return files;
}

if (import.meta.main) {
  const { mkdirSync, writeFileSync } = await import("node:fs");
  for (const [name, content] of Object.entries(snippetFiles())) {
    mkdirSync(`${SNIPPET_DIR}${name}`.replace(/\/[^/]+$/, ""), { recursive: true });
    writeFileSync(`${SNIPPET_DIR}${name}`, content);
    console.log(`wrote packaging/exim/${name}`);
  }
}
