// The agent's reboot settings' defaults, alone so the CLI's flag parsing does not load the agent.
export const DEFAULT_REBOOT_COMMAND: readonly string[] = ['systemctl', 'reboot'];
/** Written by update-notifier-common / unattended-upgrades when a package needs a reboot (Debian, Ubuntu). */
export const DEFAULT_REBOOT_REQUIRED_FILE = '/var/run/reboot-required';
