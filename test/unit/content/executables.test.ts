// Executable detection by name, declared type and first bytes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { executableMagic, executableReason, extensionOf } from "../../../src/content/executables.ts";
import { elfExecutable, MZ_TEXT, PNG, windowsExecutable } from "../../helpers/content-corpus.ts";

const EXTENSIONS = new Set([".exe", ".js"]);
const none = new Uint8Array(0);

describe("executables", () => {
  it("extensionOf: the one Windows acts on", () => {
    assert.equal(extensionOf("a.PDF.exe"), ".exe");
    assert.equal(extensionOf("invoice.exe. . "), ".exe");
    assert.equal(extensionOf("archive.tar.gz"), ".gz");
    assert.equal(extensionOf(".bashrc"), "");
    assert.equal(extensionOf("dir.d/README"), "");
    assert.equal(extensionOf("noext"), "");
  });

  it("extensionOf: a name of 256 KB of dots or spaces is answered in one pass", () => {
    // `/[.\s]+$/` retried from every dot of a run not at the end: quadratic, 45 s for each of the first two
    // names (a MIME name may fill a part's 256 KB header block); the test then outlasts the runner's timeout.
    const size = 256 * 1024;
    assert.equal(extensionOf(".".repeat(size) + "x"), ".x");
    assert.equal(extensionOf(`a${" ".repeat(size)}b.exe`), ".exe");
    assert.equal(extensionOf("a.exe" + ". ".repeat(size / 2)), ".exe");
    assert.equal(extensionOf(".".repeat(size)), "");
  });

  it("magic: MZ with a plausible PE offset, ELF, Mach-O, LNK; not text or images", () => {
    assert.equal(executableMagic(windowsExecutable()), "a Windows executable (MZ)");
    assert.equal(executableMagic(elfExecutable()), "an ELF executable");
    assert.equal(
      executableMagic(Uint8Array.from([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1])),
      "a Mach-O executable",
    );
    assert.equal(
      executableMagic(Uint8Array.from([0x4c, 0, 0, 0, 1, 0x14, 2, 0, 0, 0, 0, 0, 0xc0])),
      "a Windows shortcut (LNK)",
    );
    assert.equal(executableMagic(MZ_TEXT), undefined);
    assert.equal(executableMagic(PNG), undefined);
    assert.equal(executableMagic(Uint8Array.from([0x4d, 0x5a])), undefined);
  });

  it("executableReason: name first, then declared type, then content", () => {
    assert.equal(executableReason({ name: "A.EXE", head: none }, EXTENSIONS), "name ends in .exe");
    assert.equal(
      executableReason({ name: "x", contentType: "application/x-msdownload", head: none }, EXTENSIONS),
      "declared application/x-msdownload",
    );
    assert.equal(
      executableReason(
        { name: "photo.png", contentType: "image/png", head: windowsExecutable() },
        EXTENSIONS,
      ),
      "content is a Windows executable (MZ)",
    );
    assert.equal(
      executableReason({ name: "photo.png", contentType: "image/png", head: PNG }, EXTENSIONS),
      undefined,
    );
  });
});
