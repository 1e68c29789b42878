/** The service manager of each platform, chosen here and nowhere else. */
import { commonInstallSteps, type ControlAction, type InstallInput, type Layout, type ServiceManager, type ServicePlatform, type Step } from './plan.js';
import { systemd } from './systemd.js';
import { launchd } from './launchd.js';
import { windows } from './windows.js';

const MANAGERS: Record<ServicePlatform, ServiceManager> = { linux: systemd, darwin: launchd, win32: windows };

export function managerFor(platform: ServicePlatform): ServiceManager {
  return MANAGERS[platform];
}

export function installPlan(i: InstallInput): Step[] {
  return [...commonInstallSteps(i), ...managerFor(i.layout.platform).install(i)];
}

export function uninstallPlan(L: Layout, purge: boolean): Step[] {
  const steps = managerFor(L.platform).uninstall(L);
  if (L.binPath) steps.push({ kind: 'remove', path: L.binPath });
  if (purge) steps.push({ kind: 'remove', path: L.configFile }, { kind: 'remove', path: L.stateDir, recursive: true });
  return steps;
}

/** Service control: start, stop, restart, state, logs. */
export function controlArgv(L: Layout, action: ControlAction, follow = false): string[] {
  return managerFor(L.platform).control(L, action, follow);
}
