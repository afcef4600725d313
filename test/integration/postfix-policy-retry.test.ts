// A real Postfix 3.7 whose check_policy_service waits less than the daemon takes to answer (a postmaster
// shortened the snippet's timeout to 1 s; [spf] waits for a DNS server that drops every query): Postfix
// gives up on the request, waits smtpd_policy_service_retry_delay (1 s), closes the connection and sends the
// same request again on a new one (smtpd_policy_service_try_limit, 2). The retry is the same recipient of
// the same message (instance): answered with the first request's decision, it is not counted a second time,
// and the mail is delivered intact. Two timings: the answer comes within the delay and lies unread when
// Postfix closes (a reset), or after it (Postfix ends the connection first; the retry waits for the answer).
// Before, the sender's per-recipient count read 2 for one recipient.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { swaksWith } from "../helpers/exim.ts";
import { httpGet } from "../helpers/http-get.ts";
import { type PostfixWithDaemon, startPostfixWithDaemon } from "../helpers/postfix-with-daemon.ts";
import { type DnsRelay, startDnsRelay } from "../helpers/spf-zone.ts";
import { startSpfNsd } from "../helpers/spf-zone.ts";
import type { Nsd } from "../helpers/nsd.ts";

const SENDER = "alice@pass.spf.test";

for (
  const [spfTimeout, when] of [
    ["1500ms", "an answer within the retry delay, unread"],
    ["2500ms", "an answer after the retry delay, the retry waiting for it"],
  ]
) {
  describe(`Postfix giving up on a slow answer and asking again: ${when}`, () => {
    let nsd: Nsd | undefined;
    let relay: DnsRelay | undefined;
    let setup: PostfixWithDaemon | undefined;

    before(async () => {
      nsd = await startSpfNsd();
      relay = await startDnsRelay(nsd.port);
      relay.down = true; // every DNS query dropped: [spf] answers temperror (accepted here) near its timeout
      setup = await startPostfixWithDaemon(
        `[limit rcpts]\nkey = sender\nper = recipient\ncount = 5\ntime = 1h\n` +
          `[spf]\ntimeout = ${spfTimeout}\ndns_servers = 127.0.0.1:${relay.port}\ndns_timeout = 5s\ntemperror = accept\n` +
          `exempt = authenticated\nhelo_check = off\n`,
        "",
        { timeoutSeconds: 1 },
      );
    });
    after(async () => {
      await setup?.stop();
      relay?.close();
      await nsd?.stop();
    });

    it("counts the retried recipient once and delivers the mail intact", async () => {
      const { postfix, dir, failure, lines } = setup!;
      const raw = "From: <alice@pass.spf.test>\nTo: <slow@example.test>\nSubject: slow policy\n" +
        "Date: Mon, 07 Dec 2026 01:00:00 +0000\nMessage-ID: <slow.1@pass.spf.test>\n\nfirst line\n.leading dot\n\nlast line\n";
      writeFileSync(dir.file("raw.eml"), raw.replace(/\n$/, "").replace(/\n/g, "\r\n"));
      const sent = await swaksWith([
        ...["--server", "127.0.0.1", "--port", String(postfix.port), "--from", SENDER],
        ...["--to", "slow@example.test", "--helo", "client.example", "--data", dir.file("raw.eml")],
      ]);
      assert.equal(sent.status, 0, sent.output + failure());
      await waitFor(() => postfix.delivered().length === 1, 15_000, "the delivery");
      assert.ok(postfix.delivered()[0].endsWith(raw), postfix.delivered()[0]);
      // Postfix did give up and ask again: the first try timed out.
      assert.match(
        postfix.maillog(),
        /warning: problem talking to server 127\.0\.0\.1:\d+: Connection timed out/,
        failure(),
      );
      const { body } = await httpGet({
        socketPath: dir.file("control.sock"),
        path: `/senders/${encodeURIComponent(SENDER)}`,
      });
      const rows = JSON.parse(body).limits as { rule: string; count: number }[];
      assert.equal(rows.find((row) => row.rule === "rcpts")?.count, 1, body + failure());
      assert.ok(
        lines.some((line) => /warn postfix: Postfix gave up waiting for an answer/.test(line)),
        failure(),
      );
      assert.ok(
        lines.some((line) => /postfix: request sent again: answered as before/.test(line)),
        failure(),
      );
    });
  });
}
