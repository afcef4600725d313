// The methods each path of the control API takes, from its routes: what a 405 names in its Allow header
// (RFC 9110) for a path asked with another method. Pure: routes in, a map out.

/** Each routed path's methods, HEAD with GET (Hono answers a HEAD with its GET route); middleware left out. */
export function allowedMethods(routes: readonly { method: string; path: string }[]): Map<string, string[]> {
  const byPath = new Map<string, string[]>();
  for (const { method, path } of routes) {
    if (method === "ALL") continue;
    const methods = byPath.get(path) ?? [];
    for (const taken of method === "GET" ? ["GET", "HEAD"] : [method]) {
      if (!methods.includes(taken)) methods.push(taken);
    }
    byPath.set(path, methods);
  }
  return byPath;
}
