// The shapes of host names and label keys, shared by every boundary that accepts them (plan files,
// scenarios, the HTTP API, CLI flags) so a name one part accepts is never refused by another.

/** Host names: what an agent enrolls as and what `--host` flags accept. */
export const HOST_NAME = /^[A-Za-z0-9._-]{1,253}$/;
export const HOST_NAME_HINT = '1-253 characters of A-Z a-z 0-9 . _ -';

/** Label keys, e.g. `zone` or `example.com/role`. */
export const LABEL_KEY = /^[A-Za-z0-9._/-]{1,63}$/;
export const LABEL_KEY_HINT = '1-63 characters of A-Z a-z 0-9 . _ / -';
