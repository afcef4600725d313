// While Redis is away the shared store answers show and top from this host's own counts (what it counted
// meanwhile, limits/shared-store.ts): the control API's answer then carries this header, and the CLI says
// so in a line of its own (status and the dashboard too, from /status's topSendersThisHostOnly), lest one
// host's count of a sender read as its count on every host. Its own file: the CLI reads it without loading
// the control app.
export const SCOPE_HEADER = "x-mailpolicyd-scope";
export const THIS_HOST_ONLY = "this-host";
/** Over show's, top's and status's rows, and the dashboard's top senders, while Redis is away. */
export const THIS_HOST_ONLY_LINE = "Redis unreachable: this host's counts only";
