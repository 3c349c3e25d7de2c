/**
 * One declaration per route: method, path, who may call it, zod schemas for params/query/body and
 * the handler. The same list registers express routes and produces the OpenAPI document.
 */
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { Actor } from '../core/types.js';
import { humanIssue, invalidInput } from './errors.js';

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

export interface HandlerContext<P, Q, B> {
  actor: Actor;
  params: P;
  query: Q;
  body: B;
  req: Request;
  res: Response;
}

export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** express path, e.g. /api/devices/:id */
  path: string;
  summary: string;
  tag: string;
  /** false for the few routes anyone may call (login, health) */
  auth?: boolean;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  status?: number;
  /** the value is sent as JSON; undefined means the handler wrote the response itself */
  handler(ctx: HandlerContext<P, Q, B>): Promise<unknown> | unknown;
}

/** A route of any schema types: route lists mix them, and each was checked where it was declared. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteSpec<any, any, any>;

// helps TypeScript infer P, Q, B from the schemas
export const route = <P, Q, B>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> => spec;

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, where: 'params' | 'query' | 'body'): T {
  if (!schema) return value as T;
  const r = schema.safeParse(value ?? {}, { error: humanIssue });
  if (r.success) return r.data;
  throw invalidInput(where, r.error.issues);
}

export function register(router: Router, routes: AnyRoute[], resolveActor: (req: Request) => Promise<Actor>): void {
  for (const r of routes) {
    router[r.method](r.path, async (req, res, next) => {
      try {
        const actor = r.auth === false ? ({ type: 'anonymous' } as Actor) : await resolveActor(req);
        const params = parse(r.params, req.params, 'params');
        const query = parse(r.query, req.query, 'query');
        const body = parse(r.body, req.body, 'body');
        const result = await r.handler({ actor, params, query, body, req, res });
        if (result !== undefined && !res.headersSent) res.status(r.status ?? 200).json(result);
      } catch (err) {
        next(err);
      }
    });
  }
}
