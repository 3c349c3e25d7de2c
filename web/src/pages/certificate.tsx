import { useMemo, useState, type FormEvent } from 'react';
import { post } from '../api/client';
import type { Grant, SshCertificate } from '../api/types';
import { FieldErrors, onField } from '../components/form-errors';
import { Badge, Card, CopyBlock, Countdown, ErrorBox, Field, KV, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link } from '../lib/router';

/** Paste a public key, get an OpenSSH certificate valid for this device until the grant ends. */
export function CertificatePage({ grantId }: { grantId: string }) {
  const dir = useDirectory();
  const grant = useApi<Grant>(`/api/grants/${grantId}`);
  const trust = useApi<{ knownHostsLine: string }>('/api/ssh-known-hosts');
  const [publicKey, setPublicKey] = useState('');
  const [cert, setCert] = useState<SshCertificate | null>(null);
  const { busy, error, run } = useAction();
  const g = grant.data;
  const keyError = useMemo(() => onField(error, 'publicKey'), [error]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await run(() => post<SshCertificate>(`/api/grants/${grantId}/ssh-certificate`, { publicKey: publicKey.trim() }));
    if (r) setCert(r);
  };

  const certFile = cert ? (/CertificateFile=(\S+)/.exec(cert.sshCommand)?.[1] ?? '~/.ssh/id_ed25519-cert.pub') : '';
  return (
    <Page title={`SSH certificate · ${g ? dir.deviceName(g.deviceId) : '…'}`} subtitle={<Link to="/access">← My access</Link>}
      actions={g && <><Badge value={g.status} />{g.status === 'active' && <span className="muted">ends in <Countdown to={g.endsAt} /></span>}</>}>
      <ErrorBox error={grant.error} />
      {trust.data && (
        <Card title="Trust the proxy (once)">
          <CopyBlock label="Add this line to ~/.ssh/known_hosts — it stays valid when the proxy's host key changes"
            text={trust.data.knownHostsLine} testId="known-hosts-once" />
          <p className="muted small">Without it, ssh refuses with "Host key verification failed".</p>
        </Card>
      )}
      <Card title="1. Your public key">
        <form className="form" onSubmit={submit}>
          <FieldErrors error={keyError}>
            <ErrorBox error={keyError} />
            <Field label="OpenSSH public key" htmlFor="pubkey" name="publicKey"
              hint={<>Paste the output of <code>cat ~/.ssh/id_ed25519.pub</code> (or create one with <code>ssh-keygen -t ed25519</code>). Never paste a private key.</>}>
              <textarea id="pubkey" name="publicKey" rows={3} className="mono" required spellCheck={false} value={publicKey}
                placeholder="ssh-ed25519 AAAAC3Nza… you@laptop" onChange={(e) => setPublicKey(e.target.value)} />
            </Field>
            <button className="btn btn-primary" type="submit" disabled={busy || !publicKey.trim()}>
              {busy ? 'Signing…' : 'Get certificate'}
            </button>
          </FieldErrors>
        </form>
      </Card>
      {cert && (
        <Card title="2. Connect" className="cert-result">
          <KV items={[
            ['Principal (device)', <span className="mono" key="p">{cert.principal}</span>],
            ['Valid until', <>{fmtTime(cert.validBefore)} (<Countdown to={cert.validBefore} />)</>],
            ['Key fingerprint', <span className="mono" key="f">{cert.keyFingerprint}</span>],
            ['Serial', String(cert.serial)],
          ]} />
          <CopyBlock label={`Certificate — save as ${certFile}`} text={cert.certificate} testId="certificate" />
          <CopyBlock label="Save it with" text={`cat > ${certFile} <<'EOF'\n${cert.certificate}\nEOF`} />
          <CopyBlock label="known_hosts line (once, if not done yet) — add to ~/.ssh/known_hosts" text={cert.knownHostsLine} testId="known-hosts" />
          <CopyBlock label="SSH command" text={cert.sshCommand} testId="ssh-command" />
          <p className="muted small">The certificate only works for this device and stops working when your grant ends or is revoked.</p>
        </Card>
      )}
    </Page>
  );
}
