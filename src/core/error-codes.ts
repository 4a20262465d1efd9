/**
 * Every error code a user can meet, one table (docs/protocols.md, "Error codes"): the host's
 * OtaError and the board's Fail(code, msg) spell each code the same way, in snake_case, and each
 * has the sentence a user reads when the code alone is shown (the status bar, a --json consumer's
 * lookup). test/error-codes.test.ts checks that every code the board raises is listed here.
 *
 * To add a code: one line here, in its group; the type of OtaError's code follows.
 */
export const ERROR_CODES = {
  // Options and input files (CLI, extension).
  bad_option: 'A command-line option is missing or has a wrong value.',
  bad_config: 'The configuration (ota_config.json) is not valid, on the host or on the board.',
  no_config: 'There is no ota_config.json in the workspace.',
  no_workspace: 'Open a folder first.',
  not_a_directory: 'The path is not a folder.',
  unreadable: 'A file could not be read.',
  not_found: 'The file or folder does not exist.',
  cancelled: 'Cancelled.',

  // Release contents and the manifest.
  bad_version: 'The version is not a semantic version (1.4.0, 2.0.0-beta.1).',
  bad_date: 'The date is not an ISO 8601 date.',
  bad_name: 'A file name has a backslash, control characters or invalid UTF-8.',
  bad_path: 'A release path is absolute, has an empty, "." or ".." part, or lies under .ota/.',
  bad_manifest: 'The manifest is malformed.',
  bad_firmware: 'The firmware image is not valid.',
  bad_latest: 'The latest.json on the release host is malformed.',
  path_escape: 'A symlink leads outside the project.',
  name_too_long: 'A path is too long for a ustar archive.',
  empty_project: 'The project has no files to release.',
  file_changed: 'A file changed while it was being read.',
  file_too_large: 'A file is too large.',
  hook_missing: 'A hook is not one of the release files.',
  delete_conflict: 'A file is both shipped and deleted by the release.',
  firmware_conflict: 'The firmware image name clashes with another release file.',
  asset_name_clash: 'Two release files map to the same GitHub asset name.',
  no_version: 'No version given and no v* tag to take it from.',
  schema_unsupported: 'The manifest uses a newer schema than this tool or the board knows.',

  // Keys and signatures.
  bad_key_alg: 'Unknown key algorithm (hmac-sha256, ed25519, rsa-sha256).',
  bad_key_file: 'The key file is not a key made by ota keygen.',
  bad_key_name: 'A key name may hold letters, digits, ".", "_" and "-", and not start with ".".',
  key_exists: 'A key with that name exists already.',
  key_in_project: 'Keys may not be stored inside a project, where they could be released.',
  key_permissions: 'The key file can be read by other users.',
  key_unreadable: 'The key file cannot be read.',
  key_unwritable: 'The key file cannot be written where keys are kept (~/.config/micropython-ota/keys/).',
  no_signing_key:
    'The board trusts only signed releases and ota.signingKey names no private key it trusts (unset, a public key, or another key).',
  sig_bad_alg: 'The signature names an unknown algorithm.',
  sig_unknown_key: 'The signature was made with a key that is not trusted.',

  // Publishing.
  bad_repo: 'The repository must be owner/name.',
  no_repo: 'No repository given.',
  no_token: 'No GitHub token given.',
  token_missing: 'GitHub asked for a token and none was given.',
  token_invalid: 'GitHub refused the token.',
  no_permission: 'The token may not write to this repository (fine-grained: Contents: write).',
  repo_not_found: 'The repository does not exist or the token cannot see it.',
  tag_exists: 'That version is already published (use --force to replace it).',
  version_exists: 'That version is already published (use --force to replace it).',
  upload_failed: 'An upload failed after its retries.',
  github_error: 'GitHub answered with an error.',
  listing_too_long:
    'A host lists more entries, pages or bytes in all than a listing may read, or its pages lead back to a page already read.',
  rate_limited: 'The rate limit is used up; try again after its reset time.',
  http_status: 'The server answered with an unexpected HTTP status.',
  network: 'The network request failed or was cut off (the release host or registry did not answer).',
  port_in_use: 'The port is already in use.',
  unreachable: 'The release host did not answer.',
  not_local: 'The release host is another computer: it cannot be served from here.',
  auth_declined: 'The GitHub sign-in was declined or could not complete (offline?).',
  foreign_origin:
    'A host named another origin for a request that carries a credential (a page link, an upload URL, a redirect): nothing was sent there.',

  // Serial and boards.
  no_port: 'No serial port given.',
  no_board: 'No board selected.',
  port_open_failed: 'The serial port could not be opened.',
  port_closed: 'The serial port closed (cable pulled or board reset).',
  board_busy:
    'The board is busy: running another command, or a newer release waits behind an unconfirmed one.',
  board_exception: 'The board raised a Python exception.',
  board_output_too_long: 'The board answered a command with more output than any answer the host asks for.',
  protocol:
    'The other side broke its protocol: the board answered something the raw REPL does not, or a release host sent malformed HTTP (framing, numbers, a range not asked for).',
  timeout: 'No answer in time.',
  install_staging: 'An updater file did not reach the board intact during install.',
  no_package: 'The updater folder has no package.json listing its files.',
  device_error: 'The board reported an error.',
  no_updater: 'The updater is not installed on the board.',
  no_memory: 'The board ran out of memory.',

  // The editor's views.
  no_selection: 'Pick an item in the view first.',
  not_offered: "The release is not the one the board's channel offers.",

  // Raised by the board's updater (Fail in device/ota) and shown in its error event.
  bad_url: 'A URL the board was given is not valid.',
  too_many_redirects: 'The release host redirected too many times.',
  http_404: 'The release host has no such file or release.',
  no_signature: 'The board requires a signed manifest and this one is not signed.',
  bad_signature: 'The signature (of a manifest or a fleet document) is malformed or matches no trusted key.',
  downgrade: 'The release is older than one the board accepted before.',
  wrong_app:
    'The release is another project\'s (its manifest name is not the app this board runs). To move the board on purpose, set "app" in ota_config.json or reinstall over USB.',
  expired: 'The manifest has expired.',
  hash_mismatch: 'A downloaded file does not match its hashes.',
  no_space: 'Not enough free flash for the update.',
  no_firmware: 'The board has no OTA partition for a firmware image.',
  hook: 'A release hook raised an exception.',
  io: 'A file operation failed on the board.',
  internal: 'The updater hit an unexpected error.',
  path_conflict: 'The release puts a file where a folder is, or the other way round.',
  verify: 'A file did not match its hash after staging or after the swap: the release was rolled back.',
  too_large: 'The server sends more bytes than the manifest declares.',
  inflate_limit: 'A compressed download inflates past its declared size.',
  header_too_large: 'An HTTP header line is longer than the limit, or there are too many of them.',
  too_many_files: 'The release has more files than a board can track (1000).',
  bad_encoding: 'The release host compressed an answer in an encoding the board did not ask for.',
  doc_too_large: 'A JSON document from the server is longer than the limit.',
  deadline: 'The update took longer than its deadline.',
  retry_later: 'The server asked the board to wait longer than it is allowed to.',
  clock_unknown: 'The board cannot tell the time, and the config requires it to check expiry.',
  no_keys: 'The keys list is empty: leave keys out for unsigned releases, or add a key.',
  tls: 'The TLS handshake failed.',
  tls_verify: "The server's certificate did not verify.",
  tls_pin: "The server's public key does not match the configured pin.",
  tls_unsupported: 'The firmware cannot verify certificates (no mbedTLS).',
  token_unverified: 'A token or password would go over an unverified connection: refused.',
  redirect_downgrade: 'An HTTPS request was redirected to plain HTTP: refused.',
  // Notices the board reports without stopping (warning and fleet events).
  stale: 'The release host has answered "nothing new" for too long.',
  tls_insecure: 'Certificates are not verified (tls.insecure is set, for the release host or the broker).',
  cmd: 'The board took a signed fleet command.',
  rollout: 'The board took a signed rollout document.',
  revert: 'An aborted rollout sends the board back to the release it came from.',
  dropped: 'The board dropped oversized or malformed fleet messages.',
  rolled_back: 'The board rolled this release back and does not install it again: publish a newer version.',
  no_rollback: 'Nothing to roll back: the release is confirmed or none is pending.',
  bad_command:
    'The fleet command is not one of check, confirm, rollback, reboot, or is meant for another board.',
  bad_document:
    'A fleet document (a command or a rollout) is malformed, has no version, or is meant for another fleet.',
  replay: 'A fleet command or rollout document is older than one already taken.',

  // Release contents, hosts and registries (added with the release-content, OCI and UI work).
  reserved_path: 'The path belongs to the board or the updater and never ships in a release.',
  unservable_name: 'The chosen release host cannot serve a file of this name.',
  path_clash: 'Two release paths clash (a file and a folder, or names equal without case).',
  bad_ref: 'The registry reference is not host/repository[:tag].',
  registry_error: 'The OCI registry answered with an error.',
  credentials_missing: 'The registry needs credentials and none were found.',
  auth_failed: 'The registry refused the credentials, or needs some.',
  denied: 'The registry refused the operation for these credentials.',
  not_latest: 'The board can only be sent to the latest release of its channel.',
  other_channel: 'The release is on another channel than the board follows.',
  no_release: 'Pick a release first.',
  no_file: 'Pick a file first.',
  no_url: 'There is no page to open for this release.',
  board_gone: 'The board did not come back after a reset.',

  // The fleet (MQTT broker and rollouts).
  fleet_auth: 'The MQTT broker refused the user name or password.',
  fleet_down: 'No MQTT broker answers at the configured address.',
  fleet_tls: 'The MQTT broker presented a certificate that is not trusted.',
  fleet_timeout: 'The MQTT broker did not answer in time.',
  fleet_bad_url: 'The broker address is not mqtt://host:port or mqtts://host:port.',
  fleet_bad_name: 'The fleet, group or board name is not valid in an MQTT topic.',
  fleet_unsigned: 'A fleet document carries no signature.',
  fleet_too_large: 'A fleet message is larger than the limit.',
  fleet_release_host: 'The release host could not be asked whether the version exists.',
  fleet_no_release: 'The release to roll out does not exist.',
  fleet_no_rollout: 'No rollout is under way in this fleet.',
  fleet_not_running: 'The rollout is not running.',
  fleet_not_paused: 'The rollout is not paused.',
  fleet_stale_state:
    'The controller state in the broker is older than the rollout the boards hold (a replay).',
  fleet_wrong_version: 'The version named is not the one of the rollout under way.',

  // The virtual board.
  sim_cut: 'The virtual board lost power (power-cut injection).',
  sim_flash: 'The virtual board ran out of flash.',
  sim_fs_dir: 'The virtual board needs a folder for its flash.',
  sim_heap: 'The virtual board heap size is not valid.',
  sim_partitions: "The virtual board's OTA partitions are not valid.",
  sim_pty: 'The virtual board could not open a pseudo-terminal.',
  sim_pty_exists: 'The link path for the pseudo-terminal exists already.',
  sim_baud: 'The virtual board baud rate is not valid.',
  sim_fs: 'The virtual board filesystem model is not valid.',
  sim_timeout: 'The virtual board did not finish in time.',

  // The demo.
  demo_assets: 'The demo could not find its example project and updater.',
  demo_update: 'The demo board refused the update.',
  demo_fleet: 'The fleet demo could not run.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** A code that came from outside (a board's error event): itself when known, else device_error. */
export function toErrorCode(code: unknown): ErrorCode {
  return isErrorCode(code) ? code : 'device_error';
}

export function errorMessage(code: ErrorCode): string {
  return ERROR_CODES[code];
}
