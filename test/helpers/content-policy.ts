// A ContentPolicy from config text, through the real loader, for the content tests.
import { parseConfig } from "../../src/config/load.ts";
import type { ContentPolicy } from "../../src/model/content.ts";
import type { PolicyRequest } from "../../src/policy/request.ts";

export function contentPolicy(text: string): ContentPolicy {
  const result = parseConfig(text, "test.conf", "/tmp");
  if (!result.ok) throw new Error(result.errors.join("\n"));
  if (!result.config.content) throw new Error("no [content] in the config");
  return result.config.content;
}

/** The rules most tests use: one of each kind. */
export const RULES = `
[content]
[rule exe]
attachments = executable
score = 10
action = reject
message = executable attachments are refused
[rule encrypted]
attachments = encrypted_zip
score = 3
[rule corrupt]
attachments = corrupt_zip
score = 1
[rule lottery]
subject = /gewinn|выигрыш|当選|you have won/i
score = 4.5
[rule tagged]
subject_prefix = [SPAM]
score = 2
action = warn
[rule trap]
recipients = trap@example.org, @traps.example.net
score = 20
action = reject
`;

export function messageRequest(
  message: Uint8Array,
  recipients: string[] = ["someone@example.net"],
): PolicyRequest & {
  form: "message";
} {
  return {
    form: "message",
    envelope: { sender: "sender@example.org", recipients },
    message,
    size: message.length,
    truncated: false,
  };
}
