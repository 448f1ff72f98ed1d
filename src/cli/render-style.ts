// ANSI styling for the human renderers. A palette with colours off returns text untouched, so a
// renderer never has to ask whether it is on a terminal.

export type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';

const CODES: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};

export type Paint = (style: Style | undefined, text: string) => string;

export function createPaint(color: boolean): Paint {
  return (style, text) => {
    if (!color || style === undefined || text === '') return text;
    const [on, off] = CODES[style];
    return `\x1b[${on}m${text}\x1b[${off}m`;
  };
}

/** The colour a rollout, wave, step or host state reads as: green good, red bad, yellow in motion. */
export function styleForState(state: string): Style | undefined {
  switch (state) {
    case 'completed':
    case 'healthy':
    case 'online':
      return 'green';
    case 'failed':
    case 'silent':
    case 'halted':
    case 'aborted':
    case 'rolled_back':
    case 'rolling_back':
    case 'offline':
      return 'red';
    case 'running':
    case 'applying':
    case 'verifying':
    case 'baking':
      return 'cyan';
    case 'paused':
    case 'awaiting_approval':
      return 'yellow';
    case 'pending':
    case 'skipped':
    case 'not started':
      return 'dim';
    default:
      return undefined;
  }
}

// Strips our own SGR sequences so column widths count only what the eye sees.
const SGR = /\x1b\[[0-9;]*m/g;
export function visibleLength(text: string): number {
  return text.replace(SGR, '').length;
}

export function padVisible(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}
