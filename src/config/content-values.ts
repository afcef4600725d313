// Converters for [content] and [rule NAME] values whose syntax is ours: byte sizes, extension lists, the
// subject pattern, spamtrap addresses, what `attachments =` names.
import * as v from "valibot";
import { ATTACHMENT_KINDS, type AttachmentKind } from "../model/content.ts";
import { parsedBy } from "./limit-values.ts";

const items = (text: string) => text.split(/[,\s]+/).map((item) => item.trim()).filter(Boolean);
/** "exe, .scr, COM" → [".exe", ".scr", ".com"] */
export function parseExtensions(text: string): string[] | string {
  const extensions: string[] = [];
  for (const item of items(text.toLowerCase())) {
    const extension = item.startsWith(".") ? item : `.${item}`;
    if (!/^\.[a-z0-9_~$-]{1,20}$/.test(extension)) return `'${item}' is not a file extension`;
    extensions.push(extension);
  }
  return extensions;
}

/** "/lottery|you have won/i": a JavaScript regular expression with flags among i, m, s, u. */
export function parseSubjectPattern(text: string): RegExp | string {
  const match = /^\/(.+)\/([a-z]*)$/s.exec(text);
  if (!match) return "expected /regular expression/flags, such as /you have won/i";
  if (!/^[imsu]*$/.test(match[2])) return `flag '${match[2]}' not allowed (use i, m, s, u)`;
  try {
    return new RegExp(match[1], match[2]);
  } catch (error) {
    return `invalid regular expression: ${(error as Error).message}`;
  }
}

const ADDRESS = /^[^\s@<>,;"]+@[a-z0-9.-]+$/;
const DOMAIN = /^@[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/;

/** "trap@example.org, @spamtrap.example.net" (an @domain entry: every address of that domain). */
export function parseSpamtraps(text: string): { addresses: Set<string>; domains: string[] } | string {
  const traps = { addresses: new Set<string>(), domains: [] as string[] };
  for (const item of items(text.toLowerCase())) {
    if (DOMAIN.test(item)) traps.domains.push(item.slice(1));
    else if (ADDRESS.test(item)) traps.addresses.add(item);
    else return `'${item}' is not an address or an @domain`;
  }
  if (traps.addresses.size === 0 && traps.domains.length === 0) return "name at least one address";
  return traps;
}

function isAttachmentKind(item: string): item is AttachmentKind {
  return ATTACHMENT_KINDS.some((kind) => kind === item);
}

/** "executable", "encrypted_zip", "corrupt_zip", extensions (".iso, .img"), or several of them. */
export function parseAttachmentList(
  text: string,
): { kinds: AttachmentKind[]; extensions: string[] } | string {
  const list = { kinds: [] as AttachmentKind[], extensions: [] as string[] };
  for (const item of items(text.toLowerCase())) {
    if (isAttachmentKind(item)) {
      list.kinds.push(item);
      continue;
    }
    if (!item.startsWith(".")) return `'${item}' is not ${ATTACHMENT_KINDS.join(", ")} or an .extension`;
    const extension = parseExtensions(item);
    if (typeof extension === "string") return extension;
    list.extensions.push(...extension);
  }
  if (list.kinds.length === 0 && list.extensions.length === 0) return "name what to look for";
  return list;
}

export const extensionList = v.pipe(v.string(), parsedBy(parseExtensions));
export const subjectPattern = v.pipe(v.string(), parsedBy(parseSubjectPattern));
export const spamtrapList = v.pipe(v.string(), parsedBy(parseSpamtraps));
export const attachmentList = v.pipe(v.string(), parsedBy(parseAttachmentList));
