/**
 * The ota_config.json a board gets at install: what Configure Device stored for the project (never
 * a file in the released tree), plus the Wi-Fi and the fleet broker's password from secret storage,
 * checked against the schema first. Nothing is written to a board when it does not pass.
 *
 *   boardConfig({ source: 'static', url: 'http://10.0.0.2:8080' }, wifi)  // the object to install
 *   boardConfig({ source: 'static' })  // throws OtaError 'bad_config': "… /url is required …"
 */
import { validateOtaConfig, type OtaConfig } from './config';
import { OtaError } from './errors';

export function boardConfig(
  stored: unknown,
  wifi?: { ssid: string; password: string },
  fleetPassword?: string,
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
  const problems = validateOtaConfig(config);
  if (problems.length)
    throw new OtaError(
      'bad_config',
      `The device configuration is invalid, nothing was written to the board:\n- ${problems.join('\n- ')}`,
    );
  return config as unknown as OtaConfig;
}
