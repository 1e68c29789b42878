import { describe, expect, it } from 'vitest';
import { agentPaths, discoveryFiles, type OsName, type PathEnv } from '../../src/platform/paths.js';
import { layout } from '../../src/platform/service/plan.js';

const env = (platform: OsName): PathEnv => ({
  platform,
  home: platform === 'win32' ? 'C:\\Users\\ana' : platform === 'darwin' ? '/Users/ana' : '/home/ana',
  programData: 'C:\\ProgramData',
  programFiles: 'C:\\Program Files',
  localAppData: 'C:\\Users\\ana\\AppData\\Local',
  userName: 'ana',
});

/** Issue 12: config, state, socket and discovery paths live in one table, so install and run agree. */
describe('the platform paths table', () => {
  for (const platform of ['linux', 'darwin', 'win32'] as const) {
    for (const user of [true, false]) {
      it(`${platform} ${user ? 'per-user' : 'system'}: install writes where run, status and doctor look`, () => {
        const e = env(platform);
        const p = agentPaths(e, user ? 'user' : 'system');
        const L = layout(platform, user, e.home, e.programData, e.programFiles, e.localAppData);
        expect(L.configFile).toBe(p.configFile);
        expect(L.stateDir).toBe(p.stateDir);
        expect(L.binPath).toBe(p.binPath);
        expect(L.serviceFile).toBe(p.serviceFile);
        // The discovery file sits beside the socket's directory, and clients look there.
        expect(discoveryFiles(e)).toContain(p.discoveryFile);
        // Every path of a scope is under that scope's roots (nothing per-user lands in a system dir).
        const roots = platform === 'win32' ? [...(user ? [e.localAppData] : [e.programData, e.programFiles]), '\\\\.\\pipe\\'] : user ? [e.home] : ['/etc', '/var', '/usr', '/Library'];
        for (const path of [p.configFile, p.stateDir, p.socketPath, p.discoveryFile, p.runtimeDir, p.binPath, p.serviceFile, p.logDir].filter((x): x is string => !!x)) {
          expect(roots.some((r) => path.startsWith(r)), `${path} under ${roots.join(' or ')}`).toBe(true);
        }
      });
    }
  }

  it('a Windows per-user install puts its config in %LOCALAPPDATA%, where a per-user status looks (the old disagreement)', () => {
    const e = env('win32');
    expect(layout('win32', true, e.home, e.programData, e.programFiles, e.localAppData).configFile).toBe('C:\\Users\\ana\\AppData\\Local\\cmdop\\agent.json');
    expect(agentPaths(e, 'user').configFile).toBe('C:\\Users\\ana\\AppData\\Local\\cmdop\\agent.json');
  });
});
