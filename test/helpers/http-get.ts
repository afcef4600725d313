// One HTTP GET with node:http (Bun and Deno both provide it), over the control socket (socketPath) or
// TCP: the status and the body as text.
import http from "node:http";

export function httpGet(options: http.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ timeout: 30_000, ...options }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => body += chunk);
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    }).on("error", reject).on("timeout", function (this: http.ClientRequest) {
      this.destroy(new Error(`no answer to ${options.path}`));
    });
  });
}
