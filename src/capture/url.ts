/**
 * Removes secrets from a URL-ish string before it is written into a repository that other
 * people read. Remotes and dependency specifiers often carry tokens (`https://user:token@...`).
 *
 * - http(s): all userinfo goes: a bare `user@` is frequently a token used as a username.
 * - other `scheme://` URLs (ssh, git+ssh...): only a password goes; `ssh://git@host` is routine.
 * - scp-like `git@github.com:org/repo` carries no secret and is kept as is.
 *
 * @example
 * stripUrlCredentials("https://user:secret@example.com/r.git"); // "https://example.com/r.git"
 * stripUrlCredentials("git@github.com:org/repo.git");           // unchanged
 */
export function stripUrlCredentials(value: string): string {
  // Matching text rather than round-tripping through `URL` keeps the string as the user wrote
  // it (no re-encoding, no added trailing slash). `[^/?#]*@` is greedy so it runs to the last
  // "@" of the authority, as RFC 3986 parsing does.
  return value
    .replace(/((?:git\+)?https?:\/\/)[^/?#\s]*@/gi, "$1")
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^/?#:@\s]*):[^/?#@\s]*@/gi, "$1$2@");
}
