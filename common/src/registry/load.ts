import { readFile } from 'node:fs/promises';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { type Registry, RegistryError, validateRegistry } from './schema.ts';

/** The largest registry file we read: 500 sites fit in well under 1 MiB. */
export const MAX_REGISTRY_BYTES = 8 * 1024 * 1024;

/**
 * Reads, parses (YAML or JSON) and validates a registry file.
 * @throws RegistryError naming the file, and the site and field when the content is wrong.
 */
export async function loadRegistry(file: string): Promise<Registry> {
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.byteLength > MAX_REGISTRY_BYTES) throw new Error(`is larger than ${MAX_REGISTRY_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (err) {
    throw new RegistryError([
      { file, site: '', field: '', message: `cannot be read: ${(err as Error).message}` },
    ]);
  }
  return parseRegistry(text, file);
}

/** Parses registry text; `file` decides JSON (`.json`) or YAML and names the source in errors. */
export function parseRegistry(text: string, file = '<inline>'): Registry {
  let doc: unknown;
  try {
    doc = file.endsWith('.json')
      ? JSON.parse(text)
      : parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new RegistryError([
      {
        file,
        site: '',
        field: '',
        message: `is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}${where}: ${(err as Error).message.split('\n')[0]}`,
      },
    ]);
  }
  return validateRegistry(doc, file);
}
