/**
 * The optional fields of a routed output record, after `confidence`:
 * - `model`: the expert's model label (when the config names models);
 * - `cause` (--explain): the top contributing feature and its contribution,
 *   jsonl `"cause":{"feature":"tokenLength","contribution":0.1278...}`,
 *   csv/tsv columns `cause` and `cause_contribution`.
 * Rendered here as one pre-formatted fragment per record that
 * RecordFormatter.record() appends; error records get none (csv/tsv: empty
 * fields, written by RecordFormatter.error()).
 */
import { computeStatistics } from '../backends/cpu-reference/statistics.js';
import type { ExpertModel } from '../model/expert-models.js';
import type { PackedBatch } from '../model/packed-batch.js';
import { causeContribution, recordCauses, type RecordCauses } from '../model/record-cause.js';
import type { RouterConfig } from '../model/router-config.js';
import { quoteField, type OutputFormat } from './output-format.js';

export interface AnnotationOptions {
  format: OutputFormat;
  /** One per expert, or null when the config names no models. */
  models: readonly ExpertModel[] | null;
  explain: boolean;
  config: RouterConfig;
}

export class RecordAnnotations {
  /** csv/tsv header names of the added columns, in order. */
  readonly columns: readonly string[];
  /** The routing should return statistics (routeBatch includeStats); computed on the reference otherwise. */
  readonly needsStats: boolean;
  private readonly json: boolean;
  private readonly d: string;
  private readonly modelFragment: string[] | null;
  private readonly causeName: string[];
  private causes: RecordCauses | null = null;

  private constructor(private readonly o: AnnotationOptions) {
    this.json = o.format === 'jsonl';
    this.d = o.format === 'tsv' ? '\t' : ',';
    const cols: string[] = [];
    if (o.models) cols.push('model');
    if (o.explain) cols.push('cause', 'cause_contribution');
    this.columns = cols;
    this.needsStats = o.explain;
    this.modelFragment = o.models ? o.models.map((m) => (this.json ? `,"model":${JSON.stringify(m.model)}` : this.d + quoteField(m.model, this.d))) : null;
    this.causeName = o.config.model.features.map((f) => (this.json ? `,"cause":{"feature":${JSON.stringify(f.name)},"contribution":` : this.d + f.name + this.d));
  }

  /** Null when there is nothing to add (the plain output stays as it was). */
  static create(o: AnnotationOptions): RecordAnnotations | null {
    return o.models || o.explain ? new RecordAnnotations(o) : null;
  }

  /** Call once per batch, before fragment() for its records. */
  batch(text: PackedBatch, routing: { count: number; stats?: Uint32Array } | null): void {
    if (!this.o.explain || !routing) {
      this.causes = null;
      return;
    }
    // the GPU returns the same statistics as the reference, bit for bit; a backend without them gets the reference's
    const stats = routing.stats ?? computeStatistics(text.bytes, text.offsets);
    this.causes = recordCauses(this.o.config.model, stats, routing.count);
  }

  /** The fields added to routed record `local` of the current batch, routed to `expert`. */
  fragment(local: number, expert: number): string {
    let out = this.modelFragment ? this.modelFragment[expert] : '';
    if (this.causes) {
      const contribution = causeContribution(this.o.config.model, this.causes.product[local]);
      out += this.causeName[this.causes.feature[local]] + String(contribution) + (this.json ? '}' : '');
    }
    return out;
  }
}
