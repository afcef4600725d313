// The process's soft limit on open files, read from /proc (Linux); the runtimes offer no getrlimit.
import { readFileSync } from "node:fs";

const FALLBACK = 1024; // Linux's usual default soft limit

export function openFileLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) =>
      l.startsWith("Max open files")
    );
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    if (soft === "unlimited") return Number.MAX_SAFE_INTEGER;
    const value = Number(soft);
    return Number.isInteger(value) && value > 0 ? value : FALLBACK;
  } catch {
    return FALLBACK;
  }
}
