#!/usr/bin/env bun
// mailpolicyd command line: the commands and their options are listed in src/cli/help.ts.
import { parseArgs } from "node:util";
import { readConfig } from "./cli/config-source.ts";
import { DEFAULT_CONFIG_FILE, HELP } from "./cli/help.ts";
import { runCommand } from "./cli/run.ts";
import { reexecWithHeapTuning } from "./cli/heap-tuning.ts";
import { checkRequestLine } from "./cli/check-request.ts";
import { spfCommand } from "./cli/spf-command.ts";
import { scanCommand } from "./cli/scan-command.ts";
import { CLIENT_COMMANDS, type ClientCommand, runClientCommand } from "./cli/control-commands.ts";
import { DEBIAN_EXIM_DIR, eximSetupCommand } from "./cli/exim-setup.ts";
import { EMBEDDED_CONFIG } from "./config/defaults.ts";
import { eximSnippetCommand, snippetAddress } from "./cli/exim-snippet-command.ts";
import { postfixSnippetCommand } from "./cli/postfix-snippet-command.ts";
import { DEFAULT_POLICY_ADDRESS } from "./exim/snippets.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { VERSION } from "./version.ts";

const EX_USAGE = 64;

function usageError(message: string, command = "main"): number {
  process.stderr.write(`mailpolicyd: ${message}\n\n${HELP[command] ?? HELP.main}\n`);
  return EX_USAGE;
}

function main(argv: string[]): number | "running" | Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${HELP.main}\n`);
    return command === undefined ? EX_USAGE : 0;
  }
  if (command === "--version") {
    process.stdout.write(`mailpolicyd ${VERSION}\n`);
    return 0;
  }
  if (!(command in HELP) || command === "main") return usageError(`unknown command '${command}'`);

  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: ["config-test", "show", "reset", "check", "spf", "scan"].includes(command),
      options: {
        help: { type: "boolean", short: "h" },
        config: { type: "string", short: "c" },
        "default-config": { type: "boolean" },
        "log-level": { type: "string" },
        "debian-split": { type: "boolean" },
        "debian-unsplit": { type: "boolean" },
        plain: { type: "boolean" },
        legacy: { type: "boolean" },
        socket: { type: "string" },
        listen: { type: "string" },
        json: { type: "boolean" },
        n: { type: "string", short: "n" },
        rule: { type: "string" },
        add: { type: "boolean" },
        remove: { type: "boolean" },
        confdir: { type: "string" },
        "fail-closed": { type: "boolean" },
        sender: { type: "string" },
        rcpt: { type: "string", multiple: true },
      },
      strict: true,
    });
  } catch (error) {
    return usageError((error as Error).message, command);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP[command]}\n`);
    return 0;
  }
  const embedded = values["default-config"] === true;
  const allowed: Record<string, string[]> = {
    run: ["config", "default-config", "log-level"],
    "config-test": ["default-config"],
    "exim-snippet": ["debian-split", "debian-unsplit", "plain", "legacy", "listen", "config"],
    "exim-setup": ["add", "remove", "listen", "confdir", "config"],
    "postfix-snippet": ["listen", "config", "fail-closed"],
    status: ["config", "socket", "json"],
    top: ["config", "socket", "json", "n", "rule"],
    show: ["config", "socket", "json"],
    reset: ["config", "socket"],
    reload: ["config", "socket"],
    check: ["config", "socket"],
    spf: ["config"],
    scan: ["config", "sender", "rcpt"],
  };
  for (const name of Object.keys(values)) {
    if (!(allowed[command] ?? []).includes(name)) {
      return usageError(`option --${name} does not apply to ${command}`, command);
    }
  }

  if ((CLIENT_COMMANDS as readonly string[]).includes(command)) {
    const needsKey = command === "show" || command === "reset";
    if (needsKey && positionals.length !== 1) return usageError(`${command} takes one KEY`, command);
    if (command === "check" && positionals.length === 0) return usageError("check needs a request", command);
    const request = command === "check" ? checkRequestLine(positionals) : undefined;
    if (request && "error" in request) return usageError(`check: ${request.error}`, command);
    const top = values.n === undefined ? undefined : Number(values.n);
    if (top !== undefined && !(Number.isInteger(top) && top > 0)) {
      return usageError("-n takes a positive number", command);
    }
    return runClientCommand(command as ClientCommand, {
      config: values.config ?? DEFAULT_CONFIG_FILE,
      socket: values.socket,
      json: values.json,
      top,
      rule: values.rule,
      request: request?.line,
      args: positionals,
    });
  }

  switch (command) {
    case "version":
      process.stdout.write(`mailpolicyd ${VERSION}\n`);
      return 0;
    case "default-config":
      process.stdout.write(EMBEDDED_CONFIG);
      return 0;
    case "spf":
      return spfCommand({
        config: values.config ?? DEFAULT_CONFIG_FILE,
        configGiven: values.config !== undefined,
        args: positionals,
      });
    case "scan":
      return scanCommand({
        config: values.config ?? DEFAULT_CONFIG_FILE,
        configGiven: values.config !== undefined,
        args: positionals,
        sender: values.sender,
        recipients: values.rcpt,
      });
    case "exim-snippet": {
      const chosen = (["debian-split", "debian-unsplit", "plain", "legacy"] as const).filter((name) =>
        values[name]
      );
      if (chosen.length > 1) {
        return usageError("choose one of --debian-split, --debian-unsplit, --plain, --legacy", command);
      }
      const result = eximSnippetCommand(chosen[0] ?? "debian-split", {
        listen: values.listen,
        config: values.config ?? DEFAULT_CONFIG_FILE,
      });
      return typeof result === "number" ? result : usageError(result.usage, command);
    }
    case "postfix-snippet": {
      const result = postfixSnippetCommand({
        listen: values.listen,
        config: values.config ?? DEFAULT_CONFIG_FILE,
        failClosed: values["fail-closed"] === true,
      });
      return typeof result === "number" ? result : usageError(result.usage, command);
    }
    case "exim-setup": {
      if (values.add === values.remove) return usageError("give --add or --remove", command);
      // Removing goes by file names: it must work whatever the config says (the package's prerm runs it).
      const address = values.remove
        ? { spec: DEFAULT_POLICY_ADDRESS }
        : snippetAddress({ listen: values.listen, config: values.config ?? DEFAULT_CONFIG_FILE });
      if ("usage" in address) return usageError(address.usage, command);
      if ("problem" in address) {
        process.stderr.write(`mailpolicyd exim-setup: ${address.problem}\n`);
        return 1;
      }
      return eximSetupCommand({
        action: values.add ? "add" : "remove",
        confdir: values.confdir ?? DEBIAN_EXIM_DIR,
        address: address.spec,
        spamd: "spamd" in address ? address.spamd : undefined,
      });
    }
    case "config-test": {
      if (positionals.length > 1) return usageError("config-test takes one file", command);
      const file = positionals[0] ?? DEFAULT_CONFIG_FILE;
      const result = readConfig({ file, embedded });
      if (!result.ok) {
        for (const error of result.errors) process.stdout.write(`${error}\n`);
        return 1;
      }
      process.stdout.write(`${result.config.file}: OK\n`);
      return 0;
    }
    case "run": {
      const level = values["log-level"];
      if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
        return usageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`, command);
      }
      if (embedded && values.config) {
        return usageError("give --config or --default-config, not both", command);
      }
      reexecWithHeapTuning();
      return runCommand(
        { file: values.config ?? DEFAULT_CONFIG_FILE, embedded },
        level as LogLevel | undefined,
      );
    }
  }
  return usageError(`unknown command '${command}'`);
}

// No top-level await: `bun build --compile --bytecode` does not allow it.
Promise.resolve(main(process.argv.slice(2))).then((status) => {
  if (status !== "running") process.exit(status);
});
