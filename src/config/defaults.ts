// The embedded default config: what `mailpolicyd run --default-config` uses and `mailpolicyd default-config`
// prints. Paths are relative, so they resolve under the current directory and need no root. Values that
// are the schema's defaults are taken from it (config/schema.ts), so the two cannot drift apart.
import { ALERTS_SECTION, DAEMON_SECTION, THRESHOLDS_SECTION } from "./schema.ts";

export const EMBEDDED_CONFIG_NAME = "(embedded default config)";

export const EMBEDDED_CONFIG =
  `# mailpolicyd — embedded default config (print it with: mailpolicyd default-config)
# Relative paths resolve against the folder of the config file (the current directory for this one).

[daemon]
# Exim asks over loopback TCP (the default address; "none" turns it off), local tools on the Unix socket.
policy_listen = ${DAEMON_SECTION.policy_listen.default}
policy_socket = run/policy.sock
control_socket = run/control.sock
pidfile = run/mailpolicyd.pid
state_file = run/state.json
log_level = ${DAEMON_SECTION.log_level.default}
# answer "no" (not over the limit) when an internal part is down; "closed" answers "yes"
fail_mode = ${DAEMON_SECTION.fail_mode.default}
# Who may use the Unix sockets besides the daemon's own user (mode 0660); Exim itself uses TCP.
# socket_group = mailpolicyd

# The classic sender_warn daemon's limit (its sender_warn.conf loads as it is): count per envelope
# sender in a window that starts with the sender's first message; the message that takes the count
# past \`count\` is "over" (reply yes).
[thresholds]
time = ${THRESHOLDS_SECTION.time.default}
count = ${THRESHOLDS_SECTION.count.default}

# Named limits for the attribute form that \`mailpolicyd exim-snippet\` sets up, e.g.:
# [limit outbound]
# key = sender              ; or sasl_username, client_address/24, sender_domain, ...
# count = 200
# time = 1h
# action = defer            ; alert | warn | defer | reject
# message = {key} sent {count} messages in {window}, please wait
# exempt = newsletter@example.org, 192.0.2.10
#
# Mail handed to sendmail (PHP's mail(), cron) is counted too, and frozen over a limit; a script can
# send as anyone, so hold each site by the login it runs as:
# [limit sites]
# key = local_user
# count = 100
# time = 1h

# Uncomment to have the postmaster told, once per window, when a sender passes the limit.
# [alerts]
# fromAddr = postmaster@localhost
# toAddr = postmaster@localhost
# subject = ${ALERTS_SECTION.subject.default}
# smtp_host = ${ALERTS_SECTION.smtp_host.default}
# smtp_port = ${ALERTS_SECTION.smtp_port.default}
`;
