import { readFileSync } from "node:fs";

/** The gid of a group name, from /etc/group (no shell, no native module). */
export function groupId(name: string): number {
  for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
    const [group, , gid] = line.split(":");
    if (group === name) return Number(gid);
  }
  throw new Error(`no group named ${name}`);
}
