/**
 * The printable maintenance record of a grant (pure): the signed evidence bundle rendered for people —
 * who asked, why, under which ticket, who approved and how, when access ran, what was typed, which
 * files moved (with their SHA-256), how it ended — with the controls it evidences: NIST SP 800-53
 * MA-4 (nonlocal maintenance) and HIPAA §164.312(b) (audit controls). The JSON bundle stays the
 * evidence of record: this page says so and names its signature.
 */
import type { SignedEvidence } from './evidence.js';
import type { OmittedLines } from './evidence-typed-lines.js';
import type { TimedLine } from './typed-lines.js';

const esc = (v: unknown): string => String(v ?? '—').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const when = (v: Date | string | null | undefined): string => (v ? esc(new Date(v).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')) : '—');
const mmss = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

function table(head: string[], rows: unknown[][]): string {
  if (rows.length === 0) return '<p class="none">None.</p>';
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${
    rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const n = (v: number) => v.toLocaleString('en-US');

/** The typed lines, with the lines and characters the bundle left out said where they were left out. */
function typedTable(lines: TimedLine[], omitted: OmittedLines | null): string {
  const rows = lines.map((l) => [
    esc(mmss(l.offsetSeconds)),
    `<code>${esc(l.text)}</code>${l.cutChars ? ` <span class="none">… ${esc(n(l.cutChars))} more characters, in the recording</span>` : ''}`,
  ]);
  if (omitted) {
    rows.splice(omitted.afterLine, 0, [
      `${esc(mmss(omitted.fromOffsetSeconds))}–${esc(mmss(omitted.toOffsetSeconds))}`,
      `<strong>${esc(n(omitted.count))} typed lines not listed here</strong> <span class="none">(this record lists the first and the last; every line is in the recording, whose SHA-256 is above)</span>`,
    ]);
  }
  return table(['at', 'typed'], rows);
}

const FACTOR: Record<string, string> = {
  web: 'console login (password, session cookie)',
  api: 'API bearer token',
  'slack-link': 'signed Slack link',
};

export function renderEvidenceHtml(e: SignedEvidence): string {
  const approvals = e.decisions.map((d) => [
    esc(d.approver ? `${d.approver.displayName} (${d.approver.username})` : d.approverId), esc(d.decision), when(d.createdAt),
    esc(FACTOR[d.channel] ?? d.channel), esc(d.comment),
  ]);
  const sessions = e.sessions.map((s) => {
    const typed = s.typedLines === null ? '<p class="none">No readable recording.</p>' : typedTable(s.typedLines, s.typedLinesOmitted);
    return `<h3>Session ${esc(s.id)}</h3>
<p>${esc(s.channel)}${s.command ? ` <code>${esc(s.command)}</code>` : ''} from ${esc(s.clientAddress)} · ${when(s.startedAt)} → ${when(s.endedAt)} · ended: ${esc(s.endReason ?? 'still running')}</p>
<p>Recording: ${s.recording ? `<code>${esc(s.recording.file)}</code> SHA-256 <code>${esc(s.recording.sha256)}</code>` : 'none'}</p>
<h4>What was typed</h4>${typed}`;
  }).join('\n');
  const transfers = e.transfers.map((t) => [
    esc(t.direction), `<code>${esc(t.path)}</code>`, esc(t.bytes), `<code>${esc(t.sha256)}</code>`, esc(t.outcome),
    esc(t.declared === null ? '—' : t.declared ? `declared (${t.artifactName ?? ''})` : 'NOT declared'), when(t.endedAt),
  ]);
  // the people this record already names, so the trail reads by name
  const names = new Map<string, string>([[e.technician.id, e.technician.username], [e.generatedBy.id, e.generatedBy.username]]);
  for (const d of e.decisions) if (d.approver) names.set(d.approver.id, d.approver.username);
  const actor = (type: string, id: string | null) => (id ? (type === 'user' && names.has(id) ? names.get(id)! : `${type} ${id}`) : type);
  const events = e.audit.events.filter((ev) => e.audit.concerning.includes(ev.seq)).map((ev) => [
    esc(ev.seq), when(ev.at), esc(ev.action), esc(actor(ev.actorType, ev.actorId)), `<code>${esc(ev.hash.slice(0, 16))}…</code>`,
  ]);
  const g = e.grant;
  const r = e.request;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Maintenance record — ${esc(e.device.name)} — ${esc(r.ticketRef)}</title>
<style>
body{font:13px/1.45 system-ui,sans-serif;margin:2em;color:#111}h1{font-size:20px}h2{font-size:16px;border-bottom:1px solid #999;margin-top:1.6em}
h3{font-size:14px}table{border-collapse:collapse;width:100%;margin:.4em 0}th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eee}code{font:12px ui-monospace,monospace;word-break:break-all}.none{color:#666}dl{display:grid;grid-template-columns:14em 1fr;gap:2px 1em}
dt{font-weight:600}@media print{body{margin:0}h2{break-after:avoid}}
</style></head><body>
<h1>Remote maintenance record</h1>
<p>Device <b>${esc(e.device.name)}</b> (${esc(e.device.manufacturer)} ${esc(e.device.model)}, serial ${esc(e.device.serialNumber)}, ${esc(e.device.department)}) · ticket <b>${esc(r.ticketRef)}</b> · grant <code>${esc(g.id)}</code></p>
<h2>Request</h2>
<dl><dt>Asked by</dt><dd>${esc(e.technician.displayName)} (${esc(e.technician.username)})${e.technician.vendor ? `, ${esc(e.technician.vendor.name)}` : ''}</dd>
<dt>Why</dt><dd>${esc(r.reason)}</dd><dt>Ticket</dt><dd>${esc(r.ticketRef)}</dd><dt>Kind</dt><dd>${esc(r.kind)}</dd>
<dt>Asked at</dt><dd>${when(r.createdAt)}</dd><dt>Duration asked</dt><dd>${esc(r.durationMinutes)} minutes</dd>
<dt>Declared files</dt><dd>${r.artifacts.length ? r.artifacts.map((a) => `${esc(a.name)} <code>${esc(a.sha256)}</code>`).join('<br>') : '—'}</dd></dl>
<h2>Approval</h2>${g.emergency ? '<p><b>Emergency (break-glass) access: opened without prior approval.</b> Review: ' + esc(g.reviewOutcome ?? 'pending') + (g.reviewedAt ? ` at ${when(g.reviewedAt)}` : '') + '</p>' : ''}
${table(['approver', 'decision', 'when', 'factor', 'comment'], approvals)}
<h2>Access</h2>
<dl><dt>Window</dt><dd>${when(g.startsAt)} → ${when(g.endsAt)}</dd><dt>Activated</dt><dd>${when(g.activatedAt)}</dd>
<dt>Ended</dt><dd>${when(g.endedAt)} ${esc(g.status)}${g.endReason ? ` (${esc(g.endReason)})` : ''}</dd>
<dt>Credentials issued</dt><dd>${e.credentialsIssued.map((c) => `${esc(c.kind)} serial ${esc(c.serial)} valid ${when(c.validAfter)} → ${when(c.validBefore)}`).join('<br>') || '—'}</dd></dl>
<h2>Sessions</h2>${sessions || '<p class="none">No sessions.</p>'}
<h2>Files moved</h2>${table(['direction', 'path', 'bytes', 'SHA-256', 'outcome', 'declared', 'when'], transfers)}
<h2>Audit trail</h2>${table(['seq', 'when', 'action', 'actor', 'hash'], events)}
<p>Signed audit checkpoint over event ${esc(e.checkpoint.seq)} (hash <code>${esc(e.checkpoint.hash)}</code>), signed ${when(e.checkpoint.signedAt)} with key <code>${esc(e.checkpoint.publicKey)}</code>.</p>
<h2>Controls evidenced</h2>
${table(['control', 'requirement', 'evidence in this record'], [
    ['NIST SP 800-53 MA-4 a', 'Approve and monitor nonlocal maintenance and diagnostic activities', 'Request, approvals (who, when, factor), supervision and session recordings'],
    ['NIST SP 800-53 MA-4 b', 'Allow nonlocal maintenance tools only as consistent with policy', 'Device policy enforced per session: channels, transfers (declared files and their SHA-256)'],
    ['NIST SP 800-53 MA-4 c', 'Employ strong authentication in establishing nonlocal maintenance sessions', 'Short-lived SSH certificates / one-use terminal tokens bound to this grant (credentials issued)'],
    ['NIST SP 800-53 MA-4 d', 'Maintain records for nonlocal maintenance activities', 'This record: sessions, what was typed, files moved, the audit trail'],
    ['NIST SP 800-53 MA-4 e', 'Terminate session and network connections when maintenance is completed', 'Grant end and each session\'s end and reason'],
    ['HIPAA §164.312(b)', 'Audit controls: record and examine activity in systems that contain or use ePHI', 'Hash-chained audit events, signed checkpoint, recordings with SHA-256'],
  ].map((row) => row.map(esc)))}
<p class="none">The evidence of record is the signed JSON bundle (<code>GET /api/grants/${esc(g.id)}/evidence</code>, check it with <code>npx portcullis-verify</code>). Generated ${when(e.generatedAt)} by ${esc(e.generatedBy.username)}; JWS <code>${esc(e.signature.jws.slice(0, 40))}…</code></p>
</body></html>
`;
}
