/**
 * The page's files, read once into memory: the HTML template, the script and
 * the stylesheet beside this module (page/, copied into dist by
 * scripts/after-build.mjs) and uPlot from its npm package. The server serves
 * only this fixed table and the report inlines it: nothing comes from a CDN.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface PageAssets {
  /** page.html with the markers {{head}}, {{summary}}, {{data}} and {{scripts}}. */
  template: string;
  appJs: string;
  styleCss: string;
  uplotJs: string;
  uplotCss: string;
}

let cached: PageAssets | null = null;

export function pageAssets(): PageAssets {
  if (cached) return cached;
  const page = (name: string): string => readFileSync(fileURLToPath(new URL(`./page/${name}`, import.meta.url)), 'utf8');
  const require = createRequire(import.meta.url);
  const uplot = (name: string): string => readFileSync(require.resolve(`uplot/dist/${name}`), 'utf8');
  cached = {
    template: page('page.html'),
    appJs: page('app.js'),
    styleCss: page('style.css'),
    uplotJs: uplot('uPlot.iife.min.js'),
    uplotCss: uplot('uPlot.min.css'),
  };
  return cached;
}

/** Fills the template's markers in one pass, so that no inserted text is scanned for markers again. */
export function fillTemplate(template: string, parts: Record<'head' | 'summary' | 'data' | 'scripts', string>): string {
  return template.replace(/\{\{(head|summary|data|scripts)\}\}/g, (_m, key: keyof typeof parts) => parts[key]);
}
