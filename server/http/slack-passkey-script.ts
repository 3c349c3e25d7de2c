/**
 * The one script of the approval link page (served same-origin, so the CSP's script-src 'self'
 * allows it; the page works without it): a "Use a passkey" button that asks the broker for a
 * challenge bound to the link's request (POST /slack/decide/options with the page's link and CSRF
 * value), lets the phone's passkey sign it, and posts the page's form with the assertion. Plain ES2017
 * with no imports, readable as it is served.
 */
export const PASSKEY_SCRIPT_PATH = '/slack/passkey.js';

export const PASSKEY_SCRIPT = `'use strict';
(function () {
  var form = document.getElementById('decide');
  var button = document.getElementById('passkey');
  var status = document.getElementById('passkey-status');
  if (!form || !button || !status || !window.PublicKeyCredential || !navigator.credentials) return;
  var field = function (name) { return form.elements.namedItem(name); };
  var toBytes = function (s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
  var toText = function (buf) {
    var bytes = new Uint8Array(buf);
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  };
  button.hidden = false;
  button.addEventListener('click', async function () {
    button.disabled = true;
    status.textContent = 'Waiting for your passkey…';
    try {
      var res = await fetch('/slack/decide/options', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ t: field('t').value, csrf: field('csrf').value }),
      });
      var o = await res.json();
      if (!res.ok) throw new Error((o.error && o.error.message) || 'no passkey challenge');
      var credential = await navigator.credentials.get({ publicKey: {
        challenge: toBytes(o.challenge), rpId: o.rpId, timeout: o.timeout, userVerification: o.userVerification,
        allowCredentials: (o.allowCredentials || []).map(function (c) { return { type: 'public-key', id: toBytes(c.id), transports: c.transports }; }),
      } });
      if (!credential) throw new Error('no passkey was chosen');
      var r = credential.response;
      field('webauthn').value = JSON.stringify({
        id: credential.id, rawId: toText(credential.rawId), type: credential.type,
        clientExtensionResults: credential.getClientExtensionResults(),
        authenticatorAttachment: credential.authenticatorAttachment || undefined,
        response: {
          clientDataJSON: toText(r.clientDataJSON), authenticatorData: toText(r.authenticatorData), signature: toText(r.signature),
          userHandle: r.userHandle ? toText(r.userHandle) : undefined,
        },
      });
      status.textContent = '';
      form.submit();
    } catch (e) {
      status.textContent = 'The passkey did not work (' + ((e && e.message) || e) + '). Use the password and code instead.';
      button.disabled = false;
    }
  });
})();
`;
