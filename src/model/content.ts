// What the content concern is configured with: the shape config/ builds from [content] and the [rule NAME]
// sections, and content/ applies to a message (docs/content.md). The choices each key offers are declared
// here and read by config/schema.ts.
import type { Action } from "./answer.ts";

export const RULE_ACTIONS = ["accept", "warn", "defer", "reject"] as const;
/** What `attachments =` may name besides file extensions (docs/content.md, "Attachment rules"). */
export const ATTACHMENT_KINDS = ["executable", "encrypted_zip", "corrupt_zip"] as const;
export type AttachmentKind = typeof ATTACHMENT_KINDS[number];

/** What a rule looks at: exactly one of these per [rule NAME]. */
export type RuleCondition =
  | { kind: "subject"; pattern: RegExp }
  | { kind: "subject_prefix"; prefix: string }
  /** Spamtrap addresses (lower case), and "@domain" entries: every address of the domain. */
  | { kind: "recipients"; addresses: ReadonlySet<string>; domains: readonly string[] }
  /** Files the message carries: of these kinds, or whose names end in these extensions (".iso"). */
  | { kind: "attachments"; kinds: readonly AttachmentKind[]; extensions: readonly string[] };

export interface ContentRule {
  /** The section's name as written ([rule lottery] → "lottery"). */
  name: string;
  /** The name in upper case: the symbol in the spamd report and the tag ("content:LOTTERY"). */
  symbol: string;
  condition: RuleCondition;
  score: number;
  /** "accept": the rule only adds its score. */
  action: Action;
  message?: string;
}

/** The bounds of one scan and the rules (docs/content.md, "What is scanned, and the bounds"). */
export interface ContentPolicy {
  /** Above this many bytes (or when the listener truncated the message) attachments are not scanned. */
  maxScanSize: number;
  /** MIME nesting: multiparts inside multiparts and attached messages, counted together. */
  maxDepth: number;
  /** MIME parts (and uuencode/yEnc blocks in text) looked at per message; the rest is not scanned (and said). */
  maxParts: number;
  zip: boolean;
  /** Archives inside archives: 1 looks into a zip or tar attachment only, 2 also into the ones it holds, … */
  zipMaxDepth: number;
  /** Bytes of archive kept or inflated per message (zip, tar, gzip and TNEF attachments, nested zips). */
  zipMaxBytes: number;
  /** Entries read per zip or tar, members per gzip (files per TNEF). */
  zipMaxEntries: number;
  /** Entries and members read per message, every zip, tar and gzip of it together, nested ones too. */
  zipMaxMessageEntries: number;
  /** Lower case, with the dot: ".exe". */
  executableExtensions: ReadonlySet<string>;
  rules: readonly ContentRule[];
}
