// Its own module so commands that only need the number do not load the API client (and zod) at start-up.
/** Rows per page when the client walks a whole list. */
export const PAGE = 1000;
