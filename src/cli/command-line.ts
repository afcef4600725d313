// mailpolicyd command line: the commands and their options are listed in help.ts.
import { parseArgs } from "node:util";
// A command's own modules are imported when it runs: `status` need not load the daemon's (the mail
// parsers, the SMTP and Redis clients), which took most of its time (docs/decisions.md, "Startup").
import { CLIENT_COMMANDS, type ClientCommand, DEFAULT_CONFIG_FILE, HELP } from "./help.ts";
import { checkRequestLine } from "./check-request.ts";
import { clientTimeoutMs } from "./client-timeout.ts";
import { unreadableConfig } from "./unreadable-config.ts";
import { MAX_TOP_ROWS } from "../control/top-bound.ts";
import { runCommand } from "./run.ts";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import { VERSION } from "../version.ts";

const EX_USAGE = 64;
const EX_NOINPUT = 66;
// Commands that read only parts of the config and otherwise use defaults (the snippets' addresses, the
// clients' control socket): a --config they cannot read is an error of its own (unreadable-config.ts), not
// the defaults, which would print the wrong address or ask the wrong socket.
const SNIPPET_COMMANDS = new Set(["exim-snippet", "postfix-snippet", "exim-setup"]);

/** EX_NOINPUT with the reason when the --config given cannot be read; undefined when it can. */
function unreadableConfigError(command: string, file: string): number | undefined {
  const unreadable = unreadableConfig(file);
  if (unreadable === undefined) return undefined;
  process.stderr.write(`mailpolicyd ${command}: ${unreadable}\n`);
  return EX_NOINPUT;
}

function usageError(message: string, command = "main"): number {
  process.stderr.write(`mailpolicyd: ${message}\n\n${HELP[command] ?? HELP.main}\n`);
  return EX_USAGE;
}

export function main(argv: string[]): number | "running" | Promise<number | "running"> {
  const [command, ...rest] = argv;
  // `help --help` and `help help`: help is a command, and every command takes --help (the man page).
  if (command === "help" && rest.length === 1 && ["--help", "-h", "help"].includes(rest[0])) {
    process.stdout.write(`${HELP.main}\n`);
    return 0;
  }
  if (command === "help" && rest.length > 0) {
    // `help status` as `status --help`, as git and systemctl take it.
    const topic = rest[0];
    if (!(topic in HELP) || topic === "main" || rest.length > 1) {
      return usageError(`no help for '${rest.join(" ")}'`);
    }
    process.stdout.write(`${HELP[topic]}\n`);
    return 0;
  }
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
        timeout: { type: "string" },
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
    status: ["config", "socket", "json", "timeout"],
    top: ["config", "socket", "json", "n", "rule", "timeout"],
    show: ["config", "socket", "json", "timeout"],
    reset: ["config", "socket", "timeout"],
    reload: ["config", "socket", "timeout"],
    check: ["config", "socket", "timeout"],
    spf: ["config"],
    scan: ["config", "sender", "rcpt"],
  };
  for (const name of Object.keys(values)) {
    if (!(allowed[command] ?? []).includes(name)) {
      return usageError(`option --${name} does not apply to ${command}`, command);
    }
  }
  // `--socket "$SOCK"` with $SOCK unset: an empty --socket was taken as none, and `reset` went to the
  // default config's daemon; an empty --config, --confdir or FILE was a file named "" ("cannot read :
  // ENOENT"). No path is empty.
  for (const name of ["config", "socket", "confdir"] as const) {
    if (values[name] === "") return usageError(`${command}: --${name} is empty`, command);
  }
  if ((command === "config-test" || command === "scan") && positionals[0] === "") {
    return usageError(`${command}: FILE is empty`, command);
  }

  if ((CLIENT_COMMANDS as readonly string[]).includes(command)) {
    // --config only says where the socket is, so with --socket it would be ignored; check also reads
    // [spf] from it (the trace after the answer), so there the two go together.
    if (values.socket !== undefined && values.config !== undefined && command !== "check") {
      return usageError("give --config or --socket, not both", command);
    }
    const needsKey = command === "show" || command === "reset";
    if (needsKey && positionals.length !== 1) return usageError(`${command} takes one KEY`, command);
    // `reset "$KEY"` with $KEY unset: no key is empty (the limits trim keys), and "no counter for " (exit 1)
    // read as "nothing to reset" rather than as the script's mistake.
    if (needsKey && positionals[0].trim() === "") return usageError(`${command}: KEY is empty`, command);
    // `top --rule "$RULE"` with $RULE unset: the daemon takes an empty rule as none, and listed every rule's.
    if (values.rule?.trim() === "") return usageError(`${command}: --rule NAME is empty`, command);
    if (command === "check" && positionals.length === 0) return usageError("check needs a request", command);
    const request = command === "check" ? checkRequestLine(positionals) : undefined;
    if (request && "error" in request) return usageError(`check: ${request.error}`, command);
    const unreadable = values.config === undefined
      ? undefined
      : unreadableConfigError(command, values.config);
    if (unreadable !== undefined) return unreadable;
    // Digits only: Number() took 0x10, 1e3 and " 5" as 16, 1000 and 5.
    const top = values.n === undefined ? undefined : /^\d+$/.test(values.n) ? Number(values.n) : NaN;
    // Bounded here as the API bounds it: over it, the daemon's 400 exited 1, as a refusal, not a usage error.
    if (top !== undefined && !(Number.isInteger(top) && top > 0 && top <= MAX_TOP_ROWS)) {
      return usageError(`-n takes a whole number from 1 to ${MAX_TOP_ROWS}`, command);
    }
    const timeoutMs = clientTimeoutMs(values.timeout);
    if (typeof timeoutMs !== "number") return usageError(timeoutMs.problem, command);
    return import("./control-commands.ts").then(({ runClientCommand }) =>
      runClientCommand(command as ClientCommand, {
        config: values.config ?? DEFAULT_CONFIG_FILE,
        socket: values.socket,
        json: values.json,
        top,
        rule: values.rule,
        request: request?.line,
        timeoutMs,
        args: positionals,
      })
    );
  }

  if (SNIPPET_COMMANDS.has(command) && values.config !== undefined && !values.remove) {
    const unreadable = unreadableConfigError(command, values.config);
    if (unreadable !== undefined) return unreadable;
  }

  switch (command) {
    case "version":
      process.stdout.write(`mailpolicyd ${VERSION}\n`);
      return 0;
    case "default-config":
      return import("../config/defaults.ts").then(({ EMBEDDED_CONFIG }) => {
        process.stdout.write(EMBEDDED_CONFIG);
        return 0;
      });
    case "spf":
      return import("./spf-command.ts").then(({ spfCommand }) =>
        spfCommand({
          config: values.config ?? DEFAULT_CONFIG_FILE,
          configGiven: values.config !== undefined,
          args: positionals,
        })
      );
    case "scan":
      return import("./scan-command.ts").then(({ scanCommand }) =>
        scanCommand({
          config: values.config ?? DEFAULT_CONFIG_FILE,
          configGiven: values.config !== undefined,
          args: positionals,
          sender: values.sender,
          recipients: values.rcpt,
        })
      );
    case "exim-snippet": {
      const chosen = (["debian-split", "debian-unsplit", "plain", "legacy"] as const).filter((name) =>
        values[name]
      );
      if (chosen.length > 1) {
        return usageError("choose one of --debian-split, --debian-unsplit, --plain, --legacy", command);
      }
      return import("./exim-snippet-command.ts").then(({ eximSnippetCommand }) => {
        const result = eximSnippetCommand(chosen[0] ?? "debian-split", {
          listen: values.listen,
          config: values.config ?? DEFAULT_CONFIG_FILE,
        });
        return typeof result === "number" ? result : usageError(result.usage, command);
      });
    }
    case "postfix-snippet": {
      return import("./postfix-snippet-command.ts").then(({ postfixSnippetCommand }) => {
        const result = postfixSnippetCommand({
          listen: values.listen,
          config: values.config ?? DEFAULT_CONFIG_FILE,
          failClosed: values["fail-closed"] === true,
        });
        return typeof result === "number" ? result : usageError(result.usage, command);
      });
    }
    case "exim-setup": {
      if (values.add === values.remove) return usageError("give --add or --remove", command);
      return Promise.all([
        import("./exim-setup.ts"),
        import("./exim-snippet-command.ts"),
        import("../exim/snippets.ts"),
      ]).then(([{ DEBIAN_EXIM_DIR, eximSetupCommand }, { snippetAddress }, { DEFAULT_POLICY_ADDRESS }]) => {
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
      });
    }
    case "config-test": {
      if (positionals.length > 1) return usageError("config-test takes one file", command);
      if (embedded && positionals.length > 0) {
        return usageError("give a FILE or --default-config, not both", command);
      }
      const file = positionals[0] ?? DEFAULT_CONFIG_FILE;
      return import("./config-source.ts").then(({ readConfig }) => {
        const result = readConfig({ file, embedded });
        if (!result.ok) {
          for (const error of result.errors) process.stdout.write(`${error}\n`);
          return 1;
        }
        // A config that works but will not do what it says: still OK (exit 0), said first.
        const warnings = [...result.warnings ?? [], ...result.configTestWarnings ?? []];
        for (const warning of warnings) process.stdout.write(`${warning}\n`);
        process.stdout.write(`${result.config.file}: OK\n`);
        return 0;
      });
    }
    case "run": {
      const level = values["log-level"];
      if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
        return usageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`, command);
      }
      if (embedded && values.config) {
        return usageError("give --config or --default-config, not both", command);
      }
      return runCommand(
        { file: values.config ?? DEFAULT_CONFIG_FILE, embedded },
        level as LogLevel | undefined,
      );
    }
  }
  return usageError(`unknown command '${command}'`);
}
