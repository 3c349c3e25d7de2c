// A small asciicast v2 player on xterm.js: the fallback when asciinema-player cannot run (it needs
// WebAssembly, which a Content-Security-Policy without 'wasm-unsafe-eval' forbids). Play/pause,
// seek on a timeline with the recording's markers, speed.
import { useEffect, useRef, useState } from 'react';
import { fmtDuration } from '../lib/format';
import { XtermView, type XtermHandle } from './xterm-view';

export type CastEvent = [number, string, string];

export interface CastPlayerProps {
  width: number;
  height: number;
  events: CastEvent[];
  markers: { t: number; label: string }[];
  speed: number;
  /** a seek request from outside (marker list); the counter makes repeats distinct */
  seekTo?: { t: number; n: number };
}

export function CastPlayer({ width, height, events, markers, speed, seekTo }: CastPlayerProps) {
  const duration = events.length ? events[events.length - 1]![0] : 0;
  const h = useRef<XtermHandle | null>(null);
  const pos = useRef({ t: 0, i: 0 });
  const [time, setTime] = useState(0);
  const [playing, setPlaying] = useState(false);
  const speedRef = useRef(speed);
  speedRef.current = speed;

  /** writes every event up to time t, from the start when going backwards */
  const renderTo = (t: number) => {
    const term = h.current?.term;
    if (!term) return;
    if (t < pos.current.t) {
      term.reset();
      term.resize(width, height);
      pos.current = { t: 0, i: 0 };
    }
    let out = '';
    let i = pos.current.i;
    for (; i < events.length && events[i]![0] <= t; i++) {
      const [, code, data] = events[i]!;
      if (code === 'o') out += data;
      else if (code === 'r') {
        const m = /^(\d+)x(\d+)$/.exec(data);
        if (m) {
          if (out) (term.write(out), (out = ''));
          term.resize(Number(m[1]), Number(m[2]));
        }
      }
    }
    if (out) term.write(out);
    pos.current = { t, i };
    setTime(t);
  };

  useEffect(() => {
    if (!playing) return;
    let last = performance.now();
    let frame = 0;
    const step = (now: number) => {
      const next = Math.min(duration, pos.current.t + ((now - last) / 1000) * speedRef.current);
      last = now;
      renderTo(next);
      if (next >= duration) setPlaying(false);
      else frame = requestAnimationFrame(step);
    };
    frame = requestAnimationFrame(step);
    return () => cancelAnimationFrame(frame);
  }, [playing, duration]);

  useEffect(() => {
    if (seekTo) (renderTo(seekTo.t), setPlaying(true));
  }, [seekTo]);

  const toggle = () => {
    if (!playing && pos.current.t >= duration) renderTo(0);
    setPlaying(!playing);
  };

  return (
    <div className="cast-player">
      <div className="terminal-frame watch">
        <XtermView label="Recording" fitToBox={false} options={{ cols: width, rows: height, disableStdin: true, cursorBlink: false }}
          onOpen={(x) => void (h.current = x)} />
      </div>
      <div className="cast-controls">
        <button type="button" className="btn btn-small" onClick={toggle} aria-label={playing ? 'Pause' : 'Play'}>{playing ? '❚❚ Pause' : '▶ Play'}</button>
        <div className="timeline">
          <input type="range" min={0} max={duration || 1} step={0.1} value={time} aria-label="Position"
            onChange={(e) => renderTo(Number(e.target.value))} />
          {markers.map((m, i) => (
            <button key={i} type="button" className="marker-tick" style={{ left: `${duration ? (m.t / duration) * 100 : 0}%` }}
              title={`${fmtDuration(m.t * 1000)} — ${m.label}`} aria-label={`Marker: ${m.label}`} onClick={() => renderTo(m.t)} />
          ))}
        </div>
        <span className="mono small">{fmtDuration(time * 1000)} / {fmtDuration(duration * 1000)}</span>
      </div>
    </div>
  );
}
