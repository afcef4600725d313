// Debian's Exim configuration files as text, for `mailpolicyd exim-setup`: which scheme
// update-exim4.conf builds from, and mailpolicyd's lines in exim4.conf.localmacros, a file the admin
// shares with us. Our lines sit between marker comments so that removing them never touches the admin's.

export const BLOCK_BEGIN =
  "# BEGIN mailpolicyd: added by `mailpolicyd exim-setup --add`, removed by --remove";
export const BLOCK_END = "# END mailpolicyd";

/**
 * dc_use_split_config from update-exim4.conf.conf, a shell fragment that update-exim4.conf sources: the
 * last assignment wins, the value is compared in lower case, and unset means the unsplit scheme.
 */
export function usesSplitConfig(settings: string): boolean {
  let value = "";
  for (const match of settings.matchAll(/^[ \t]*dc_use_split_config=(['"]?)([^'"\n]*)\1[ \t]*$/gm)) {
    value = match[2];
  }
  return value.trim().toLowerCase() === "true";
}

const BLOCK = /^# BEGIN mailpolicyd\b.*\n(?:.*\n)*?# END mailpolicyd\b.*(?:\n|$)/gm;
// A line pasted by hand from `mailpolicyd exim-snippet --debian-unsplit` names the ACL files that a
// removal deletes; left behind, it would make Exim fail on every message instead of asking nobody.
const PASTED_ACL_LINE = /^[ \t]*MAIN_ACL_CHECK_\w+[ \t]*=.*\/mailpolicyd_\w+\.acl[ \t]*(?:\n|$)/gm;

/** The text without mailpolicyd's block and without hand-pasted lines that point at its ACL files. */
export function withoutMailpolicyd(text: string): string {
  return text.replace(BLOCK, "").replace(PASTED_ACL_LINE, "");
}

/** The text with `lines` as mailpolicyd's block at the end (replacing any earlier one). */
export function withMailpolicyd(text: string, lines: string): string {
  const rest = withoutMailpolicyd(text);
  const separator = rest === "" || rest.endsWith("\n") ? "" : "\n";
  return `${rest}${separator}${BLOCK_BEGIN}\n${lines.replace(/\n?$/, "\n")}${BLOCK_END}\n`;
}
