/** Vendor invitations (§8.5): admins invite, list and revoke; the invited person reads and accepts the link. */
import { z } from 'zod';
import { mfaEnrolmentRequired } from '../../core/auth.js';
import { acceptInvitation, createInvitation, listInvitations, revokeInvitation, viewInvitation } from '../../core/invitations.js';
import type { Invitation } from '../../core/types.js';
import { setSessionCookies } from '../auth.js';
import type { HttpDeps } from '../deps.js';
import { route } from '../route.js';
import { acceptInvitationBody, createInvitationBody, idParams, invitationToken } from '../schemas.js';

/** The console page a link opens. */
export const invitationUrl = (publicUrl: string, token: string) => `${publicUrl}/invite/${token}`;

/** an invitation as the API shows it: it holds no secret (the token's hash stays in the database) */
const shape = (i: Invitation) => i;

export const invitationRoutes = (deps: HttpDeps) => [
  route({
    method: 'post', path: '/api/invitations', tag: 'invitations', status: 201, body: createInvitationBody,
    summary: 'Invite a vendor technician (admin): {invitation, url}; the url (single-use, 72 h) is shown only in this answer. ' +
      'The account expires at expiresAt (default and latest: the vendor\'s contract end)',
    async handler({ actor, body, res }) {
      const { invitation, token } = await createInvitation(deps, actor, body);
      res.set('Cache-Control', 'no-store');
      return { invitation: shape(invitation), url: invitationUrl(deps.web.publicUrl, token) };
    },
  }),
  route({
    method: 'get', path: '/api/invitations', tag: 'invitations', summary: 'Pending invitations (admin), oldest first',
    handler: async ({ actor }) => ({ items: (await listInvitations(deps, actor)).map(shape) }),
  }),
  route({
    method: 'delete', path: '/api/invitations/:id', tag: 'invitations', params: idParams,
    summary: 'Withdraw a pending invitation (admin): its link stops working',
    handler: async ({ actor, params }) => shape(await revokeInvitation(deps, actor, params.id)),
  }),
  route({
    method: 'get', path: '/api/invitations/accept/:token', tag: 'invitations', auth: false, params: z.strictObject({ token: invitationToken }),
    summary: 'Who an invitation link is for (anyone holding it); 404 unknown, 409 used, withdrawn or expired',
    async handler({ params, res }) {
      res.set('Cache-Control', 'no-store');
      return viewInvitation(deps, params.token);
    },
  }),
  route({
    method: 'post', path: '/api/invitations/accept', tag: 'invitations', auth: false, body: acceptInvitationBody,
    summary: 'Accept an invitation with the password the invited person chooses: creates the account and signs it in ' +
      '({token, expiresAt, user} and the session cookies); the link is spent',
    async handler({ body, req, res }) {
      const r = await acceptInvitation(deps, { ...body, clientAddress: req.ip });
      setSessionCookies(res, deps.web.cookieSecure, r.token, r.expiresAt);
      // the console sends a user whose role needs a second factor to set one up first
      return { token: r.token, expiresAt: r.expiresAt, user: { ...r.user, mfaEnrolmentRequired: await mfaEnrolmentRequired(deps, r.user) }, passwordChangeRequired: false };
    },
  }),
];
