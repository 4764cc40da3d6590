import cliProgress from 'cli-progress';

/**
 * A progress display for long jobs: a live bar with rate and ETA on a terminal, and plain
 * periodic lines when output is a file or CI log (no control characters in logs).
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = 0;
  private start = Date.now();
  private total = 0;
  private label = '';

  constructor(private readonly opts: { interactive?: boolean; stream?: NodeJS.WriteStream; write?: (text: string) => void; lineEverySeconds?: number } = {}) {}

  private get interactive(): boolean {
    return this.opts.interactive ?? Boolean((this.opts.stream ?? process.stderr).isTTY);
  }

  begin(label: string, total: number): void {
    this.label = label;
    this.total = total;
    this.start = Date.now();
    this.lastLine = this.start;
    if (this.interactive) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${label} {bar} {percentage}% | {value}/{total} | {fields} | {rate} img/s | ETA {eta_formatted}`,
          stream: this.opts.stream ?? process.stderr,
          hideCursor: true,
          etaBuffer: 50,
          barsize: 24,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { fields: '', rate: '-' });
    }
  }

  /** `images` processed so far; `fields` like { loss: '0.512', acc: '81.2%' }. */
  update(done: number, images: number, fields: Record<string, string>): void {
    const seconds = (Date.now() - this.start) / 1000;
    const rate = seconds > 0 ? (images / seconds).toFixed(0) : '-';
    const text = Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' ');
    if (this.bar) {
      this.bar.update(done, { fields: text, rate });
      return;
    }
    const now = Date.now();
    if (now - this.lastLine >= (this.opts.lineEverySeconds ?? 10) * 1000 || done === this.total) {
      this.lastLine = now;
      const eta = done > 0 ? ((this.total - done) * seconds) / done : 0;
      this.writeLine(`${this.label} ${done}/${this.total} | ${text} | ${rate} img/s | ETA ${formatDuration(eta)}\n`);
    }
  }

  private writeLine(text: string): void {
    if (this.opts.write) this.opts.write(text);
    else (this.opts.stream ?? process.stderr).write(text);
  }

  end(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}
