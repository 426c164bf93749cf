/** The `models` of a --config file: one model (a label and its costs) per expert. */
import { ConfigError } from '../errors.js';
import { parseExpertModels, type ExpertModel } from '../model/expert-models.js';
import { CliError } from './cli-errors.js';
import { readJsonFile } from './input.js';

/** The config's models (checked against the router's expert count when given), or null when the config names none. */
export async function loadExpertModels(configPath: string | undefined, numExperts?: number): Promise<ExpertModel[] | null> {
  if (configPath === undefined) return null;
  const value = await readJsonFile(configPath, 'config');
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !('models' in value)) return null;
  try {
    return parseExpertModels((value as { models: unknown }).models, numExperts);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`config ${configPath}: ${err.message}`);
    throw err;
  }
}
