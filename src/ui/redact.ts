// Secrets never reach a log: every line the extension prints passes through here.

const MASK = '***';

const RULES: [RegExp, string][] = [
  // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, MASK],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}/g, MASK],
  // Authorization headers and credentials inside URLs.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${MASK}`],
  [/(Authorization:\s*token\s+)\S+/gi, `$1${MASK}`],
  [/(\/\/[^/\s:@]+:)[^@\s/]+@/g, `$1${MASK}@`],
  // JSON fields that hold secrets (ota_config.json's Wi-Fi password, tokens, keys).
  [/("(?:password|token|secret|psk)"\s*:\s*")(?:[^"\\]|\\.)*"/gi, `$1${MASK}"`],
];

export class Redactor {
  private readonly secrets = new Set<string>();

  /** Remembers a secret the user gave us, so it is masked wherever it appears. */
  add(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(MASK);
    for (const [re, replacement] of RULES) out = out.replace(re, replacement);
    return out;
  }
}
