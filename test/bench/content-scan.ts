// The content rules' figures for docs/content.md and `npm run bench` (--only content): a 1 MB message with
// 20 attachments (PDFs, images, office documents, which are zips, a zip holding a zip, a forwarded
// message) through every kind of rule, none matching so every part is looked at: CPU ms per scan and
// scans per second on one core; the same for a small message with subject and spamtrap rules only; and
// what one scan allocates on the heap besides the message (which the front's request holds), and so the
// bytes one scan in flight holds (the message and that); and a message whose one attachment is a 1 MB
// .tar.gz (Debian's tar), inflated and read as a tar on every scan. Prints one JSON line.
// Run: `bun test/bench/content-scan.ts [SECONDS]`.
import { Buffer } from "node:buffer";
import { scanMessage } from "../../src/content/scan.ts";
import { attachedMessage, message, multipart, part, PNG, zip } from "../helpers/content-corpus.ts";
import { contentPolicy, messageRequest, RULES } from "../helpers/content-policy.ts";
import { noiseFile, tarGzOf } from "../helpers/real-archives.ts";

const seconds = Number(process.argv[2] ?? 3);

/** Deterministic bytes that do not compress (xorshift). */
function noise(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function officeDocument(seed: number): Uint8Array {
  const xml = (n: number) =>
    `<?xml version="1.0"?><w:document>${"<w:p>lorem ipsum</w:p>".repeat(n)}</w:document>`;
  return zip([
    { name: "[Content_Types].xml", data: xml(5), deflate: true },
    { name: "_rels/.rels", data: xml(2), deflate: true },
    { name: "word/document.xml", data: xml(2000), deflate: true },
    { name: "word/styles.xml", data: xml(300), deflate: true },
    { name: "word/media/image1.png", data: Buffer.concat([PNG, noise(20_000, seed)]) },
  ]);
}

export function benchMessage(): Uint8Array {
  const parts = [
    part({ type: "text/plain; charset=utf-8", body: "Hello,\r\nthe files.\r\n", encoding: "7bit" }),
  ];
  for (let i = 0; i < 8; i++) {
    parts.push(part({ type: "application/pdf", name: `report-${i}.pdf`, body: noise(52_000, i + 1) }));
  }
  for (let i = 0; i < 5; i++) {
    parts.push(
      part({ type: "image/png", name: `photo-${i}.png`, body: Buffer.concat([PNG, noise(25_000, i + 50)]) }),
    );
  }
  for (let i = 0; i < 4; i++) {
    const type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    parts.push(part({ type, name: `letter-${i}.docx`, body: officeDocument(i + 100) }));
  }
  const inner = zip([{ name: "data.csv", data: "a,b,c\n".repeat(3000), deflate: true }]);
  parts.push(part({
    type: "application/zip",
    name: "archive.zip",
    body: zip([{ name: "inner.zip", data: inner }, { name: "notes.txt", data: noise(30_000, 7) }]),
  }));
  const forwarded = new TextDecoder("latin1").decode(
    message(
      "fwd",
      multipart("mixed", [part({ type: "application/pdf", name: "fwd.pdf", body: noise(40_000, 9) })]),
    ),
  );
  parts.push(attachedMessage(forwarded));
  parts.push(
    part({
      type: "text/html",
      name: "page.html",
      body: "<p>hi</p>".repeat(2000),
      encoding: "quoted-printable",
    }),
  );
  return message(
    "Quarterly figures",
    multipart("mixed", [multipart("alternative", parts.slice(0, 1)), ...parts.slice(1)]),
  );
}

/**
 * A message with one .tar.gz of about 1 MB, as a project's files would be: ten incompressible 90 KB files
 * (PDFs, images) and 580 KB of CSV text, which gzip shrinks about sixfold.
 */
export function tarGzMessage(): Uint8Array {
  const files = Array.from({ length: 10 }, (_, i) => noiseFile(`scans/page-${i}.pdf`, 90_000, i + 1));
  const rows = Array.from(
    { length: 25_000 },
    (_, i) => `${i},2026-12-${(i % 28) + 1},${(i * 37) % 1000}.50\n`,
  );
  files.push({ name: "ledger.csv", data: rows.join("") });
  const archive = tarGzOf(files);
  const body = multipart("mixed", [
    part({ type: "text/plain; charset=utf-8", body: "The files.\r\n", encoding: "7bit" }),
    part({ type: "application/gzip", name: "project.tar.gz", body: archive }),
  ]);
  return message("Project files", body);
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Scans one after another for `ms` after a warm-up: CPU ms and wall ms per scan, scans per second. */
function sequential(
  request: ReturnType<typeof messageRequest>,
  policy: ReturnType<typeof contentPolicy>,
  ms: number,
) {
  const until = (end: number) => performance.now() < end;
  for (const end = performance.now() + 500; until(end);) scanMessage(request, policy);
  let scans = 0;
  const cpuStart = cpuMs();
  const started = performance.now();
  while (until(started + ms)) {
    const answer = scanMessage(request, policy);
    if (answer.action !== "accept" || answer.symbols !== undefined) throw new Error(JSON.stringify(answer));
    scans++;
  }
  const wall = performance.now() - started;
  const cpu = cpuMs() - cpuStart;
  return {
    scans_per_s: Math.round(scans / (wall / 1000)),
    scans_per_cpu_s: Math.round(scans / (cpu / 1000)),
    cpu_ms_per_scan: Math.round((cpu / scans) * 1000) / 1000,
    wall_ms_per_scan: Math.round((wall / scans) * 1000) / 1000,
  };
}

const gc = () => (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);

/**
 * What one scan allocates (heap and buffers): their growth over `count` scans after a full collection,
 * with none between, divided by `count`. A scan is synchronous, so this bounds what it holds while it
 * runs.
 */
function allocatedPerScan(
  request: ReturnType<typeof messageRequest>,
  policy: ReturnType<typeof contentPolicy>,
  count: number,
) {
  const used = () => {
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  };
  gc();
  const before = used();
  for (let i = 0; i < count; i++) scanMessage(request, policy);
  const perScan = (used() - before) / count;
  return {
    kb_per_scan: Math.round(perScan / 1024),
    // What one scan in flight holds: the request's message and what the scan allocates beside it.
    in_flight_bytes_per_scan: request.message.length + Math.round(perScan),
    rss_mb: Math.round(process.memoryUsage().rss / 1048576),
  };
}

if (import.meta.main) {
  const big = benchMessage();
  const policy = contentPolicy(RULES);
  const request = messageRequest(big);
  const small = messageRequest(message("Re: lunch on Friday?", "\r\nSee you there.\r\n"));
  const header = contentPolicy(RULES.replace(/\[rule (exe|encrypted|corrupt)\][^[]*/g, ""));
  const tarGz = messageRequest(tarGzMessage());
  const result = {
    message_bytes: big.length,
    attachments: 20,
    big: sequential(request, policy, seconds * 1000),
    small_header_rules: sequential(small, header, (seconds * 1000) / 2),
    allocated: allocatedPerScan(request, policy, 20),
    tar_gz: {
      message_bytes: tarGz.message.length,
      ...sequential(tarGz, policy, (seconds * 1000) / 2),
      allocated: allocatedPerScan(tarGz, policy, 10),
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
