/**
 * A port that refuses every connection, for "host does not answer" tests. Port 2 is below the
 * range listen(0) hands out, no test binds it, nothing listens on it on the machines these tests
 * run on, and fetch allows it (port 1 is on fetch's list of bad ports). A port taken with
 * listen(0) and given back is not safe: under parallel tests another server may get it within
 * the seconds a retried request takes, and the test then meets an answer instead of a refusal.
 */
export const REFUSED_PORT = 2;
