import { basename, dirname, resolve } from "node:path";
import * as v from "valibot";
import { configLines, parseIni } from "./ini.ts";
import { isLocalhostAddress, LOCALHOST_WARNING } from "./values.ts";
import { readConfigBytes } from "./config-file.ts";
import {
  ALERT_QUEUE_KEYS,
  ALERTS_SECTION,
  CONCERN_KEYS,
  CONTENT_SECTION,
  DAEMON_SECTION,
  LIMIT_SECTION,
  LIMIT_SECTION_PREFIX,
  LIMITS_SECTION,
  POSTFIX_SECTION,
  REDIS_SECTION,
  RULE_SECTION,
  RULE_SECTION_PREFIX,
  SECTIONS,
  type SectionSpec,
  type SectionValues,
  SPAMASSASSIN_SECTION,
  SPAMD_SECTION,
  SPF_SECTION,
  THRESHOLDS_SECTION,
} from "./schema.ts";
import type {
  AlertQueueConfig,
  AlertsConfig,
  ConcernsConfig,
  ConcernSettings,
  Config,
  DaemonConfig,
  RedisConfig,
  SpamAssassinConfig,
  SpamdConfig,
} from "./types.ts";
import { type KeyPart, type LimitConfig, noExemptions } from "../model/limit.ts";
import type { SpfConfig } from "../model/spf.ts";
import type { PostfixConfig } from "../model/postfix.ts";
import type { ContentRule } from "../model/content.ts";
import { buildRule, contentPolicy } from "./content-config.ts";
import { type AskedPlaces, type StagePlace, unaskedStageWarnings } from "./unasked-stages.ts";
import { claimableSenderWarning, droppedSenderWarning, honouredExemptions } from "./limit-exemptions.ts";
import { postfixEndpoint } from "../postfix/snippet.ts";
import { eximAddress } from "../exim/snippets.ts";
import { relayOnLoopback, relaySecurity } from "../model/alert-relay.ts";
import { sendmailPathProblem } from "./sendmail-path.ts";
import { spamdFrontNamed } from "./spamd-front-loop.ts";
import { daemonFileProblem } from "./daemon-files.ts";
import { caFileProblem } from "../store/ca-file.ts";
import { printable } from "../policy/printable.ts";
import { groupProblem } from "../store/account-names.ts";

/**
 * warnings: `FILE:LINE: key: warning: …` lines for a config that works but will not do what it says
 * (unasked-stages.ts); `config-test` prints them, the daemon logs them at start and at each reload.
 * configTestWarnings: the same kind of lines that only `config-test` prints: the daemon says the problem
 * itself where it acts on the key, with what it does instead ([redis] tls_ca_file: the connection reads
 * the file), and logging both said it twice at every start and reload.
 */
export type ConfigResult =
  | { ok: true; config: Config; warnings?: string[]; configTestWarnings?: string[] }
  | { ok: false; errors: string[] };

/** Converts one section's entries with its spec; returns typed values keyed by spec name. */
function readSection<S extends SectionSpec>(
  spec: S,
  section: {
    name: string;
    line: number;
    entries: { key: string; rawKey: string; value: string; line: number }[];
  },
  report: (line: number, key: string, problem: string) => void,
): SectionValues<S> {
  const values: Record<string, unknown> = {};
  for (const entry of section.entries) {
    const keySpec = spec[entry.key];
    if (!keySpec) {
      report(
        entry.line,
        `${section.name}.${entry.rawKey}`,
        `unknown key (known: ${Object.keys(spec).join(", ")})`,
      );
      continue;
    }
    const parsed = v.safeParse(keySpec.schema, entry.value);
    if (parsed.success) values[entry.key] = parsed.output;
    else report(entry.line, `${section.name}.${entry.rawKey}`, parsed.issues[0].message);
  }
  for (const [key, keySpec] of Object.entries(spec)) {
    if (key in values) continue;
    if (keySpec.required) {
      if (!section.entries.some((entry) => entry.key === key)) {
        report(section.line, `${section.name}.${key}`, "required key missing");
      }
    } else if (keySpec.default !== undefined) {
      values[key] = v.parse(keySpec.schema, keySpec.default);
    }
  }
  // The one cast: each value came out of its key's schema, which is what SectionValues<S> says.
  return values as SectionValues<S>;
}

/** Parses config text. Relative paths resolve against baseDir (the config file's folder, or cwd). */
export function parseConfig(text: string, file: string, baseDir: string): ConfigResult {
  // Reported as found (the reader's, then section by section) and listed in file order, so that a postmaster
  // fixes the file from top to bottom.
  const reported: { line: number; text: string }[] = [];
  // Keys and values come from the file: a control character in one is written out (an ESC sequence in a
  // section name cleared the postmaster's terminal when config-test printed it).
  const report = (line: number, key: string, problem: string) =>
    reported.push({ line, text: `${file}:${line}: ${printable(key)}: ${printable(problem)}` });
  const document = parseIni(text);
  for (const problem of document.problems) report(problem.line, problem.key, problem.problem);

  const found = new Map(document.sections.map((section) => [section.name, section]));
  const limitSections = document.sections.filter((section) => section.name.startsWith(LIMIT_SECTION_PREFIX));
  const ruleSections = document.sections.filter((section) => section.name.startsWith(RULE_SECTION_PREFIX));
  for (const section of document.sections) {
    const named = section.name.startsWith(LIMIT_SECTION_PREFIX) ||
      section.name.startsWith(RULE_SECTION_PREFIX);
    if (!SECTIONS[section.name] && !named) {
      report(
        section.line,
        `[${section.name}]`,
        `unknown section (known: ${Object.keys(SECTIONS).join(", ")}, limit NAME, rule NAME)`,
      );
    }
  }
  const empty = (name: string) => ({ name, line: 0, entries: [] });
  const daemonValues = readSection(DAEMON_SECTION, found.get("daemon") ?? empty("daemon"), report);
  const alertsSection = found.get("alerts");
  const alertsValues = alertsSection ? readSection(ALERTS_SECTION, alertsSection, report) : undefined;
  const queueValues = alertsValues ?? readSection(ALERT_QUEUE_KEYS, empty("alerts"), report);
  if (alertsSection) checkAlertsAuth(alertsSection, report);
  const thresholdsSection = found.get("thresholds");
  const thresholds = readSection(THRESHOLDS_SECTION, thresholdsSection ?? empty("thresholds"), report);
  const limitsValues = readSection(LIMITS_SECTION, found.get("limits") ?? empty("limits"), report);
  const spfSection = found.get("spf");
  const spfValues = readSection(SPF_SECTION, spfSection ?? empty("spf"), report);
  // Above it, the DNS cache kept every answer cache_min_ttl, past the most cache_max_ttl said (dns/cache.ts
  // takes the larger), without a word. At the bound written (cache_min_ttl's, when both are).
  if (spfSection && spfValues.cache_min_ttl > spfValues.cache_max_ttl) {
    const key = keyLine(spfSection, "cache_min_ttl") !== undefined ? "cache_min_ttl" : "cache_max_ttl";
    report(keyLine(spfSection, key)!, `spf.${key}`, "cache_min_ttl is above cache_max_ttl");
  }
  const spamSection = found.get("spamassassin");
  const spamValues = readSection(SPAMASSASSIN_SECTION, spamSection ?? empty("spamassassin"), report);
  const postfixSection = found.get("postfix");
  const postfixValues = readPostfixSection(postfixSection, report);
  const contentSection = found.get("content");
  const contentValues = readSection(CONTENT_SECTION, contentSection ?? empty("content"), report);
  if (ruleSections.length > 0 && !contentSection) {
    report(ruleSections[0].line, `[${ruleSections[0].name}]`, "content rules need a [content] section");
  }
  const rules: ContentRule[] = [];
  const symbols = new Map<string, { name: string; line: number }>();
  for (const section of ruleSections) {
    const values = readSection(RULE_SECTION, section, report);
    const rule = buildRule(
      section.name.slice(RULE_SECTION_PREFIX.length),
      values,
      section.entries,
      section.line,
      report,
    );
    if (!rule) continue;
    // `[rule a-b]` and `[rule a_b]` are both A_B: the report, the log and the metrics could not tell them apart.
    const first = symbols.get(rule.symbol);
    if (first) {
      report(
        section.line,
        `[${section.name}]`,
        `its symbol ${rule.symbol} is [rule ${first.name}]'s (line ${first.line}): rename one`,
      );
    } else symbols.set(rule.symbol, { name: rule.name, line: section.line });
    rules.push(rule);
  }
  const spamdSection = found.get("spamd");
  const spamdValues = spamdSection && readSection(SPAMD_SECTION, spamdSection, report);
  if (spamdValues && spamdValues.mark_threshold > spamdValues.reject_threshold) {
    // At the threshold written (mark_threshold's, when both are).
    const key = keyLine(spamdSection, "mark_threshold") !== undefined ? "mark_threshold" : "reject_threshold";
    report(
      keyLine(spamdSection, key) ?? spamdSection.line,
      `spamd.${key}`,
      "mark_threshold is above reject_threshold",
    );
  }
  const frontNamed = spamSection && spamdValues && spamdFrontNamed(
    spamValues.address,
    { listen: spamdValues.listen, socket: spamdValues.socket && resolve(baseDir, spamdValues.socket) },
    (path) => resolve(baseDir, path),
  );
  if (frontNamed) {
    report(
      keyLine(spamSection, "address") ?? spamSection.line,
      "spamassassin.address",
      `the spamd front's own [spamd] ${frontNamed}: the daemon would ask itself and no message be scored ` +
        `by SpamAssassin; give the address of SpamAssassin's spamd` +
        (keyLine(spamSection, "address") === undefined
          ? ` (the default is ${SPAMASSASSIN_SECTION.address.default})`
          : ""),
    );
  }
  if (spamdValues && spamdValues.listen === undefined && spamdValues.socket === undefined) {
    report(
      keyLine(spamdSection, "listen") ?? spamdSection.line,
      "spamd.listen",
      "listen = none and no socket: the front would listen nowhere",
    );
  }
  // Only one listener can bind a port: [spamd] on policy_listen's took it and left the policy listener,
  // what Exim asks, failing for good. Port 0 (any free one) and none collide with nothing.
  const daemonSection = found.get("daemon") ?? empty("daemon");
  const listeners = [
    {
      name: "[daemon] policy_listen",
      key: "daemon.policy_listen",
      section: daemonSection,
      entry: "policy_listen",
      address: daemonValues.policy_listen,
    },
    {
      name: "[daemon] control_listen",
      key: "daemon.control_listen",
      section: daemonSection,
      entry: "control_listen",
      address: daemonValues.control_listen,
    },
    {
      name: "[postfix] listen",
      key: "postfix.listen",
      section: postfixSection,
      entry: "listen",
      address: postfixValues?.listen,
    },
    {
      name: "[postfix] milter_listen",
      key: "postfix.milter_listen",
      section: postfixSection,
      entry: "milter_listen",
      address: postfixValues?.milter_listen,
    },
    {
      name: "[spamd] listen",
      key: "spamd.listen",
      section: spamdSection,
      entry: "listen",
      address: spamdValues?.listen,
    },
  ];
  const localhostWarnings = listeners.flatMap((listener) => {
    const entry = listener.section?.entries.find((candidate) => candidate.key === listener.entry);
    return entry && isLocalhostAddress(entry.value)
      ? [`${file}:${entry.line}: ${listener.key}: warning: ${LOCALHOST_WARNING}`]
      : [];
  });
  // In file order: the later of two is the one reported.
  const bound = listeners
    .filter((listener) => listener.section && listener.address?.port)
    .map((listener) => ({
      ...listener,
      line: keyLine(listener.section!, listener.entry) ?? listener.section!.line,
    }))
    .sort((a, b) => a.line - b.line);
  bound.forEach((listener, index) => {
    const earlier = bound.slice(0, index).find((other) => other.address!.port === listener.address!.port);
    if (earlier) report(listener.line, listener.key, `the same port as ${earlier.name}`);
  });
  // Likewise one Unix socket per path (the second listener there fails, restarted for good), and none on
  // the pidfile's or state file's path, nor these two on one: the pidfile written at start replaced the
  // state file before the restore read it, and its removal at stop deleted the snapshot just saved, so
  // every restart lost every count; a socket there is a file a listener will not remove (unix-socket.ts).
  const sockets = [
    {
      name: "[daemon] pidfile",
      key: "daemon.pidfile",
      section: daemonSection,
      entry: "pidfile",
      path: daemonValues.pidfile,
    },
    {
      name: "[daemon] state_file",
      key: "daemon.state_file",
      section: daemonSection,
      entry: "state_file",
      path: daemonValues.state_file,
    },
    {
      name: "[daemon] policy_socket",
      key: "daemon.policy_socket",
      section: daemonSection,
      entry: "policy_socket",
      path: daemonValues.policy_socket,
    },
    {
      name: "[daemon] control_socket",
      key: "daemon.control_socket",
      section: daemonSection,
      entry: "control_socket",
      path: daemonValues.control_socket,
    },
    {
      name: "[postfix] socket",
      key: "postfix.socket",
      section: postfixSection,
      entry: "socket",
      path: postfixValues?.socket,
    },
    {
      name: "[postfix] milter_socket",
      key: "postfix.milter_socket",
      section: postfixSection,
      entry: "milter_socket",
      path: postfixValues?.milter_socket,
    },
    {
      name: "[spamd] socket",
      key: "spamd.socket",
      section: spamdSection,
      entry: "socket",
      path: spamdValues?.socket,
    },
  ]
    .filter((socket) => socket.section && socket.path !== undefined)
    .map((socket) => ({
      ...socket,
      path: resolve(baseDir, socket.path!),
      line: keyLine(socket.section!, socket.entry) ?? socket.section!.line,
    }))
    .sort((a, b) => a.line - b.line);
  sockets.forEach((socket, index) => {
    const earlier = sockets.slice(0, index).find((other) => other.path === socket.path);
    if (earlier) report(socket.line, socket.key, `the same path as ${earlier.name}`);
  });
  // A directory or another non-file there stops `run`: said here, config-test's answer too (daemon-files.ts).
  for (const entry of ["state_file", "pidfile"] as const) {
    const problem = daemonFileProblem(
      resolve(baseDir, daemonValues[entry]),
      basename(DAEMON_SECTION[entry].default),
    );
    if (problem !== undefined) {
      report(keyLine(daemonSection, entry) ?? daemonSection.line, `daemon.${entry}`, problem);
    }
  }
  const redisSection = found.get("redis");
  const redisValues = redisSection && readSection(REDIS_SECTION, redisSection, report);
  // Read only for rediss://: with a redis:// or unix: address the CA file was ignored without a word, and a
  // site that meant TLS talked to Redis in clear. A url that is missing or bad has been reported, and is
  // undefined here (required keys have no default): the check waits for a url (config-test crashed).
  if (
    redisValues && redisValues.url !== undefined && redisValues.tls_ca_file !== undefined &&
    !redisValues.url.tls
  ) {
    report(
      keyLine(redisSection, "tls_ca_file") ?? redisSection.line,
      "redis.tls_ca_file",
      "tls_ca_file is read only with a rediss:// url (TLS); this url is not one",
    );
  }
  const limits: LimitConfig[] = [];
  const stagePlaces: StagePlace[] = [];
  const exemptionWarnings: string[] = [];
  // [thresholds] is the seed's limit and the one the one-token form uses; without any limit at all the
  // seed's defaults apply, so a bare config still limits something.
  if (thresholdsSection || limitSections.length === 0) {
    limits.push({
      name: "thresholds",
      key: [{ kind: "sender" }],
      keyText: "sender",
      count: thresholds.count,
      windowMs: thresholds.time.ms,
      window: thresholds.time.text,
      per: "message",
      algorithm: "fixed",
      burst: thresholds.count,
      mode: "strict",
      action: "alert",
      exempt: noExemptions(),
      stage: "rcpt",
      alert: true,
      legacy: true,
    });
  }
  for (const section of limitSections) {
    const name = section.name.slice(LIMIT_SECTION_PREFIX.length);
    if (!/^[a-z0-9_.-]+$/.test(name) || name === "thresholds") {
      report(section.line, `[${section.name}]`, "limit names use a-z, 0-9, _ . - (and not 'thresholds')");
      continue;
    }
    const values = readSection(LIMIT_SECTION, section, report);
    const limit = buildLimit(name, values, section, report);
    if (limit) {
      const { exempt, dropped, claimable } = honouredExemptions(limit.key, limit.exempt);
      limit.exempt = exempt;
      const line = keyLine(section, "exempt") ?? section.line;
      if (dropped.length > 0) exemptionWarnings.push(droppedSenderWarning(file, line, name, dropped));
      if (claimable.length > 0) {
        exemptionWarnings.push(claimableSenderWarning(file, line, name, limit.keyText, claimable));
      }
      limits.push(limit);
    }
    const line = keyLine(section, "stage");
    if (limit && line !== undefined) {
      stagePlaces.push({
        key: `${section.name}.stage`,
        line,
        stage: limit.stage,
        effect: "this limit counts nothing",
      });
    }
  }
  if (reported.length > 0) {
    return { ok: false, errors: reported.sort((a, b) => a.line - b.line).map((error) => error.text) };
  }

  const path = (value: string) => resolve(baseDir, value);
  const daemon: DaemonConfig = {
    policySocket: path(daemonValues.policy_socket),
    policyListen: daemonValues.policy_listen,
    controlSocket: path(daemonValues.control_socket),
    controlListen: daemonValues.control_listen,
    pidfile: path(daemonValues.pidfile),
    stateFile: path(daemonValues.state_file),
    stateIntervalMs: daemonValues.state_interval,
    maxKeys: daemonValues.max_keys,
    maxConnections: daemonValues.max_connections,
    socketMode: daemonValues.socket_mode,
    socketGroup: daemonValues.socket_group,
    controlGroup: daemonValues.control_group,
    logLevel: daemonValues.log_level,
    requestTimeoutMs: daemonValues.request_timeout,
    failMode: daemonValues.fail_mode,
  };
  const alerts: AlertsConfig | undefined = alertsValues && {
    from: alertsValues.fromaddr,
    to: alertsValues.toaddr,
    cc: alertsValues.ccaddr,
    subject: alertsValues.subject,
    smtpHost: alertsValues.smtp_host,
    smtpPort: alertsValues.smtp_port,
    smtpTimeoutMs: alertsValues.smtp_timeout,
    smtpCommandTimeoutMs: alertsValues.smtp_command_timeout,
    sendmail: alertsValues.sendmail === undefined ? undefined : path(alertsValues.sendmail),
    retryMinMs: alertsValues.retry_min,
    retryMaxMs: Math.max(alertsValues.retry_max, alertsValues.retry_min),
    exemptAlerts: alertsValues.exempt_alerts,
    auth: alertsValues.auth_user !== undefined && alertsValues.auth_password !== undefined
      ? { user: alertsValues.auth_user, password: alertsValues.auth_password }
      : undefined,
    tlsVerify: alertsValues.tls_verify,
    tlsCaFile: alertsValues.tls_ca_file === undefined ? undefined : path(alertsValues.tls_ca_file),
  };
  const alertQueue: AlertQueueConfig = {
    outboxMax: queueValues.outbox_max,
    digestAfter: queueValues.digest_after,
    digestWindowMs: queueValues.digest_window,
    retryForMs: queueValues.retry_for,
    parkedMax: queueValues.parked_max,
  };
  const concernSettings = (values: SectionValues<typeof CONCERN_KEYS>): ConcernSettings => ({
    timeoutMs: values.timeout,
    failMode: values.fail_mode ?? daemon.failMode,
  });
  const concerns: ConcernsConfig = {
    limits: concernSettings(limitsValues),
    spf: concernSettings(spfValues),
    spamassassin: concernSettings(spamValues),
    content: concernSettings(contentValues),
  };
  const spf = spfSection && spfValues.enabled ? spfConfig(spfValues) : undefined;
  const spamassassin = spamSection ? spamAssassinConfig(spamValues, path) : undefined;
  const postfix = postfixValues && postfixConfig(postfixValues, path);
  const content = contentSection ? contentPolicy(contentValues, rules) : undefined;
  const spamd: SpamdConfig | undefined = spamdValues && {
    listen: spamdValues.listen,
    socket: spamdValues.socket === undefined ? undefined : path(spamdValues.socket),
    markThreshold: spamdValues.mark_threshold,
    rejectThreshold: spamdValues.reject_threshold,
    maxMessageSize: spamdValues.max_message_size,
    maxScans: spamdValues.max_scans,
    timeoutMs: spamdValues.timeout,
  };
  const redis = redisValues && redisConfig(redisValues, path);
  // Redis away with fallback = open or closed: the limits answer as a concern that failed, so as this says.
  if (redis && redis.fallback !== "local") concerns.limits.failMode = redis.fallback;
  const spfStageLine = spfSection && keyLine(spfSection, "stage");
  if (spf && spfStageLine !== undefined) {
    stagePlaces.push({
      key: "spf.stage",
      line: spfStageLine,
      stage: spf.stage,
      effect: "SPF checks no sender",
    });
  }
  // A CA file that gives no certificates, said with the config (config-test, the start, a reload) as well as
  // where it is read: after a rotation, config-test is what a postmaster runs before reloading.
  const redisCaLine = redisSection && keyLine(redisSection, "tls_ca_file");
  const redisCaProblem = redis?.tlsCaFile === undefined || !redis.address.tls
    ? undefined
    : caFileProblem(redis.tlsCaFile);
  const alertsCaLine = alertsSection && keyLine(alertsSection, "tls_ca_file");
  // The relay's CA is read only where its certificate is checked: with tls_verify = no any certificate is
  // taken and the file is never opened, so its problem fails no alert, and the key does nothing (without
  // a login or to a loopback relay it is an error: checkAlertsAuth).
  const relay = alerts === undefined ? undefined : relaySecurity(alerts);
  const alertsCaProblem = alerts?.tlsCaFile !== undefined && relay?.verifyCertificate
    ? caFileProblem(alerts.tlsCaFile)
    : undefined;
  const alertsCaUnread = alerts?.tlsCaFile !== undefined && relay?.tlsRequired && !alerts.tlsVerify;
  const sendmailLine = alertsSection && keyLine(alertsSection, "sendmail");
  const sendmailProblem = alerts?.sendmail === undefined ? undefined : sendmailPathProblem(alerts.sendmail);
  // Given to the socket when it is made, from /etc/group alone (store/account-names.ts): a group not there
  // left the socket the daemon's, its clients refused, with config-test's OK and a line in the log only.
  const groupWarnings = [
    { section: daemonSection, key: "daemon.socket_group", entry: "socket_group", group: daemon.socketGroup },
    {
      section: daemonSection,
      key: "daemon.control_group",
      entry: "control_group",
      group: daemon.controlGroup,
    },
    {
      section: postfixSection,
      key: "postfix.socket_group",
      entry: "socket_group",
      group: postfix?.socketGroup,
    },
  ].flatMap(({ section, key, entry, group }) => {
    const problem = group === undefined ? undefined : groupProblem(group);
    return problem === undefined ? [] : [
      `${file}:${
        keyLine(section!, entry)
      }: ${key}: warning: ${problem}: the socket keeps the daemon's group, ` +
      "and its clients may be unable to connect",
    ];
  });
  const warnings = [
    ...localhostWarnings,
    ...groupWarnings,
    ...(sendmailProblem === undefined ? [] : [
      `${file}:${sendmailLine}: alerts.sendmail: warning: ${sendmailProblem}; every alert would fail when sent`,
    ]),
    ...(alertsCaProblem === undefined ? [] : [
      `${file}:${alertsCaLine}: alerts.tls_ca_file: warning: ${alertsCaProblem}; every alert would fail ` +
      "when sent",
    ]),
    ...(!alertsCaUnread ? [] : [
      `${file}:${alertsCaLine}: alerts.tls_ca_file: warning: not read with tls_verify = no: the relay's ` +
      "certificate is not checked",
    ]),
    ...exemptionWarnings,
    ...unaskedStageWarnings(file, stagePlaces, askedPlaces(daemon, postfix)),
  ];
  const configTestWarnings = redisCaProblem === undefined ? [] : [
    `${file}:${redisCaLine}: redis.tls_ca_file: warning: ${redisCaProblem}; ` +
    "Redis's certificate would be checked against the system's CAs at a start, and a reload keeps the CA " +
    "the connection has",
  ];
  return {
    ok: true,
    warnings,
    configTestWarnings,
    config: {
      file,
      daemon,
      alerts,
      alertQueue,
      limits,
      concerns,
      spf,
      spamassassin,
      postfix,
      content,
      spamd,
      redis,
    },
  };
}

/** Where Exim and Postfix ask this daemon, as their lines name it (PORT for port 0: any free one). */
function askedPlaces(daemon: DaemonConfig, postfix: PostfixConfig | undefined): AskedPlaces {
  const anyPort = (spec: string) => spec.replace(/:0$/, ":PORT");
  const exim = daemon.policyListen && anyPort(eximAddress(daemon.policyListen));
  const place = postfix?.listen ?? (postfix?.socket === undefined ? undefined : { path: postfix.socket });
  return { exim, postfix: place && anyPort(postfixEndpoint(place)) };
}

/** The [redis] section's values as the Redis connection and store read them. */
function redisConfig(
  values: SectionValues<typeof REDIS_SECTION>,
  path: (value: string) => string,
): RedisConfig {
  const address = values.url;
  return {
    address,
    username: values.username ?? address.username,
    password: values.password ?? address.password,
    database: values.database ?? address.database ?? 0,
    tlsCaFile: values.tls_ca_file === undefined ? undefined : path(values.tls_ca_file),
    prefix: values.prefix,
    timeoutMs: values.timeout,
    connectTimeoutMs: values.connect_timeout,
    fallback: values.fallback,
    overCacheMs: values.over_cache,
    answerAhead: values.answer_ahead,
    retryEveryMs: values.retry_every,
  };
}

/**
 * [alerts]' SMTP AUTH keys that cannot do what they say: one of auth_user and auth_password without the
 * other (no login, and the alert then parked at the relay's 530), credentials with sendmail (not sent),
 * and tls_ca_file or tls_verify where no certificate is checked (no credentials, or a loopback relay). Read
 * from the lines, so that a key given with a bad value is not reported twice.
 */
function checkAlertsAuth(section: Section, report: (line: number, key: string, problem: string) => void) {
  const given = (key: string) => keyLine(section, key);
  const user = given("auth_user");
  const password = given("auth_password");
  if ((user === undefined) !== (password === undefined)) {
    const [line, key, missing] = user !== undefined
      ? [user, "auth_user", "auth_password"]
      : [password!, "auth_password", "auth_user"];
    report(line, `alerts.${key}`, `${key} needs ${missing} too (both or neither)`);
    return;
  }
  const sendmail = given("sendmail");
  if (user !== undefined && sendmail !== undefined) {
    report(user, "alerts.auth_user", "credentials are for smtp_host; with sendmail they are not sent");
    return;
  }
  const host = section.entries.find((entry) => entry.key === "smtp_host")?.value;
  for (const key of ["tls_ca_file", "tls_verify"]) {
    const line = given(key);
    if (line === undefined) continue;
    if (user === undefined) {
      report(line, `alerts.${key}`, `${key} is read only with auth_user and auth_password (SMTP AUTH)`);
    } else if (relayOnLoopback(host ?? ALERTS_SECTION.smtp_host.default)) {
      report(
        line,
        `alerts.${key}`,
        `${key} is read only with a relay off loopback; smtp_host is on loopback`,
      );
    }
  }
}

/**
 * The line of a section's key, where an error that spans several keys points (FILE:LINE names the key at
 * fault, not the section header); undefined when the section does not have the key.
 */
function keyLine(section: { entries: ReadonlyArray<{ key: string; line: number }> }, key: string) {
  return section.entries.find((entry) => entry.key === key)?.line;
}

type Section = {
  name: string;
  line: number;
  entries: { key: string; rawKey: string; value: string; line: number }[];
};

/** [postfix]'s values, if the section is there, after the checks that span several keys. */
function readPostfixSection(
  section: Section | undefined,
  report: (line: number, key: string, problem: string) => void,
): SectionValues<typeof POSTFIX_SECTION> | undefined {
  if (!section) return undefined;
  const values = readSection(POSTFIX_SECTION, section, report);
  const listenLine = keyLine(section, "listen") ?? section.line;
  if (
    values.listen === undefined && values.socket === undefined && values.milter_listen === undefined &&
    values.milter_socket === undefined
  ) {
    report(
      listenLine,
      "postfix.listen",
      "listen = none, no socket, no milter_listen and no milter_socket: nowhere to listen",
    );
  }
  return values;
}

/** The [postfix] section's values as the Postfix listener reads them. */
function postfixConfig(
  values: SectionValues<typeof POSTFIX_SECTION>,
  path: (value: string) => string,
): PostfixConfig {
  const { accept, defer, reject, warn, headers } = values;
  return {
    listen: values.listen,
    socket: values.socket === undefined ? undefined : path(values.socket),
    socketMode: values.socket_mode,
    socketGroup: values.socket_group,
    vocabulary: { accept, defer, reject, warn, headers },
    idleTimeoutMs: values.idle_timeout,
    maxRequestBytes: values.max_request_size,
    milterListen: values.milter_listen,
    milterSocket: values.milter_socket === undefined ? undefined : path(values.milter_socket),
    milterTimeoutMs: values.milter_timeout,
  };
}

/** The [spf] section's values as the SPF concern reads them (durations in ms, TTLs in seconds). */
function spfConfig(values: SectionValues<typeof SPF_SECTION>): SpfConfig {
  const { fail, softfail, neutral, none, permerror, temperror } = values;
  return {
    stage: values.stage,
    actions: { pass: "accept", fail, softfail, neutral, none, permerror, temperror },
    exempt: values.exempt,
    exemptDomains: values.exempt_domains,
    heloCheck: values.helo_check,
    receivedSpf: values.received_spf,
    timeBudgetMs: values.time_budget,
    dns: {
      servers: values.dns_servers,
      timeoutMs: values.dns_timeout,
      tries: values.dns_tries,
      cacheMinTtl: Math.floor(values.cache_min_ttl / 1000),
      cacheMaxTtl: Math.floor(values.cache_max_ttl / 1000),
      cacheMaxEntries: values.cache_max_entries,
      resultCacheEntries: values.result_cache_entries,
    },
  };
}

/** The [spamassassin] section's values as the SpamAssassin actor reads them. */
function spamAssassinConfig(
  values: SectionValues<typeof SPAMASSASSIN_SECTION>,
  path: (value: string) => string,
): SpamAssassinConfig {
  const { address } = values;
  return {
    address: "path" in address ? { path: path(address.path) } : address,
    user: values.user,
    command: values.command,
    maxInFlight: values.max_in_flight,
    maxQueue: values.max_queue,
    maxSize: values.max_size,
    breakerFailures: values.breaker_failures,
    breakerResetMs: values.breaker_reset,
  };
}

/** A [limit NAME] section's values as a LimitConfig, after the checks that span several keys. */
function buildLimit(
  name: string,
  values: SectionValues<typeof LIMIT_SECTION>,
  place: { line: number; entries: ReadonlyArray<{ key: string; line: number }> },
  report: (line: number, key: string, problem: string) => void,
): LimitConfig | undefined {
  // A required key that was missing or invalid has been reported; the section yields no limit.
  if (values.count === undefined || values.time === undefined || values.key === undefined) return undefined;
  const { key, stage, algorithm } = values;
  const section = `limit ${name}`;
  let ok = true;
  // At the line of the key at fault (a key the section lacks: the section's own line).
  const problem = (what: string, text: string) => {
    report(keyLine(place, what) ?? place.line, `${section}.${what}`, text);
    ok = false;
  };
  if (values.burst !== undefined && algorithm !== "bucket") {
    problem("burst", "burst applies to algorithm = bucket only");
  }
  if (values.per === "recipient" && stage !== "rcpt" && stage !== "data" && stage !== "local") {
    problem("per", "per = recipient needs stage = rcpt, data or local");
  }
  if (key.some((part) => part.kind.startsWith("recipient")) && stage !== "rcpt") {
    problem("key", "recipient keys need stage = rcpt (one recipient per request)");
  }
  if (!ok) return undefined;
  return {
    name,
    key,
    keyText: key.map(describeKeyPart).join("+"),
    count: values.count,
    windowMs: values.time.ms,
    window: values.time.text,
    per: values.per,
    algorithm,
    burst: values.burst ?? values.count,
    mode: values.mode,
    action: values.action,
    message: values.message,
    exempt: values.exempt,
    stage,
    alert: values.alert,
    legacy: false,
  };
}

function describeKeyPart(part: KeyPart): string {
  if (part.v4Prefix === undefined) return part.kind;
  return `${part.kind}/${part.v4Prefix}/${part.v6Prefix}`;
}

/**
 * The config's text, or the line of its first byte that is not UTF-8 outside a comment. Decoded leniently, a
 * Latin-1 `é` became U+FFFD without a word: a `subject = /Café/` rule then matched nothing, an alert subject
 * carried the replacement character. In a comment it changes nothing, and a config that ran before an
 * upgrade with a Latin-1 comment keeps running.
 */
function decodeConfig(bytes: Uint8Array): { text: string } | { badLine: number } {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    const text = new TextDecoder("utf-8").decode(bytes);
    // Where the parser reads it: what is a comment is ini.ts's to say (quoted values, inline comments).
    const read = parseIni(text).sections.flatMap((section) => [
      { line: section.line, text: section.name },
      ...section.entries.map((entry) => ({ line: entry.line, text: entry.rawKey + entry.value })),
    ]);
    const bad = read.filter((part) => part.text.includes("\uFFFD")).map((part) => part.line);
    return bad.length > 0 ? { badLine: Math.min(...bad) } : { text };
  }
}

export function loadConfigFile(file: string): ConfigResult {
  let bytes: Uint8Array;
  try {
    // Not readFileSync: on a FIFO it waits for a writer forever (config-test hung), see regular-file.ts.
    bytes = readConfigBytes(file);
  } catch (error) {
    return { ok: false, errors: [`${file}:0: (file): cannot read: ${(error as Error).message}`] };
  }
  const decoded = decodeConfig(bytes);
  if ("badLine" in decoded) {
    const problem = "not UTF-8 (save the file as UTF-8, e.g. iconv -f latin1 -t utf-8)";
    return { ok: false, errors: [`${file}:${decoded.badLine}: (file): ${problem}`] };
  }
  // Read as a config, an empty file (a save that failed on a full disk, a `>` that truncated it) was the
  // defaults: config-test said OK, and a reload put the seed's limit in place of every limit, and dropped
  // [redis], [alerts] and the rest. No tool writes one (default-config and the package's file have sections).
  if (configLines(decoded.text).every((line) => /^\s*(?:[#;].*)?$/.test(line))) {
    const problem = "no [section], nothing but blank lines and comments: an empty or truncated file? " +
      "For the defaults, write [daemon]";
    return { ok: false, errors: [`${file}:1: (file): ${problem}`] };
  }
  return parseConfig(decoded.text, file, dirname(resolve(file)));
}
