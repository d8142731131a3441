import { useEffect, useRef, useState, type ComponentProps } from 'react';

/**
 * A text filter that shows every keystroke at once but reports the value only after a pause (300 ms),
 * so typing a name asks the server once, and the browser history gets one entry, not one per letter.
 */
export function DebouncedInput({
  value,
  onCommit,
  delay = 300,
  ...rest
}: { value: string; onCommit(value: string): void; delay?: number } & Omit<
  ComponentProps<'input'>,
  'value' | 'onChange'
>) {
  const [text, setText] = useState(value);
  const commit = useRef(onCommit);
  commit.current = onCommit;
  // The URL changed under us (back button, a link): show what it says.
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const t = setTimeout(() => commit.current(text), delay);
    return () => clearTimeout(t);
  }, [text, value, delay]);
  return <input {...rest} value={text} onChange={(e) => setText(e.target.value)} />;
}
