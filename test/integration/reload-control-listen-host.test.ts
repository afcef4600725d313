// A reload that moves control_listen (real daemon process): the control listener stays where it started, so
// the names it takes in Host must stay those of that address, also after the control actor was restarted
// (it failed: its control socket held by another program). Were they read from the reloaded config, a
// request to the still-bound address naming it would be refused with 421, and the new name accepted on an
// address where nothing listens.
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { startDaemonProcess, waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { accepts } from "../helpers/failing-listeners.ts";
import { httpGet } from "../helpers/http-get.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

// 127.0.0.2 and .3 are loopback addresses outside the names always allowed (127.0.0.1, localhost, [::1]):
// only control_listen's own hostname lets a request naming them in.
const [START_HOST, RELOADED_HOST] = ["127.0.0.2", "127.0.0.3"];

async function freePortOn(hostname: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, hostname, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const health = (hostname: string, port: number, host: string) =>
  httpGet({ host: hostname, port, path: "/health", headers: { host } });

async function reloadedControlListen(dir: TempDir) {
  const [port, reloadedPort] = [await freePortOn(START_HOST), await freePortOn(RELOADED_HOST)];
  const reloaded = `control_listen = ${RELOADED_HOST}:${reloadedPort}\n`;
  return {
    port,
    reloadedPort,
    reloaded,
    file: writeTestConfig(dir, `control_listen = ${START_HOST}:${port}\n`),
  };
}

async function assertHostFollowsBound(port: number, reloadedPort: number): Promise<void> {
  const asked = await health(START_HOST, port, `${START_HOST}:${port}`);
  assert.equal(asked.status, 200, `the bound address by its own name: ${asked.body}`);
  const other = await health(START_HOST, port, `${RELOADED_HOST}:${reloadedPort}`);
  assert.equal(other.status, 421, `the reloaded name, where nothing listens: ${other.body}`);
  assert.equal(await accepts(reloadedPort), false, "nothing on the reloaded control_listen");
}

describe("a reload that moves control_listen", () => {
  const dirs: TempDir[] = [];
  const stops: (() => Promise<unknown>)[] = [];

  after(async () => {
    for (const stop of stops) await stop();
    for (const dir of dirs) dir.remove();
  });

  it("keeps taking the name of the address still bound in Host", async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const { port, reloadedPort, reloaded, file } = await reloadedControlListen(dir);
    const daemon = await startDaemonProcess(dir, file);
    stops.push(() => daemon.stop());
    await daemon.waitForLog(new RegExp(`control: listening address=${START_HOST}:${port}`));

    writeTestConfig(dir, reloaded);
    daemon.signal("SIGHUP");
    await daemon.waitForLog(/\[daemon\] control_listen changed: takes effect after a restart/);
    await daemon.waitForLog(/daemon: config reloaded/);
    await assertHostFollowsBound(port, reloadedPort);
  });

  it("and so does the control actor restarted after the reload", async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const { port, reloadedPort, reloaded, file } = await reloadedControlListen(dir);
    // Another program on the control socket: the control actor fails at start, and again at each restart.
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(dir.file("control.sock"), resolve));
    const released = () => new Promise((resolve) => holder.close(resolve));
    stops.push(released);
    const daemon = await startDaemonProcess(dir, file);
    stops.push(() => daemon.stop());
    await daemon.waitForLog(/actor failed, restarting actor=control/);

    writeTestConfig(dir, reloaded);
    daemon.signal("SIGHUP");
    await daemon.waitForLog(/daemon: config reloaded/);
    const mark = daemon.logs().length;
    await released();
    await waitFor(
      () => /control: listening address=/.test(daemon.logs().slice(mark)),
      20_000,
      "the restarted control listener",
    ).catch((error) => {
      throw new Error(`${error.message}\n${daemon.logs()}`);
    });
    assert.match(
      daemon.logs().slice(mark),
      new RegExp(`control: listening address=${START_HOST}:${port}\\b`),
    );
    await assertHostFollowsBound(port, reloadedPort);
  });
});
