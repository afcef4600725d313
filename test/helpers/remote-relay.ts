// An alert relay "across the network" for the tests of what the transport guards off loopback (a login
// only over STARTTLS, to a checked certificate): this host's first IPv4 address off loopback, and an alert
// mail to send there.
import { networkInterfaces } from "node:os";

const remoteAddress = Object.values(networkInterfaces()).flat()
  .find((face) => face && face.family === "IPv4" && !face.internal)?.address;

/** The address to listen on and send to (a documentation address when there is none: the tests skip). */
export const remoteRelayHost = remoteAddress ?? "192.0.2.1";

/** A test option's `skip`: why the tests that need the address cannot run here, or false. */
export const noRemoteRelay: string | false = remoteAddress ? false : "this host has no address off loopback";

export const alertMail = {
  from: "postmaster@example.org",
  to: ["boss@example.org"],
  cc: [],
  subject: "Mail Abuse Alert",
  text: "body\n",
};
