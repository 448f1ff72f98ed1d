// The agent validates what it reads (server answers, its own state files) with zod/mini: the same
// checks as zod, tree-shaken to a few kB. Full zod would add about 5 MB to an idle agent's memory.
// zod/mini has no messages of its own: the English ones are configured once, here. Agent modules
// `import * as z from 'zod/mini'` themselves (a re-exported namespace would keep all of zod) and
// import this module for its effect.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
