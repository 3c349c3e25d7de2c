// xterm.js in a React component: the terminal fills its box and follows its size (fit addon).
import { FitAddon } from '@xterm/addon-fit';
import { Terminal, type ITerminalInitOnlyOptions, type ITerminalOptions } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef } from 'react';

export interface XtermHandle {
  term: Terminal;
  fit: FitAddon;
}

const THEME = {
  background: '#0d1117',
  foreground: '#e6edf3',
  cursor: '#e6edf3',
  selectionBackground: '#264f78',
};

export function XtermView({
  onOpen,
  onResize,
  options,
  fitToBox = true,
  label,
}: {
  /** called once with the terminal; may return a cleanup */
  onOpen(h: XtermHandle): void | (() => void);
  /** after the fit addon changed the size */
  onResize?(cols: number, rows: number): void;
  options?: ITerminalOptions & ITerminalInitOnlyOptions;
  fitToBox?: boolean;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const open = useRef(onOpen);
  const resize = useRef(onResize);
  open.current = onOpen;
  resize.current = onResize;

  useEffect(() => {
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: window.innerWidth < 600 ? 12 : 14,
      scrollback: 5000,
      theme: THEME,
      ...options,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    if (fitToBox) fit.fit();
    const cleanup = open.current({ term, fit });
    let last = `${term.cols}x${term.rows}`;
    const observer = new ResizeObserver(() => {
      if (!fitToBox) return;
      try {
        fit.fit();
      } catch {
        return;
      }
      const now = `${term.cols}x${term.rows}`;
      if (now !== last) {
        last = now;
        resize.current?.(term.cols, term.rows);
      }
    });
    observer.observe(box.current!);
    return () => {
      observer.disconnect();
      cleanup?.();
      term.dispose();
    };
    // options and fitToBox are fixed for a terminal's life
  }, []);

  return <div className="xterm-box" ref={box} role="region" aria-label={label} data-testid="terminal" />;
}
