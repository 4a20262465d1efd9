/**
 * The ota_config.json a board gets at install: what Configure Device stored for the project (never
 * a file in the released tree), plus the Wi-Fi, the fleet broker's password and a private OCI
 * registry's password from secret storage,
 * checked against the schema first. Nothing is written to a board when it does not pass.
 *
 *   boardConfig({ source: 'static', url: 'http://10.0.0.2:8080' }, wifi)  // the object to install
 *   boardConfig({ source: 'static' })  // throws OtaError 'bad_config': "… /url is required …"
 */
import { validateOtaConfig, type OtaConfig } from './config';
import { OtaError } from './errors';
import { projectName } from './manifest';
import { parseRef } from './publish/oci';

/**
 * Why a board must not get a registry password for `ref` (undefined: it may). The board sends
 * credentials only over verified TLS (device/ota/http.py), so one for a plain-HTTP registry would
 * only fail later, on the board: refused when it is configured instead.
 */
export function registryPasswordProblem(ref: unknown): string | undefined {
  if (typeof ref !== 'string') return undefined; // the schema names a missing reference
  let plain: boolean;
  try {
    plain = parseRef(ref).plainHttp;
  } catch {
    return undefined; // the schema names a bad reference
  }
  return plain
    ? `a registry password is sent only over https://, and ${ref} is plain HTTP: use an https:// registry or a public repository`
    : undefined;
}

export function boardConfig(
  stored: unknown,
  wifi?: { ssid: string; password: string },
  fleetPassword?: string,
  registryPassword?: string,
): OtaConfig {
  if (!stored || typeof stored !== 'object' || Array.isArray(stored))
    throw new OtaError(
      'no_config',
      'This project has no device configuration yet: run Configure Device first.',
    );
  const config: Record<string, unknown> = { ...(stored as Record<string, unknown>) };
  if (wifi) config.wifi = wifi;
  if (fleetPassword && config.fleet && typeof config.fleet === 'object')
    config.fleet = { ...(config.fleet as Record<string, unknown>), password: fleetPassword };
  if (registryPassword && config.source === 'oci') config.password = registryPassword;
  const problems = validateOtaConfig(config);
  const plain = config.password || config.token ? registryPasswordProblem(config.ref) : undefined;
  if (plain && config.source === 'oci') problems.push(plain);
  if (problems.length)
    throw new OtaError(
      'bad_config',
      `The device configuration is invalid, nothing was written to the board:\n- ${problems.join('\n- ')}`,
    );
  return config as unknown as OtaConfig;
}

/**
 * The config with `app` set to the project's manifest name when the user left it unset, so a board
 * is bound to its app from its first install: another project's release, even one signed by the same
 * key, is refused (`wrong_app`, docs/protocols.md, Manifest).
 *
 *   bindApp({ source: 'static', url }, '/home/ana/weather-station')  // { ..., app: 'weather-station' }
 */
export function bindApp<C extends { app?: unknown }>(config: C, dir: string): C {
  return config.app ? config : { ...config, app: projectName(dir) };
}
