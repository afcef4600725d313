export const DEFAULT_CONFIG_FILE = "/etc/mailpolicyd/mailpolicyd.conf";

export const HELP: Record<string, string> = {
  main: `Usage: mailpolicyd <command> [options]

Mail policy daemon for Exim and Postfix: per-sender rate limits, abuse alert mail.

Commands:
  run             run the daemon in the foreground (logs to stderr)
  config-test     check a config file; print every error as FILE:LINE: key: problem
  default-config  print the embedded default config
  exim-snippet    print the Exim configuration that asks mailpolicyd
  version         print the version

Run 'mailpolicyd <command> --help' for a command's options.`,
  run: `Usage: mailpolicyd run [--config FILE | --default-config] [--log-level LEVEL]

Runs the daemon in the foreground until SIGTERM or SIGINT; SIGHUP re-reads the config (an invalid
config is refused and the running one stays). Logs one line per event to stderr.

  --config FILE      config file (default ${DEFAULT_CONFIG_FILE})
  --default-config   use the embedded default config: sockets and state under ./run/, no root needed
  --log-level LEVEL  debug | info | warn | error (overrides [daemon] log_level)`,
  "config-test": `Usage: mailpolicyd config-test [FILE | --default-config]

Checks a config file (default ${DEFAULT_CONFIG_FILE}). Exit 0 when valid; exit 1 and one line per
error, as FILE:LINE: key: problem, when not.`,
  "default-config": `Usage: mailpolicyd default-config

Prints the embedded default config, a starting point for /etc/mailpolicyd/mailpolicyd.conf.`,
  "exim-snippet": `Usage: mailpolicyd exim-snippet [--debian-split | --debian-unsplit | --plain | --legacy]
                                [--socket PATH]

Prints the Exim configuration that asks mailpolicyd at RCPT and DATA time, as the files to create:
  --debian-split    /etc/exim4/conf.d/main/01_mailpolicyd and conf.d/acl/50_mailpolicyd (default)
  --debian-unsplit  lines for exim4.conf.localmacros and two ACL files under /etc/exim4
  --plain           main-section lines and ACLs for a hand-written exim.conf
  --legacy          the seed's one-token \${readsocket} condition
Mail is accepted when the daemon does not answer (fail-open); each file says how to fail closed.
Then run update-exim4.conf and reload Exim.

  --socket PATH     the policy socket (default ${"/run/mailpolicyd/policy.sock"})`,
  version: `Usage: mailpolicyd version

Prints the version.`,
};
