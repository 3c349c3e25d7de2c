import type { VendorRepo } from '../core/ports.js';
import type { Vendor } from '../core/types.js';
import type { Queryable } from './pool.js';

const SELECT = `SELECT id, name, contract_ref, to_char(contract_end, 'YYYY-MM-DD') AS contract_end, created_at, updated_at FROM vendors`;

function toVendor(r: Record<string, unknown>): Vendor {
  return {
    id: r.id as string,
    name: r.name as string,
    contractRef: r.contract_ref as string,
    contractEnd: r.contract_end as string,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

export function vendorsRepo(db: Queryable): VendorRepo {
  const byId = async (id: string, opts?: { forShare?: boolean }) => {
    const { rows } = await db.query(`${SELECT} WHERE id = $1${opts?.forShare ? ' FOR SHARE' : ''}`, [id]);
    return rows[0] ? toVendor(rows[0]) : null;
  };
  return {
    async insert(v) {
      const { rows } = await db.query(
        'INSERT INTO vendors (name, contract_ref, contract_end) VALUES ($1, $2, $3) RETURNING id',
        [v.name, v.contractRef, v.contractEnd],
      );
      return (await byId(rows[0].id))!;
    },
    async update(id, p) {
      const { rowCount } = await db.query(
        `UPDATE vendors SET name = COALESCE($2, name), contract_ref = COALESCE($3, contract_ref),
           contract_end = COALESCE($4::date, contract_end), updated_at = now() WHERE id = $1`,
        [id, p.name ?? null, p.contractRef ?? null, p.contractEnd ?? null],
      );
      return rowCount ? byId(id) : null;
    },
    byId,
    async list() {
      const { rows } = await db.query(`${SELECT} ORDER BY name`);
      return rows.map(toVendor);
    },
  };
}
