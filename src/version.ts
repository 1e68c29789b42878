/** The software version, shared by the agent, relay and client. Keep in step with package.json. */
export const VERSION = '0.1.0';
