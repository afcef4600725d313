import { CLIENT_COMMAND_OPTIONS, DAEMON_SECTION, POSTFIX_SECTION } from "../config/schema.ts";

export const DEFAULT_CONFIG_FILE = "/etc/mailpolicyd/mailpolicyd.conf";

/** The commands that are clients of the running daemon (cli/control-commands.ts). */
export const CLIENT_COMMANDS = ["status", "top", "show", "reset", "reload", "check"] as const;
export type ClientCommand = typeof CLIENT_COMMANDS[number];

const TIMEOUT_OPTION = `
  --timeout DURATION
                   how long to wait for the answer: 500ms, 2s, 1m (default ${CLIENT_COMMAND_OPTIONS.timeout.default})`;
const CLIENT_OPTIONS = `
  --socket PATH    the control socket (default: control_socket from the config)
  --config FILE    where to read control_socket (default ${DEFAULT_CONFIG_FILE})${TIMEOUT_OPTION}
Exit 0 on success, 1 when the daemon refuses (unknown key, invalid config), 2 when it cannot be reached
or has not answered in time, 75 when it cannot do it now (Redis not answering, counters restarting: try
again), 66 when the --config FILE cannot be read.`;
const JSON_OPTION = `
  --json           print the control API's JSON answer as it is`;

export const HELP: Record<string, string> = {
  main: `Usage: mailpolicyd <command> [options]

Mail policy daemon for Exim and Postfix: rate limits, SPF, spam checks, abuse alert mail.

Commands:
  run             run the daemon in the foreground (logs to stderr)
  status          what the running daemon is doing: uptime, rates, top senders, recent alerts
  top             the keys closest to (or over) their limits
  show KEY        one key's counters, subjects and client IPs
  reset KEY       forget a key's counters (unblock a sender)
  reload          re-read the config (an invalid one is refused)
  check REQUEST   ask the policy socket exactly as Exim would and print the answer
  spf IP SENDER   check SPF as the daemon would; print the result, the answer and every DNS query
  scan FILE       judge a message as the spamd front would (rules, spamd); print verdict, score, symbols
  config-test     check a config file; print every error as FILE:LINE: key: problem
  default-config  print the embedded default config
  exim-snippet    print the Exim configuration that asks mailpolicyd
  exim-setup      add mailpolicyd to Debian's Exim configuration, or remove it
  postfix-snippet print the Postfix main.cf lines that ask mailpolicyd
  version         print the version

Run 'mailpolicyd <command> --help' (or 'mailpolicyd help <command>') for a command's options.`,
  run: `Usage: mailpolicyd run [--config FILE | --default-config] [--log-level LEVEL]

Runs the daemon in the foreground until SIGTERM or SIGINT; SIGHUP re-reads the config (an invalid
config is refused and the running one stays). Logs one line per event to stderr.

  --config FILE      config file (default ${DEFAULT_CONFIG_FILE})
  --default-config   use the embedded default config: sockets and state under ./run/, no root needed
  --log-level LEVEL  debug | info | warn | error (overrides [daemon] log_level)`,
  "config-test": `Usage: mailpolicyd config-test [FILE | --default-config]

Checks a config file (default ${DEFAULT_CONFIG_FILE}). Exit 0 when valid; exit 1 and one line per
error, as FILE:LINE: key: problem, when not. A valid file may still get FILE:LINE: key: warning: lines,
for what will not work as written (a limit at a stage the shipped MTA lines never ask at).`,
  "default-config": `Usage: mailpolicyd default-config

Prints the embedded default config (run --default-config's), a commented starting point for a trial:
its sockets, pidfile and state are under run/ beside the file it is saved as. The package installs the
one for /etc/mailpolicyd/mailpolicyd.conf, with the paths its init script, unit and monit check use.`,
  "exim-snippet": `Usage: mailpolicyd exim-snippet [--debian-split | --debian-unsplit | --plain | --legacy]
                                [--listen HOST:PORT] [--config FILE]

Prints the Exim configuration that asks mailpolicyd at RCPT and DATA time, as the files to create:
  --debian-split    /etc/exim4/conf.d/main/01_mailpolicyd and conf.d/acl/50_mailpolicyd (default)
  --debian-unsplit  lines for exim4.conf.localmacros and five ACL files under /etc/exim4
  --plain           main-section lines and ACLs for a hand-written exim.conf
  --legacy          the classic sender_warn daemon's one-token \${readsocket} check, as four warn
                    statements that also log when the daemon does not answer
Exim asks over loopback TCP: --listen, or policy_listen from --config FILE (default
${DEFAULT_CONFIG_FILE}; without it ${DAEMON_SECTION.policy_listen.default}). Never the Unix socket: Exim damages mail after
a failed connect to one (/usr/share/doc/mailpolicyd/exim.md, "Why TCP").
Mail is accepted when the daemon does not answer (fail-open); each file says how to fail closed.
Then run update-exim4.conf and reload Exim.

  --listen HOST:PORT  the loopback address written into the snippets (instead of policy_listen)
  --config FILE       where to read policy_listen, and [spamd] (the spamd_address lines; also with
                      --listen); exit 66 when FILE cannot be read`,
  "postfix-snippet": `Usage: mailpolicyd postfix-snippet [--listen HOST:PORT] [--config FILE] [--fail-closed]

Prints the lines for /etc/postfix/main.cf that make Postfix ask mailpolicyd's [postfix] listener at
each RCPT TO (smtpd_recipient_restrictions, after the relay check and reject_unlisted_recipient)
and once the message is received (smtpd_end_of_data_restrictions), each check with its own
timeout (a second above [limits] and [spf] timeout, at least 3 s) and max_idle from [postfix]
idle_timeout (whole seconds). Then run 'postfix reload'.
The address is --listen, or [postfix] listen (else its socket) from --config FILE (default
${DEFAULT_CONFIG_FILE}; without a [postfix] section ${POSTFIX_SECTION.listen.default}, with a warning).
Mail goes on when mailpolicyd does not answer (default_action=DUNNO, fail-open); the lines say how
to fail closed. Details: /usr/share/doc/mailpolicyd/postfix.md.gz.

  --listen HOST:PORT  the loopback address written into the lines (instead of the config's)
  --config FILE       where to read [postfix] and the concerns' timeouts (with --listen, all but
                      the address); exit 66 when FILE cannot be read
  --fail-closed       defer mail (451 4.3.5) while mailpolicyd does not answer`,
  "exim-setup":
    `Usage: mailpolicyd exim-setup --add | --remove [--listen HOST:PORT] [--config FILE] [--confdir DIR]

Adds mailpolicyd to Debian's Exim configuration, or removes it, then runs update-exim4.conf and
reloads Exim when it runs as a daemon. For the scheme set in update-exim4.conf.conf:
  split    writes conf.d/main/01_mailpolicyd and conf.d/acl/50_mailpolicyd
  unsplit  writes mailpolicyd_rcpt.acl, mailpolicyd_data.acl and their *_ask.acl, and
           mailpolicyd_not_smtp.acl (mail handed to sendmail), and adds three lines between
           "# BEGIN mailpolicyd" and "# END mailpolicyd" to exim4.conf.localmacros (the file's
           other lines are left alone)
--remove takes all of it out again (removing the package does this). When update-exim4.conf
rejects the result, --add puts the previous files back and exits 1. When a file cannot be written
or removed (a directory in its place, a full disk), it names the file, puts back the files it
changed before it and exits 1. Run it as root: a user who cannot write Exim's configuration gets
exit 77.

  --add             install the snippets that 'mailpolicyd exim-snippet' prints
  --remove          remove them
  --listen HOST:PORT  where the snippets ask mailpolicyd (default: as exim-snippet prints it)
  --config FILE     where to read policy_listen and [spamd] (default ${DEFAULT_CONFIG_FILE}); with
                    --add, exit 66 when FILE cannot be read
  --confdir DIR     Debian's Exim configuration (default /etc/exim4); another directory is built into
                    DIR/config.autogenerated and checked with exim4 -bV, and Exim is not reloaded`,
  status: `Usage: mailpolicyd status [--json] [--config FILE | --socket PATH] [--timeout DURATION]

Shows what the running daemon is doing: version, uptime, actor states, requests and rates, tracked
keys, top senders with count/limit/window, recent alerts.
Exit 2 when the daemon is not running or its control socket is not accessible.
${JSON_OPTION} (/status)${CLIENT_OPTIONS}`,
  top:
    `Usage: mailpolicyd top [-n N] [--rule NAME] [--json] [--config FILE | --socket PATH] [--timeout DURATION]

Lists the N keys (default 20, at most 10000) with the highest count relative to their limit;
--rule NAME only those of one limit (an unknown NAME exits 1 and lists the rules).
${JSON_OPTION} (/senders)${CLIENT_OPTIONS}`,
  show: `Usage: mailpolicyd show KEY [--json] [--config FILE | --socket PATH] [--timeout DURATION]

Shows KEY's counter under every limit: count, limit, window start, last seen, alert state, the
subjects and client IPs seen. KEY is what the limit counts: an address, a login, 192.0.2.0/24, ...
${JSON_OPTION} (/sender?key=KEY)${CLIENT_OPTIONS}`,
  reset: `Usage: mailpolicyd reset KEY [--config FILE | --socket PATH] [--timeout DURATION]

Forgets KEY's counters in every limit, so its mail flows again at once.
${CLIENT_OPTIONS}`,
  reload: `Usage: mailpolicyd reload [--config FILE | --socket PATH] [--timeout DURATION]

Makes the daemon re-read its config file (as SIGHUP does). An invalid config is refused with its
errors (exit 1) and the running one stays.
${CLIENT_OPTIONS}`,
  check: `Usage: mailpolicyd check REQUEST... [--config FILE] [--socket PATH] [--timeout DURATION]

Sends REQUEST to the policy socket exactly as Exim's \${readsocket} does and prints the answer, e.g.
  mailpolicyd check rcpt sender=alice@example.org recipient=bob@example.net client_address=192.0.2.7
  mailpolicyd check data sender=alice@example.org subject='two words'
  mailpolicyd check alice@example.org           (the one-token form)
Each NAME=VALUE is sent with VALUE as the shell gives it, quoted as Exim's \${quote:} does.
Note: the request counts like a real one.
When the config's [spf] checks the request, the same SPF check follows, with its DNS trace.
  --socket PATH    the policy socket (default: policy_socket from the config)
  --config FILE    where to read policy_socket and [spf] (default ${DEFAULT_CONFIG_FILE});
                   with --socket, [spf] only${TIMEOUT_OPTION}
Exit 2 when the daemon cannot be reached or has not answered in time.`,
  spf: `Usage: mailpolicyd spf IP SENDER [HELO] [--config FILE]

Checks SPF (RFC 7208) for a client IP and an envelope sender ('' for the null sender: postmaster@HELO)
as the daemon's [spf] concern would, with the config's dns_servers (default /etc/resolv.conf), and
prints the result, the mechanism that matched, the exp= explanation, the answer [spf] gives it, the
Received-SPF header and a trace of every DNS query. The daemon need not run; nothing is counted.
  --config FILE    where to read [spf] (default ${DEFAULT_CONFIG_FILE}; when that file is
                   absent, the schema's defaults)
Exit 0 for pass, 1 for any other result but temperror, 2 for temperror, 64 for bad arguments,
78 for an invalid config.`,
  scan: `Usage: mailpolicyd scan FILE [--sender ADDR] [--rcpt ADDR]... [--config FILE]

Judges a message (a regular file, or - for standard input, such as a pipe) as the daemon's spamd
front would: through the content rules of the config's [content] and [rule NAME] sections and, with
[spamassassin], by that spamd; the scores summed against [spamd]'s thresholds. Prints the verdict, the front's answer, the
total score and each symbol with its score and why it matched. The daemon need not run.
Like the daemon, it reads a message up to [spamd] max_message_size; over [content] max_scan_size, or
cut short, its attachments are not scanned (with an attachment rule, the report says so).
  --sender ADDR    the envelope sender (default: the null sender)
  --rcpt ADDR      an envelope recipient, for spamtrap rules; give it once per recipient
  --config FILE    where to read the rules (default ${DEFAULT_CONFIG_FILE}; when that file is
                   absent, the schema's defaults and no rules)
Exit 0 when the front would let it through (no action, add header), 1 when it would refuse it
(reject, soft reject: by the rules' verdict or by the summed score), 64 for bad
arguments, 66 when FILE cannot be read or is no regular file (a device, a FIFO: pipe it to -) or
when standard input is a device (/dev/zero, /dev/null), 78 for an invalid config.`,
  version: `Usage: mailpolicyd version

Prints the version.`,
};
