// The run-time configuration: `/config.json`, written by whoever serves the site (ticketd
// answers it; on AWS the CDK app uploads it next to these files). Never edited by hand here.

const REQUIRED = ['apiUrl', 'cognitoDomain', 'clientId'];

export class ConfigError extends Error {}

let loaded = null;

/** `{ apiUrl, cognitoDomain, clientId, region }`, URLs without a trailing slash. */
export async function loadConfig() {
  if (loaded) return loaded;
  let response;
  try {
    response = await fetch('/config.json', { cache: 'no-store', credentials: 'same-origin' });
  } catch {
    throw new ConfigError('The site cannot reach its server. Check your connection and reload.');
  }
  if (!response.ok) {
    throw new ConfigError(`The site's configuration is missing (config.json answered ${response.status}).`);
  }
  let raw;
  try {
    raw = await response.json();
  } catch {
    throw new ConfigError("The site's configuration (config.json) is not valid JSON.");
  }
  for (const key of REQUIRED) {
    if (typeof raw?.[key] !== 'string' || raw[key].trim() === '') {
      throw new ConfigError(`The site's configuration (config.json) has no ${key}.`);
    }
  }
  loaded = Object.freeze({
    apiUrl: raw.apiUrl.trim().replace(/\/+$/, ''),
    cognitoDomain: raw.cognitoDomain.trim().replace(/\/+$/, ''),
    clientId: raw.clientId.trim(),
    region: typeof raw.region === 'string' ? raw.region : '',
  });
  return loaded;
}
