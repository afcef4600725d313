// A daemon process whose Postfix listener and spamd front fail at start, again and again, because another
// program holds their ports: how the reload tests get the supervisor to restart a listener.
import net from "node:net";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "./daemon-process.ts";
import type { TempDir } from "./temp-dir.ts";

export interface TakenPort {
  port: number;
  /** Lets the port go: the listener binds it at its next restart. */
  release(): Promise<void>;
}

/** A port some other program holds: the listener cannot bind it until the test lets it go. */
export async function takenPort(): Promise<TakenPort> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    release: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Whether something accepts connections on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts the daemon with [postfix] and [spamd] on taken ports; resolves once both have failed. */
export async function startWithListenersFailing(
  dir: TempDir,
): Promise<{ daemon: DaemonProcess; file: string; postfix: TakenPort; spamd: TakenPort }> {
  const postfix = await takenPort();
  const spamd = await takenPort();
  const file = writeTestConfig(
    dir,
    `[postfix]\nlisten = 127.0.0.1:${postfix.port}\n[spamd]\nlisten = 127.0.0.1:${spamd.port}\n`,
  );
  const daemon = await startDaemonProcess(dir, file);
  await daemon.waitForLog(/actor failed, restarting actor=postfix/);
  await daemon.waitForLog(/actor failed, restarting actor=spamd/);
  return { daemon, file, postfix, spamd };
}
