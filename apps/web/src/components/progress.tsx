/** A labelled progress bar (the native element, so assistive technology reads its value). */
export function ProgressBar({ value, label }: { value: number; label: string }) {
  const v = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <span className="progress">
      <progress max={100} value={v} aria-label={label} />
      <span className="progress__value">{v}%</span>
    </span>
  );
}
