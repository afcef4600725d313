// How many rows `top` (/senders?top=N) gives at most: a person reads them, and a ranking beyond that is a
// scan of the store on the thread that answers Exim (store/top-senders.ts).
export const MAX_TOP_ROWS = 10_000;
